// kernels/ops.cc - runtime dispatch of the vector ops (per-target code in ops-inl.h) and their
// scalar twins.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/ops.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/ops-inl.h"

// Per-target entry points for HWY_EXPORT (defined here, once per target, not in the -inl.h,
// which other kernel families include too).
HWY_BEFORE_NAMESPACE();
namespace lfm2::kernels {
namespace HWY_NAMESPACE {
float Dot(const float* a, const float* b, size_t n) { return DotImpl(a, b, n); }
void RmsNorm(const float* x, const float* weight, size_t n, float eps, float* out) {
  RmsNormImpl(x, weight, n, eps, out);
}
void SiluMul(const float* gate, const float* up, size_t n, float* out) {
  SiluMulImpl(gate, up, n, out);
}
void AddInto(const float* x, size_t n, float* y) { AddIntoImpl(x, n, y); }
void Axpy(float a, const float* x, size_t n, float* y) { AxpyImpl(a, x, n, y); }
void Softmax(float* x, size_t n) { SoftmaxImpl(x, n); }


}  // namespace HWY_NAMESPACE
}  // namespace lfm2::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cmath>

#include "hwy/targets.h"
#include "kernels/ops.h"

namespace lfm2::kernels {

HWY_EXPORT(Dot);
HWY_EXPORT(RmsNorm);
HWY_EXPORT(SiluMul);
HWY_EXPORT(AddInto);
HWY_EXPORT(Axpy);
HWY_EXPORT(Softmax);

float Dot(const float* a, const float* b, size_t n) { return HWY_DYNAMIC_DISPATCH(Dot)(a, b, n); }
void RmsNorm(const float* x, const float* weight, size_t n, float eps, float* out) {
  HWY_DYNAMIC_DISPATCH(RmsNorm)(x, weight, n, eps, out);
}
void SiluMul(const float* gate, const float* up, size_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(SiluMul)(gate, up, n, out);
}
void AddInto(const float* x, size_t n, float* y) { HWY_DYNAMIC_DISPATCH(AddInto)(x, n, y); }
void Axpy(float a, const float* x, size_t n, float* y) { HWY_DYNAMIC_DISPATCH(Axpy)(a, x, n, y); }
void Softmax(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(Softmax)(x, n); }

const char* ActiveTargetName() {
  // The best target that is both compiled in and supported by this CPU.
  const int64_t targets = hwy::SupportedTargets() & HWY_TARGETS;
  for (int64_t bit = 1; bit != 0 && bit <= targets; bit <<= 1) {
    if (targets & bit) return hwy::TargetName(bit);
  }
  return "scalar";
}

namespace scalar {

float Dot(const float* a, const float* b, size_t n) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void RmsNorm(const float* x, const float* weight, size_t n, float eps, float* out) {
  const float inv = 1.0f / std::sqrt(Dot(x, x, n) / static_cast<float>(n) + eps);
  for (size_t i = 0; i < n; ++i) out[i] = weight[i] * (x[i] * inv);
}

void SiluMul(const float* gate, const float* up, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void AddInto(const float* x, size_t n, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] += x[i];
}

void Axpy(float a, const float* x, size_t n, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void Softmax(float* x, size_t n) {
  if (n == 0) return;
  const float max_value = *std::max_element(x, x + n);
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - max_value));
  for (size_t i = 0; i < n; ++i) x[i] /= sum;
}


}  // namespace scalar
}  // namespace lfm2::kernels
#endif  // HWY_ONCE
