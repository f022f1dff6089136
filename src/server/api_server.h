// server/api_server.h - the OpenAI-compatible API: routes HTTP requests (http_server.h) to the
// endpoints below, turns request bodies into GenerationJobs for the Scheduler and events back
// into JSON or SSE responses. Errors become HTTP 4xx/5xx with OpenAI's error body.
//
//   POST /v1/chat/completions   OpenAI chat (stream, tools, response_format, logprobs, ...)
//   POST /v1/completions        OpenAI legacy completions (prompt: string, strings, ids)
//   GET  /v1/models             {"object":"list","data":[{"id",...}]}
//   GET  /health                {"status":"ok","slots_idle","slots_processing","queue"}
//   GET  /metrics               Prometheus text
//   POST /tokenize              {"content", "add_special"?, "with_pieces"?} -> {"tokens"}
//   POST /detokenize            {"tokens"} -> {"content"}
//   POST /apply-template        {"messages", "tools"?, "add_generation_prompt"?} -> {"prompt"}
// The /v1 prefix is optional on every route. With an API key, every request but GET /health
// needs "Authorization: Bearer KEY" (scheme case-insensitive) or "X-Api-Key: KEY", checked before
// anything else (so unauthenticated clients cannot probe routes): else 401.
//
// Untrusted bodies are parsed under limits (JsonLimits): nesting deeper than max_json_depth is a
// 400 naming where; a body whose parsed form would take more than 16 x its size + 1 MiB is a 413.
// Message text of every role, tool results, tool-call arguments and tool definitions is
// tokenized as plain text: control tokens come only from the chat template (ControlTokenGuard),
// unless special_tokens_in_messages restores Hugging Face's behaviour.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "generate/chat_prompt.h"
#include "generate/engine.h"
#include "io/json.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "server/scheduler.h"
#include "server/structured_output.h"

namespace lfm2::server {

struct ApiOptions {
  std::string model_name = "lfm2";  // reported by /v1/models and in responses
  std::string api_key;              // empty: no authentication
  SamplingParams sampling;          // defaults for the fields a request omits
  std::optional<uint64_t> seed;     // default seed; else each request draws one
  double poll_seconds = 0.05;       // how often a waiting handler checks for a gone client
  int max_json_depth = 128;         // nesting of request bodies and JSON inside them
  // Tokenize special-token text in messages as control tokens (HF apply_chat_template + encode).
  bool special_tokens_in_messages = false;
  // Memory all requests being handled may reserve together (kRequestBytesPerBodyByte x body +
  // kRequestBytesFloor each); a request with a body over kAlwaysAdmittedBody that does not fit
  // gets 503 with Retry-After.
  size_t max_request_memory = size_t{512} << 20;
};

// Memory a parsed request body may take: this many bytes per body byte, plus the floor.
inline constexpr size_t kJsonBytesPerBodyByte = 16;
inline constexpr size_t kJsonBytesFloor = 1 << 20;
// What a request's handling may take at its peak, per body byte, plus the floor: the parsed
// body (<= 16x), the request's copy of the conversation, the template's values and the rendered
// prompt. Measured at <= ~37x for the worst shapes (tests/server/abuse_test.py).
inline constexpr size_t kRequestBytesPerBodyByte = 40;
inline constexpr size_t kRequestBytesFloor = 1 << 20;
// Bodies up to this size are admitted whatever is reserved (they still count).
inline constexpr size_t kAlwaysAdmittedBody = 64 << 10;

class ApiServer {
 public:
  // The engine must have a tokenizer. Builds the token vocabulary for structured output.
  ApiServer(Engine& engine, Scheduler& scheduler, ApiOptions options);

  // The HttpHandler. Never throws; every failure is an HTTP error response.
  void Handle(const HttpRequest& request, HttpResponder& responder);

  const Metrics& metrics() const { return metrics_; }
  // Where /metrics reads the transport's counters (the HttpServer serving this API).
  void SetTransportStats(std::function<HttpServerStats()> stats) { transport_stats_ = std::move(stats); }
  const ApiOptions& options() const { return options_; }

 private:
  // Returns the HTTP status sent (499 when the client left first).
  int Route(const HttpRequest& request, HttpResponder& responder);
  int ChatCompletions(Json body, HttpResponder& responder);
  int Completions(const Json& body, HttpResponder& responder);
  int Tokenize(const Json& body, HttpResponder& responder);
  int Detokenize(const Json& body, HttpResponder& responder);
  int ApplyTemplate(Json body, HttpResponder& responder);
  int Health(HttpResponder& responder);
  int Models(HttpResponder& responder);

  // Renders a chat request's messages (and tools) into prompt text and ids; `suffix` is trusted
  // text appended (a forced tool call's start).
  StatusOr<ChatPrompt> RenderChat(const ChatRequest& request, bool add_generation_prompt,
                                  std::string_view suffix = {}) const;
  // A job with the request's sampling, stop strings, logprobs and token constraint.
  std::optional<ApiError> MakeJob(const GenerationRequest& request, std::vector<int32_t> prompt,
                                  int index, const ConstraintFactory& constraint,
                                  GenerationJob* job) const;
  RequestLimits Limits() const;
  // Whether the request may use the API (401 sent when not).
  bool Authorized(const HttpRequest& request, HttpResponder& responder, int* status);
  uint64_t NextSeed() const;

  Engine& engine_;
  Scheduler& scheduler_;
  ApiOptions options_;
  Metrics metrics_;
  std::unique_ptr<StructuredOutput> structured_;
  std::function<HttpServerStats()> transport_stats_;
  std::atomic<size_t> reserved_memory_{0};  // by requests being handled
};

int SendJson(HttpResponder& responder, int status, const Json& body);
int SendError(HttpResponder& responder, const ApiError& error);

}  // namespace lfm2::server
