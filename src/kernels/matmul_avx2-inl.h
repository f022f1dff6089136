// kernels/matmul_avx2-inl.h - AVX2 kernels of the fast matmul path (also built for AVX-512
// machines without VNNI), reading MLX packed rows in place. Included by matmul-inl.h; empty on
// other targets.
//
// Without a u8 x s8 dot-product instruction, the exact 16-bit activations (kernels/act_quant.h,
// q = 256 hi + lo) are multiplied as int16 by pmaddwd: 16 products per instruction, the same rate
// as pmaddubsw + pmaddwd on one int8 plane, and half the instructions of two planes.
//
// Unpacking: 32 codes (two packs of 16, 2 * bits bytes each) become two vectors of 16-bit lanes,
// the even codes and the odd codes - for 2, 3, 5 and 6 bits by one byte shuffle, one 16-bit
// multiply (a per-lane left shift) and one right shift each; for 4 and 8 bits by masks and
// shifts. Activations in kRows16 order (even k, then odd k, per 32) meet them with no further
// shuffling.
//
// Matrix-vector (GemvTile, < kGemmMinTokens tokens): per row, group and token, an int32 vector of
// partial sums; per group and token the 16 rows' vectors are reduced with hadds into rows-in-lanes
// vectors, and the float epilogue runs with rows in lanes (scales and biases transposed once per
// tile).
//
// Matrix-matrix (GemmTile): the codes of 16 rows are unpacked once into scratch as centred
// int16 in natural order; activations come in 16-token blocks of pairs (kTokenBlocks16), so one
// pmaddwd multiplies a broadcast pair of one row's weights by that pair of 8 tokens; 4 rows x 2
// halves of the block share each load and broadcast.
//
// Both give exactly the canonical result of kernels/matmul.h: the integer dot products are exact
// (|q| <= 32639, codes <= 255: a pair sum < 2^24, a group's sum < 2^31) and the float epilogue is
// the same operation sequence in any lane layout.
#if defined(LFM2_KERNELS_MATMUL_AVX2_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LFM2_KERNELS_MATMUL_AVX2_INL_H_
#undef LFM2_KERNELS_MATMUL_AVX2_INL_H_
#else
#define LFM2_KERNELS_MATMUL_AVX2_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/aligned_buffer.h"
#include "hwy/highway.h"
#include "kernels/act_quant.h"
#include "weights/dtype.h"
#include "weights/weight_store.h"

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace lfm2::kernels {
namespace HWY_NAMESPACE {

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
namespace avx2 {

// Reads the 16-byte window of 16 codes starting at byte `at` of a row of `row_bytes`, copied when
// it would run past the row (MLX tensors may end at the end of a mapping).
HWY_INLINE __m128i Window(const uint8_t* row, size_t at, size_t row_bytes, size_t block_bytes) {
  if (at + 16 <= row_bytes) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + at));
  alignas(16) uint8_t tail[16] = {};
  std::memcpy(tail, row + at, block_bytes);
  return _mm_load_si128(reinterpret_cast<const __m128i*>(tail));
}

// Shuffle and shift tables of the 16-bit unpack of 16 codes of kBits (see UnpackCodes).
template <int kBits>
struct Unpacker {
  __m256i even_index, odd_index, even_mul, odd_mul;
  Unpacker() {
    alignas(16) uint8_t ei[16], oi[16];
    alignas(16) uint16_t em[8], om[8];
    for (int i = 0; i < 8; ++i) {
      for (int parity = 0; parity < 2; ++parity) {
        const int bit = (2 * i + parity) * kBits;
        uint8_t* index = parity == 0 ? ei : oi;
        index[2 * i] = static_cast<uint8_t>(bit / 8);
        index[2 * i + 1] = static_cast<uint8_t>(bit / 8 + 1);
        (parity == 0 ? em : om)[i] = static_cast<uint16_t>(1u << (16 - kBits - bit % 8));
      }
    }
    even_index = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(ei)));
    odd_index = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(oi)));
    even_mul = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(em)));
    odd_mul = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(om)));
  }
};

