// kernels/tiled.cc - the tiled layout's shape, its scalar writer and the scalar readers of both
// layouts (kernels/tiled.h).
#include "kernels/tiled.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "kernels/quant.h"
#include "weights/dtype.h"

namespace lfm2::kernels {
namespace {

// Where code k of lane i (row 16t + i) sits in its tile: byte offset of its unit slot and the bit
// inside that slot.
struct CodePlace {
  size_t byte;
  int bit;
};

CodePlace Place(const TiledShape& s, size_t lane, size_t k) {
  const size_t g = k / s.group_size, within = k % s.group_size;
  const size_t j = within / 4, u = j / s.per_unit, p = j % s.per_unit;
  const size_t q = lane / 2, c = (lane % 2) * 4 + within % 4;
  const size_t byte = g * s.group_bytes + u * s.unit_bytes + q * s.per_unit * s.bits;
  return {byte, static_cast<int>((p * 8 + c) * s.bits)};
}

const uint8_t* Record(const TiledShape& s, const uint8_t* tiles, size_t tile, size_t g) {
  return tiles + tile * s.tile_bytes + g * s.group_bytes + (s.group_bytes - s.record_bytes);
}

}  // namespace

bool Tileable(const WeightMatrix& w) {
  if (!w.quantized() || w.rows <= 0 || w.cols <= 0) return false;
  const int bits = w.quant.bits, group = w.quant.group_size;
  const bool bits_ok = bits == 2 || bits == 3 || bits == 4 || bits == 5 || bits == 6 || bits == 8;
  const bool group_ok = group == 32 || group == 64 || group == 128;
  const bool dtype_ok = w.scale_dtype == DType::kF32 || w.scale_dtype == DType::kF16 ||
                        w.scale_dtype == DType::kBF16;
  return bits_ok && group_ok && dtype_ok && w.cols % group == 0;
}

TiledShape TiledShapeOf(const WeightMatrix& w) {
  LFM2_DCHECK(Tileable(w));
  TiledShape s;
  s.bits = w.quant.bits;
  s.group_size = static_cast<size_t>(w.quant.group_size);
  s.groups = static_cast<size_t>(w.cols) / s.group_size;
  s.vectors = s.group_size / 4;
  s.per_unit = std::min<size_t>(4, 8 / static_cast<size_t>(s.bits));
  s.unit_bytes = 8 * s.per_unit * static_cast<size_t>(s.bits);
  s.record_bytes = w.scale_dtype == DType::kF32 ? 128 : 64;
  s.group_bytes = s.vectors / s.per_unit * s.unit_bytes + s.record_bytes;
  s.tile_bytes = s.groups * s.group_bytes;
  s.tiles = (static_cast<size_t>(w.rows) + kTiledRows - 1) / kTiledRows;
  return s;
}

void TileRowsScalar(const WeightMatrix& w, size_t tile_begin, size_t tile_end, uint8_t* tiles) {
  const TiledShape s = TiledShapeOf(w);
  const size_t cols = static_cast<size_t>(w.cols);
  std::vector<uint8_t> codes(cols);
  const size_t scale_bytes = w.scale_dtype == DType::kF32 ? 4 : 2;
  for (size_t t = tile_begin; t < tile_end; ++t) {
    uint8_t* tile = tiles + t * s.tile_bytes;
    std::memset(tile, 0, s.tile_bytes);
    for (size_t i = 0; i < kTiledRows; ++i) {
      const size_t r = t * kTiledRows + i;
      if (r >= static_cast<size_t>(w.rows)) break;
      UnpackRow(w.data + r * w.row_bytes, s.bits, w.cols, codes.data());
      for (size_t k = 0; k < cols; ++k) {
        const CodePlace place = Place(s, i, k);
        const uint32_t shifted = static_cast<uint32_t>(codes[k]) << (place.bit % 8);
        uint8_t* at = tile + place.byte + place.bit / 8;
        at[0] |= static_cast<uint8_t>(shifted);
        if (shifted > 0xff) at[1] |= static_cast<uint8_t>(shifted >> 8);
      }
      for (size_t g = 0; g < s.groups; ++g) {
        uint8_t* record = tile + g * s.group_bytes + (s.group_bytes - s.record_bytes);
        const uint8_t* scale = w.scales + r * w.scale_row_bytes + g * scale_bytes;
        const uint8_t* bias = w.biases + r * w.scale_row_bytes + g * scale_bytes;
        if (scale_bytes == 4) {
          std::memcpy(record + 4 * i, scale, 4);
          std::memcpy(record + 64 + 4 * i, bias, 4);
        } else {
          std::memcpy(record + 4 * i, scale, 2);
          std::memcpy(record + 4 * i + 2, bias, 2);
        }
      }
    }
  }
}

void RowCodes(const WeightMatrix& w, int64_t r, uint8_t* out) {
  if (w.tiles == nullptr) {
    UnpackRow(w.data + static_cast<size_t>(r) * w.row_bytes, w.quant.bits, w.cols, out);
    return;
  }
  const TiledShape s = TiledShapeOf(w);
  const uint8_t* tile = w.tiles + static_cast<size_t>(r) / kTiledRows * s.tile_bytes;
  const size_t lane = static_cast<size_t>(r) % kTiledRows;
  const uint64_t mask = (1u << s.bits) - 1u;
  const size_t slot_bytes = s.per_unit * static_cast<size_t>(s.bits);
  // Each unit slot of this lane's pair holds, per vector p of the unit, 4 codes of this lane.
  const size_t slot = lane / 2 * slot_bytes;
  const int first = static_cast<int>(lane % 2) * 4;
  for (size_t g = 0; g < s.groups; ++g) {
    for (size_t u = 0; u < s.vectors / s.per_unit; ++u) {
      uint64_t word = 0;
      std::memcpy(&word, tile + g * s.group_bytes + u * s.unit_bytes + slot, slot_bytes);
      for (size_t p = 0; p < s.per_unit; ++p) {
        uint8_t* dst = out + g * s.group_size + (u * s.per_unit + p) * 4;
        for (int c = 0; c < 4; ++c) {
          dst[c] = static_cast<uint8_t>((word >> ((p * 8 + static_cast<size_t>(first + c)) * s.bits)) & mask);
        }
      }
    }
  }
}

float RowScale(const WeightMatrix& w, int64_t r, int64_t g) {
  if (w.tiles == nullptr) return LoadAsFloat(w.scale_dtype, w.scales + static_cast<size_t>(r) * w.scale_row_bytes, g);
  const TiledShape s = TiledShapeOf(w);
  const uint8_t* record = Record(s, w.tiles, static_cast<size_t>(r) / kTiledRows, static_cast<size_t>(g));
  return LoadAsFloat(w.scale_dtype, record, w.scale_dtype == DType::kF32 ? r % 16 : 2 * (r % 16));
}

float RowBias(const WeightMatrix& w, int64_t r, int64_t g) {
  if (w.tiles == nullptr) return LoadAsFloat(w.scale_dtype, w.biases + static_cast<size_t>(r) * w.scale_row_bytes, g);
  const TiledShape s = TiledShapeOf(w);
  const uint8_t* record = Record(s, w.tiles, static_cast<size_t>(r) / kTiledRows, static_cast<size_t>(g));
  return LoadAsFloat(w.scale_dtype, record, w.scale_dtype == DType::kF32 ? 16 + r % 16 : 2 * (r % 16) + 1);
}

}  // namespace lfm2::kernels
