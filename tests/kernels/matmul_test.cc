// MatMul (both paths) against its scalar twin and a float64 reference, for every bits value,
// group size and float type, on every SIMD target; thread-count and batching invariance.
#include "kernels/matmul.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/quant.h"
#include "kernels/targets.h"
#include "kernels/weight_fixture.h"

namespace lfm2::kernels {
namespace {

using testing::RandomMatrix;
using testing::ReferenceWeight;

std::vector<float> RandomActivations(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

// Relative L2 error of `got` against the float64 product, per token row.
double MaxRowError(const WeightMatrix& w, const std::vector<float>& x, size_t tokens,
                   const std::vector<float>& got) {
  double worst = 0;
  for (size_t t = 0; t < tokens; ++t) {
    double err = 0, norm = 0;
    for (int64_t r = 0; r < w.rows; ++r) {
      double want = 0;
      for (int64_t k = 0; k < w.cols; ++k) want += ReferenceWeight(w, r, k) * x[t * w.cols + k];
      err += (got[t * w.rows + r] - want) * (got[t * w.rows + r] - want);
      norm += want * want;
    }
    worst = std::max(worst, std::sqrt(err / norm));
  }
  return worst;
}

struct Case {
  int bits;
  int group_size;
  DType dtype;
};

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    cases.push_back({0, 0, dtype});
    for (int bits : {2, 3, 4, 5, 6, 8}) {
      for (int group : {32, 64, 128}) cases.push_back({bits, group, dtype});
    }
  }
  return cases;
}

TEST(MatMulTest, DequantizeRowMatchesBitStreamReference) {
  std::mt19937 rng(7);
  for (const Case& c : AllCases()) {
    auto m = RandomMatrix(5, 256, c.bits, c.group_size, c.dtype, rng);
    std::vector<float> row(256);
    for (int64_t r = 0; r < 5; ++r) {
      DequantizeRow(m.view, r, row.data());
      for (int64_t k = 0; k < 256; ++k) {
        const double want = ReferenceWeight(m.view, r, k);
        // scale * q + bias in float: two roundings against one in the float64 reference.
        ASSERT_NEAR(row[k], want, 2e-7 * std::max(1.0, std::fabs(want)) + 1e-9)
            << "bits " << c.bits << " group " << c.group_size << " r " << r << " k " << k;
      }
    }
  }
}

TEST(MatMulTest, UnpackRowAndExtractQuantReadTheBitStream) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int bits : {2, 3, 4, 5, 6, 8}) {
    std::vector<uint8_t> row(64 * bits / 8 * 4);
    for (auto& b : row) b = static_cast<uint8_t>(byte(rng));
    const int64_t count = static_cast<int64_t>(row.size()) * 8 / bits;
    std::vector<uint8_t> unpacked(count);
    UnpackRow(row.data(), bits, count, unpacked.data());
    for (int64_t k = 0; k < count; ++k) {
      uint32_t want = 0;
      for (int b = 0; b < bits; ++b) {
        const int64_t bit = k * bits + b;
        want |= ((row[bit / 8] >> (bit % 8)) & 1u) << b;
      }
      ASSERT_EQ(unpacked[k], want) << "bits " << bits << " k " << k;
      ASSERT_EQ(ExtractQuant(row.data(), bits, k), want) << "bits " << bits << " k " << k;
    }
  }
}

TEST(MatMulTest, ThreeBitByteFormOfTheSpec) {
  // Spec 4.4: 3 bits, bytes b0 b1 b2: v2 = b0 bits 6-7 (low) + b1 bit 0 (high);
  // v5 = b1 bit 7 (low) + b2 bits 0-1 (high); v7 = b2 bits 5-7.
  const uint8_t bytes[3] = {0b10000000, 0b10000001, 0b10100010};
  std::vector<uint8_t> q(8);
  UnpackRow(bytes, 3, 8, q.data());
  EXPECT_EQ(q[2], 0b110);  // b0 bit 7 -> value bit 1, b1 bit 0 -> value bit 2
  EXPECT_EQ(q[5], 0b101);  // b1 bit 7 -> bit 0, b2 bits 0-1 (0,1) -> bits 1-2 = 0b10
  EXPECT_EQ(q[7], 0b101);  // b2 bits 5-7 = 1,0,1
  EXPECT_EQ(q[0], 0);
}

TEST(MatMulTest, BothPathsMatchScalarTwinAndReferenceOnEveryTarget) {
  ThreadPool pool(2);
  testing::ForEachTarget([&](int64_t) {
    std::mt19937 rng(11);
    for (const Case& c : AllCases()) {
      for (auto [rows, cols, tokens] : {std::tuple{37, 128, 1}, {64, 256, 3}, {19, 384, 5}}) {
        if (c.group_size != 0 && cols % c.group_size != 0) continue;
        SCOPED_TRACE(::testing::Message() << "bits " << c.bits << " group " << c.group_size
                                          << " dtype " << DTypeName(c.dtype) << " " << rows << "x"
                                          << cols << " tokens " << tokens);
        auto m = RandomMatrix(rows, cols, c.bits, c.group_size, c.dtype, rng);
        auto x = RandomActivations(tokens * cols, rng);
        std::vector<float> twin(tokens * rows);
        scalar::MatMul(m.view, x.data(), cols, tokens, twin.data(), rows);
        EXPECT_LE(MaxRowError(m.view, x, tokens, twin), 1e-5);
        for (MatMulPath path : {MatMulPath::kPrecise, MatMulPath::kFast}) {
          std::vector<float> got(tokens * rows);
          MatMul(m.view, x.data(), cols, tokens, got.data(), rows, pool, path);
          const double bound = path == MatMulPath::kPrecise ? 1e-5 : 2e-2;
          EXPECT_LE(MaxRowError(m.view, x, tokens, got), bound);
        }
      }
    }
  });
}

TEST(MatMulTest, IdenticalForAnyThreadCountAndBatching) {
  std::mt19937 rng(13);
  for (int bits : {0, 3, 4}) {
    auto m = RandomMatrix(301, 256, bits, 64, DType::kBF16, rng);
    const size_t tokens = 7;
    auto x = RandomActivations(tokens * 256, rng);
    for (MatMulPath path : {MatMulPath::kPrecise, MatMulPath::kFast}) {
      std::vector<std::vector<float>> results;
      for (int threads : {1, 2, 3, 5}) {
        ThreadPool pool(threads);
        std::vector<float> y(tokens * 301);
        MatMul(m.view, x.data(), 256, tokens, y.data(), 301, pool, path);
        results.push_back(y);
        // The same rows one token at a time give the same bits.
        std::vector<float> single(tokens * 301);
        for (size_t t = 0; t < tokens; ++t) {
          MatMul(m.view, x.data() + t * 256, 256, 1, single.data() + t * 301, 301, pool, path);
        }
        EXPECT_EQ(single, y) << "threads " << threads;
      }
      for (const auto& y : results) EXPECT_EQ(y, results.front());
    }
  }
}

}  // namespace
}  // namespace lfm2::kernels
