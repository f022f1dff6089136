// generate/tool_calls.h - LFM2 tool calls in generated text -> OpenAI tool_calls. The model
// writes `<|tool_call_start|>[get_weather(city="Paris"), pkg.f(n=1)]<|tool_call_end|>`: a Python
// list of calls with keyword arguments and Python literals (docs: lfm2-format.md §6.4; mlx-lm
// parses it with its "pythonic" parser). With "Output function calls as JSON" in the prompt it
// writes `[{"name": "f", "arguments": {...}}]` between the same markers instead.
//
// The section parser is a real Python-literal parser (no eval, no regex):
//   calls      `[call, ...]` (trailing comma allowed; a bare `call, call` without brackets too)
//   call       dotted name `a.b.c` then `(kw=value, ...)`; `*args` / `**kw` are errors;
//              positional arguments map to parameter names when ToolCallParseOptions knows the
//              function's parameters (from the request's tools, in schema order), else error
//   values     strings: '...' "..." '''...''' """...""", prefixes r/R/u/U, escapes \n \t \\ \'
//              \" \a \b \f \v \ooo \xNN \uNNNN \UNNNNNNNN, line continuation, unknown escapes
//              kept verbatim (as Python), adjacent literals concatenated, surrogate pairs joined
//              (a lone surrogate becomes U+FFFD); integers (decimal, 0x, 0o, 0b, underscores;
//              beyond 64 bits -> double), floats (exponent, leading/trailing dot), unary +/-;
//              True/False/None and true/false/null; lists, tuples and sets -> JSON arrays;
//              dicts -> JSON objects (string keys; int/float/bool/None keys become strings as
//              json.dumps writes them; later duplicates win, as in Python); nesting <= max_depth.
//   JSON form  an array of {"name", "arguments" | "parameters"} objects (arguments may be a
//              JSON string holding an object), a single such object, or OpenAI's
//              {"type": "function", "function": {...}} shape.
// Anything else is an InvalidArgument Status; callers then return the text as plain content.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/json.h"

namespace lfm2 {

inline constexpr std::string_view kToolCallStart = "<|tool_call_start|>";
inline constexpr std::string_view kToolCallEnd = "<|tool_call_end|>";

struct ToolCall {
  std::string name;
  Json arguments = Json::object();  // always an object
  // Compact JSON of `arguments`, for OpenAI's function.arguments string.
  std::string ArgumentsJson() const { return DumpJson(arguments); }
};

struct ToolCallParseOptions {
  // Function name -> parameter names in order, for positional arguments.
  std::map<std::string, std::vector<std::string>, std::less<>> parameter_names;
  // Nesting limit for lists / dicts / tuples / calls.
  int max_depth = 64;
  // A section longer than this is given up on and passed through as content.
  size_t max_section_bytes = 1 << 20;
};

// Parameter names per function from an OpenAI `tools` array
// ([{"type": "function", "function": {"name", "parameters": {"properties": {...}}}}]).
ToolCallParseOptions ToolCallOptionsFromTools(const Json& tools);

// Parses the text between the markers (surrounding whitespace ignored).
StatusOr<std::vector<ToolCall>> ParseToolCalls(std::string_view text,
                                               const ToolCallParseOptions& options = {});

struct ToolCallOutput {
  std::string content;  // text outside the sections, plus malformed sections verbatim
  std::vector<ToolCall> tool_calls;
};

// Splits a whole generated text into content and tool calls; several sections allowed. An
// unterminated or malformed section stays in the content verbatim, markers included.
ToolCallOutput SplitToolCalls(std::string_view text, const ToolCallParseOptions& options = {});

struct ToolCallEvent {
  enum class Kind { kContent, kToolCall };
  Kind kind = Kind::kContent;
  std::string content;  // kContent
  ToolCall call;        // kToolCall
};

// The streaming form of SplitToolCalls: feed generated text as it arrives. Content is emitted at
// once, except a tail that may be the start of `<|tool_call_start|>` (held until it is decided)
// and the inside of a section (held until `<|tool_call_end|>`, then emitted as calls, or as
// content verbatim when malformed). The concatenated events equal SplitToolCalls of the whole.
class ToolCallStreamParser {
 public:
  explicit ToolCallStreamParser(ToolCallParseOptions options = {});

  std::vector<ToolCallEvent> Feed(std::string_view text);
  // End of generation: flushes held text (an unterminated section comes out as content).
  std::vector<ToolCallEvent> Finish();
  // True while inside a section (the server may want to hold back "finish_reason" logic).
  bool inside_section() const { return inside_; }

 private:
  void EmitContent(std::string_view text, std::vector<ToolCallEvent>* out);
  ToolCallParseOptions options_;
  std::string buffer_;
  bool inside_ = false;
};

}  // namespace lfm2
