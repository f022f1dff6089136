// kernels/matmul-inl.h - per-target code of kernels/matmul.h (compiled once per Highway target by
// kernels/matmul.cc).
#if defined(LFM2_KERNELS_MATMUL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LFM2_KERNELS_MATMUL_INL_H_
#undef LFM2_KERNELS_MATMUL_INL_H_
#else
#define LFM2_KERNELS_MATMUL_INL_H_
#endif

#include <vector>

#include "base/thread_pool.h"
#include "hwy/highway.h"
#include "kernels/ops-inl.h"
#include "kernels/quant.h"

HWY_BEFORE_NAMESPACE();
namespace lfm2::kernels {
namespace HWY_NAMESPACE {

// Precise path: each worker dequantizes one weight row at a time into float scratch and takes
// its dot product with every activation row.
void MatMulPrecise(const WeightMatrix& w, const float* x, size_t x_stride, size_t n_tokens,
                   float* y, size_t y_stride, ThreadPool& pool) {
  const size_t cols = static_cast<size_t>(w.cols);
  pool.ParallelFor(static_cast<size_t>(w.rows), 16, [&](size_t begin, size_t end, int) {
    thread_local std::vector<float> row;
    if (row.size() < cols) row.resize(cols);
    for (size_t r = begin; r < end; ++r) {
      DequantizeRow(w, static_cast<int64_t>(r), row.data());
      for (size_t t = 0; t < n_tokens; ++t) {
        y[t * y_stride + r] = DotImpl(row.data(), x + t * x_stride, cols);
      }
    }
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace lfm2::kernels
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