// Codes [32c, 32c + 32) of a packed row: even codes (0, 2, .., 30) and odd codes as uint16 lanes.
// kChecked: the chunk's 16-byte windows may run past the row (see SafeChunks).
template <int kBits, bool kChecked = true>
HWY_INLINE void Unpack32(const Unpacker<kBits>& u, const uint8_t* row, size_t c, size_t row_bytes,
                         __m256i& even, __m256i& odd) {
  if constexpr (kBits == 8) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 32 * c));
    even = _mm256_and_si256(v, _mm256_set1_epi16(0xff));
    odd = _mm256_srli_epi16(v, 8);
  } else if constexpr (kBits == 4) {
    const __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 16 * c)));
    even = _mm256_and_si256(v, _mm256_set1_epi16(0x0f));
    odd = _mm256_srli_epi16(v, 4);
  } else {
    constexpr size_t kBlockBytes = 2 * kBits;
    const size_t at = 2 * c * kBlockBytes;
    __m256i bytes;
    if constexpr (kChecked) {
      bytes = _mm256_inserti128_si256(_mm256_castsi128_si256(Window(row, at, row_bytes, kBlockBytes)),
                                      Window(row, at + kBlockBytes, row_bytes, kBlockBytes), 1);
    } else {
      bytes = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(row + at + kBlockBytes),
                                  reinterpret_cast<const __m128i*>(row + at));
    }
    even = _mm256_srli_epi16(_mm256_mullo_epi16(_mm256_shuffle_epi8(bytes, u.even_index), u.even_mul), 16 - kBits);
    odd = _mm256_srli_epi16(_mm256_mullo_epi16(_mm256_shuffle_epi8(bytes, u.odd_index), u.odd_mul), 16 - kBits);
  }
}

// Chunks of 32 codes at the start of a row whose loads stay inside it unchecked.
template <int kBits>
constexpr size_t SafeChunks(size_t cols, size_t row_bytes) {
  if constexpr (kBits == 4 || kBits == 8) {
    return cols / 32;
  } else {
    constexpr size_t kBlockBytes = 2 * kBits;
    // Chunk c reads [2c * kBlockBytes, 2c * kBlockBytes + kBlockBytes + 16).
    if (row_bytes < kBlockBytes + 16) return 0;
    return std::min(cols / 32, (row_bytes - kBlockBytes - 16) / (2 * kBlockBytes) + 1);
  }
}

// acc += pmaddwd(a, b), as an asm statement with the accumulator tied to its register: GCC 12
// otherwise copies (and spills) accumulators around the intrinsics in the unrolled loops.
HWY_INLINE void MaddAccumulate(__m256i& acc, __m256i a, __m256i b) {
  __m256i product;
  asm("vpmaddwd %[b], %[a], %[p]\n\tvpaddd %[p], %[acc], %[acc]"
      : [acc] "+x"(acc), [p] "=&x"(product)
      : [a] "x"(a), [b] "x"(b));
}

// 8 int32 vectors -> one vector whose lane i is the sum of v[i]'s lanes.
HWY_INLINE __m256i Reduce8(const __m256i* v) {
  const __m256i a = _mm256_hadd_epi32(v[0], v[1]), b = _mm256_hadd_epi32(v[2], v[3]);
  const __m256i c = _mm256_hadd_epi32(v[4], v[5]), d = _mm256_hadd_epi32(v[6], v[7]);
  const __m256i ab = _mm256_hadd_epi32(a, b), cd = _mm256_hadd_epi32(c, d);
  return _mm256_add_epi32(_mm256_permute2x128_si256(ab, cd, 0x20), _mm256_permute2x128_si256(ab, cd, 0x31));
}

// In-place transpose of an 8x8 matrix of floats (r[i] = row i).
HWY_INLINE void Transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int q = 0; q < 2; ++q) {
    u[4 * q + 0] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
    u[4 * q + 1] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0xee);
    u[4 * q + 2] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
    u[4 * q + 3] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xee);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

