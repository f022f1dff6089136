// sampling/sampler.cc - the sampler chain.
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

namespace lfm2 {
namespace {
constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Status ValidateSamplingParams(const SamplingParams& p) {
  if (!(p.temperature >= 0.0) || !std::isfinite(p.temperature)) {
    return InvalidArgumentError("temperature must be >= 0, got ", p.temperature);
  }
  if (!(p.top_p > 0.0 && p.top_p <= 1.0)) {
    return InvalidArgumentError("top_p must be in (0, 1], got ", p.top_p);
  }
  if (p.top_k < 0) return InvalidArgumentError("top_k must be >= 0 (0 = off), got ", p.top_k);
  if (!(p.min_p >= 0.0 && p.min_p <= 1.0)) {
    return InvalidArgumentError("min_p must be in [0, 1], got ", p.min_p);
  }
  if (p.min_tokens_to_keep < 1) {
    return InvalidArgumentError("min_tokens_to_keep must be >= 1, got ", p.min_tokens_to_keep);
  }
  if (!(p.repetition_penalty > 0.0) || !std::isfinite(p.repetition_penalty)) {
    return InvalidArgumentError("repetition_penalty must be > 0 (1 = off), got ", p.repetition_penalty);
  }
  if (p.repetition_context_size < 0 || p.penalty_context_size < 0) {
    return InvalidArgumentError("penalty context sizes must be >= 0");
  }
  if (!std::isfinite(p.presence_penalty) || !std::isfinite(p.frequency_penalty)) {
    return InvalidArgumentError("presence/frequency penalties must be finite numbers");
  }
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0) return InvalidArgumentError("logit_bias token id ", id, " is negative");
    if (!std::isfinite(bias)) return InvalidArgumentError("logit_bias for token ", id, " is not finite");
  }
  return Status::Ok();
}

Random::Random(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& s : state_) s = SplitMix64(x);
}

uint64_t Random::Next() {
  const uint64_t result = Rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = Rotl(state_[3], 45);
  return result;
}

double Random::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

