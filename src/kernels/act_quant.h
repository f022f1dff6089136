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
// The sum is of the float x (not of the quantized values), so the bias term of an MLX affine
// group, bias * sum_k x_k, is exact.
//
// 8-bit activations (MatMulPath::kFast8, --act-bits 8): the same definition with
// lo_k = 0 for every k, so q_k = 256 * hi_k, |error| <= amax / 254 and qsum = 256 * sum hi_k.
// The kernels then compute exactly what the 16-bit formula gives for these values, and the
// AVX3_DL kernels skip the zero plane (one u8 x s8 dot product per weight byte instead of two).
// Its error per element (up to 0.4% of the group's largest activation) is what int8 activation
// schemes in the field accept; docs/performance.md measures both paths against the reference.
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
// eight_bit: 8-bit activations (lo all zero).
void QuantizeActivationRow(const float* x, size_t cols, size_t group_size, int8_t* hi, int8_t* lo,
                           float* scale, float* sum, int32_t* qsum, bool eight_bit = false);

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

// Where element k of a row goes in the kRows16 layout: within each 32 elements (a multiple of
// every group size), the even k first, then the odd k - the order in which the AVX2 kernels
// unpack 32 packed codes into two vectors of 16-bit lanes.
inline size_t Rows16Position(size_t k) { return k / 32 * 32 + (k % 2) * 16 + (k % 32) / 2; }

// Quantized activations of `tokens` rows, as the fast kernels read them. The two-plane layouts
// (kRows, kTokenBlocks: hi, then lo at + plane_bytes) have the same layout in each plane:
//   kRows:        hi_k of token t at q[t * q_stride + RowsPosition(k, group_size, set_groups)];
//                 plane_bytes is a multiple of 64 covering whole sets (zero padded) and
//                 q_stride = 2 * plane_bytes. Per-group values at [t * groups + g].
//   kTokenBlocks: tokens in blocks of 16 (the last block zero padded); block b stores hi_k of
//                 token 16b + lane at q[b * q_stride + (k / 4) * 64 + lane * 4 + k % 4], so one
//                 64-byte line holds 4 consecutive k of 16 tokens (the operand layout of a u8 x
//                 s8 dot-product instruction); plane_bytes = cols * 16, q_stride = 2 * that.
//                 Per-group values at [(b * groups + g) * 16 + lane].
// The 16-bit layouts hold q_k = 256 * hi_k + lo_k as one int16 (|q| <= 32639), for kernels that
// multiply 16-bit pairs (pmaddwd: AVX2, AVX-512 without VNNI); plane_bytes = q_stride:
//   kRows16:        q_k of token t at int16 index t * q_stride / 2 + Rows16Position(k);
//                   q_stride = cols * 2 rounded up to 64 bytes. Per-group values as kRows.
//   kTokenBlocks16: tokens in blocks of 16; block b stores q_k of token 16b + lane at int16 index
//                   b * q_stride / 2 + ((k / 2) * 16 + lane) * 2 + k % 2, so 32 bytes hold one pair
//                   (k, k + 1) of 8 tokens (the operand of pmaddwd against a broadcast pair of
//                   weights); q_stride = cols * 32. Per-group values as kTokenBlocks.
struct QuantizedActivations {
  enum class Layout { kRows, kTokenBlocks, kRows16, kTokenBlocks16 };
  Layout layout = Layout::kRows;
  size_t tokens = 0;
  size_t cols = 0;
  size_t group_size = 0;
  size_t groups = 0;
  size_t set_groups = 1;  // kRows: groups interleaved per set (see RowsPosition)
  bool eight_bit = false;  // 8-bit activations: every lo_k is 0 (see above)
  // kRows / kTokenBlocks of 8-bit activations may store the hi plane alone (planes = 1,
  // q_stride = plane_bytes) for kernels that skip the zero plane.
  int planes = 2;
  size_t plane_bytes = 0;
  size_t q_stride = 0;
  uint8_t* q = nullptr;
  float* scale = nullptr;
  float* sum = nullptr;
  int32_t* qsum = nullptr;

  static constexpr size_t kBlock = 16;
  size_t blocks() const { return (tokens + kBlock - 1) / kBlock; }
  // One entry (of q and of the per-group arrays) per token, rather than per 16-token block.
  bool per_token() const { return layout == Layout::kRows || layout == Layout::kRows16; }
  bool sixteen_bit() const { return layout == Layout::kRows16 || layout == Layout::kTokenBlocks16; }
  // Bytes of q / entries of each per-group array for this shape and layout.
  size_t QBytes() const;
  size_t GroupEntries() const;
};

// The dispatched SIMD quantizer the fast kernels use (for tests): fills `out` (whose shape,
// layout and buffers the caller set up) from x, rows x_stride apart.
void QuantizeActivations(const float* x, size_t x_stride, const QuantizedActivations& out);

}  // namespace lfm2::kernels