// count values of a scale / bias row (F32, F16 or BF16) -> float.
inline void ScaleRowToFloat(DType dtype, const uint8_t* p, size_t count, float* out) {
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

struct Scratch {
  AlignedBuffer<int16_t> codes;   // GemmTile: [16 rows][cols] centred codes
  AlignedBuffer<float> scales;    // GemmTile: [16][groups]; GemvTile: [groups][16]
  AlignedBuffer<float> biases;    // same layouts: fma(center, scale, bias)
  AlignedBuffer<int32_t> partial; // GemvTile: [tokens][groups][16 rows][8 lanes]
  AlignedBuffer<float> row;       // one row's scales or biases
};

template <typename T>
void Reserve(AlignedBuffer<T>& buffer, size_t count) {
  if (buffer.size() < count) buffer = AlignedBuffer<T>(count);
}

// Scales and centred biases of rows r0 + min(i, n - 1), i < 16: rows-in-lanes ([g][16]) or
// row-major ([16][groups]).
inline void TileScales(const WeightMatrix& w, size_t r0, size_t n, size_t groups, bool rows_in_lanes,
                       Scratch& s) {
  Reserve(s.scales, 16 * groups);
  Reserve(s.biases, 16 * groups);
  Reserve(s.row, 2 * groups);
  const float center = static_cast<float>(1 << (w.quant.bits - 1));
  float* scale = s.row.data();
  float* bias = s.row.data() + groups;
  for (size_t i = 0; i < 16; ++i) {
    const size_t r = r0 + std::min(i, n - 1);
    if (i < n) {
      ScaleRowToFloat(w.scale_dtype, w.scales + r * w.scale_row_bytes, groups, scale);
      ScaleRowToFloat(w.scale_dtype, w.biases + r * w.scale_row_bytes, groups, bias);
      for (size_t g = 0; g < groups; ++g) bias[g] = std::fma(center, scale[g], bias[g]);
    }
    for (size_t g = 0; g < groups; ++g) {
      const size_t at = rows_in_lanes ? g * 16 + i : i * groups + g;
      s.scales[at] = scale[g];
      s.biases[at] = bias[g];
    }
  }
}

// One group of one row against kT tokens: the int32 partial sums (8 lanes each) into partial[t].
template <int kBits, int kGroup, int kT, bool kChecked>
HWY_INLINE void GemvGroup(const Unpacker<kBits>& u, const uint8_t* row, size_t g, size_t row_bytes,
                          const int16_t* const* q, __m256i* acc) {
  constexpr size_t kChunks = kGroup / 32;
  for (int t = 0; t < kT; ++t) acc[t] = _mm256_setzero_si256();
  for (size_t c = g * kChunks; c < (g + 1) * kChunks; ++c) {
    __m256i even, odd;
    Unpack32<kBits, kChecked>(u, row, c, row_bytes, even, odd);
    for (int t = 0; t < kT; ++t) {
      const __m256i qe = _mm256_load_si256(reinterpret_cast<const __m256i*>(q[t] + 32 * c));
      const __m256i qo = _mm256_load_si256(reinterpret_cast<const __m256i*>(q[t] + 32 * c + 16));
      acc[t] = _mm256_add_epi32(acc[t], _mm256_add_epi32(_mm256_madd_epi16(even, qe), _mm256_madd_epi16(odd, qo)));
    }
  }
}

// Rows [r0, r0 + n) (n <= 16) for tokens [t0, t0 + kT) of xq (kRows16).
template <int kBits, int kGroup, int kT>
void GemvPass(const WeightMatrix& w, const QuantizedActivations& xq, size_t t0, size_t r0, size_t n,
              float* y, size_t y_stride, Scratch& s) {
  const size_t groups = xq.groups;
  const size_t row_bytes = static_cast<size_t>(w.row_bytes);
  const size_t safe_groups = SafeChunks<kBits>(xq.cols, row_bytes) / (kGroup / 32);
  const Unpacker<kBits> u;
  const int16_t* q[kT];
  for (int t = 0; t < kT; ++t) q[t] = reinterpret_cast<const int16_t*>(xq.q + (t0 + t) * xq.q_stride);
  int32_t* partial = s.partial.data();
  auto slot = [&](int t, size_t g, size_t i) {
    return reinterpret_cast<__m256i*>(partial + ((t * groups + g) * 16 + i) * 8);
  };
  for (size_t i = 0; i < 16; ++i) {
    if (i >= n) {
      for (int t = 0; t < kT; ++t) {
        for (size_t g = 0; g < groups; ++g) _mm256_store_si256(slot(t, g, i), _mm256_setzero_si256());
      }
      continue;
    }
    const uint8_t* row = w.data + (r0 + i) * row_bytes;
    __m256i acc[kT];
    size_t g = 0;
    for (; g < safe_groups; ++g) {
      GemvGroup<kBits, kGroup, kT, false>(u, row, g, row_bytes, q, acc);
      for (int t = 0; t < kT; ++t) _mm256_store_si256(slot(t, g, i), acc[t]);
    }
    for (; g < groups; ++g) {
      GemvGroup<kBits, kGroup, kT, true>(u, row, g, row_bytes, q, acc);
      for (int t = 0; t < kT; ++t) _mm256_store_si256(slot(t, g, i), acc[t]);
    }
  }
  const int32_t center_shift = kBits - 1;
  for (int t = 0; t < kT; ++t) {
    const size_t e = (t0 + t) * groups;
    for (size_t half = 0; half * 8 < n; ++half) {
      __m256 acc = _mm256_setzero_ps();
      for (size_t g = 0; g < groups; ++g) {
        // sum (w - c) q = sum w q - c * qsum: exact.
        const __m256i dot = _mm256_sub_epi32(Reduce8(slot(t, g, 8 * half)),
                                             _mm256_set1_epi32(xq.qsum[e + g] << center_shift));
        const __m256 sd = _mm256_mul_ps(_mm256_load_ps(s.scales.data() + g * 16 + 8 * half),
                                        _mm256_set1_ps(xq.scale[e + g]));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), sd, acc);
        acc = _mm256_fmadd_ps(_mm256_load_ps(s.biases.data() + g * 16 + 8 * half), _mm256_set1_ps(xq.sum[e + g]), acc);
      }
      float* out = y + (t0 + t) * y_stride + r0 + 8 * half;
      const size_t rows = std::min<size_t>(8, n - 8 * half);
      if (rows == 8) {
        _mm256_storeu_ps(out, acc);
      } else {
        alignas(32) float values[8];
        _mm256_store_ps(values, acc);
        std::memcpy(out, values, rows * sizeof(float));
      }
    }
  }
}

