// fuzz/fuzz_openai_request.cc - libFuzzer target for the OpenAI request layer
// (server/openai_request.h): an arbitrary request body is parsed as JSON and validated as a chat
// completion, a text completion and an /apply-template body; accepted requests go through the
// message normalisation (Pythonic tool calls), sampling overrides and the stop-string matcher.
// Must never crash, leak or trip a sanitizer; every rejection is a 400 naming a message.
//
// Input: the request body. Seeds (tools/fuzz_seeds.sh fuzz_openai_request): chat and completion
// bodies using every field, tools, tool_calls, response formats and prompt shapes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "server/openai_request.h"
#include "server/stop_matcher.h"

namespace {

using namespace lfm2::server;

void CheckError(const std::optional<ApiError>& error) {
  if (!error) return;
  LFM2_CHECK(error->status == 400 || error->status == 413);
  LFM2_CHECK(!error->message.empty());
  const std::string body = ErrorBody(*error);
  LFM2_CHECK(lfm2::ParseJson(body, "error").ok());
}

void Exercise(const GenerationRequest& request, std::string_view text) {
  const lfm2::SamplingParams params = ApplyOverrides(lfm2::SamplingParams(), request.sampling, 1);
  (void)lfm2::ValidateSamplingParams(params);
  StopMatcher matcher(request.stop);
  std::string out;
  for (size_t at = 0; at < text.size(); at += 3) out += matcher.Add(text.substr(at, 3));
  out += matcher.Flush();
  LFM2_CHECK(out.size() <= text.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto json = lfm2::ParseJson(body, "request body");
  if (!json.ok()) return 0;
  RequestLimits limits;
  limits.vocab_size = 65536;

  ChatRequest chat;
  auto chat_error = ParseChatRequest(*json, limits, &chat);
  CheckError(chat_error);
  if (!chat_error) {
    LFM2_CHECK(chat.messages.is_array() && !chat.messages.empty());
    LFM2_CHECK(chat.tool_calls.size() == chat.messages.size());
    std::string rendered;
    for (const lfm2::Json& message : TemplateMessages(chat, nullptr)) {
      LFM2_CHECK(message["content"].is_string());
      rendered += message["content"].get<std::string>();
    }
    Exercise(chat, rendered);
    (void)PythonLiteral(*json);
  }
  CompletionRequest completion;
  auto completion_error = ParseCompletionRequest(*json, limits, &completion);
  CheckError(completion_error);
  if (!completion_error) {
    LFM2_CHECK(!completion.prompts.empty());
    for (const PromptInput& prompt : completion.prompts) {
      for (int32_t id : prompt.ids) LFM2_CHECK(id >= 0 && id < limits.vocab_size);
      Exercise(completion, prompt.text);
    }
  }
  ChatRequest messages;
  CheckError(ParseMessages(*json, limits, &messages));
  return 0;
}
