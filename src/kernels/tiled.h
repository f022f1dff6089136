// kernels/tiled.h - the tiled layout of an MLX affine-quantized matrix: the same codes, scales and
// biases as the file, reordered so that the AVX3_DL matrix-vector kernel reads each tile of 16
// rows as one sequential stream and gets the 16 rows' products in the 16 lanes of one vector
// (no cross-row reduction, no transposition of scales). Same size as the file's tensors (plus
// zero rows up to a multiple of 16).
//
// Tile t holds rows [16t, 16t + 16) (rows past the matrix are zero) as `groups` group blocks of
// GroupBytes each. Group block g of a tile holds the group's codes as J = group_size / 4 "vectors"
// of 64 codes - vector j has, in its 32-bit lane i, codes 4j .. 4j + 3 of group g of row 16t + i,
// the operand of one u8 x s8 dot-product instruction against 4 activations broadcast - and then
// the 16 rows' scale and bias of the group:
//  * Vectors come in units of P = min(4, 8 / bits) (2-bit: 4, 3- and 4-bit: 2, else 1) of
//    8 * P * bits bytes. Unit u holds vectors uP .. uP + P - 1: its 8 slots of P * bits bytes,
//    slot q for lanes 2q and 2q + 1, put vector uP + p's 8 codes of those lanes (lane 2q's four,
//    then lane 2q + 1's) at bits [p * 8 * bits, (p + 1) * 8 * bits) of the slot, code c of the
//    eight at bit c * bits, LSB first (8-bit codes: one byte each).
//  * The record: for 16-bit scale types, 16 32-bit lanes, lane i = scale of row 16t + i in the
//    low half and its bias in the high half (64 bytes); for F32, 16 scales then 16 biases.
#pragma once

#include <cstddef>
#include <cstdint>

#include "weights/weight_store.h"

namespace lfm2::kernels {

inline constexpr size_t kTiledRows = 16;

struct TiledShape {
  int bits = 0;
  size_t group_size = 0;
  size_t groups = 0;
  size_t vectors = 0;       // J: vectors of 64 codes per group
  size_t per_unit = 0;      // P: vectors per unit
  size_t unit_bytes = 0;    // 8 * P * bits
  size_t record_bytes = 0;  // 64 or 128
  size_t group_bytes = 0;   // J / P units + the record
  size_t tile_bytes = 0;    // groups * group_bytes
  size_t tiles = 0;         // ceil(rows / 16)
};

// Whether the tiled layout covers w: MLX affine with 2, 3, 4, 5, 6 or 8 bits, group size 32, 64
// or 128 dividing cols, scales and biases F32, F16 or BF16 (anything else stays as in the file).
bool Tileable(const WeightMatrix& w);
// Requires Tileable(w).
TiledShape TiledShapeOf(const WeightMatrix& w);
inline uint64_t TiledBytes(const WeightMatrix& w) {
  const TiledShape s = TiledShapeOf(w);
  return static_cast<uint64_t>(s.tiles) * s.tile_bytes;
}

// Writes tiles [tile_begin, tile_end) of w (file layout) to `tiles` (the whole tiled matrix: tile
// t at tiles + t * tile_bytes). Dispatched: a vector version where the CPU has AVX3_DL, else
// TileRowsScalar.
void TileRows(const WeightMatrix& w, size_t tile_begin, size_t tile_end, uint8_t* tiles);
// The scalar definition (the twin the vector version is tested against).
void TileRowsScalar(const WeightMatrix& w, size_t tile_begin, size_t tile_end, uint8_t* tiles);

// Whether the fast path of the SIMD target in use runs on the tiled layout natively (AVX3_DL);
// other targets read it element by element (correct, slow: load models untiled there).
bool PrefersTiledLayout();

// Readers of either layout (scalar): the cols codes of row r, and the scale and bias of (r, g).
void RowCodes(const WeightMatrix& w, int64_t r, uint8_t* out);
float RowScale(const WeightMatrix& w, int64_t r, int64_t g);
float RowBias(const WeightMatrix& w, int64_t r, int64_t g);

}  // namespace lfm2::kernels
