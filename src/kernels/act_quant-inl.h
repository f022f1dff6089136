// kernels/act_quant-inl.h - per-target activation quantization (kernels/act_quant.h), bit-exact
// with the scalar QuantizeActivationRow on every target. Included by kernels/matmul-inl.h.
#if defined(LFM2_KERNELS_ACT_QUANT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LFM2_KERNELS_ACT_QUANT_INL_H_
#undef LFM2_KERNELS_ACT_QUANT_INL_H_
#else
#define LFM2_KERNELS_ACT_QUANT_INL_H_
#endif

#include <cstring>
#include <vector>

#include "hwy/highway.h"
#include "kernels/act_quant.h"

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace lfm2::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One activation row -> int8 planes hi[0, cols), lo[0, cols) plus per-group scale / sum / qsum.
// eight_bit: 8-bit activations (every lo_k is 0; lo may be null and is then not written).
// At most 16 float lanes, so that the 16 canonical sum lanes are a whole number of vectors.
HWY_INLINE void QuantizeRow(const float* HWY_RESTRICT x, size_t cols, size_t group_size,
                            int8_t* HWY_RESTRICT hi, int8_t* HWY_RESTRICT lo, float* scale,
                            float* sum, int32_t* qsum, bool eight_bit) {
#if HWY_TARGET == HWY_AVX3_DL
  // Same operations with AVX-512 instructions Highway 1.0 does not use here (vrndscaleps rounds
  // to nearest even exactly like the add/subtract of 1.5 * 2^23; vpmovdb narrows directly), and
  // one pass for the maximum and the canonical lane sums.
  const __m512 k256 = _mm512_set1_ps(256.0f), kmax = _mm512_set1_ps(127.0f), kmin = _mm512_set1_ps(-127.0f);
  constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  for (size_t g = 0; g < cols / group_size; ++g) {
    const float* xg = x + g * group_size;
    __m512 lanes = _mm512_loadu_ps(xg);
    __m512 vmax = _mm512_abs_ps(lanes);
    for (size_t k = kSumLanes; k < group_size; k += kSumLanes) {
      const __m512 v = _mm512_loadu_ps(xg + k);
      lanes = _mm512_add_ps(lanes, v);
      vmax = _mm512_max_ps(vmax, _mm512_abs_ps(v));
    }
    const float amax = _mm512_reduce_max_ps(vmax);
    const __m512 inv = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
    __m512i vq = _mm512_setzero_si512();
    for (size_t k = 0; k < group_size; k += kSumLanes) {
      const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(xg + k), inv);
      const __m512 h = _mm512_roundscale_ps(v, kNearest);
      const __m512i hi_i = _mm512_cvtps_epi32(h);
      __m512i lo_i = _mm512_setzero_si512();
      if (!eight_bit) {
        const __m512 l = _mm512_min_ps(
            _mm512_max_ps(_mm512_roundscale_ps(_mm512_mul_ps(_mm512_sub_ps(v, h), k256), kNearest), kmin), kmax);
        lo_i = _mm512_cvtps_epi32(l);
      }
      vq = _mm512_add_epi32(vq, _mm512_add_epi32(_mm512_slli_epi32(hi_i, 8), lo_i));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(hi + g * group_size + k), _mm512_cvtepi32_epi8(hi_i));
      if (lo != nullptr) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(lo + g * group_size + k), _mm512_cvtepi32_epi8(lo_i));
      }
    }
    HWY_ALIGN float lane_sums[kSumLanes];
    _mm512_store_ps(lane_sums, lanes);
    scale[g] = amax / 127.0f * (1.0f / 256.0f);
    sum[g] = FoldLanes16(lane_sums);
    qsum[g] = _mm512_reduce_add_epi32(vq);
  }
