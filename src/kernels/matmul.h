// kernels/matmul.h - y = x W^T for a (possibly quantized) weight matrix and a block of float
// activation rows: the products every linear layer, expert and the LM head run.
//
// Contract: y[t * y_stride + r] = sum_k W[r, k] * x[t * x_stride + k] for r < w.rows and
// t < n_tokens. Each output element is computed by one worker with an operation order that does
// not depend on n_tokens, the thread count or the other rows, so results are bit-identical for
// any thread count and any batching of the same rows.
#pragma once

#include <cstddef>

#include "base/thread_pool.h"
#include "weights/weight_store.h"

namespace lfm2::kernels {

enum class MatMulPath {
  kPrecise,  // float32 activations against dequantized weights (the reference kernels)
  kFast,     // the generation path; may quantize activations (e.g. int8 with VNNI dot products)
};

void MatMul(const WeightMatrix& w, const float* x, size_t x_stride, size_t n_tokens, float* y,
            size_t y_stride, ThreadPool& pool, MatMulPath path);

namespace scalar {
// Straightforward twin: dequantize each row, multiply-accumulate in float.
void MatMul(const WeightMatrix& w, const float* x, size_t x_stride, size_t n_tokens, float* y,
            size_t y_stride);
}  // namespace scalar

}  // namespace lfm2::kernels
