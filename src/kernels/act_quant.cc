// kernels/act_quant.cc - the scalar definition of activation quantization (kernels/act_quant.h).
#include "kernels/act_quant.h"

#include <algorithm>
#include <cmath>

namespace lfm2::kernels {

void QuantizeActivationRow(const float* x, size_t cols, size_t group_size, int8_t* hi, int8_t* lo,
                           float* scale, float* sum, int32_t* qsum, bool eight_bit) {
  for (size_t g = 0; g < cols / group_size; ++g) {
    const float* xg = x + g * group_size;
    float amax = 0.0f;
    for (size_t k = 0; k < group_size; ++k) amax = std::max(amax, std::fabs(xg[k]));
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    int32_t total = 0;
    for (size_t k = 0; k < group_size; ++k) {
      const float v = xg[k] * inv;
      const float h = RoundHalfEven(v);
      const float l = eight_bit ? 0.0f : std::clamp(RoundHalfEven((v - h) * 256.0f), -127.0f, 127.0f);
      hi[g * group_size + k] = static_cast<int8_t>(h);
      lo[g * group_size + k] = static_cast<int8_t>(l);
      total += 256 * static_cast<int32_t>(h) + static_cast<int32_t>(l);
    }
    float lanes[kSumLanes];
    for (size_t j = 0; j < kSumLanes; ++j) lanes[j] = xg[j];
    for (size_t k = kSumLanes; k < group_size; k += kSumLanes) {
      for (size_t j = 0; j < kSumLanes; ++j) lanes[j] += xg[k + j];
    }
    scale[g] = amax / 127.0f * (1.0f / 256.0f);
    sum[g] = FoldLanes16(lanes);
    qsum[g] = total;
  }
}

size_t QuantizedActivations::QBytes() const {
  return per_token() ? tokens * q_stride : blocks() * q_stride;
}


size_t QuantizedActivations::GroupEntries() const {
  return per_token() ? tokens * groups : blocks() * groups * kBlock;
}

}  // namespace lfm2::kernels
