// kernels/matmul_fast-inl.h - the portable fast-path kernel (every target but AVX3_DL, which has
// its own in matmul_vnni-inl.h): unpack a tile of 16 quantized rows into bytes once (16 codes at a
// time with byte shuffles and 16-bit multiplies), then exact integer dot products per (row, group,
// token) - pmaddubsw/pmaddwd on x86, widening multiplies elsewhere - and the canonical float
// epilogue of kernels/matmul.h. Included by kernels/matmul-inl.h.
#if defined(LFM2_KERNELS_MATMUL_FAST_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LFM2_KERNELS_MATMUL_FAST_INL_H_
#undef LFM2_KERNELS_MATMUL_FAST_INL_H_
#else
#define LFM2_KERNELS_MATMUL_FAST_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "hwy/highway.h"
#include "kernels/act_quant.h"
#include "kernels/tiled.h"
#include "weights/dtype.h"
#include "weights/weight_store.h"

#if HWY_ARCH_X86
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace lfm2::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Rows per tile of the fast kernels (also the work-unit size of MatMulMany).
inline constexpr size_t kTileRows = 16;

// Unpacks a row of `cols` (a multiple of 16) codes of kBits < 8 into bytes, 16 codes (2 * kBits
// bytes) at a time: 16-bit lane i takes the two bytes holding code 2i (or 2i + 1); multiplying by
// 2^(16 - kBits - shift) moves the code to the top of the lane and a right shift brings it down.
// Never reads past the row (MLX tensors may end at the end of a mapping).
template <int kBits>
void UnpackCodes(const uint8_t* HWY_RESTRICT row, size_t cols, uint8_t* HWY_RESTRICT out) {
#if HWY_TARGET == HWY_SCALAR
  // One lane per vector: plain shifts, a pack of 8 codes (kBits bytes) at a time.
  for (size_t pack = 0; pack < cols / 8; ++pack) {
    uint64_t word = 0;
    std::memcpy(&word, row + pack * kBits, kBits);
    for (int j = 0; j < 8; ++j) out[pack * 8 + j] = static_cast<uint8_t>((word >> (j * kBits)) & ((1u << kBits) - 1));
  }
#else
  HWY_ALIGN uint8_t even_index[16], odd_index[16];
  HWY_ALIGN uint16_t even_mul[8], odd_mul[8];
  for (int i = 0; i < 8; ++i) {
    for (int parity = 0; parity < 2; ++parity) {
      const int bit = (2 * i + parity) * kBits;
      uint8_t* index = parity == 0 ? even_index : odd_index;
      index[2 * i] = static_cast<uint8_t>(bit / 8);
      index[2 * i + 1] = static_cast<uint8_t>(bit / 8 + 1);
      (parity == 0 ? even_mul : odd_mul)[i] = static_cast<uint16_t>(1u << (16 - kBits - bit % 8));
    }
  }
  constexpr size_t kBlockBytes = 2 * kBits;
  const size_t row_bytes = cols * kBits / 8;
  // The 16-byte window of block b, copied when it would run past the row.
  auto window = [&](size_t b, uint8_t* tail) {
    const uint8_t* src = row + b * kBlockBytes;
    if (b * kBlockBytes + 16 <= row_bytes) return src;
    std::memcpy(tail, src, kBlockBytes);
    return static_cast<const uint8_t*>(tail);
  };
  size_t b = 0;
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  {
    // Two blocks per 256-bit vector (one per 128-bit half; the shuffles work per half).
    const hn::Full256<uint8_t> d8;
    const hn::Full256<uint16_t> d16;
    const hn::Full128<uint8_t> h8;
    const auto even = hn::LoadDup128(d8, even_index), odd = hn::LoadDup128(d8, odd_index);
    const auto emul = hn::LoadDup128(d16, even_mul), omul = hn::LoadDup128(d16, odd_mul);
    for (; b + 2 <= cols / 16; b += 2) {
      HWY_ALIGN uint8_t tail0[16] = {}, tail1[16] = {};
      const auto bytes = hn::Combine(d8, hn::LoadU(h8, window(b + 1, tail1)), hn::LoadU(h8, window(b, tail0)));
      const auto lo = hn::ShiftRight<16 - kBits>(hn::Mul(hn::BitCast(d16, hn::TableLookupBytes(bytes, even)), emul));
      const auto hi = hn::ShiftRight<16 - kBits>(hn::Mul(hn::BitCast(d16, hn::TableLookupBytes(bytes, odd)), omul));
      hn::StoreU(hn::BitCast(d8, hn::Or(lo, hn::ShiftLeft<8>(hi))), d8, out + b * 16);
    }
  }
#endif
  const hn::Full128<uint8_t> d8;
  const hn::Full128<uint16_t> d16;
  const auto even = hn::Load(d8, even_index), odd = hn::Load(d8, odd_index);
  const auto emul = hn::Load(d16, even_mul), omul = hn::Load(d16, odd_mul);
  for (; b < cols / 16; ++b) {
    HWY_ALIGN uint8_t tail[16] = {};
    const auto bytes = hn::LoadU(d8, window(b, tail));
    const auto lo = hn::ShiftRight<16 - kBits>(hn::Mul(hn::BitCast(d16, hn::TableLookupBytes(bytes, even)), emul));
    const auto hi = hn::ShiftRight<16 - kBits>(hn::Mul(hn::BitCast(d16, hn::TableLookupBytes(bytes, odd)), omul));
    hn::StoreU(hn::BitCast(d8, hn::Or(lo, hn::ShiftLeft<8>(hi))), d8, out + b * 16);
  }
#endif
}

