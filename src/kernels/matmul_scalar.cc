// kernels/matmul_scalar.cc - the scalar twins of both matmul paths (the references the SIMD
// kernels are tested against).
#include <cmath>
#include <vector>

#include "kernels/act_quant.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "kernels/tiled.h"
#include "weights/dtype.h"

namespace lfm2::kernels::scalar {

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

void MatMulFast(const WeightMatrix& w, const float* x, size_t x_stride, size_t n_tokens, float* y,
                size_t y_stride, bool eight_bit) {
  if (!w.quantized()) {
    MatMul(w, x, x_stride, n_tokens, y, y_stride);
    return;
  }
  const size_t cols = static_cast<size_t>(w.cols);
  const size_t group_size = static_cast<size_t>(w.quant.group_size);
  const size_t groups = cols / group_size;
  std::vector<int8_t> hi(cols), lo(cols);
  std::vector<uint8_t> codes(cols);
  std::vector<float> scale(groups), sum(groups);
  std::vector<int32_t> qsum(groups);
  for (size_t t = 0; t < n_tokens; ++t) {
    QuantizeActivationRow(x + t * x_stride, cols, group_size, hi.data(), lo.data(), scale.data(),
                          sum.data(), qsum.data(), eight_bit);
    for (int64_t r = 0; r < w.rows; ++r) {
      RowCodes(w, r, codes.data());
      const int32_t center = 1 << (w.quant.bits - 1);
      float acc = 0.0f;
      for (size_t g = 0; g < groups; ++g) {
        int32_t dot = 0;  // |dot| <= 128 * 32639 * 128 < 2^31
        for (size_t k = g * group_size; k < (g + 1) * group_size; ++k) {
          dot += (codes[k] - center) * (256 * hi[k] + lo[k]);
        }
        const float s = RowScale(w, r, static_cast<int64_t>(g));
        const float b = std::fma(static_cast<float>(center), s, RowBias(w, r, static_cast<int64_t>(g)));
        acc = std::fma(static_cast<float>(dot), s * scale[g], acc);
        acc = std::fma(b, sum[g], acc);
      }
      y[t * y_stride + r] = acc;
    }
  }
}

}  // namespace lfm2::kernels::scalar
