// fuzz/fuzz_tool_calls.cc - libFuzzer target for the LFM2 tool-call parser (model output is
// untrusted text): the section parser, the whole-text splitter and the streaming parser fed in
// pieces chosen by the input. Must never crash; parsed calls must have a name and JSON-object
// arguments that serialize; streaming must agree with the splitter.
//
// Input layout: [chunk sizes byte] [text]; the first byte seeds how the text is cut into pieces.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "generate/tool_calls.h"

namespace {

void CheckCalls(const std::vector<lfm2::ToolCall>& calls) {
  for (const lfm2::ToolCall& call : calls) {
    LFM2_CHECK(!call.name.empty());
    LFM2_CHECK(call.arguments.is_object());
    LFM2_CHECK(lfm2::Json::accept(call.ArgumentsJson()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 1 << 16) return 0;
  const uint8_t seed = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  lfm2::ToolCallParseOptions options;
  options.parameter_names["f"] = {"a", "b"};
  auto calls = lfm2::ParseToolCalls(text, options);
  if (calls.ok()) CheckCalls(*calls);

  // The text as model output, also wrapped in markers.
  const std::string wrapped = "pre" + std::string(lfm2::kToolCallStart) + std::string(text) +
                              std::string(lfm2::kToolCallEnd) + "post";
  for (const std::string_view whole : {text, std::string_view(wrapped)}) {
    const lfm2::ToolCallOutput expected = lfm2::SplitToolCalls(whole, options);
    CheckCalls(expected.tool_calls);
    lfm2::ToolCallStreamParser parser(options);
    lfm2::ToolCallOutput got;
    auto take = [&](std::vector<lfm2::ToolCallEvent> events) {
      for (auto& e : events) {
        if (e.kind == lfm2::ToolCallEvent::Kind::kContent) {
          got.content += e.content;
        } else {
          got.tool_calls.push_back(std::move(e.call));
        }
      }
    };
    size_t pos = 0, step = 0;
    while (pos < whole.size()) {
      const size_t piece = 1 + ((seed + step * 37) % 11);
      take(parser.Feed(whole.substr(pos, piece)));
      pos += piece;
      ++step;
    }
    take(parser.Finish());
    LFM2_CHECK(got.content == expected.content);
    LFM2_CHECK(got.tool_calls.size() == expected.tool_calls.size());
    for (size_t i = 0; i < got.tool_calls.size(); ++i) {
      LFM2_CHECK(got.tool_calls[i].name == expected.tool_calls[i].name);
      LFM2_CHECK(got.tool_calls[i].arguments == expected.tool_calls[i].arguments);
    }
  }
  return 0;
}