// Rows [r0, r0 + n) (one tile) for every token of xq (kRows16 layout).
template <int kBits, int kGroup>
void GemvTile(const WeightMatrix& w, const QuantizedActivations& xq, size_t r0, size_t n, float* y,
              size_t y_stride, Scratch& s) {
  TileScales(w, r0, n, xq.groups, /*rows_in_lanes=*/true, s);
  Reserve(s.partial, 4 * xq.groups * 16 * 8);
  for (size_t t0 = 0; t0 < xq.tokens; t0 += 4) {
    switch (std::min<size_t>(4, xq.tokens - t0)) {
      case 1: GemvPass<kBits, kGroup, 1>(w, xq, t0, r0, n, y, y_stride, s); break;
      case 2: GemvPass<kBits, kGroup, 2>(w, xq, t0, r0, n, y, y_stride, s); break;
      case 3: GemvPass<kBits, kGroup, 3>(w, xq, t0, r0, n, y, y_stride, s); break;
      default: GemvPass<kBits, kGroup, 4>(w, xq, t0, r0, n, y, y_stride, s); break;
    }
  }
}

// Rows per register block of the matrix-matrix kernel (each shares the block's two loads).
inline constexpr size_t kGemmRows16 = 4;

// One group of 4 rows against a 16-token block: acc[r][h] (tokens 8h..8h+7) = sum over `pairs`
// k pairs of pmaddwd(broadcast pair of row r, the pair of those tokens). The 8 accumulators are
// named variables, so they stay in registers.
HWY_INLINE void GemmGroup(const int32_t* HWY_RESTRICT x, const int16_t* c0, const int16_t* c1,
                          const int16_t* c2, const int16_t* c3, size_t pairs, __m256i acc[4][2]) {
  __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
          a31 = a00;
  const int32_t* w0 = reinterpret_cast<const int32_t*>(c0);
  const int32_t* w1 = reinterpret_cast<const int32_t*>(c1);
  const int32_t* w2 = reinterpret_cast<const int32_t*>(c2);
  const int32_t* w3 = reinterpret_cast<const int32_t*>(c3);
  for (size_t j = 0; j < pairs; ++j, x += 16) {
    const __m256i x0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
    const __m256i x1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x + 8));
    __m256i w = _mm256_set1_epi32(w0[j]);
    MaddAccumulate(a00, w, x0);
    MaddAccumulate(a01, w, x1);
    w = _mm256_set1_epi32(w1[j]);
    MaddAccumulate(a10, w, x0);
    MaddAccumulate(a11, w, x1);
    w = _mm256_set1_epi32(w2[j]);
    MaddAccumulate(a20, w, x0);
    MaddAccumulate(a21, w, x1);
    w = _mm256_set1_epi32(w3[j]);
    MaddAccumulate(a30, w, x0);
    MaddAccumulate(a31, w, x1);
  }
  acc[0][0] = a00, acc[0][1] = a01, acc[1][0] = a10, acc[1][1] = a11;
  acc[2][0] = a20, acc[2][1] = a21, acc[3][0] = a30, acc[3][1] = a31;
}