#else
  const hn::CappedTag<float, kSumLanes> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<int8_t, decltype(df)> d8;
  const size_t lanes = hn::Lanes(df);
  const size_t per16 = kSumLanes / lanes;  // vectors per 16 canonical lanes (1, 2 or 4)
  const auto magic = hn::Set(df, 12582912.0f);
  const auto k256 = hn::Set(df, 256.0f);
  const auto kmax = hn::Set(df, 127.0f);
  const auto kmin = hn::Set(df, -127.0f);
  for (size_t g = 0; g < cols / group_size; ++g) {
    const float* xg = x + g * group_size;
    auto vmax = hn::Zero(df);
    for (size_t k = 0; k < group_size; k += lanes) vmax = hn::Max(vmax, hn::Abs(hn::LoadU(df, xg + k)));
    const float amax = hn::GetLane(hn::MaxOfLanes(df, vmax));
    const auto inv = hn::Set(df, amax > 0.0f ? 127.0f / amax : 0.0f);
    auto vq = hn::Zero(di);
    for (size_t k = 0; k < group_size; k += lanes) {
      const auto v = hn::Mul(hn::LoadU(df, xg + k), inv);
      const auto h = hn::Sub(hn::Add(v, magic), magic);
      const auto hi_i = hn::ConvertTo(di, h);
      auto lo_i = hn::Zero(di);
      if (!eight_bit) {
        const auto r = hn::Mul(hn::Sub(v, h), k256);
        lo_i = hn::ConvertTo(di, hn::Min(hn::Max(hn::Sub(hn::Add(r, magic), magic), kmin), kmax));
      }
      vq = hn::Add(vq, hn::Add(hn::ShiftLeft<8>(hi_i), lo_i));
      hn::StoreU(hn::DemoteTo(d8, hi_i), d8, hi + g * group_size + k);
      if (lo != nullptr) hn::StoreU(hn::DemoteTo(d8, lo_i), d8, lo + g * group_size + k);
    }
    // Canonical lanes: vector i of each 16-element block holds lanes [i * lanes, (i+1) * lanes).
    HWY_ALIGN float lane_sums[kSumLanes];
    for (size_t i = 0; i < per16; ++i) {
      auto acc = hn::LoadU(df, xg + i * lanes);
      for (size_t k = kSumLanes; k < group_size; k += kSumLanes) {
        acc = hn::Add(acc, hn::LoadU(df, xg + k + i * lanes));
      }
      hn::Store(acc, df, lane_sums + i * lanes);
    }
    scale[g] = amax / 127.0f * (1.0f / 256.0f);
    sum[g] = FoldLanes16(lane_sums);
    qsum[g] = hn::GetLane(hn::SumOfLanes(di, vq));
  }
#endif
}

#if HWY_TARGET == HWY_AVX3_DL
namespace vnni {
// In-place transpose of a 16x16 matrix of 32-bit elements (r[i] = row i).
inline void Transpose16x16(__m512i r[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int q = 0; q < 4; ++q) {
    u[4 * q + 0] = _mm512_unpacklo_epi64(t[4 * q], t[4 * q + 2]);
    u[4 * q + 1] = _mm512_unpackhi_epi64(t[4 * q], t[4 * q + 2]);
    u[4 * q + 2] = _mm512_unpacklo_epi64(t[4 * q + 1], t[4 * q + 3]);
    u[4 * q + 3] = _mm512_unpackhi_epi64(t[4 * q + 1], t[4 * q + 3]);
  }
  // u[4q + c] holds, in 128-bit block b, column 4b + c of rows 4q..4q+3.
  for (int c = 0; c < 4; ++c) {
    t[c] = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88);
    t[4 + c] = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xdd);
    t[8 + c] = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88);
    t[12 + c] = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xdd);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm512_shuffle_i32x4(t[c], t[8 + c], 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(t[4 + c], t[12 + c], 0x88);
    r[8 + c] = _mm512_shuffle_i32x4(t[c], t[8 + c], 0xdd);
    r[12 + c] = _mm512_shuffle_i32x4(t[4 + c], t[12 + c], 0xdd);
  }
}
}  // namespace vnni
#endif

// Token-block layout of one plane: rows[lane * stride + k] (16 rows) -> block[(k / 4) * 64 +
// lane * 4 + k % 4], i.e. a 16 x (cols / 4) transpose of 32-bit words.
inline void ToTokenBlock(const int8_t* rows, size_t stride, size_t cols, uint8_t* block) {
  size_t k = 0;
#if HWY_TARGET == HWY_AVX3_DL
  for (; k + 64 <= cols; k += 64) {
    __m512i v[16];
    for (int lane = 0; lane < 16; ++lane) v[lane] = _mm512_loadu_si512(rows + lane * stride + k);
    vnni::Transpose16x16(v);
    for (int j = 0; j < 16; ++j) _mm512_storeu_si512(block + (k / 4 + j) * 64, v[j]);
  }
#endif
  for (; k < cols; k += 4) {
    for (size_t lane = 0; lane < 16; ++lane) std::memcpy(block + k * 16 + lane * 4, rows + lane * stride + k, 4);
  }
}

// q = 256 * hi + lo as int16, in natural order or (permuted) at Rows16Position.
inline void Combine16(const int8_t* hi, const int8_t* lo, size_t cols, bool permuted, int16_t* q) {
  size_t k = 0;
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if (!permuted) {
    for (; k + 16 <= cols; k += 16) {
      const __m256i h = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hi + k)));
      const __m256i l = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lo + k)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + k), _mm256_add_epi16(_mm256_slli_epi16(h, 8), l));
    }
  }
#endif
  for (; k < cols; ++k) {
    q[permuted ? Rows16Position(k) : k] = static_cast<int16_t>(256 * hi[k] + lo[k]);
  }
}

