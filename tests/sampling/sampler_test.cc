// The sampler chain: greedy ties, each filter, penalties, seeded reproducibility and that the
// draw follows the filtered distribution.
#include "sampling/sampler.h"

#include <cmath>
#include <map>
#include <vector>

#include <gtest/gtest.h>

namespace lfm2 {
namespace {

SamplingParams Plain(double temperature) {
  SamplingParams p;
  p.temperature = temperature;
  p.min_p = 0.0;
  p.repetition_penalty = 1.0;
  return p;
}

TEST(SamplerTest, GreedyTakesLowestIdOnTiesAndRespectsAllowedVocab) {
  Sampler sampler(Plain(0.0), 4);
  std::vector<float> logits = {1.0f, 3.0f, 3.0f, 2.0f, 9.0f};
  EXPECT_EQ(sampler.Sample(logits, {}), 1);  // id 4 is outside the allowed vocabulary
}

TEST(SamplerTest, SameSeedSameTokensDifferentSeedDifferent) {
  std::vector<float> base(1000);
  for (size_t i = 0; i < base.size(); ++i) base[i] = std::sin(i * 0.37f) * 3.0f;
  auto run = [&](uint64_t seed) {
    SamplingParams p = Plain(1.0);
    p.seed = seed;
    Sampler sampler(p, 1000);
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) {
      std::vector<float> logits = base;
      out.push_back(sampler.Sample(logits, out));
    }
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(SamplerTest, DrawFollowsTheDistribution) {
  SamplingParams p = Plain(1.0);
  p.seed = 7;
  Sampler sampler(p, 3);
  std::map<int, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
    counts[sampler.Sample(logits, {})]++;
  }
  EXPECT_NEAR(counts[0] / double(n), 0.5, 0.015);
  EXPECT_NEAR(counts[1] / double(n), 0.3, 0.015);
  EXPECT_NEAR(counts[2] / double(n), 0.2, 0.015);
}

TEST(SamplerTest, FiltersKeepTheRightTokens) {
  // p = 0.5, 0.25, 0.15, 0.1
  const std::vector<float> probs = {0.5f, 0.25f, 0.15f, 0.1f};
  auto sampled = [&](SamplingParams p) {
    std::map<int, int> seen;
    p.seed = 1;
    Sampler sampler(p, 4);
    for (int i = 0; i < 3000; ++i) {
      std::vector<float> logits;
      for (float q : probs) logits.push_back(std::log(q));
      seen[sampler.Sample(logits, {})]++;
    }
    std::vector<int> ids;
    for (auto [id, count] : seen) ids.push_back(id);
    return ids;
  };
  SamplingParams top_k = Plain(1.0);
  top_k.top_k = 2;
  EXPECT_EQ(sampled(top_k), (std::vector<int>{0, 1}));
  SamplingParams top_p = Plain(1.0);
  top_p.top_p = 0.7;  // 0.5 (mass above 0) and 0.25 (mass above: 0.5 < 0.7); 0.15 has 0.75 above
  EXPECT_EQ(sampled(top_p), (std::vector<int>{0, 1}));
  SamplingParams min_p = Plain(1.0);
  min_p.min_p = 0.3;  // keep p >= 0.15
  EXPECT_EQ(sampled(min_p), (std::vector<int>{0, 1, 2}));
  SamplingParams keep = min_p;
  keep.min_p = 0.9;
  keep.min_tokens_to_keep = 3;
  EXPECT_EQ(sampled(keep), (std::vector<int>{0, 1, 2}));
}

TEST(SamplerTest, PenaltiesAndBias) {
  SamplingParams p = Plain(0.0);
  p.repetition_penalty = 2.0;
  Sampler sampler(p, 3);
  std::vector<float> logits = {2.0f, 1.5f, -1.0f};
  const std::vector<int32_t> history = {0, 2};
  EXPECT_EQ(sampler.Sample(logits, history), 1);  // 2.0 / 2 = 1.0 < 1.5
  EXPECT_FLOAT_EQ(logits[2], -2.0f);              // negative logits are multiplied
  SamplingParams b = Plain(0.0);
  b.logit_bias = {{2, 10.0f}};
  Sampler biased(b, 3);
  logits = {2.0f, 1.5f, -1.0f};
  EXPECT_EQ(biased.Sample(logits, {}), 2);
  SamplingParams f = Plain(0.0);
  f.frequency_penalty = 0.4;
  f.presence_penalty = 0.1;
  Sampler freq(f, 3);
  logits = {2.0f, 1.5f, -1.0f};
  const std::vector<int32_t> repeated = {0, 0};
  EXPECT_EQ(freq.Sample(logits, repeated), 1);  // 2.0 - 0.1 - 0.8 = 1.1
}

TEST(SamplerTest, ValidationNamesTheParameter) {
  SamplingParams p;
  p.top_p = 0.0;
  EXPECT_NE(ValidateSamplingParams(p).message().find("top_p"), std::string::npos);
  p = SamplingParams();
  p.temperature = -1;
  EXPECT_NE(ValidateSamplingParams(p).message().find("temperature"), std::string::npos);
  EXPECT_TRUE(ValidateSamplingParams(SamplingParams()).ok());
}

}  // namespace
}  // namespace lfm2
