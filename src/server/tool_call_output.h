// server/tool_call_output.h - ChatToolCalls: a chat reply split into content and OpenAI
// `tool_calls` as the text streams in, on top of generate/tool_calls.h (which parses LFM2's
// `<|tool_call_start|>[f(a=1), g(b='x')]<|tool_call_end|>`). Text that may begin a call is held
// back while streaming, each complete call gets an id, and a call that does not parse comes back
// as content - never an error.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "io/json.h"

namespace lfm2::server {

class ChatToolCalls {
 public:
  // `enabled`: the request has tools and tool_choice is not "none" (else all text is content).
  // `tools`: the request's tools array (parameter names let positional arguments map).
  // `forced_prefix`: text the prompt already ends with (tool_choice "required" or a named
  // function put "<|tool_call_start|>[" or "<|tool_call_start|>[name(" there).
  ChatToolCalls(bool enabled, const Json& tools, std::string forced_prefix);
  ~ChatToolCalls();

  // Adds generated text; returns the content that is safe to show now.
  std::string Add(std::string_view text);
  // At the end of generation: the remaining content (an unfinished call comes back as text).
  std::string Finish();

  // Calls completed since the last TakeNewCalls, as OpenAI streaming tool_calls entries
  // ({"index", "id", "type": "function", "function": {"name", "arguments"}}).
  Json TakeNewCalls();
  // All calls parsed so far (same entries).
  const Json& calls() const { return calls_; }

 private:
  std::string Consume(std::string_view text, bool finish);
  struct State;
  std::unique_ptr<State> state_;
  Json calls_ = Json::array();
  size_t taken_ = 0;
};

}  // namespace lfm2::server
