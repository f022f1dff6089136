// Every vector op against its scalar twin, on every SIMD target, random data, odd sizes.
#include "kernels/ops.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/targets.h"
#include "kernels/weight_fixture.h"

namespace lfm2::kernels {
namespace {

using testing::RandomNormal;

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, float rel) {
  ASSERT_EQ(got.size(), want.size());
  double err = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    err += (got[i] - want[i]) * double(got[i] - want[i]);
    norm += want[i] * double(want[i]);
  }
  EXPECT_LE(std::sqrt(err), rel * std::sqrt(norm) + 1e-30) << "size " << got.size();
}

constexpr size_t kSizes[] = {1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 127, 255, 1000, 2048, 2051};

TEST(OpsTest, DotMatchesScalar) {
  testing::ForEachTarget([](int64_t) {
    std::mt19937 rng(1);
    for (size_t n : kSizes) {
      auto a = RandomNormal(n, rng), b = RandomNormal(n, rng);
      const float want = scalar::Dot(a.data(), b.data(), n);
      double norm = 0;
      for (size_t i = 0; i < n; ++i) norm += std::fabs(a[i] * b[i]);
      EXPECT_NEAR(Dot(a.data(), b.data(), n), want, 1e-5 * norm + 1e-6) << n;
    }
  });
}

TEST(OpsTest, RmsNormSiluMulAxpyAddMatchScalar) {
  testing::ForEachTarget([](int64_t) {
    std::mt19937 rng(2);
    for (size_t n : kSizes) {
      auto x = RandomNormal(n, rng, 3.0f), w = RandomNormal(n, rng), g = RandomNormal(n, rng, 4.0f), u = RandomNormal(n, rng);
      std::vector<float> got(n), want(n);
      RmsNorm(x.data(), w.data(), n, 1e-5f, got.data());
      scalar::RmsNorm(x.data(), w.data(), n, 1e-5f, want.data());
      ExpectClose(got, want, 1e-5f);
      SiluMul(g.data(), u.data(), n, got.data());
      scalar::SiluMul(g.data(), u.data(), n, want.data());
      ExpectClose(got, want, 1e-5f);
      got = u;
      want = u;
      Axpy(0.37f, x.data(), n, got.data());
      scalar::Axpy(0.37f, x.data(), n, want.data());
      ExpectClose(got, want, 1e-6f);
      AddInto(x.data(), n, got.data());
      scalar::AddInto(x.data(), n, want.data());
      ExpectClose(got, want, 1e-6f);
    }
  });
}

TEST(OpsTest, RmsNormInPlace) {
  std::mt19937 rng(3);
  auto x = RandomNormal(100, rng), w = RandomNormal(100, rng);
  std::vector<float> want(100);
  scalar::RmsNorm(x.data(), w.data(), 100, 1e-5f, want.data());
  RmsNorm(x.data(), w.data(), 100, 1e-5f, x.data());
  ExpectClose(x, want, 1e-5f);
}

TEST(OpsTest, SoftmaxMatchesScalarAndSumsToOne) {
  testing::ForEachTarget([](int64_t) {
    std::mt19937 rng(4);
    for (size_t n : kSizes) {
      auto x = RandomNormal(n, rng, 10.0f);
      auto want = x;
      Softmax(x.data(), n);
      scalar::Softmax(want.data(), n);
      ExpectClose(x, want, 1e-5f);
      double sum = 0;
      for (float p : x) sum += p;
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
  });
}

TEST(OpsTest, ActiveTargetIsNamed) { EXPECT_STRNE(ActiveTargetName(), ""); }

}  // namespace
}  // namespace lfm2::kernels
