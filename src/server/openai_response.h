// server/openai_response.h - pieces of OpenAI response bodies: ids, usage, logprobs in the chat
// and the legacy completions shapes, finish reasons.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "generate/engine.h"
#include "io/json.h"
#include "server/scheduler.h"

namespace lfm2::server {

// `prefix` + 24 hex digits ("chatcmpl-...", "call_..."), unique per process.
std::string NewResponseId(const char* prefix);
// Seconds since the epoch.
int64_t UnixTime();

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  void Add(const GenerationEvent& done);
};
// {"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details": {"cached_tokens"}}
Json UsageJson(const Usage& usage);

// "stop" / "length" (max_tokens or context) / "tool_calls" (when calls were parsed).
const char* FinishReasonText(FinishReason reason, bool tool_calls);

// Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}], "refusal": null}
Json ChatLogProbs(const Tokenizer& tokenizer, const std::vector<TokenLogProb>& tokens);
// Completions: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"};
// `offset` is the text offset of the first token (updated).
Json CompletionLogProbs(const Tokenizer& tokenizer, const std::vector<TokenLogProb>& tokens,
                        int64_t* offset);

// The HTTP status and OpenAI error for a Status from the scheduler or the template.
struct ApiError;
ApiError ErrorFromStatus(const Status& status, std::string param = "");

}  // namespace lfm2::server
