// kernels/matmul.cc - runtime dispatch of the matmul paths (per-target code in matmul-inl.h) and
// the scalar twin.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/matmul.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/matmul-inl.h"

#if HWY_ONCE
#include <vector>

#include "kernels/matmul.h"

namespace lfm2::kernels {

HWY_EXPORT(MatMulPrecise);

void MatMul(const WeightMatrix& w, const float* x, size_t x_stride, size_t n_tokens, float* y,
            size_t y_stride, ThreadPool& pool, MatMulPath path) {
  // The fast (int8-activation) path is not implemented yet; both paths run the float kernels.
  (void)path;
  HWY_DYNAMIC_DISPATCH(MatMulPrecise)(w, x, x_stride, n_tokens, y, y_stride, pool);
}

namespace scalar {
void MatMul(const WeightMatrix& w, const float* x, size_t x_stride, size_t n_tokens, float* y,
            size_t y_stride) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    DequantizeRow(w, r, row.data());
    for (size_t t = 0; t < n_tokens; ++t) {
      float sum = 0.0f;
      for (int64_t k = 0; k < w.cols; ++k) sum += row[k] * x[t * x_stride + k];
      y[t * y_stride + r] = sum;
    }
  }
}
}  // namespace scalar

}  // namespace lfm2::kernels
#endif  // HWY_ONCE