inline void UnpackRowCodes(const uint8_t* row, int bits, size_t cols, uint8_t* out) {
  switch (bits) {
    case 2: UnpackCodes<2>(row, cols, out); break;
    case 3: UnpackCodes<3>(row, cols, out); break;
    case 4: UnpackCodes<4>(row, cols, out); break;
    case 5: UnpackCodes<5>(row, cols, out); break;
    case 6: UnpackCodes<6>(row, cols, out); break;
    default: std::memcpy(out, row, cols); break;
  }
}

// count values of a scale / bias row (F32, F16 or BF16) -> float.
inline void RowToFloat(DType dtype, const uint8_t* p, size_t count, float* out) {
  if (dtype == DType::kF32) {
    std::memcpy(out, p, count * 4);
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    uint16_t half;
    std::memcpy(&half, p + 2 * i, 2);
    out[i] = dtype == DType::kBF16 ? BF16ToF32(half) : F16ToF32(half);
  }
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3
// pmaddubsw: u8 * s8 products, adjacent pairs added into int16 with saturation.
template <class V8>
HWY_INLINE auto MulAddPairsU8S8(V8 a, V8 b) {
  const hn::ScalableTag<int16_t> di16;
#if HWY_TARGET <= HWY_AVX3
  return hn::VFromD<decltype(di16)>{_mm512_maddubs_epi16(a.raw, b.raw)};
#elif HWY_TARGET == HWY_AVX2
  return hn::VFromD<decltype(di16)>{_mm256_maddubs_epi16(a.raw, b.raw)};
#else
  return hn::VFromD<decltype(di16)>{_mm_maddubs_epi16(a.raw, b.raw)};
#endif
}

// a * sign(b) per int8 lane (0 where b == 0), i.e. psignb.
template <class V8>
HWY_INLINE V8 SignI8(V8 a, V8 b) {
#if HWY_TARGET <= HWY_AVX3
  const __m512i negated =
      _mm512_mask_sub_epi8(a.raw, _mm512_movepi8_mask(b.raw), _mm512_setzero_si512(), a.raw);
  return V8{_mm512_maskz_mov_epi8(_mm512_test_epi8_mask(b.raw, b.raw), negated)};
#elif HWY_TARGET == HWY_AVX2
  return V8{_mm256_sign_epi8(a.raw, b.raw)};
#else
  return V8{_mm_sign_epi8(a.raw, b.raw)};
#endif
}
#endif

// Exact 256 * sum_k w[k] * hi[k] + sum_k w[k] * lo[k] over n (a multiple of 16) codes w (0..255)
// and the two int8 activation planes (kernels/act_quant.h).
HWY_INLINE int32_t DotCodes(const uint8_t* HWY_RESTRICT w, const int8_t* HWY_RESTRICT hi,
                            const int8_t* HWY_RESTRICT lo, size_t n, bool eight_bit) {
  const hn::ScalableTag<int8_t> di8;
  const hn::ScalableTag<int16_t> di16;
  const hn::ScalableTag<int32_t> di32;
  // The widening multiply-add may put half of the products into its second accumulator.
  auto sum_hi = hn::Zero(di32), sum_lo = hn::Zero(di32);
  auto odd_hi = hn::Zero(di32), odd_lo = hn::Zero(di32);
  size_t k = 0;
  int32_t total = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3
  // pmaddubsw saturates: fine for codes < 128 (2 * 127 * 127 < 2^15). For 8-bit codes use
  // c = w - 128 in [-128, 127]: |c| * (x * sign(c)) = c * x with pairs <= 2 * 128 * 127, and
  // sum w * x = sum c * x + 128 * sum x.
  const size_t lanes = hn::Lanes(di8);
  const auto ones = hn::Set(di16, 1);
  if (eight_bit) {
    const auto bias = hn::Set(di8, -128);
    int32_t offset = 0;
    for (; k + lanes <= n; k += lanes) {
      const auto c = hn::Xor(hn::LoadU(di8, reinterpret_cast<const int8_t*>(w + k)), bias);
      const auto magnitude = hn::Abs(c);  // |-128| stays 0x80 = 128 as the unsigned operand
      const auto xh = hn::LoadU(di8, hi + k), xl = hn::LoadU(di8, lo + k);
      sum_hi = hn::ReorderWidenMulAccumulate(di32, MulAddPairsU8S8(magnitude, SignI8(xh, c)), ones, sum_hi, odd_hi);
      sum_lo = hn::ReorderWidenMulAccumulate(di32, MulAddPairsU8S8(magnitude, SignI8(xl, c)), ones, sum_lo, odd_lo);
    }
    for (size_t i = 0; i < k; ++i) offset += 128 * (256 * hi[i] + lo[i]);
    total = offset;
  } else {
    for (; k + lanes <= n; k += lanes) {
      const auto codes = hn::LoadU(di8, reinterpret_cast<const int8_t*>(w + k));
      sum_hi = hn::ReorderWidenMulAccumulate(di32, MulAddPairsU8S8(codes, hn::LoadU(di8, hi + k)), ones, sum_hi, odd_hi);
      sum_lo = hn::ReorderWidenMulAccumulate(di32, MulAddPairsU8S8(codes, hn::LoadU(di8, lo + k)), ones, sum_lo, odd_lo);
    }
  }
#else
  (void)eight_bit;
  const hn::Rebind<uint8_t, decltype(di16)> du8h;
  const hn::Rebind<int8_t, decltype(di16)> di8h;
  const hn::RebindToUnsigned<decltype(di16)> du16;
  const size_t half = hn::Lanes(di16);
  for (; k + half <= n; k += half) {
    const auto a = hn::BitCast(di16, hn::PromoteTo(du16, hn::LoadU(du8h, w + k)));
    sum_hi = hn::ReorderWidenMulAccumulate(di32, a, hn::PromoteTo(di16, hn::LoadU(di8h, hi + k)), sum_hi, odd_hi);
    sum_lo = hn::ReorderWidenMulAccumulate(di32, a, hn::PromoteTo(di16, hn::LoadU(di8h, lo + k)), sum_lo, odd_lo);
  }
  (void)di8;
#endif
  sum_hi = hn::Add(sum_hi, odd_hi);
  sum_lo = hn::Add(sum_lo, odd_lo);
  total += hn::GetLane(hn::SumOfLanes(di32, hn::Add(hn::ShiftLeft<8>(sum_hi), sum_lo)));
  for (; k < n; ++k) total += w[k] * (256 * hi[k] + lo[k]);
  return total;
}

struct FastTileScratch {
  std::vector<uint8_t> codes;   // [kTileRows][cols]
  std::vector<float> scales;    // [kTileRows][groups]
  std::vector<float> biases;    // [kTileRows][groups]: fma(center, scale, bias)
  std::vector<int32_t> dots;    // [groups][kTileRows]
};

// Rows [r0, r0 + n) (n <= kTileRows) of y for every token of `xq` (kRows layout, natural order).
inline void FastTilePortable(const WeightMatrix& w, const QuantizedActivations& xq, size_t r0,
                             size_t n, float* y, size_t y_stride, FastTileScratch& s) {
  const size_t cols = xq.cols, gs = xq.group_size, groups = xq.groups;
  const int bits = w.quant.bits;
  const float center = static_cast<float>(1 << (bits - 1));
  const int32_t icenter = 1 << (bits - 1);
  if (s.codes.size() < kTileRows * cols) s.codes.resize(kTileRows * cols);
  if (s.scales.size() < kTileRows * groups) {
    s.scales.resize(kTileRows * groups);
    s.biases.resize(kTileRows * groups);
    s.dots.resize(kTileRows * groups);
  }
  for (size_t i = 0; i < n; ++i) {
    const size_t r = r0 + i;
    float* scales = &s.scales[i * groups];
    float* biases = &s.biases[i * groups];
    if (w.tiles != nullptr) {
      // The AVX3_DL layout (kernels/tiled.h) read element by element: only when a lower target is
      // forced on a model tiled for AVX3_DL (tests).
      RowCodes(w, static_cast<int64_t>(r), s.codes.data() + i * cols);
      for (size_t g = 0; g < groups; ++g) {
        scales[g] = RowScale(w, static_cast<int64_t>(r), static_cast<int64_t>(g));
        biases[g] = RowBias(w, static_cast<int64_t>(r), static_cast<int64_t>(g));
      }
    } else {
      UnpackRowCodes(w.data + r * w.row_bytes, bits, cols, s.codes.data() + i * cols);
      RowToFloat(w.scale_dtype, w.scales + r * w.scale_row_bytes, groups, scales);
      RowToFloat(w.scale_dtype, w.biases + r * w.scale_row_bytes, groups, biases);
    }
    for (size_t g = 0; g < groups; ++g) biases[g] = std::fma(center, scales[g], biases[g]);
  }
  for (size_t t = 0; t < xq.tokens; ++t) {
    const int8_t* hi = reinterpret_cast<const int8_t*>(xq.q + t * xq.q_stride);
    const int8_t* lo = hi + xq.plane_bytes;
    const float* d = xq.scale + t * groups;
    const float* xs = xq.sum + t * groups;
    const int32_t* qs = xq.qsum + t * groups;
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* codes = s.codes.data() + i * cols;
      for (size_t g = 0; g < groups; ++g) {
        // Centred: - c * qsum. The exact result fits int32 (kernels/act_quant.h).
        s.dots[g * kTileRows + i] = static_cast<int32_t>(
            int64_t{DotCodes(codes + g * gs, hi + g * gs, lo + g * gs, gs, bits == 8)} -
            int64_t{icenter} * qs[g]);
      }
    }
    // The canonical epilogue, the rows' sequential chains interleaved.
    float acc[kTileRows] = {};
    for (size_t g = 0; g < groups; ++g) {
      for (size_t i = 0; i < n; ++i) {
        acc[i] = std::fma(static_cast<float>(s.dots[g * kTileRows + i]), s.scales[i * groups + g] * d[g], acc[i]);
        acc[i] = std::fma(s.biases[i * groups + g], xs[g], acc[i]);
      }
    }
    for (size_t i = 0; i < n; ++i) y[t * y_stride + r0 + i] = acc[i];
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lfm2::kernels
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
