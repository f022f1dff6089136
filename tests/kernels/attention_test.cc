// The tiled attention kernel against its scalar twin and a float64 softmax, on every SIMD target
// and every cache type (float32, float16, int8 - and what the storage costs against float32):
// head sizes, rows with different limits (causal prefill tiles, single decode rows), block
// boundaries, limits reaching the end of the allocated keys (reads stay inside), and results that
// do not depend on which rows share a call.
#include "kernels/attention.h"

#include <sys/mman.h>
#include <unistd.h>

#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/targets.h"
#include "kernels/weight_fixture.h"

namespace lfm2::kernels {
namespace {

using testing::RandomNormal;

// Key / value element as the kernel must see it: the cached value, times its scale for int8.
double Key(const KvHead& kv, size_t j, size_t c) {
  return double(CachedKey(kv, j, c)) * (kv.type == KvType::kQ8 ? kv.key_scales[j] : 1.0f);
}
double Value(const KvHead& kv, size_t j, size_t c) {
  return double(CachedValue(kv, j, c)) * (kv.type == KvType::kQ8 ? kv.value_scales[j] : 1.0f);
}

// out_i by the textbook formula in float64 over the cache as stored.
std::vector<double> Reference(const float* q, int64_t limit, const KvHead& kv, float scale) {
  std::vector<double> s(static_cast<size_t>(limit)), out(kv.head_dim, 0.0);
  double max_s = -1e300, sum = 0;
  for (int64_t j = 0; j < limit; ++j) {
    double dot = 0;
    for (size_t c = 0; c < kv.head_dim; ++c) dot += double(q[c]) * Key(kv, j, c);
    s[j] = scale * dot;
    max_s = std::max(max_s, s[j]);
  }
  for (int64_t j = 0; j < limit; ++j) sum += (s[j] = std::exp(s[j] - max_s));
  for (int64_t j = 0; j < limit; ++j) {
    for (size_t c = 0; c < kv.head_dim; ++c) out[c] += s[j] / sum * Value(kv, j, c);
  }
  return out;
}

// A cache of `type` filled through StoreKv from float keys / values (position-major, head_dim
// each), with the key bytes placed where `key_bytes_at` says (default: owned storage).
struct Cache {
  std::vector<uint8_t> key_storage, values;
  std::vector<float> scales;
  KvHead head;

