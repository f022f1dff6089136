// sampling/sampler.h - logits -> next token. The chain follows mlx_lm's sampler (the conventions
// MLX users know): logits processors (logit_bias, repetition / presence / frequency penalties over
// the last N tokens), then on log-probabilities top-p, min-p and top-k filters, then a
// categorical draw at the given temperature; temperature 0 is greedy (argmax, lowest id on ties).
// Deterministic: the same seed and inputs give the same tokens on any machine and thread count.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "base/status.h"

namespace lfm2 {

struct SamplingParams {
  // LiquidAI's recommendation for LFM2 / LFM2-8B-A1B.
  double temperature = 0.3;
  double top_p = 1.0;         // nucleus: keep the most likely tokens holding this mass; 1 = off
  int64_t top_k = 0;          // 0 = off
  double min_p = 0.15;        // keep tokens with p >= min_p * p_max; 0 = off
  int64_t min_tokens_to_keep = 1;
  double repetition_penalty = 1.05;  // sign-aware multiplicative; 1 = off
  int64_t repetition_context_size = 20;
  double presence_penalty = 0.0;     // subtracted once per distinct recent token
  double frequency_penalty = 0.0;    // subtracted per occurrence of a recent token
  int64_t penalty_context_size = 20;
  std::vector<std::pair<int32_t, float>> logit_bias;
  uint64_t seed = 0;
};

// Checks ranges (temperature >= 0, 0 < top_p <= 1, 0 <= min_p <= 1, ...); the message names the
// offending parameter as the CLI and the server spell it.
Status ValidateSamplingParams(const SamplingParams& params);

// A small, fast, portable random generator (xoshiro256**), seeded by splitmix64.
class Random {
 public:
  explicit Random(uint64_t seed);
  uint64_t Next();
  // Uniform in [0, 1) with 53 random bits.
  double Uniform();

 private:
  uint64_t state_[4];
};

// A constraint on which tokens may come next (e.g. JSON-schema output, sampling/json_schema.h).
// Sampler::Sample applies Mask after the logits processors and before the filters; the caller
// advances the constraint with Accept after each sampled token and stops on a stop token.
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets the logits of the tokens that may not come next to -inf.
  virtual void Mask(std::span<float> logits) = 0;
  // Advances past `token`; an error when the token was not allowed.
  virtual Status Accept(int32_t token) = 0;
  // The output so far is complete (stop tokens are allowed).
  virtual bool Complete() const = 0;
};

class Sampler {
 public:
  // Tokens >= `allowed_vocab` (ids the tokenizer cannot produce, e.g. the padding rows of the
  // embedding) are never sampled.
  Sampler(const SamplingParams& params, int64_t allowed_vocab);

  // Picks the next token from `logits` (modified in place: processors and filters are applied).
  // `history` is the sequence so far (prompt and generated tokens), for the penalties. A
  // `constraint` masks the logits after the processors, so LogProb / TopLogProbs describe the
  // constrained distribution; the caller still calls constraint->Accept(token).
  int32_t Sample(std::span<float> logits, std::span<const int32_t> history,
                 TokenConstraint* constraint = nullptr);

  // After Sample: the log-probability (before filters, after processors, at temperature 1) of
  // `token`, and the `n` most likely tokens with theirs - for OpenAI-style logprobs.
  double LogProb(int32_t token) const;
  std::vector<std::pair<int32_t, double>> TopLogProbs(int64_t n) const;

  const SamplingParams& params() const { return params_; }

 private:
  void ApplyProcessors(std::span<float> logits, std::span<const int32_t> history) const;

  SamplingParams params_;
  int64_t allowed_vocab_;
  Random random_;
  std::vector<float> logprobs_;  // last full log-softmax, for LogProb / TopLogProbs
  std::vector<int32_t> order_;   // scratch
};

// Greedy choice: the largest logit among ids < allowed_vocab, lowest id on ties.
int32_t ArgMax(std::span<const float> logits, int64_t allowed_vocab);

}  // namespace lfm2
