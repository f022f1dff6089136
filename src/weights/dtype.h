// weights/dtype.h - scalar conversions between the floating-point storage types of checkpoints
// (F32, F16, BF16) and float. Reads are unaligned-safe: MLX tensors are only byte-aligned.
#pragma once

#include <cstdint>
#include <cstring>

#include "io/safetensors.h"

namespace lfm2 {

inline float BF16ToF32(uint16_t bits) {
  const uint32_t word = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &word, sizeof(value));
  return value;
}

// Round-to-nearest-even, NaN kept quiet.
inline uint16_t F32ToBF16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof(word));
  if ((word & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((word >> 16) | 0x40);
  const uint32_t rounding = 0x7fffu + ((word >> 16) & 1u);
  return static_cast<uint16_t>((word + rounding) >> 16);
}

float F16ToF32(uint16_t bits);
uint16_t F32ToF16(float value);

// True for the float types weights may be stored in.
inline bool IsFloatWeightType(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16;
}

// Element `index` of a float array of type `dtype` at an unaligned address.
inline float LoadAsFloat(DType dtype, const uint8_t* data, size_t index) {
  switch (dtype) {
    case DType::kF32: {
      float value;
      std::memcpy(&value, data + 4 * index, 4);
      return value;
    }
    case DType::kBF16: {
      uint16_t bits;
      std::memcpy(&bits, data + 2 * index, 2);
      return BF16ToF32(bits);
    }
    case DType::kF16: {
      uint16_t bits;
      std::memcpy(&bits, data + 2 * index, 2);
      return F16ToF32(bits);
    }
    default:
      return 0.0f;  // callers validate IsFloatWeightType first
  }
}

// Converts `count` elements to float.
void ConvertToFloat(DType dtype, const uint8_t* data, size_t count, float* out);

}  // namespace lfm2
