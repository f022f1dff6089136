// kernels/quant.h - reading MLX affine-quantized rows: the bit-stream unpacking of spec section
// 4.4 (element k of a row occupies stream bits [k*bits, (k+1)*bits), LSB first) and
// dequantization w = scale * q + bias per group. Scalar code; it is the reference ("twin") that
// every SIMD matmul path is tested against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "weights/weight_store.h"

namespace lfm2::kernels {

// The `bits`-bit value k of a packed row (scalar, one element; for tests and odd uses).
inline uint32_t ExtractQuant(const uint8_t* row, int bits, int64_t k) {
  const uint64_t bit = static_cast<uint64_t>(k) * bits;
  const uint64_t byte = bit / 8;
  const int shift = static_cast<int>(bit % 8);
  // A value spans at most 2 bytes for bits <= 8; never read past its last byte.
  uint32_t window = row[byte];
  if (shift + bits > 8) window |= static_cast<uint32_t>(row[byte + 1]) << 8;
  return (window >> shift) & ((1u << bits) - 1u);
}

// Unpacks `count` (a multiple of 8) values of a packed row starting at element 0 into `out`.
// Eight values always occupy exactly `bits` bytes, so the row is read in such packs.
void UnpackRow(const uint8_t* row, int bits, int64_t count, uint8_t* out);

// Dequantizes (or converts, for float weights) row `r` of `w` into `out[0, w.cols)` as float.
void DequantizeRow(const WeightMatrix& w, int64_t r, float* out);

}  // namespace lfm2::kernels