// Rows [r0, r0 + n) (n <= 16) for every token of xq (kTokenBlocks16 layout).
template <int kBits>
void GemmTile(const WeightMatrix& w, const QuantizedActivations& xq, size_t r0, size_t n, float* y,
              size_t y_stride, Scratch& s) {
  constexpr size_t kBlock = QuantizedActivations::kBlock;
  const size_t cols = xq.cols, gs = xq.group_size, groups = xq.groups;
  const size_t row_bytes = static_cast<size_t>(w.row_bytes);
  Reserve(s.codes, 16 * cols);
  TileScales(w, r0, n, groups, /*rows_in_lanes=*/false, s);
  // Codes as centred int16 in natural order: interleave the even and odd vectors.
  const Unpacker<kBits> u;
  const __m256i center = _mm256_set1_epi16(static_cast<int16_t>(1 << (kBits - 1)));
  for (size_t i = 0; i < 16; ++i) {
    int16_t* codes = s.codes.data() + i * cols;
    if (i >= n) {
      std::memcpy(codes, s.codes.data() + (n - 1) * cols, cols * sizeof(int16_t));
      continue;
    }
    const uint8_t* row = w.data + (r0 + i) * row_bytes;
    for (size_t c = 0; c < cols / 32; ++c) {
      __m256i even, odd;
      Unpack32<kBits>(u, row, c, row_bytes, even, odd);
      const __m256i lo = _mm256_sub_epi16(_mm256_unpacklo_epi16(even, odd), center);
      const __m256i hi = _mm256_sub_epi16(_mm256_unpackhi_epi16(even, odd), center);
      _mm256_store_si256(reinterpret_cast<__m256i*>(codes + 32 * c), _mm256_permute2x128_si256(lo, hi, 0x20));
      _mm256_store_si256(reinterpret_cast<__m256i*>(codes + 32 * c + 16), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
  }
  alignas(32) float out[16][kBlock];  // [row][token of the block]
  for (size_t b = 0; b < xq.blocks(); ++b) {
    const int32_t* x = reinterpret_cast<const int32_t*>(xq.q + b * xq.q_stride);
    const float* d = xq.scale + b * groups * kBlock;
    const float* xs = xq.sum + b * groups * kBlock;
    for (size_t i0 = 0; i0 < n; i0 += kGemmRows16) {
      const int16_t* codes[kGemmRows16];
      size_t rows[kGemmRows16];
      for (size_t r = 0; r < kGemmRows16; ++r) {
        rows[r] = std::min(i0 + r, size_t{15});
        codes[r] = s.codes.data() + rows[r] * cols;
      }
      __m256 acc_y[kGemmRows16][2];
      for (size_t r = 0; r < kGemmRows16; ++r) acc_y[r][0] = acc_y[r][1] = _mm256_setzero_ps();
      for (size_t g = 0; g < groups; ++g) {
        __m256i acc[kGemmRows16][2];
        GemmGroup(x + g * gs / 2 * kBlock, codes[0] + g * gs, codes[1] + g * gs, codes[2] + g * gs,
                  codes[3] + g * gs, gs / 2, acc);
        for (size_t r = 0; r < kGemmRows16; ++r) {
          const __m256 sv = _mm256_set1_ps(s.scales[rows[r] * groups + g]);
          const __m256 bv = _mm256_set1_ps(s.biases[rows[r] * groups + g]);
          for (int h = 0; h < 2; ++h) {
            const __m256 sd = _mm256_mul_ps(_mm256_loadu_ps(d + g * kBlock + 8 * h), sv);
            acc_y[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][h]), sd, acc_y[r][h]);
            acc_y[r][h] = _mm256_fmadd_ps(bv, _mm256_loadu_ps(xs + g * kBlock + 8 * h), acc_y[r][h]);
          }
        }
      }
      for (size_t r = 0; r < kGemmRows16 && i0 + r < 16; ++r) {
        _mm256_store_ps(out[i0 + r], acc_y[r][0]);
        _mm256_store_ps(out[i0 + r] + 8, acc_y[r][1]);
      }
    }
    // out[row][token] -> y[token][row], 8x8 at a time.
    const size_t t0 = b * kBlock;
    const size_t tokens = std::min(kBlock, xq.tokens - t0);
    for (size_t th = 0; th < 2 && 8 * th < tokens; ++th) {
      for (size_t rh = 0; rh * 8 < n; ++rh) {
        __m256 v[8];
        for (size_t i = 0; i < 8; ++i) v[i] = _mm256_load_ps(out[std::min(8 * rh + i, n - 1)] + 8 * th);
        Transpose8(v);
        const size_t rows = std::min<size_t>(8, n - 8 * rh);
        for (size_t l = 0; l < 8 && 8 * th + l < tokens; ++l) {
          float* dst = y + (t0 + 8 * th + l) * y_stride + r0 + 8 * rh;
          if (rows == 8) {
            _mm256_storeu_ps(dst, v[l]);
          } else {
            alignas(32) float values[8];
            _mm256_store_ps(values, v[l]);
            std::memcpy(dst, values, rows * sizeof(float));
          }
        }
      }
    }
  }
}

using TileFn = void (*)(const WeightMatrix&, const QuantizedActivations&, size_t, size_t, float*,
                        size_t, Scratch&);

template <int kBits>
TileFn SelectForBits(bool gemm, int group) {
  if (gemm) return &GemmTile<kBits>;
  switch (group) {
    case 32: return &GemvTile<kBits, 32>;
    case 64: return &GemvTile<kBits, 64>;
    default: return &GemvTile<kBits, 128>;
  }
}

inline TileFn SelectTile(bool gemm, int bits, int group) {
  switch (bits) {
    case 2: return SelectForBits<2>(gemm, group);
    case 3: return SelectForBits<3>(gemm, group);
    case 4: return SelectForBits<4>(gemm, group);
    case 5: return SelectForBits<5>(gemm, group);
    case 6: return SelectForBits<6>(gemm, group);
    default: return SelectForBits<8>(gemm, group);
  }
}

}  // namespace avx2
#endif  // HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3

}  // namespace HWY_NAMESPACE
}  // namespace lfm2::kernels
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
