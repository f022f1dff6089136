// server/tool_call_output.cc - tool calls in a streamed chat reply.
#include "server/tool_call_output.h"

#include <optional>

#include "generate/tool_calls.h"
#include "server/openai_response.h"

namespace lfm2::server {

struct ChatToolCalls::State {
  bool enabled = false;
  std::string prefix;  // fed before the first generated text
  std::optional<ToolCallStreamParser> parser;
};

ChatToolCalls::ChatToolCalls(bool enabled, const Json& tools, std::string forced_prefix)
    : state_(std::make_unique<State>()) {
  state_->enabled = enabled;
  state_->prefix = std::move(forced_prefix);
  if (enabled) state_->parser.emplace(ToolCallOptionsFromTools(tools));
}

ChatToolCalls::~ChatToolCalls() = default;

std::string ChatToolCalls::Consume(std::string_view text, bool finish) {
  State& s = *state_;
  std::string input = std::exchange(s.prefix, std::string());
  input.append(text);
  if (!s.enabled) return input;
  std::vector<ToolCallEvent> events = s.parser->Feed(input);
  if (finish) {
    std::vector<ToolCallEvent> tail = s.parser->Finish();
    events.insert(events.end(), std::make_move_iterator(tail.begin()), std::make_move_iterator(tail.end()));
  }
  std::string content;
  for (ToolCallEvent& event : events) {
    if (event.kind == ToolCallEvent::Kind::kContent) {
      content += event.content;
      continue;
    }
    calls_.push_back({{"index", calls_.size()},
                      {"id", NewResponseId("call_")},
                      {"type", "function"},
                      {"function", {{"name", event.call.name}, {"arguments", event.call.ArgumentsJson()}}}});
  }
  return content;
}

std::string ChatToolCalls::Add(std::string_view text) { return Consume(text, false); }

std::string ChatToolCalls::Finish() { return Consume({}, true); }

Json ChatToolCalls::TakeNewCalls() {
  Json out = Json::array();
  for (; taken_ < calls_.size(); ++taken_) out.push_back(calls_[taken_]);
  return out;
}

}  // namespace lfm2::server
