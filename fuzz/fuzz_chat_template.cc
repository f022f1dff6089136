// fuzz/fuzz_chat_template.cc - libFuzzer target: arbitrary bytes as a chat template, parsed and
// rendered over a fixed small conversation with tools. Every outcome must be a value or a Status:
// no crash, no sanitizer report, no hang (the render limits bound time and memory).
// Seed corpus: shared/golden/chat/templates/*.jinja.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "jinja/chat_template.h"

namespace {

const lfm2::Json& Messages() {
  static const lfm2::Json* messages = new lfm2::Json(lfm2::Json::parse(R"([
    {"role": "system", "content": "Be brief. 🌊"},
    {"role": "user", "content": [{"type": "text", "text": "Hi <think>x</think>"}, {"type": "image"}]},
    {"role": "assistant", "content": "ok</think> done", "thinking": "hmm",
     "tool_calls": [{"id": "call_1", "type": "function",
                     "function": {"name": "f", "arguments": {"a": 1, "b": [1.5e-07, null, true],
                                                             "c": {"d": "it's"}}}}]},
    {"role": "tool", "content": {"temp": 18.5, "big": 12345678901234567890}},
    {"role": "user", "content": 5}
  ])"));
  return *messages;
}

const lfm2::Json& Tools() {
  static const lfm2::Json* tools = new lfm2::Json(lfm2::Json::parse(R"([
    {"type": "function", "function": {"name": "f", "description": "Évalue",
      "parameters": {"type": "object", "properties": {"a": {"type": ["string", "null"]}},
                     "required": ["a"]}}}
  ])"));
  return *tools;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  lfm2::ChatSpecialTokens tokens;
  tokens.bos_token = "<|startoftext|>";
  tokens.eos_token = "<|im_end|>";
  tokens.pad_token = "<|pad|>";
  lfm2::StatusOr<lfm2::ChatTemplate> chat =
      lfm2::ChatTemplate::FromSource(source, "fuzz.jinja", tokens);
  if (!chat.ok()) return 0;
  lfm2::jinja::RenderOptions options;
  options.max_output_bytes = 1 << 20;
  options.max_loop_iterations = 100000;
  options.max_work = 2'000'000;
  options.now = 946728000;  // fixed time: deterministic runs
  for (bool add_generation_prompt : {true, false}) {
    (void)chat->Render(Messages(), add_generation_prompt ? Tools() : lfm2::Json(nullptr),
                       add_generation_prompt, lfm2::Json::object(), options);
  }
  return 0;
}
