// server/openai_response.cc - OpenAI response pieces.
#include "server/openai_response.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "server/openai_request.h"

namespace lfm2::server {
namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

Json Bytes(std::string_view bytes) {
  Json out = Json::array();
  for (unsigned char c : bytes) out.push_back(static_cast<int>(c));
  return out;
}

std::string TokenString(const Tokenizer& tokenizer, int32_t id) {
  return tokenizer.Decode(std::span<const int32_t>(&id, 1));
}

// -inf log-probabilities (tokens masked out) are not valid JSON numbers.
Json LogProbValue(double value) { return std::isfinite(value) ? Json(value) : Json(-9999.0); }

}  // namespace

std::string NewResponseId(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t start = static_cast<uint64_t>(
      std::chrono::system_clock::now().time_since_epoch().count());
  const uint64_t n = counter.fetch_add(1);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%s%016llx%08llx", prefix,
                static_cast<unsigned long long>(Mix(start ^ Mix(n))),
                static_cast<unsigned long long>(n & 0xffffffffu));
  return buffer;
}

int64_t UnixTime() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

void Usage::Add(const GenerationEvent& done) {
  prompt_tokens += done.prompt_tokens;
  completion_tokens += done.completion_tokens;
  cached_tokens += done.cached_tokens;
}

Json UsageJson(const Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}}};
}

const char* FinishReasonText(FinishReason reason, bool tool_calls) {
  if (tool_calls) return "tool_calls";
  switch (reason) {
    case FinishReason::kLength:
    case FinishReason::kContext: return "length";
    default: return "stop";
  }
}

Json ChatLogProbs(const Tokenizer& tokenizer, const std::vector<TokenLogProb>& tokens) {
  Json content = Json::array();
  for (const TokenLogProb& t : tokens) {
    Json top = Json::array();
    for (const auto& [id, logprob] : t.top) {
      top.push_back({{"token", TokenString(tokenizer, id)},
                     {"logprob", LogProbValue(logprob)},
                     {"bytes", Bytes(tokenizer.TokenBytes(id))}});
    }
    content.push_back({{"token", TokenString(tokenizer, t.token)},
                       {"logprob", LogProbValue(t.logprob)},
                       {"bytes", Bytes(tokenizer.TokenBytes(t.token))},
                       {"top_logprobs", top}});
  }
  return {{"content", content}, {"refusal", nullptr}};
}

Json CompletionLogProbs(const Tokenizer& tokenizer, const std::vector<TokenLogProb>& tokens,
                        int64_t* offset) {
  Json out = {{"tokens", Json::array()},
              {"token_logprobs", Json::array()},
              {"top_logprobs", Json::array()},
              {"text_offset", Json::array()}};
  for (const TokenLogProb& t : tokens) {
    const std::string text = TokenString(tokenizer, t.token);
    out["tokens"].push_back(text);
    out["token_logprobs"].push_back(LogProbValue(t.logprob));
    Json top = Json::object();
    for (const auto& [id, logprob] : t.top) top[TokenString(tokenizer, id)] = LogProbValue(logprob);
    out["top_logprobs"].push_back(top);
    out["text_offset"].push_back(*offset);
    *offset += static_cast<int64_t>(text.size());
  }
  return out;
}

ApiError ErrorFromStatus(const Status& status, std::string param) {
  ApiError error;
  error.message = status.message();
  error.param = std::move(param);
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kUnsupported:
    case StatusCode::kNotFound:
      error.status = 400;
      break;
    case StatusCode::kResourceExhausted:
      error.status = 429;
      error.type = "rate_limit_error";
      error.code = "rate_limit_exceeded";
      break;
    case StatusCode::kCancelled:
      error.status = 503;
      error.type = "server_error";
      break;
    default:
      error.status = 500;
      error.type = "server_error";
      break;
  }
  return error;
}

}  // namespace lfm2::server
