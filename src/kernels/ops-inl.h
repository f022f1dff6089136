// kernels/ops-inl.h - per-target SIMD code of kernels/ops.h (compiled once per Highway target by
// kernels/ops.cc).
#if defined(LFM2_KERNELS_OPS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LFM2_KERNELS_OPS_INL_H_
#undef LFM2_KERNELS_OPS_INL_H_
#else
#define LFM2_KERNELS_OPS_INL_H_
#endif

#include <cmath>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lfm2::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

HWY_INLINE float DotImpl(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  auto sum0 = hn::Zero(d), sum1 = hn::Zero(d), sum2 = hn::Zero(d), sum3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    sum0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), sum0);
    sum1 = hn::MulAdd(hn::LoadU(d, a + i + lanes), hn::LoadU(d, b + i + lanes), sum1);
    sum2 = hn::MulAdd(hn::LoadU(d, a + i + 2 * lanes), hn::LoadU(d, b + i + 2 * lanes), sum2);
    sum3 = hn::MulAdd(hn::LoadU(d, a + i + 3 * lanes), hn::LoadU(d, b + i + 3 * lanes), sum3);
  }
  for (; i + lanes <= n; i += lanes) {
    sum0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), sum0);
  }
  const auto total = hn::Add(hn::Add(sum0, sum1), hn::Add(sum2, sum3));
  float sum = hn::GetLane(hn::SumOfLanes(d, total));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// Highway 1.0 has no LoadN/StoreN: partial vectors go through a zero-padded stack buffer.
constexpr size_t kMaxFloatLanes = HWY_MAX_BYTES / sizeof(float);

// Applies `op(vector) -> vector` over x[0..n) into out (may alias x).
template <class D, class Op>
HWY_INLINE void Transform1(D d, const float* x, size_t n, float* out, const Op& op) {
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(op(hn::LoadU(d, x + i)), d, out + i);
  if (i < n) {
    HWY_ALIGN float buffer[kMaxFloatLanes] = {};
    const size_t rest = n - i;
    for (size_t j = 0; j < rest; ++j) buffer[j] = x[i + j];
    hn::Store(op(hn::Load(d, buffer)), d, buffer);
    for (size_t j = 0; j < rest; ++j) out[i + j] = buffer[j];
  }
}

HWY_INLINE void RmsNormImpl(const float* x, const float* weight, size_t n, float eps, float* out) {
  const hn::ScalableTag<float> d;
  const float mean_square = DotImpl(x, x, n) / static_cast<float>(n);
  const float inv = 1.0f / std::sqrt(mean_square + eps);
  const auto vinv = hn::Set(d, inv);
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::Mul(hn::LoadU(d, weight + i), hn::Mul(hn::LoadU(d, x + i), vinv)), d, out + i);
  }
  for (; i < n; ++i) out[i] = weight[i] * (x[i] * inv);
}

HWY_INLINE void SiluMulImpl(const float* gate, const float* up, size_t n, float* out) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const auto one = hn::Set(d, 1.0f);
  auto silu_mul = [&](auto g, auto u) {
    const auto sigmoid = hn::Div(one, hn::Add(one, hn::CallExp(d, hn::Neg(g))));
    return hn::Mul(hn::Mul(g, sigmoid), u);
  };
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(silu_mul(hn::LoadU(d, gate + i), hn::LoadU(d, up + i)), d, out + i);
  }
  if (i < n) {
    HWY_ALIGN float g[kMaxFloatLanes] = {};
    HWY_ALIGN float u[kMaxFloatLanes] = {};
    const size_t rest = n - i;
    for (size_t j = 0; j < rest; ++j) {
      g[j] = gate[i + j];
      u[j] = up[i + j];
    }
    hn::Store(silu_mul(hn::Load(d, g), hn::Load(d, u)), d, g);
    for (size_t j = 0; j < rest; ++j) out[i + j] = g[j];
  }
}

HWY_INLINE void AxpyImpl(float a, const float* x, size_t n, float* y) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const auto va = hn::Set(d, a);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::MulAdd(va, hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, y + i);
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

HWY_INLINE void AddIntoImpl(const float* x, size_t n, float* y) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::Add(hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, y + i);
  }
  for (; i < n; ++i) y[i] += x[i];
}

HWY_INLINE void SoftmaxImpl(float* x, size_t n) {
  if (n == 0) return;
  const hn::ScalableTag<float> d;
  float max_value = x[0];
  for (size_t i = 1; i < n; ++i) max_value = std::max(max_value, x[i]);
  const auto vmax = hn::Set(d, max_value);
  Transform1(d, x, n, x, [&](auto v) { return hn::CallExp(d, hn::Sub(v, vmax)); });
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += x[i];
  const auto vinv = hn::Set(d, 1.0f / sum);
  Transform1(d, x, n, x, [&](auto v) { return hn::Mul(v, vinv); });
}

}  // namespace HWY_NAMESPACE
}  // namespace lfm2::kernels
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