int32_t ArgMax(std::span<const float> logits, int64_t allowed_vocab) {
  const size_t n = std::min(logits.size(), static_cast<size_t>(allowed_vocab));
  size_t best = 0;
  for (size_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

Sampler::Sampler(const SamplingParams& params, int64_t allowed_vocab)
    : params_(params), allowed_vocab_(allowed_vocab), random_(params.seed) {}

void Sampler::ApplyProcessors(std::span<float> logits, std::span<const int32_t> history) const {
  const int64_t vocab = static_cast<int64_t>(logits.size());
  for (const auto& [id, bias] : params_.logit_bias) {
    if (id < vocab) logits[id] += bias;
  }
  auto recent = [&](int64_t size) {
    const size_t n = std::min(history.size(), static_cast<size_t>(size));
    return history.subspan(history.size() - n);
  };
  if (params_.repetition_penalty != 1.0 && params_.repetition_context_size > 0) {
    std::vector<int32_t> tokens(recent(params_.repetition_context_size).begin(),
                                recent(params_.repetition_context_size).end());
    std::sort(tokens.begin(), tokens.end());
    tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
    const float penalty = static_cast<float>(params_.repetition_penalty);
    for (int32_t id : tokens) {
      if (id < 0 || id >= vocab) continue;
      logits[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty;
    }
  }
  if ((params_.presence_penalty != 0.0 || params_.frequency_penalty != 0.0) &&
      params_.penalty_context_size > 0) {
    std::unordered_map<int32_t, int> counts;
    for (int32_t id : recent(params_.penalty_context_size)) counts[id]++;
    for (const auto& [id, count] : counts) {
      if (id < 0 || id >= vocab) continue;
      logits[id] -= static_cast<float>(params_.presence_penalty + params_.frequency_penalty * count);
    }
  }
}

int32_t Sampler::Sample(std::span<float> logits, std::span<const int32_t> history,
                        TokenConstraint* constraint) {
  const size_t n = std::min(logits.size(), static_cast<size_t>(allowed_vocab_));
  for (size_t i = n; i < logits.size(); ++i) logits[i] = kMinusInf;
  ApplyProcessors(logits, history);
  if (constraint != nullptr) constraint->Mask(logits);

  // Log-softmax over the allowed vocabulary (double accumulation).
  float max_logit = kMinusInf;
  for (size_t i = 0; i < n; ++i) max_logit = std::max(max_logit, logits[i]);
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i]) - max_logit);
  const double log_sum = std::log(sum) + max_logit;
  logprobs_.resize(n);
  for (size_t i = 0; i < n; ++i) logprobs_[i] = static_cast<float>(logits[i] - log_sum);

  if (params_.temperature == 0.0) return ArgMax(logits, allowed_vocab_);

  std::vector<float> filtered(logprobs_);
  // top-p: keep a token while the mass of the tokens ranked above it is below top_p.
  if (params_.top_p > 0.0 && params_.top_p < 1.0) {
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), 0);
    std::stable_sort(order_.begin(), order_.end(),
                     [&](int32_t a, int32_t b) { return filtered[a] > filtered[b]; });
    double above = 0.0;
    for (int32_t id : order_) {
      const double p = std::exp(static_cast<double>(filtered[id]));
      if (above >= params_.top_p) filtered[id] = kMinusInf;
      above += p;
    }
  }
  // min-p: drop tokens whose probability is below min_p times the best one's.
  if (params_.min_p > 0.0) {
    const float best = *std::max_element(filtered.begin(), filtered.end());
    const float threshold = best + static_cast<float>(std::log(params_.min_p));
    std::vector<int32_t> keep;
    if (params_.min_tokens_to_keep > 1) {
      order_.resize(n);
      std::iota(order_.begin(), order_.end(), 0);
      const size_t k = std::min<size_t>(n, static_cast<size_t>(params_.min_tokens_to_keep));
      std::partial_sort(order_.begin(), order_.begin() + k, order_.end(),
                        [&](int32_t a, int32_t b) { return filtered[a] > filtered[b]; });
      keep.assign(order_.begin(), order_.begin() + k);
    }
    std::vector<float> kept;
    for (int32_t id : keep) kept.push_back(filtered[id]);
    for (size_t i = 0; i < n; ++i) {
      if (filtered[i] < threshold) filtered[i] = kMinusInf;
    }
    for (size_t i = 0; i < keep.size(); ++i) filtered[keep[i]] = kept[i];
  }
  // top-k: keep the k most likely.
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), 0);
    std::nth_element(order_.begin(), order_.begin() + params_.top_k, order_.end(),
                     [&](int32_t a, int32_t b) {
                       return filtered[a] > filtered[b] || (filtered[a] == filtered[b] && a < b);
                     });
    for (size_t i = static_cast<size_t>(params_.top_k); i < n; ++i) filtered[order_[i]] = kMinusInf;
  }
  // Categorical draw from softmax(filtered / temperature).
  const double inv_temp = 1.0 / params_.temperature;
  float best = kMinusInf;
  for (size_t i = 0; i < n; ++i) best = std::max(best, filtered[i]);
  double total = 0.0;
  std::vector<double> weight(n);
  for (size_t i = 0; i < n; ++i) {
    weight[i] = filtered[i] == kMinusInf ? 0.0 : std::exp((filtered[i] - best) * inv_temp);
    total += weight[i];
  }
  const double target = random_.Uniform() * total;
  double cumulative = 0.0;
  int32_t last_valid = ArgMax(filtered, static_cast<int64_t>(n));
  for (size_t i = 0; i < n; ++i) {
    if (weight[i] == 0.0) continue;
    cumulative += weight[i];
    last_valid = static_cast<int32_t>(i);
    if (target < cumulative) return static_cast<int32_t>(i);
  }
  return last_valid;
}

double Sampler::LogProb(int32_t token) const {
  if (token < 0 || static_cast<size_t>(token) >= logprobs_.size()) return -INFINITY;
  return logprobs_[token];
}

std::vector<std::pair<int32_t, double>> Sampler::TopLogProbs(int64_t count) const {
  std::vector<int32_t> ids(logprobs_.size());
  std::iota(ids.begin(), ids.end(), 0);
  const size_t k = std::min(ids.size(), static_cast<size_t>(std::max<int64_t>(count, 0)));
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
    return logprobs_[a] > logprobs_[b] || (logprobs_[a] == logprobs_[b] && a < b);
  });
  std::vector<std::pair<int32_t, double>> out;
  for (size_t i = 0; i < k; ++i) out.emplace_back(ids[i], logprobs_[ids[i]]);
  return out;
}

}  // namespace lfm2
