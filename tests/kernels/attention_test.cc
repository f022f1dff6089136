// The tiled attention kernel against its scalar twin and a float64 softmax, on every SIMD target:
// head sizes, rows with different limits (causal prefill tiles, single decode rows), block
// boundaries, limits reaching the end of the allocated keys (reads stay inside), and results that
// do not depend on which rows share a call.
#include "kernels/attention.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/targets.h"

namespace lfm2::kernels {
namespace {

std::vector<float> Random(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

struct Case {
  size_t head_dim, key_stride;
  std::vector<int64_t> limits;
};

// out_i by the textbook formula in float64.
std::vector<double> Reference(const float* q, int64_t limit, const float* keys, size_t key_stride,
                              const float* values, size_t head_dim, float scale) {
  std::vector<double> s(static_cast<size_t>(limit)), out(head_dim, 0.0);
  double max_s = -1e300, sum = 0;
  for (int64_t j = 0; j < limit; ++j) {
    double dot = 0;
    for (size_t c = 0; c < head_dim; ++c) dot += double(q[c]) * keys[c * key_stride + j];
    s[j] = scale * dot;
    max_s = std::max(max_s, s[j]);
  }
  for (int64_t j = 0; j < limit; ++j) sum += (s[j] = std::exp(s[j] - max_s));
  for (int64_t j = 0; j < limit; ++j) {
    for (size_t c = 0; c < head_dim; ++c) out[c] += s[j] / sum * values[j * head_dim + c];
  }
  return out;
}

void Check(const Case& c, const float* keys, const float* values, std::mt19937& rng) {
  const size_t rows = c.limits.size();
  auto q = Random(rows * c.head_dim, rng, 2.0f);
  std::vector<const float*> qp(rows);
  std::vector<float> got(rows * c.head_dim), want(rows * c.head_dim);
  std::vector<float*> gp(rows), wp(rows);
  for (size_t i = 0; i < rows; ++i) {
    qp[i] = q.data() + i * c.head_dim;
    gp[i] = got.data() + i * c.head_dim;
    wp[i] = want.data() + i * c.head_dim;
  }
  std::vector<float> scratch(AttentionScratchFloats(rows, c.head_dim));
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  Attention({qp.data(), gp.data(), c.limits.data(), rows}, keys, c.key_stride, values, c.head_dim, scale,
            scratch.data());
  scalar::Attention({qp.data(), wp.data(), c.limits.data(), rows}, keys, c.key_stride, values, c.head_dim,
                    scale, nullptr);
  for (size_t i = 0; i < rows; ++i) {
    const std::vector<double> ref =
        Reference(qp[i], c.limits[i], keys, c.key_stride, values, c.head_dim, scale);
    double err_twin = 0, err_ref = 0, norm = 0;
    for (size_t d = 0; d < c.head_dim; ++d) {
      const double g = got[i * c.head_dim + d];
      err_twin += (g - want[i * c.head_dim + d]) * (g - want[i * c.head_dim + d]);
      err_ref += (g - ref[d]) * (g - ref[d]);
      norm += ref[d] * ref[d];
    }
    EXPECT_LE(std::sqrt(err_twin), 1e-5 * std::sqrt(norm) + 1e-7) << "row " << i << " limit " << c.limits[i];
    EXPECT_LE(std::sqrt(err_ref), 1e-5 * std::sqrt(norm) + 1e-7) << "row " << i << " limit " << c.limits[i];
  }
  // Each row alone gives the same bits as in the shared call.
  for (size_t i = 0; i < rows; i += 3) {
    std::vector<float> alone(c.head_dim);
    float* ap = alone.data();
    Attention({&qp[i], &ap, &c.limits[i], 1}, keys, c.key_stride, values, c.head_dim, scale, scratch.data());
    for (size_t d = 0; d < c.head_dim; ++d) ASSERT_EQ(alone[d], got[i * c.head_dim + d]) << "row " << i;
  }
}

TEST(AttentionTest, MatchesTwinAndFloat64OnEveryTarget) {
  testing::ForEachTarget([](int64_t) {
    std::mt19937 rng(7);
    std::vector<Case> cases = {
        {64, 300, {1}},                                 // one key
        {64, 300, {64, 65, 63, 128, 129, 200, 300}},    // block boundaries, the whole cache
        {64, 4096, {1000, 1000, 1000, 1000}},           // a decode step: 4 heads of one group
        {32, 97, {97, 50, 3, 96, 17, 1, 64, 33, 2}},    // odd sizes, more rows than a tile
        {80, 130, {130, 129, 66}},
        {128, 70, {70}},
    };
    // A causal prefill tile: 16 tokens x 4 heads at positions 500..515.
    Case tile{64, 600, {}};
    for (int64_t t = 0; t < 16; ++t) {
      for (int h = 0; h < 4; ++h) tile.limits.push_back(501 + t);
    }
    cases.push_back(tile);
    for (const Case& c : cases) {
      SCOPED_TRACE(::testing::Message() << "head_dim " << c.head_dim << " key_stride " << c.key_stride);
      auto keys = Random(c.head_dim * c.key_stride, rng);
      auto values = Random(c.key_stride * c.head_dim, rng);
      Check(c, keys.data(), values.data(), rng);
    }
  });
}

TEST(AttentionTest, NeverReadsPastTheKeys) {
  // Keys end right before an inaccessible page: limits up to key_stride must not read past it.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  testing::ForEachTarget([&](int64_t) {
    std::mt19937 rng(8);
    for (size_t key_stride : {1, 7, 37, 64, 65, 100}) {
      const size_t head_dim = 64;
      const size_t bytes = head_dim * key_stride * sizeof(float);
      const size_t mapped = (bytes + page - 1) / page * page;
      void* base = mmap(nullptr, mapped + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      ASSERT_NE(base, MAP_FAILED);
      ASSERT_EQ(mprotect(static_cast<char*>(base) + mapped, page, PROT_NONE), 0);
      float* keys = reinterpret_cast<float*>(static_cast<char*>(base) + mapped - bytes);
      auto init = Random(head_dim * key_stride, rng);
      std::copy(init.begin(), init.end(), keys);
      auto values = Random(key_stride * head_dim, rng);
      Check({head_dim, key_stride, {static_cast<int64_t>(key_stride), 1}}, keys, values.data(), rng);
      munmap(base, mapped + page);
    }
  });
}

}  // namespace
}  // namespace lfm2::kernels
