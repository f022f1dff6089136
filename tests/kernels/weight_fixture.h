// tests/kernels/weight_fixture.h - random WeightMatrix instances (float or MLX-quantized) with the
// storage they point into, plus an independent float64 dequantizer for checking kernels.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "weights/dtype.h"
#include "weights/weight_store.h"

namespace lfm2::testing {

// n values drawn from a normal distribution of mean 0 and standard deviation `sd`.
inline std::vector<float> RandomNormal(size_t n, std::mt19937& rng, float sd = 1.0f) {
  std::normal_distribution<float> dist(0.0f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

struct OwnedMatrix {
  std::vector<uint8_t> data, scales, biases;
  WeightMatrix view;
  int64_t experts = 1;
};

inline void StoreFloat(DType dtype, float value, uint8_t* dst) {
  if (dtype == DType::kF32) {
    std::memcpy(dst, &value, 4);
  } else {
    const uint16_t bits = dtype == DType::kBF16 ? F32ToBF16(value) : F32ToF16(value);
    std::memcpy(dst, &bits, 2);
  }
}

// A [rows, cols] matrix; bits == 0 gives float weights of `dtype`, else quantized weights with
// scales/biases of `dtype`. `offset` shifts the data by some bytes to test unaligned access.
inline OwnedMatrix RandomMatrix(int64_t rows, int64_t cols, int bits, int group_size, DType dtype,
                                std::mt19937& rng, size_t offset = 3) {
  OwnedMatrix m;
  WeightMatrix& w = m.view;
  w.name = "test";
  w.rows = rows;
  w.cols = cols;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t fbytes = DTypeBits(dtype) / 8;
  if (bits == 0) {
    w.dtype = dtype;
    w.row_bytes = cols * fbytes;
    m.data.resize(rows * w.row_bytes + offset);
    for (int64_t i = 0; i < rows * cols; ++i) StoreFloat(dtype, normal(rng) * 0.1f, &m.data[offset + i * fbytes]);
    w.data = m.data.data() + offset;
    return m;
  }
  w.dtype = DType::kU32;
  w.quant = QuantSpec{bits, group_size};
  w.row_bytes = cols * bits / 8;
  m.data.resize(rows * w.row_bytes + offset);
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : m.data) b = static_cast<uint8_t>(byte(rng));
  w.data = m.data.data() + offset;
  const int64_t groups = cols / group_size;
  w.scale_dtype = dtype;
  w.scale_row_bytes = groups * fbytes;
  m.scales.resize(rows * w.scale_row_bytes + offset);
  m.biases.resize(rows * w.scale_row_bytes + offset);
  const float range = static_cast<float>((1 << bits) - 1);
  for (int64_t i = 0; i < rows * groups; ++i) {
    const float scale = normal(rng) * 0.05f / range;  // negative scales occur, as in MLX files
    StoreFloat(dtype, scale, &m.scales[offset + i * fbytes]);
    StoreFloat(dtype, -scale * range / 2 + normal(rng) * 0.01f, &m.biases[offset + i * fbytes]);
  }
  w.scales = m.scales.data() + offset;
  w.biases = m.biases.data() + offset;
  return m;
}

// Element (r, k) in float64, decoded by reading the row as one little-endian bit stream.
inline double ReferenceWeight(const WeightMatrix& w, int64_t r, int64_t k) {
  const uint8_t* row = w.data + r * w.row_bytes;
  if (!w.quantized()) return LoadAsFloat(w.dtype, row, k);
  uint32_t q = 0;
  for (int b = 0; b < w.quant.bits; ++b) {
    const int64_t bit = k * w.quant.bits + b;
    q |= ((row[bit / 8] >> (bit % 8)) & 1u) << b;
  }
  const int64_t g = k / w.quant.group_size;
  const double scale = LoadAsFloat(w.scale_dtype, w.scales + r * w.scale_row_bytes, g);
  const double bias = LoadAsFloat(w.scale_dtype, w.biases + r * w.scale_row_bytes, g);
  return scale * q + bias;
}

}  // namespace lfm2::testing
