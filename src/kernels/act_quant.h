// kernels/act_quant.h - quantization of activation rows for the fast matmul path to two int8
// planes (a 16-bit fixed-point value per element), the exact (scalar) definition that every SIMD
// target reproduces bit for bit, and the buffer layouts the fast kernels read.
//
// Per group of `group_size` consecutive elements x_k of one activation row:
//   amax  = max |x_k|;  inv = 127 / amax (0 when amax == 0)
//   v_k   = x_k * inv;  hi_k = RoundHalfEven(v_k) in [-127, 127]
//   lo_k  = clamp(RoundHalfEven((v_k - hi_k) * 256), -127, 127)   (v_k - hi_k is exact)
//   q_k   = 256 * hi_k + lo_k, so x_k ~ scale * q_k with |error| <= amax / 32512 (half that
//           unless the low plane clamps, which happens only within 1/256 of a tie)
//   scale = (amax / 127) / 256
//   sum   = CanonicalSum(x): 16 lanes, lane j = ((x_j + x_{j+16}) + x_{j+32}) + ... left to right,
//           then folded lane j += lane j+8, j += j+4, j += j+2, j += j+1 (see FoldLanes16)
//   qsum  = sum of q_k (exact integer)
// One int8 plane would be 2x cheaper, but its ~0.7% error per product compounds through a deep
// model far past the fast path's budget; the low plane costs one more u8 x s8 dot product per
// weight byte and brings the error to ~1e-4 of that. The sum is of the float x (not of the
// quantized values), so the bias term of an MLX affine group, bias * sum_k x_k, is exact.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lfm2::kernels {

// Rounds to the nearest integer, ties to even, for |v| < 2^22, with plain float adds (the same
// on every target and in scalar code; no dependence on the rounding of a conversion instruction).
inline float RoundHalfEven(float v) { return (v + 12582912.0f) - 12582912.0f; }

// The fixed fold of 16 lane partial sums used by CanonicalSum.
inline float FoldLanes16(const float lanes[16]) {
  float a[8], b[4], c[2];
  for (int j = 0; j < 8; ++j) a[j] = lanes[j] + lanes[j + 8];
  for (int j = 0; j < 4; ++j) b[j] = a[j] + a[j + 4];
  for (int j = 0; j < 2; ++j) c[j] = b[j] + b[j + 2];
  return c[0] + c[1];
}

// Group sizes are multiples of 16 (MLX: 32, 64, 128).
inline constexpr size_t kSumLanes = 16;

// Scalar reference: quantizes one activation row of `cols` values (a multiple of group_size) into
// hi[0, cols), lo[0, cols) and per-group scale / sum / qsum arrays of cols / group_size entries.
void QuantizeActivationRow(const float* x, size_t cols, size_t group_size, int8_t* hi, int8_t* lo,
                           float* scale, float* sum, int32_t* qsum);

// Where element k of a row goes in the kRows layout when groups are interleaved in sets of
// `set_groups` (1, 2 or 4) groups. A set of set_groups * group_size codes is stored as V =
// set_codes / 64 vectors of 64 bytes; in each vector, group a of the set owns the 8-byte slots
// a * slots .. a * slots + slots - 1 (slots = 8 / set_groups), and slot (a * slots + j) of vector v
// holds the 8 codes of pack j * V + v of group a. Thus a vector's 32-bit lanes belong to one group
// each (in blocks of 16 / set_groups lanes), and the V packs a slot takes from the weights are
// consecutive bytes. Sets of at most 64 codes are in natural order.
inline bool RowsNatural(size_t group_size, size_t set_groups) {
  return set_groups <= 1 || set_groups * group_size <= 64;
}
inline size_t RowsPosition(size_t k, size_t group_size, size_t set_groups) {
  if (RowsNatural(group_size, set_groups)) return k;
  const size_t set_codes = set_groups * group_size, vectors = set_codes / 64;
  const size_t base = k / set_codes * set_codes, within = k % set_codes;
  const size_t group = within / group_size, pack = within % group_size / 8;
  const size_t slots = 8 / set_groups;
  return base + pack % vectors * 64 + (group * slots + pack / vectors) * 8 + k % 8;
}

// Quantized activations of `tokens` rows, as the fast kernels read them. Each plane (hi, then lo
// at + plane_bytes) has the same layout:
//   kRows:        hi_k of token t at q[t * q_stride + RowsPosition(k, group_size, set_groups)];
//                 plane_bytes is a multiple of 64 covering whole sets (zero padded) and
//                 q_stride = 2 * plane_bytes. Per-group values at [t * groups + g].
//   kTokenBlocks: tokens in blocks of 16 (the last block zero padded); block b stores hi_k of
//                 token 16b + lane at q[b * q_stride + (k / 4) * 64 + lane * 4 + k % 4], so one
//                 64-byte line holds 4 consecutive k of 16 tokens (the operand layout of a u8 x
//                 s8 dot-product instruction); plane_bytes = cols * 16, q_stride = 2 * that.
//                 Per-group values at [(b * groups + g) * 16 + lane].
struct QuantizedActivations {
  enum class Layout { kRows, kTokenBlocks };
  Layout layout = Layout::kRows;
  size_t tokens = 0;
  size_t cols = 0;
  size_t group_size = 0;
  size_t groups = 0;
  size_t set_groups = 1;  // kRows: groups interleaved per set (see RowsPosition)
  size_t plane_bytes = 0;
  size_t q_stride = 0;
  uint8_t* q = nullptr;
  float* scale = nullptr;
  float* sum = nullptr;
  int32_t* qsum = nullptr;

  static constexpr size_t kBlock = 16;
  size_t blocks() const { return (tokens + kBlock - 1) / kBlock; }
  // Bytes of q / entries of each per-group array for this shape and layout.
  size_t QBytes() const;
  size_t GroupEntries() const;
};

// The dispatched SIMD quantizer the fast kernels use (for tests): fills `out` (whose shape,
// layout and buffers the caller set up) from x, rows x_stride apart.
void QuantizeActivations(const float* x, size_t x_stride, const QuantizedActivations& out);

}  // namespace lfm2::kernels
