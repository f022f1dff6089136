// kernels/quant.cc - scalar unpacking and dequantization of MLX affine rows.
#include "kernels/quant.h"

#include <vector>

#include "kernels/tiled.h"
#include "weights/dtype.h"

namespace lfm2::kernels {

void UnpackRow(const uint8_t* row, int bits, int64_t count, uint8_t* out) {
  const uint64_t mask = (1u << bits) - 1u;
  for (int64_t pack = 0; pack < count / 8; ++pack) {
    uint64_t word = 0;
    std::memcpy(&word, row + pack * bits, static_cast<size_t>(bits));  // little-endian host
    for (int j = 0; j < 8; ++j) out[pack * 8 + j] = static_cast<uint8_t>((word >> (j * bits)) & mask);
  }
}

void DequantizeRow(const WeightMatrix& w, int64_t r, float* out) {
  if (w.tiles != nullptr) {
    thread_local std::vector<uint8_t> codes;
    codes.resize(static_cast<size_t>(w.cols));
    RowCodes(w, r, codes.data());
    const int64_t group_size = w.quant.group_size;
    for (int64_t g = 0; g < w.cols / group_size; ++g) {
      const float scale = RowScale(w, r, g), bias = RowBias(w, r, g);
      for (int64_t k = g * group_size; k < (g + 1) * group_size; ++k) {
        out[k] = scale * static_cast<float>(codes[k]) + bias;
      }
    }
    return;
  }
  const uint8_t* row = w.data + static_cast<size_t>(r) * w.row_bytes;
  if (!w.quantized()) {
    ConvertToFloat(w.dtype, row, static_cast<size_t>(w.cols), out);
    return;
  }
  const int bits = w.quant.bits;
  const int group_size = w.quant.group_size;
  const uint64_t mask = (1u << bits) - 1u;
  const uint8_t* scales = w.scales + static_cast<size_t>(r) * w.scale_row_bytes;
  const uint8_t* biases = w.biases + static_cast<size_t>(r) * w.scale_row_bytes;
  const int64_t groups = w.cols / group_size;
  for (int64_t g = 0; g < groups; ++g) {
    const float scale = LoadAsFloat(w.scale_dtype, scales, g);
    const float bias = LoadAsFloat(w.scale_dtype, biases, g);
    const uint8_t* packs = row + g * group_size * bits / 8;
    float* dst = out + g * group_size;
    for (int pack = 0; pack < group_size / 8; ++pack) {
      uint64_t word = 0;
      std::memcpy(&word, packs + pack * bits, static_cast<size_t>(bits));
      for (int j = 0; j < 8; ++j) {
        const float q = static_cast<float>((word >> (j * bits)) & mask);
        dst[pack * 8 + j] = scale * q + bias;
      }
    }
  }
}

}  // namespace lfm2::kernels
