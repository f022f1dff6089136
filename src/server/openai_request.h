// server/openai_request.h - OpenAI request bodies (untrusted JSON) -> validated structs, before
// anything touches the model. Wrong types and out-of-range values give an ApiError (HTTP 400,
// OpenAI error shape, `param` naming the field); unknown fields are ignored. Also the message
// normalisation for the chat template: content parts joined, "developer" -> "system", and an
// assistant's `tool_calls` written back in LFM2's Pythonic form so a tool round trip renders as
// the model produced it. JSON carried in strings (tool-call arguments) is parsed under the same
// depth and memory limits as request bodies.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/json.h"
#include "sampling/sampler.h"

namespace lfm2::server {

// An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // empty -> null
  std::string code;   // empty -> null
};
std::string ErrorBody(const ApiError& error);
ApiError BadRequest(std::string message, std::string param = "");

// Request fields that override the server's sampling defaults (lfm2 serve --temp ...).
struct SamplingOverrides {
  std::optional<double> temperature, top_p, min_p, repetition_penalty, presence_penalty,
      frequency_penalty;
  std::optional<int64_t> top_k, seed;
  std::vector<std::pair<int32_t, float>> logit_bias;
};
// `defaults` with the request's fields applied; without a request seed, `fallback_seed`.
SamplingParams ApplyOverrides(const SamplingParams& defaults, const SamplingOverrides& overrides,
                              uint64_t fallback_seed);

enum class ResponseFormatType { kText, kJsonObject, kJsonSchema };
struct ResponseFormat {
  ResponseFormatType type = ResponseFormatType::kText;
  Json schema;  // kJsonSchema: the schema object
  std::string name;
};

struct ToolChoice {
  enum class Mode { kAuto, kNone, kRequired, kFunction };
  Mode mode = Mode::kAuto;
  std::string function;  // kFunction
};

// Fields shared by /v1/chat/completions and /v1/completions.
struct GenerationRequest {
  std::string model;
  bool stream = false;
  bool include_usage = false;           // stream_options.include_usage
  std::optional<int64_t> max_tokens;    // max_completion_tokens, else max_tokens
  SamplingOverrides sampling;
  std::vector<std::string> stop;
  bool logprobs = false;
  int top_logprobs = 0;
  ResponseFormat response_format;
};

struct ChatRequest : GenerationRequest {
  Json messages;  // [{"role", "content": string}, ...]: content parts joined, roles normalised
  // Per message: an assistant's tool_calls in LFM2's Pythonic form ("f(a=1), g()"), or empty.
  std::vector<std::string> tool_calls;
  Json tools;     // the request's tools array as given, or null
  std::vector<std::string> tool_names;
  ToolChoice tool_choice;
};

struct PromptInput {
  bool is_ids = false;
  std::string text;
  std::vector<int32_t> ids;
};

struct CompletionRequest : GenerationRequest {
  std::vector<PromptInput> prompts;  // one choice per prompt
  bool echo = false;
};

struct RequestLimits {
  int64_t vocab_size = 0;     // token ids (logit_bias keys, prompt ids) must be below
  JsonLimits json;            // for JSON carried in strings (tool-call arguments)
  size_t max_prompts = 16;    // /v1/completions prompt arrays
  size_t max_stop = 16;       // stop strings
  size_t max_stop_bytes = 256;
  int max_top_logprobs = 20;
};

// Parse a request body; nullopt on success.
// The body is taken by value: the server moves it in, and its tools are moved out, not copied.
std::optional<ApiError> ParseChatRequest(Json body, const RequestLimits& limits,
                                         ChatRequest* out);
std::optional<ApiError> ParseCompletionRequest(const Json& body, const RequestLimits& limits,
                                               CompletionRequest* out);
// Just the chat messages and tools (for /apply-template).
std::optional<ApiError> ParseMessages(Json body, const RequestLimits& limits, ChatRequest* out);

// The messages as the chat template takes them: [{"role", "content"}], an assistant's tool calls
// appended to its content as LFM2 writes them (<|tool_call_start|>[...]<|tool_call_end|>), so a
// tool round trip renders as the model produced it. `protect`, when given, is applied to every
// piece of client text (contents, calls), not to the control tokens added here.
using TextFilter = std::function<std::string(std::string_view)>;
Json TemplateMessages(const ChatRequest& request, const TextFilter& protect);

// A JSON value in Python literal syntax as LFM2 writes tool calls: strings double-quoted with
// escapes, True/False/None, lists and dicts.
std::string PythonLiteral(const Json& value);
// `name(key=value, ...)` from a JSON object of arguments.
std::string PythonCall(const std::string& name, const Json& arguments);

}  // namespace lfm2::server
