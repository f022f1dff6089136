// The fast matmul paths (16-bit and 8-bit activations, integer dot products) on every SIMD
// target: the activation quantizer and the products equal their scalar twins bit for bit, for
// every bits x group size x scale dtype, odd row / column / token counts, unaligned data, strided
// x and y;
// MatMulMany equals one MatMul per job; a token's row never depends on its batch, the kernel the
// token count selects, or the thread count.
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "base/aligned_buffer.h"
#include "kernels/act_quant.h"
#include "kernels/matmul.h"
#include "kernels/targets.h"
#include "kernels/weight_fixture.h"

namespace lfm2::kernels {
namespace {

using testing::RandomMatrix;
using testing::ReferenceWeight;

std::vector<float> RandomActivations(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

// Bitwise equality (distinguishes -0 from +0 and compares NaNs), with the first mismatch named.
void ExpectSameBits(const std::vector<float>& got, const std::vector<float>& want,
                    const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0)
        << what << ": element " << i << " got " << got[i] << " want " << want[i];
  }
}

constexpr MatMulPath kFastPaths[] = {MatMulPath::kFast, MatMulPath::kFast8};

const char* PathName(MatMulPath path) { return path == MatMulPath::kFast8 ? "fast8" : "fast"; }

// planes = 1: 8-bit activations stored as the hi plane alone (kRows / kTokenBlocks).
QuantizedActivations Layout(QuantizedActivations::Layout layout, size_t tokens, size_t cols,
                            size_t group, size_t set_groups, bool eight_bit = false, int planes = 2) {
  QuantizedActivations q;
  q.eight_bit = eight_bit;
  q.planes = planes;
  q.layout = layout;
  q.tokens = tokens;
  q.cols = cols;
  q.group_size = group;
  q.groups = cols / group;
  q.set_groups = set_groups;
  const size_t set_codes = set_groups * group;
  using L = QuantizedActivations::Layout;
  switch (layout) {
    case L::kRows:
      q.plane_bytes = ((cols + set_codes - 1) / set_codes * set_codes + 63) / 64 * 64;
      q.q_stride = planes * q.plane_bytes;
      break;
    case L::kTokenBlocks:
      q.plane_bytes = cols * 16;
      q.q_stride = planes * q.plane_bytes;
      break;
    case L::kRows16:
      q.plane_bytes = q.q_stride = (2 * cols + 63) / 64 * 64;
      break;
    case L::kTokenBlocks16:
      q.plane_bytes = q.q_stride = 32 * cols;
      break;
  }
  return q;
}

TEST(MatMulFastTest, RowsPositionIsAPermutationOfWholePacks) {
  for (size_t group : {32, 64, 128}) {
    for (size_t set : {1, 2, 4}) {
      const size_t cols = group * set * 3;
      std::vector<int> seen(cols, 0);
      for (size_t k = 0; k < cols; ++k) {
        const size_t pos = RowsPosition(k, group, set);
        ASSERT_LT(pos, cols);
        ++seen[pos];
        if (k % 8 != 0) {
          ASSERT_EQ(pos, RowsPosition(k - 1, group, set) + 1);  // packs stay whole
        }
        // Each 32-bit lane of a 64-byte vector holds codes of one group.
        const size_t set_codes = group * set;
        if (!RowsNatural(group, set)) {
          const size_t lane = pos % 64 / 4;
          ASSERT_EQ(k % set_codes / group, lane / (16 / set)) << group << " " << set << " " << k;
        }
      }
      for (int count : seen) ASSERT_EQ(count, 1);
    }
  }
}

TEST(MatMulFastTest, ActivationQuantizerMatchesScalarDefinitionOnEveryTarget) {
  testing::ForEachTarget([](int64_t) {
    std::mt19937 rng(3);
    for (size_t group : {32, 64, 128}) {
      for (size_t tokens : {1, 3, 17}) {
        const size_t cols = group * 3, stride = cols + 5;
        auto x = RandomActivations(tokens * stride, rng, 2.0f);
        // An all-zero group, a group with one huge value, exact ties for the rounding.
        std::fill_n(x.begin(), group, 0.0f);
        x[group + 1] = 1e6f;
        for (size_t k = 0; k < group; ++k) x[2 * group + k] = (static_cast<float>(k) - 20.0f) * 0.5f;
        for (size_t set : {1, 2, 4}) {
          using L = QuantizedActivations::Layout;
          for (auto layout : {L::kRows, L::kTokenBlocks, L::kRows16, L::kTokenBlocks16})
          for (int mode = 0; mode < 3; ++mode) {  // 16-bit; 8-bit in two planes; 8-bit, one plane
            if (layout != L::kRows && set != 1) continue;
            const bool eight_bit = mode > 0;
            const int planes = mode == 2 ? 1 : 2;
            if (planes == 1 && (layout == L::kRows16 || layout == L::kTokenBlocks16)) continue;
            SCOPED_TRACE(::testing::Message() << "mode " << mode << " layout " << int(layout) << " set " << set);
            QuantizedActivations q = Layout(layout, tokens, cols, group, set, eight_bit, planes);
            AlignedBuffer<uint8_t> bytes(q.QBytes());
            AlignedBuffer<float> scale(q.GroupEntries()), sum(q.GroupEntries());
            AlignedBuffer<int32_t> qsum(q.GroupEntries());
            q.q = bytes.data();
            q.scale = scale.data();
            q.sum = sum.data();
            q.qsum = qsum.data();
            QuantizeActivations(x.data(), stride, q);
            std::vector<int8_t> want_hi(cols), want_lo(cols);
            std::vector<float> want_scale(q.groups), want_sum(q.groups);
            std::vector<int32_t> want_qsum(q.groups);
            const bool rows = q.per_token();
            for (size_t t = 0; t < tokens; ++t) {
              QuantizeActivationRow(x.data() + t * stride, cols, group, want_hi.data(),
                                    want_lo.data(), want_scale.data(), want_sum.data(),
                                    want_qsum.data(), eight_bit);
              for (size_t k = 0; k < cols && q.sixteen_bit(); ++k) {
                const int16_t* q16 = reinterpret_cast<const int16_t*>(q.q);
                const size_t at = rows ? t * q.q_stride / 2 + Rows16Position(k)
                                       : (t / 16) * q.q_stride / 2 + ((k / 2) * 16 + t % 16) * 2 + k % 2;
                ASSERT_EQ(q16[at], 256 * want_hi[k] + want_lo[k]) << "16-bit, group " << group << " t " << t << " k " << k;
              }
              for (size_t k = 0; k < cols && !q.sixteen_bit(); ++k) {
                const size_t at = rows ? t * q.q_stride + RowsPosition(k, group, set)
                                       : (t / 16) * q.q_stride + (k / 4) * 64 + (t % 16) * 4 + k % 4;
                ASSERT_EQ(static_cast<int8_t>(q.q[at]), want_hi[k]) << "group " << group << " t " << t << " k " << k;
                if (planes == 2) { ASSERT_EQ(static_cast<int8_t>(q.q[at + q.plane_bytes]), want_lo[k]) << "k " << k; }
                if (eight_bit) { ASSERT_EQ(want_lo[k], 0); }
              }
              for (size_t g = 0; g < q.groups; ++g) {
                const size_t at = rows ? t * q.groups + g : ((t / 16) * q.groups + g) * 16 + t % 16;
                ASSERT_EQ(q.scale[at], want_scale[g]);
                ASSERT_EQ(std::memcmp(&q.sum[at], &want_sum[g], 4), 0) << q.sum[at] << " " << want_sum[g];
                ASSERT_EQ(q.qsum[at], want_qsum[g]);
              }
            }
          }
        }
      }
    }
  });
}

TEST(MatMulFastTest, QuantizedActivationsAreAccurate) {
  for (bool eight_bit : {false, true}) {
  std::mt19937 rng(4);
  auto x = RandomActivations(64 * 8, rng);
  x[5] = 30.0f;  // an outlier coarsens its group's grid
  std::vector<int8_t> hi(x.size()), lo(x.size());
  std::vector<float> scale(8), sum(8);
  std::vector<int32_t> qsum(8);
  QuantizeActivationRow(x.data(), x.size(), 64, hi.data(), lo.data(), scale.data(), sum.data(),
                        qsum.data(), eight_bit);
  // Half a step of the grid: amax / 254 with 8 bits, amax / 65024 (up to 2x where the low plane
  // clamps) with 16.
  const double bound = eight_bit ? 1.0 / 254 : 1.0 / 32512;
  for (size_t g = 0; g < 8; ++g) {
    double exact = 0, amax = 0;
    int32_t total = 0;
    for (size_t k = 0; k < 64; ++k) amax = std::max(amax, std::fabs(double(x[g * 64 + k])));
    for (size_t k = 0; k < 64; ++k) {
      const int32_t q = 256 * hi[g * 64 + k] + lo[g * 64 + k];
      total += q;
      exact += x[g * 64 + k];
      EXPECT_LE(std::fabs(q * double(scale[g]) - x[g * 64 + k]), amax * bound * 1.01);
    }
    EXPECT_EQ(qsum[g], total);
    EXPECT_NEAR(sum[g], exact, 1e-5);
  }
  }
}

struct Shape {
  int64_t rows, cols;
  size_t tokens;
};

TEST(MatMulFastTest, EqualsScalarTwinBitForBitOnEveryTarget) {
  ThreadPool pool(2);
  testing::ForEachTarget([&](int64_t) {
    std::mt19937 rng(21);
    for (DType dtype : {DType::kBF16, DType::kF16, DType::kF32}) {
      for (int bits : {2, 3, 4, 5, 6, 8}) {
        for (int group : {32, 64, 128}) {
          // Row counts around the 16-row tile, odd columns (group multiples, half 64-code chunks
          // for group 32), token counts on both sides of the token-block kernel and partial blocks.
          for (Shape s : {Shape{1, 128, 1}, Shape{17, group * 3, 2}, Shape{37, 384, 5},
                          Shape{16, group == 32 ? 96 : group == 64 ? 192 : 256, 17},
                          Shape{5, 256, 33}, Shape{21, 1792, 9}}) {
            if (s.cols % group != 0) continue;
            SCOPED_TRACE(::testing::Message() << "bits " << bits << " group " << group << " dtype "
                                              << DTypeName(dtype) << " " << s.rows << "x" << s.cols
                                              << " tokens " << s.tokens);
            auto m = RandomMatrix(s.rows, s.cols, bits, group, dtype, rng, /*offset=*/1 + bits);
            const size_t x_stride = s.cols + 3, y_stride = s.rows + 2;
            auto x = RandomActivations(s.tokens * x_stride + 1, rng);
            const float* xp = x.data() + 1;  // unaligned rows
            for (MatMulPath path : kFastPaths) {
              std::vector<float> want(s.tokens * y_stride, -7.0f), got(want);
              scalar::MatMulFast(m.view, xp, x_stride, s.tokens, want.data(), y_stride,
                                 path == MatMulPath::kFast8);
              MatMul(m.view, xp, x_stride, s.tokens, got.data(), y_stride, pool, path);
              ExpectSameBits(got, want, std::string(PathName(path)) + " vs twin");
            }
          }
        }
      }
    }
  });
}

// Relative L2 error per token row against float64 W x.
double MaxRowError(const WeightMatrix& w, const float* x, size_t tokens, const std::vector<float>& y) {
  double worst = 0;
  for (size_t t = 0; t < tokens; ++t) {
    double err = 0, norm = 0;
    for (int64_t r = 0; r < w.rows; ++r) {
      double want = 0;
      for (int64_t k = 0; k < w.cols; ++k) want += ReferenceWeight(w, r, k) * x[t * w.cols + k];
      err += (y[t * w.rows + r] - want) * (y[t * w.rows + r] - want);
      norm += want * want;
    }
    worst = std::max(worst, std::sqrt(err / norm));
  }
  return worst;
}

// Relative L2 error per token row, as measured here: 16-bit activations 1.5e-5..3.5e-5 (up to
// 1.3e-4 with outliers); 8-bit 4e-3..9.5e-3 on normal data (an error of up to amax / 254 per
// element) and up to 3.1e-2 with outliers of 20 sigma (the grid of an outlier's group is 20x
// coarser for its other elements). The bounds leave ~1.5-2x room.
TEST(MatMulFastTest, AccurateAgainstFloat64) {
  ThreadPool pool(2);
  for (MatMulPath path : kFastPaths) {
    const bool eight = path == MatMulPath::kFast8;
    std::mt19937 rng(8);
    for (int bits : {2, 3, 4, 8}) {
      for (int group : {32, 64, 128}) {
        auto m = RandomMatrix(48, 1024, bits, group, DType::kBF16, rng);
        auto x = RandomActivations(6 * 1024, rng);
        std::vector<float> y(6 * 48);
        for (size_t tokens : {1, 6}) {
          MatMul(m.view, x.data(), 1024, tokens, y.data(), 48, pool, path);
          EXPECT_LE(MaxRowError(m.view, x.data(), tokens, y), eight ? 1.5e-2 : 1e-3)
              << PathName(path) << " bits " << bits << " group " << group << " tokens " << tokens;
        }
        // An outlier of 20 sigma in most groups (as after RMSNorm with outlier channels) coarsens
        // its group's grid; the 16-bit activations keep the error small.
        for (size_t i = 0; i < x.size(); i += 97) x[i] *= 20.0f;
        MatMul(m.view, x.data(), 1024, 6, y.data(), 48, pool, path);
        EXPECT_LE(MaxRowError(m.view, x.data(), 6, y), eight ? 6e-2 : 1e-3)
            << PathName(path) << " bits " << bits << " group " << group;
      }
    }
  }
}

// MLX tensors are only byte-aligned and may end at the end of a mapping: put the packed rows,
// scales and biases each right before an inaccessible page and run every kernel on every target.
TEST(MatMulFastTest, NeverReadsPastTheEndOfTheTensors) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  ThreadPool pool(2);
  std::mt19937 rng(17);
  for (int bits : {2, 3, 4, 5, 6, 8}) {
    for (int group : {32, 64, 128}) {
      const int64_t rows = 19, cols = group == 32 ? 96 : 384;
      auto m = RandomMatrix(rows, cols, bits, group, DType::kBF16, rng, 0);
      // Three regions of (some pages + one guard page), the tensor flush against the guard.
      std::vector<std::pair<void*, size_t>> regions;
      auto place = [&](const std::vector<uint8_t>& bytes) {
        const size_t pages = (bytes.size() + page - 1) / page + 1;
        void* base = mmap(nullptr, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        EXPECT_NE(base, MAP_FAILED);
        uint8_t* end = static_cast<uint8_t*>(base) + (pages - 1) * page;
        std::memcpy(end - bytes.size(), bytes.data(), bytes.size());
        EXPECT_EQ(mprotect(end, page, PROT_NONE), 0);
        regions.push_back({base, pages * page});
        return end - bytes.size();
      };
      WeightMatrix w = m.view;
      w.data = place(m.data);
      w.scales = place(m.scales);
      w.biases = place(m.biases);
      testing::ForEachTarget([&](int64_t) {
        for (size_t tokens : {1, 3, 20}) {
          auto x = RandomActivations(tokens * cols, rng);
          std::vector<float> want(tokens * rows), got(tokens * rows);
          for (MatMulPath path : kFastPaths) {
            scalar::MatMulFast(w, x.data(), cols, tokens, want.data(), rows, path == MatMulPath::kFast8);
            MatMul(w, x.data(), cols, tokens, got.data(), rows, pool, path);
            ExpectSameBits(got, want, std::string(PathName(path)) + " bits " + std::to_string(bits) +
                                          " group " + std::to_string(group));
          }
          MatMul(w, x.data(), cols, tokens, got.data(), rows, pool, MatMulPath::kPrecise);
        }
      });
      for (auto [base, bytes] : regions) munmap(base, bytes);
    }
  }
}

TEST(MatMulFastTest, TokenRowsDoNotDependOnBatchOrThreads) {
  for (MatMulPath path : kFastPaths) {
  std::mt19937 rng(9);
  for (int bits : {3, 4, 8}) {
    auto m = RandomMatrix(70, 512, bits, 64, DType::kBF16, rng);
    const size_t max_tokens = 40;
    auto x = RandomActivations(max_tokens * 512, rng);
    // Each token alone (the matrix-vector kernel) is the reference.
    ThreadPool one(1);
    std::vector<float> alone(max_tokens * 70);
    for (size_t t = 0; t < max_tokens; ++t) {
      MatMul(m.view, x.data() + t * 512, 512, 1, alone.data() + t * 70, 70, one, path);
    }
    for (int threads : {1, 2, 3, 7}) {
      ThreadPool pool(threads);
      for (size_t tokens : {2, 3, 5, 7, 8, 9, 15, 16, 17, 40}) {
        std::vector<float> y(tokens * 70);
        MatMul(m.view, x.data(), 512, tokens, y.data(), 70, pool, path);
        ExpectSameBits(y, std::vector<float>(alone.begin(), alone.begin() + tokens * 70),
                       std::string(PathName(path)) + " bits " + std::to_string(bits) + " threads " +
                           std::to_string(threads) + " tokens " + std::to_string(tokens));
      }
    }
  }
  }
}

TEST(MatMulFastTest, MatMulManyEqualsSeparateCalls) {
  std::mt19937 rng(10);
  std::vector<testing::OwnedMatrix> mats;
  mats.push_back(RandomMatrix(64, 256, 3, 64, DType::kBF16, rng));
  mats.push_back(RandomMatrix(19, 256, 4, 32, DType::kF16, rng));
  mats.push_back(RandomMatrix(33, 256, 8, 128, DType::kF32, rng));
  mats.push_back(RandomMatrix(40, 256, 0, 0, DType::kBF16, rng));  // float weights
  mats.push_back(RandomMatrix(21, 384, 2, 64, DType::kBF16, rng));
  auto x = RandomActivations(20 * 384, rng);
  for (MatMulPath path : {MatMulPath::kFast, MatMulPath::kFast8, MatMulPath::kPrecise}) {
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      for (size_t tokens : {1, 6, 20}) {
        std::vector<MatMulJob> jobs;
        std::vector<std::vector<float>> outputs, separate;
        for (size_t i = 0; i < mats.size(); ++i) {
          const auto& w = mats[i].view;
          // Jobs 0-3 share x; job 4 has its own (wider) input.
          const size_t stride = i == 4 ? 384 : 256;
          const float* input = i == 4 ? x.data() : x.data() + 7;
          outputs.emplace_back(tokens * w.rows + 3, 0.0f);
          separate.emplace_back(tokens * w.rows + 3, 0.0f);
          jobs.push_back({&w, input, stride, tokens, outputs.back().data() + 3, static_cast<size_t>(w.rows)});
          MatMul(w, input, stride, tokens, separate.back().data() + 3, w.rows, pool, path);
        }
        MatMulMany(jobs, pool, path);
        for (size_t i = 0; i < mats.size(); ++i) {
          ExpectSameBits(outputs[i], separate[i],
                         "job " + std::to_string(i) + " tokens " + std::to_string(tokens));
        }
      }
    }
  }
}

}  // namespace
}  // namespace lfm2::kernels