// Quantizes tokens [begin, end) of x (rows x_stride apart) into `out`. For kTokenBlocks, begin and
// end are block indices instead (each block of 16 tokens is written whole, padding included).
inline void QuantizeTokens(const float* x, size_t x_stride, const QuantizedActivations& out,
                           size_t begin, size_t end) {
  const size_t cols = out.cols, groups = out.groups;
  thread_local std::vector<int8_t> hi, lo;
  if (hi.size() < cols) {
    hi.resize(cols);
    lo.resize(cols);
  }
  if (out.layout == QuantizedActivations::Layout::kRows16) {
    for (size_t t = begin; t < end; ++t) {
      int16_t* q = reinterpret_cast<int16_t*>(out.q + t * out.q_stride);
      QuantizeRow(x + t * x_stride, cols, out.group_size, hi.data(), lo.data(), out.scale + t * groups,
                  out.sum + t * groups, out.qsum + t * groups, out.eight_bit);
      Combine16(hi.data(), lo.data(), cols, /*permuted=*/true, q);
      std::memset(q + cols, 0, out.q_stride - 2 * cols);
    }
    return;
  }
  if (out.layout == QuantizedActivations::Layout::kRows) {
    const bool natural = RowsNatural(out.group_size, out.set_groups);
    // Offsets of the 8-code packs of one set (RowsPosition without per-element divisions).
    const size_t set_codes = out.set_groups * out.group_size;
    const size_t packs = natural ? 0 : set_codes / 8;
    uint16_t pack_position[64];
    for (size_t pack = 0; pack < packs; ++pack) {
      pack_position[pack] = static_cast<uint16_t>(RowsPosition(pack * 8, out.group_size, out.set_groups));
    }
    const bool two_planes = out.planes == 2;
    for (size_t t = begin; t < end; ++t) {
      int8_t* q = reinterpret_cast<int8_t*>(out.q + t * out.q_stride);
      int8_t* q_lo = two_planes ? q + out.plane_bytes : nullptr;
      QuantizeRow(x + t * x_stride, cols, out.group_size, natural ? q : hi.data(),
                  natural ? q_lo : lo.data(), out.scale + t * groups, out.sum + t * groups,
                  out.qsum + t * groups, out.eight_bit);
      if (natural) {
        std::memset(q + cols, 0, out.plane_bytes - cols);
        if (two_planes) std::memset(q_lo + cols, 0, out.plane_bytes - cols);
      } else {
        std::memset(q, 0, out.q_stride);
        for (size_t base = 0; base < cols; base += set_codes) {
          for (size_t pack = 0; pack < packs && base + pack * 8 < cols; ++pack) {
            std::memcpy(q + base + pack_position[pack], hi.data() + base + pack * 8, 8);
            if (two_planes) std::memcpy(q_lo + base + pack_position[pack], lo.data() + base + pack * 8, 8);
          }
        }
      }
    }
    return;
  }
  constexpr size_t kBlock = QuantizedActivations::kBlock;
  thread_local std::vector<float> scale, sum;
  thread_local std::vector<int32_t> qsum;
  if (scale.size() < groups) {
    scale.resize(groups);
    sum.resize(groups);
    qsum.resize(groups);
  }
  // The 16 tokens of a block as rows (both planes, or their 16-bit values), then transposed into
  // the block layout.
  const bool sixteen = out.layout == QuantizedActivations::Layout::kTokenBlocks16;
  thread_local std::vector<int8_t> rows;
  thread_local std::vector<int16_t> rows16;
  if (rows.size() < 2 * kBlock * cols) rows.resize(2 * kBlock * cols);
  if (sixteen && rows16.size() < kBlock * cols) rows16.resize(kBlock * cols);
  int8_t* rows_hi = rows.data();
  int8_t* rows_lo = rows.data() + kBlock * cols;
  for (size_t b = begin; b < end; ++b) {
    uint8_t* block = out.q + b * out.q_stride;
    const size_t base = b * groups * kBlock;
    for (size_t lane = 0; lane < kBlock; ++lane) {
      const size_t t = b * kBlock + lane;
      if (t < out.tokens) {
        // One plane: the zero low plane is neither computed nor stored.
        QuantizeRow(x + t * x_stride, cols, out.group_size, rows_hi + lane * cols,
                    out.planes == 2 || sixteen ? rows_lo + lane * cols : nullptr, scale.data(),
                    sum.data(), qsum.data(), out.eight_bit);
      } else {
        std::memset(rows_hi + lane * cols, 0, cols);
        std::memset(rows_lo + lane * cols, 0, cols);
        std::fill_n(scale.data(), groups, 0.0f);
        std::fill_n(sum.data(), groups, 0.0f);
        std::fill_n(qsum.data(), groups, 0);
      }
      for (size_t g = 0; g < groups; ++g) {
        out.scale[base + g * kBlock + lane] = scale[g];
        out.sum[base + g * kBlock + lane] = sum[g];
        out.qsum[base + g * kBlock + lane] = qsum[g];
      }
    }
    if (sixteen) {
      // Pairs of int16 are 32-bit words: the same transpose as a plane's 4 bytes.
      for (size_t lane = 0; lane < kBlock; ++lane) {
        Combine16(rows_hi + lane * cols, rows_lo + lane * cols, cols, /*permuted=*/false,
                  rows16.data() + lane * cols);
      }
      ToTokenBlock(reinterpret_cast<const int8_t*>(rows16.data()), 2 * cols, 2 * cols, block);
      continue;
    }
    ToTokenBlock(rows_hi, cols, cols, block);
    if (out.planes == 2) ToTokenBlock(rows_lo, cols, cols, block + out.plane_bytes);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lfm2::kernels
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
