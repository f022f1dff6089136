// kernels/matmul.h - y = x W^T for a (possibly quantized) weight matrix and a block of float
// activation rows: the products every linear layer, expert and the LM head run.
//
// Contract: y[t * y_stride + r] = sum_k W[r, k] * x[t * x_stride + k] for r < w.rows and
// t < n_tokens. Each output element is computed by one worker with an operation sequence that
// depends only on row r and activation row t - not on n_tokens, the thread count, the other rows
// or the other jobs of a MatMulMany call - so results are bit-identical for any thread count and
// any batching of the same rows.
//
// The fast path on an MLX affine matrix (bits 2..8, group size 32/64/128) quantizes each
// activation row per weight group to 16-bit fixed point held as two int8 planes
// (kernels/act_quant.h: q = 256 * hi + lo, scale d_g, exact float sum xs_g) and computes, with
// the codes centred (c = 2^(bits-1)) so the activation rounding error is not multiplied by the
// codes' offset, the exact integer dot idot_g = sum_{k in g} (q_w[r,k] - c) * q_x[t,k] (u8 x s8
// dot products of the two planes: vpdpbusd on AVX3_DL; int16 x int16 pmaddwd on the 16-bit
// values on AVX2 and AVX3 (matmul_avx2-inl.h); pmaddubsw on SSSE3/SSE4; widening multiplies
// elsewhere) and b'_g = fma(c, s[r,g], b[r,g])
// (s, b: the group's MLX scale and bias):
//   y = 0;  for g in order:  y = fma(float(idot_g), s[r, g] * d_g, y);  y = fma(b'_g, xs_g, y)
// (fma = one rounding). Every SIMD target computes exactly this, so it equals
// scalar::MatMulFast bit for bit. Float (unquantized) weights take the precise path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/thread_pool.h"
#include "weights/weight_store.h"

namespace lfm2::kernels {

enum class MatMulPath {
  kPrecise,  // float32 activations against dequantized weights (the reference kernels)
  kFast,     // 16-bit activations, integer dot products (see above); the default of generation
  kFast8,    // 8-bit activations (kernels/act_quant.h): the same formula with lo_k = 0; relative
             // error per product ~5e-3 against kFast's ~2e-5; on AVX3_DL half the integer work
             // (lfm2 --act-bits 8)
};

void MatMul(const WeightMatrix& w, const float* x, size_t x_stride, size_t n_tokens, float* y,
            size_t y_stride, ThreadPool& pool, MatMulPath path);

// One product of a MatMulMany batch: y[t * y_stride + r] = (x W^T)[t, r], as MatMul. Jobs may
// share x (the fast path then quantizes it once); no job's y may overlap another job's y or any x.
struct MatMulJob {
  const WeightMatrix* w = nullptr;
  const float* x = nullptr;
  size_t x_stride = 0;
  size_t n_tokens = 0;
  float* y = nullptr;
  size_t y_stride = 0;
};

// Runs independent products in one pool dispatch: the (job, 16-row block) work units are cut at
// fixed boundaries into 4 chunks per thread of about equal estimated cost, which the workers take
// in order as they come free (plus one parallel pass that quantizes the distinct inputs when they
// are large). Same results, bit for bit, as one MatMul call per job. Use it for
// products that share an input or run back to back (q/k/v, gate/up, the selected experts): each
// dispatch costs a pool round trip and each split a partly idle worker.
void MatMulMany(std::span<const MatMulJob> jobs, ThreadPool& pool, MatMulPath path);

// Upper bound of the scratch memory the matmul kernels keep between calls (thread-local, grown on
// demand, never shrunk) when no call exceeds `max_tokens` rows of at most `max_cols` columns and
// `max_inputs` distinct inputs per MatMulMany: the calling thread's quantized activations (16-bit
// as two int8 planes, plus per-group scale, sum and code sum) and each worker's unpacked tile.
// For the RAM plan: 512 tokens x 7168 columns x 1 input and 2 threads is ~9.3 MB.
uint64_t MatMulScratchBytes(size_t max_tokens, size_t max_cols, size_t max_inputs, int threads);

namespace scalar {
// Straightforward twin of the precise path: dequantize each row, multiply-accumulate in float.
void MatMul(const WeightMatrix& w, const float* x, size_t x_stride, size_t n_tokens, float* y,
            size_t y_stride);
// Twin of the fast paths: the formula above, written out (float weights: as scalar::MatMul);
// eight_bit: of MatMulPath::kFast8.
void MatMulFast(const WeightMatrix& w, const float* x, size_t x_stride, size_t n_tokens, float* y,
                size_t y_stride, bool eight_bit = false);
}  // namespace scalar

}  // namespace lfm2::kernels