  Cache(KvType type, size_t head_dim, size_t capacity, const std::vector<float>& k,
        const std::vector<float>& v, void* key_bytes_at = nullptr)
      : key_storage(key_bytes_at ? 0 : head_dim * KvPositions(capacity) * KvTypeBytes(type)),
        values(head_dim * KvPositions(capacity) * KvTypeBytes(type)),
        scales(2 * KvPositions(capacity)) {
    head.type = type;
    head.keys = key_bytes_at ? key_bytes_at : key_storage.data();
    head.values = values.data();
    head.key_scales = scales.data();
    head.value_scales = scales.data() + KvPositions(capacity);
    head.capacity = capacity;
    head.head_dim = head_dim;
    for (size_t j = 0; j < capacity; ++j) StoreKv(head, j, k.data() + j * head_dim, v.data() + j * head_dim);
  }
};

struct Case {
  size_t head_dim, key_stride;
  std::vector<int64_t> limits;
};

// Kernel vs twin vs float64 on the cache as stored; and, when `original` keys and values are
// given, the error the storage type adds against them (relative L2 per row <= storage_bound).
void Check(const Case& c, const KvHead& kv, std::mt19937& rng, const KvHead* original = nullptr,
           double storage_bound = 0) {
  const size_t rows = c.limits.size();
  auto q = RandomNormal(rows * c.head_dim, rng, 2.0f);
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
  Attention({qp.data(), gp.data(), c.limits.data(), rows}, kv, scale, scratch.data());
  scalar::Attention({qp.data(), wp.data(), c.limits.data(), rows}, kv, scale, nullptr);
  for (size_t i = 0; i < rows; ++i) {
    const std::vector<double> ref = Reference(qp[i], c.limits[i], kv, scale);
    double err_twin = 0, err_ref = 0, norm = 0;
    for (size_t d = 0; d < c.head_dim; ++d) {
      const double g = got[i * c.head_dim + d];
      err_twin += (g - want[i * c.head_dim + d]) * (g - want[i * c.head_dim + d]);
      err_ref += (g - ref[d]) * (g - ref[d]);
      norm += ref[d] * ref[d];
    }
    EXPECT_LE(std::sqrt(err_twin), 1e-5 * std::sqrt(norm) + 1e-7) << "row " << i << " limit " << c.limits[i];
    EXPECT_LE(std::sqrt(err_ref), 1e-5 * std::sqrt(norm) + 1e-7) << "row " << i << " limit " << c.limits[i];
    if (original != nullptr) {
      const std::vector<double> exact = Reference(qp[i], c.limits[i], *original, scale);
      double err = 0, exact_norm = 0;
      for (size_t d = 0; d < c.head_dim; ++d) {
        err += (got[i * c.head_dim + d] - exact[d]) * (got[i * c.head_dim + d] - exact[d]);
        exact_norm += exact[d] * exact[d];
      }
      EXPECT_LE(std::sqrt(err / exact_norm), storage_bound) << "row " << i << " limit " << c.limits[i];
    }
  }
  // Each row alone gives the same bits as in the shared call.
  for (size_t i = 0; i < rows; i += 3) {
    std::vector<float> alone(c.head_dim);
    float* ap = alone.data();
    Attention({&qp[i], &ap, &c.limits[i], 1}, kv, scale, scratch.data());
    for (size_t d = 0; d < c.head_dim; ++d) ASSERT_EQ(alone[d], got[i * c.head_dim + d]) << "row " << i;
  }
}

const char* TypeName(KvType type) {
  return type == KvType::kF32 ? "f32" : type == KvType::kF16 ? "f16" : "q8";
}

// Relative L2 error of the output the storage adds, measured here on these normal keys and
// values (queries of sd 2): f16 1.9e-4..1.0e-3, int8 5.4e-3..2.6e-2. The bounds leave ~3x room.
double StorageBound(KvType type) { return type == KvType::kF32 ? 1e-5 : type == KvType::kF16 ? 3e-3 : 8e-2; }

TEST(AttentionTest, MatchesTwinAndFloat64OnEveryTarget) {
  testing::ForEachTarget([](int64_t) {
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
    for (KvType type : {KvType::kF32, KvType::kF16, KvType::kQ8}) {
      std::mt19937 rng(7);
      for (const Case& c : cases) {
        SCOPED_TRACE(::testing::Message() << TypeName(type) << " head_dim " << c.head_dim << " key_stride "
                                          << c.key_stride);
        auto keys = RandomNormal(c.head_dim * c.key_stride, rng);
        auto values = RandomNormal(c.key_stride * c.head_dim, rng);
        const Cache exact(KvType::kF32, c.head_dim, c.key_stride, keys, values);
        const Cache cache(type, c.head_dim, c.key_stride, keys, values);
        Check(c, cache.head, rng, &exact.head, StorageBound(type));
      }
    }
  });
}

TEST(AttentionTest, NeverReadsPastTheKeys) {
  // Keys (whole blocks, KvPositions) end right before an inaccessible page: limits up to
  // key_stride must not read past them.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  testing::ForEachTarget([&](int64_t) {
    std::mt19937 rng(8);
    for (KvType type : {KvType::kF32, KvType::kF16, KvType::kQ8}) {
      for (size_t key_stride : {1, 7, 37, 64, 65, 100}) {
        const size_t head_dim = 64;
        const size_t bytes = head_dim * KvPositions(key_stride) * KvTypeBytes(type);
        const size_t mapped = (bytes + page - 1) / page * page;
        void* base = mmap(nullptr, mapped + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_NE(base, MAP_FAILED);
        ASSERT_EQ(mprotect(static_cast<char*>(base) + mapped, page, PROT_NONE), 0);
        auto keys = RandomNormal(head_dim * key_stride, rng);
        auto values = RandomNormal(key_stride * head_dim, rng);
        const Cache cache(type, head_dim, key_stride, keys, values, static_cast<char*>(base) + mapped - bytes);
        Check({head_dim, key_stride, {static_cast<int64_t>(key_stride), 1}}, cache.head, rng);
        munmap(base, mapped + page);
      }
    }
  });
}

// float16 storage rounds to nearest even exactly as the F16C instruction does, over the whole
// range: normal, subnormal, ties, overflow to infinity.
__attribute__((target("f16c"))) float HardwareHalf(float x) { return _cvtsh_ss(_cvtss_sh(x, 0)); }

TEST(AttentionTest, HalfStorageRoundsToNearestEven) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C to compare with";
  std::vector<float> xs = {0.0f, -0.0f, 1.0f, 65504.0f, 65519.0f, 65520.0f, -70000.0f, 6.1e-5f, 5.96e-8f,
                           2.98e-8f, 2.99e-8f, 1e-9f, 1.00048828125f, 1.001464843750f, 3.0517578125e-5f};
  std::mt19937 rng(9);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    uint32_t b = bits(rng);
    if ((b & 0x7f800000u) == 0x7f800000u) continue;  // NaN / inf: not stored by the model
    // Concentrate on the half range (exponents 2^-26 .. 2^17).
    b = (b & 0x807fffffu) | ((101u + (b >> 23) % 44u) << 23);
    float x;
    std::memcpy(&x, &b, 4);
    xs.push_back(x);
  }
  std::vector<float> k(xs.size()), v(xs.size(), 0.0f);
  const Cache cache(KvType::kF16, 1, xs.size(), xs, v);
  for (size_t j = 0; j < xs.size(); ++j) {
    const float got = CachedKey(cache.head, j, 0), want = HardwareHalf(xs[j]);
    ASSERT_EQ(std::memcmp(&got, &want, 4), 0) << xs[j] << ": got " << got << " want " << want;
  }
}

}  // namespace
}  // namespace lfm2::kernels
