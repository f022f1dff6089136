// kernels/matmul_vnni_tiled-inl.h - the AVX3_DL kernels of the tiled layout (kernels/tiled.h):
// unpacking its units, the matrix-vector kernel over a tile (GemvTiled), the matrix-matrix kernel
// on a tile unpacked once (GemmTiled, sharing GemmRows with the file layout) and the writer of the
// layout (TileRows). Included by matmul-inl.h after matmul_vnni-inl.h; empty elsewhere.
#if defined(LFM2_KERNELS_MATMUL_VNNI_TILED_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LFM2_KERNELS_MATMUL_VNNI_TILED_INL_H_
#undef LFM2_KERNELS_MATMUL_VNNI_TILED_INL_H_
#else
#define LFM2_KERNELS_MATMUL_VNNI_TILED_INL_H_
#endif

#include <algorithm>
#include <cstring>

#include "hwy/highway.h"
#include "kernels/act_quant.h"
#include "kernels/matmul_vnni-inl.h"
#include "weights/dtype.h"
#include "weights/weight_store.h"

#if HWY_TARGET == HWY_AVX3_DL && !defined(__clang__)
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace lfm2::kernels {
namespace HWY_NAMESPACE {

#if HWY_TARGET == HWY_AVX3_DL && !defined(__clang__)
// avx512vnni added with GCC's target pragma, as in matmul_vnni-inl.h.
#pragma GCC push_options
#pragma GCC target("avx512vnni")

namespace vnni {

// Unpacking a unit of the tiled layout: one load (masked to the unit), a vpermb that gives each
// qword its slot when slots are narrower than 8 bytes, then per vector one vpmultishiftqb + mask.
template <int kBits>
struct TiledUnpacker {
  static constexpr int kPer = kBits == 2 ? 4 : 8 / kBits >= 2 ? 2 : 1;
  static constexpr int kUnitBytes = 8 * kPer * kBits;
  static constexpr bool kPermute = kPer * kBits < 8;
  __m512i perm, shift[kPer], mask;

  TiledUnpacker() {
    alignas(64) uint8_t table[64];
    for (int q = 0; q < 8; ++q) {
      for (int i = 0; i < 8; ++i) table[q * 8 + i] = static_cast<uint8_t>(q * kPer * kBits + std::min(i, kPer * kBits - 1));
    }
    perm = _mm512_load_si512(table);
    for (int p = 0; p < kPer; ++p) {
      for (int i = 0; i < 64; ++i) table[i] = static_cast<uint8_t>(p * 8 * kBits + (i % 8) * kBits);
      shift[p] = _mm512_load_si512(table);
    }
    mask = _mm512_set1_epi8(static_cast<char>((1 << kBits) - 1));
  }

  HWY_INLINE void Unpack(const uint8_t* unit, __m512i codes[kPer]) const {
    __m512i raw;
    if constexpr (kUnitBytes == 64) {
      raw = _mm512_loadu_si512(unit);
    } else {
      raw = _mm512_maskz_loadu_epi8((__mmask64{1} << kUnitBytes) - 1, unit);
    }
    if constexpr (kPermute) raw = _mm512_permutexvar_epi8(perm, raw);
    for (int p = 0; p < kPer; ++p) {
      if constexpr (kBits == 8) {
        codes[p] = raw;
      } else {
        codes[p] = _mm512_and_si512(_mm512_multishift_epi64_epi8(shift[p], raw), mask);
      }
    }
  }
};

// The 16 rows' scales and centred biases of one group from its record (rows in lanes).
HWY_INLINE void TiledRecord(DType dtype, const uint8_t* record, __m512 center, __m512& scale, __m512& bias) {
  if (dtype == DType::kF32) {
    scale = _mm512_load_ps(record);
    bias = _mm512_load_ps(record + 64);
  } else {
    const __m512i pair = _mm512_load_si512(record);
    if (dtype == DType::kBF16) {
      scale = _mm512_castsi512_ps(_mm512_slli_epi32(pair, 16));
      bias = _mm512_castsi512_ps(_mm512_and_si512(pair, _mm512_set1_epi32(-65536)));
    } else {
      scale = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(pair));
      bias = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(pair, 16)));
    }
  }
  bias = _mm512_fmadd_ps(center, scale, bias);
}

inline size_t TiledRecordBytes(DType dtype) { return dtype == DType::kF32 ? 128 : 64; }

// Prefetches (into L2) the first lines of the tile holding row r0.
inline void PrefetchTile(const WeightMatrix& w, size_t r0, size_t lines) {
  if (r0 >= static_cast<size_t>(w.rows)) return;
  const size_t groups = static_cast<size_t>(w.cols / w.quant.group_size);
  const size_t group_bytes = static_cast<size_t>(w.quant.group_size) * 16 * w.quant.bits / 8 + TiledRecordBytes(w.scale_dtype);
  const uint8_t* tile = w.tiles + r0 / 16 * groups * group_bytes;
  for (size_t l = 0; l < std::min(lines, groups * group_bytes / 64); ++l) {
    _mm_prefetch(reinterpret_cast<const char*>(tile + l * 64), _MM_HINT_T1);
  }
}

// kT tokens of a matrix-vector product on the tiled tile holding rows [r0, r0 + n): per group,
// per vector j, one vpdpbusd per token and plane with 4 activations broadcast; the 16 rows' exact
// dots come out in the lanes (kT == 1 splits each sum over two accumulators for a shorter chain).
// kPlanes == 1: 8-bit activations stored as the hi plane alone (the lo plane is zero).
template <int kBits, int kGroup, int kT, int kPlanes>
void GemvTiledPass(const WeightMatrix& w, const QuantizedActivations& xq, size_t t0, size_t r0,
                   size_t n, float* y, size_t y_stride, bool prefetch) {
  using U = TiledUnpacker<kBits>;
  constexpr int kJ = kGroup / 4, kUnits = kJ / U::kPer, kA = kT == 1 ? 2 : 1;
  const U unpacker;
  const size_t groups = xq.groups;
  const size_t group_bytes = static_cast<size_t>(kUnits * U::kUnitBytes) + TiledRecordBytes(w.scale_dtype);
  const size_t tile_bytes = groups * group_bytes;
  const uint8_t* tile = w.tiles + r0 / 16 * tile_bytes;
  // The next tile is the next stretch of memory; fetch it group by group while this one runs.
  const uint8_t* next = r0 + 16 < static_cast<size_t>(w.rows) ? tile + tile_bytes : nullptr;
  const bool next_to_l1 = tile_bytes <= kL1PrefetchTileBytes;
  const __m512 center = _mm512_set1_ps(static_cast<float>(1 << (kBits - 1)));
  const int32_t* hi[kT];
  const int32_t* lo[kT];
  for (int t = 0; t < kT; ++t) {
    hi[t] = reinterpret_cast<const int32_t*>(xq.q + (t0 + t) * xq.q_stride);
    lo[t] = kPlanes == 2 ? reinterpret_cast<const int32_t*>(xq.q + (t0 + t) * xq.q_stride + xq.plane_bytes) : nullptr;
  }
  __m512 acc[kT];
  for (int t = 0; t < kT; ++t) acc[t] = _mm512_setzero_ps();
  for (size_t g = 0; g < groups; ++g) {
    const uint8_t* block = tile + g * group_bytes;
    if (prefetch && next != nullptr) {
      for (size_t offset = 0; offset < group_bytes; offset += 64) {
        if (next_to_l1) {
          _mm_prefetch(reinterpret_cast<const char*>(next + g * group_bytes + offset), _MM_HINT_T0);
        } else {
          _mm_prefetch(reinterpret_cast<const char*>(next + g * group_bytes + offset), _MM_HINT_T1);
        }
      }
    }
    __m512i sum_hi[kT][kA], sum_lo[kT][kA];
    for (int t = 0; t < kT; ++t) {
      for (int a = 0; a < kA; ++a) sum_hi[t][a] = sum_lo[t][a] = _mm512_setzero_si512();
    }
    const size_t x0 = g * kJ;  // the group's first 4-activation word
#pragma GCC unroll 8
    for (int u = 0; u < kUnits; ++u) {
      __m512i codes[U::kPer];
      unpacker.Unpack(block + u * U::kUnitBytes, codes);
      for (int p = 0; p < U::kPer; ++p) {
        const int j = u * U::kPer + p, a = j % kA;
        for (int t = 0; t < kT; ++t) {
          sum_hi[t][a] = _mm512_dpbusd_epi32(sum_hi[t][a], codes[p], _mm512_set1_epi32(hi[t][x0 + j]));
          if constexpr (kPlanes == 2) {
            sum_lo[t][a] = _mm512_dpbusd_epi32(sum_lo[t][a], codes[p], _mm512_set1_epi32(lo[t][x0 + j]));
          }
        }
      }
    }
    __m512 scale, bias;
    TiledRecord(w.scale_dtype, block + kUnits * U::kUnitBytes, center, scale, bias);
    for (int t = 0; t < kT; ++t) {
      __m512i h = sum_hi[t][0], l = sum_lo[t][0];
      if constexpr (kA == 2) {
        h = _mm512_add_epi32(h, sum_hi[t][1]);
        l = _mm512_add_epi32(l, sum_lo[t][1]);
      }
      const size_t e = (t0 + t) * groups + g;
      __m512i dot = _mm512_add_epi32(_mm512_slli_epi32(h, 8), l);
      dot = _mm512_sub_epi32(dot, _mm512_set1_epi32(xq.qsum[e] << (kBits - 1)));
      const __m512 sd = _mm512_mul_ps(scale, _mm512_set1_ps(xq.scale[e]));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), sd, acc[t]);
      acc[t] = _mm512_fmadd_ps(bias, _mm512_set1_ps(xq.sum[e]), acc[t]);
    }
  }
  const __mmask16 store_mask = static_cast<__mmask16>((1u << n) - 1u);
  for (int t = 0; t < kT; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * y_stride + r0, store_mask, acc[t]);
}

// Rows [r0, r0 + n) (one tile) for every token of xq (kRows layout in natural order).
template <int kBits, int kGroup, int kPlanes>
void GemvTiledPlanes(const WeightMatrix& w, const QuantizedActivations& xq, size_t r0, size_t n,
                     float* y, size_t y_stride) {
  for (size_t t0 = 0; t0 < xq.tokens; t0 += 4) {
    const bool prefetch = t0 == 0;
    switch (std::min<size_t>(4, xq.tokens - t0)) {
      case 1: GemvTiledPass<kBits, kGroup, 1, kPlanes>(w, xq, t0, r0, n, y, y_stride, prefetch); break;
      case 2: GemvTiledPass<kBits, kGroup, 2, kPlanes>(w, xq, t0, r0, n, y, y_stride, prefetch); break;
      case 3: GemvTiledPass<kBits, kGroup, 3, kPlanes>(w, xq, t0, r0, n, y, y_stride, prefetch); break;
      default: GemvTiledPass<kBits, kGroup, 4, kPlanes>(w, xq, t0, r0, n, y, y_stride, prefetch); break;
    }
  }
}

template <int kBits, int kGroup>
void GemvTiled(const WeightMatrix& w, const QuantizedActivations& xq, size_t r0, size_t n, float* y,
               size_t y_stride, Scratch&) {
  if (xq.planes == 1) {
    GemvTiledPlanes<kBits, kGroup, 1>(w, xq, r0, n, y, y_stride);
  } else {
    GemvTiledPlanes<kBits, kGroup, 2>(w, xq, r0, n, y, y_stride);
  }
}

// GemmTile for the tiled layout: the tile's vectors unpacked once into scratch, in order.
template <int kBits, int kGroup>
void GemmTiled(const WeightMatrix& w, const QuantizedActivations& xq, size_t r0, size_t n, float* y,
               size_t y_stride, Scratch& s) {
  using U = TiledUnpacker<kBits>;
  constexpr int kJ = kGroup / 4, kUnits = kJ / U::kPer;
  const size_t groups = xq.groups;
  Reserve(s.codes, groups * kJ * 64);
  Reserve(s.row_scales, 16 * groups);
  Reserve(s.row_biases, 16 * groups);
  const size_t group_bytes = static_cast<size_t>(kUnits * U::kUnitBytes) + TiledRecordBytes(w.scale_dtype);
  const uint8_t* tile = w.tiles + r0 / 16 * groups * group_bytes;
  PrefetchTile(w, r0 + 16, groups * group_bytes / 64);
  const U unpacker;
  const __m512 center = _mm512_set1_ps(static_cast<float>(1 << (kBits - 1)));
  for (size_t g = 0; g < groups; ++g) {
    const uint8_t* block = tile + g * group_bytes;
    for (int u = 0; u < kUnits; ++u) {
      __m512i codes[U::kPer];
      unpacker.Unpack(block + u * U::kUnitBytes, codes);
      for (int p = 0; p < U::kPer; ++p) {
        _mm512_store_si512(s.codes.data() + (g * kJ + u * U::kPer + p) * 64, codes[p]);
      }
    }
    __m512 scale, bias;
    TiledRecord(w.scale_dtype, block + kUnits * U::kUnitBytes, center, scale, bias);
    _mm512_store_ps(s.row_scales.data() + g * 16, scale);
    _mm512_store_ps(s.row_biases.data() + g * 16, bias);
  }
  GemmBlocks<kBits, kGroup, true>(xq, n, 0, r0, y, y_stride, s);
}

// kernels/tiled.h TileRows: per 64 codes of the tile's 16 rows, unpack each row (as GemmTile),
// transpose the 16 x 16 words (vector j = codes 4j..4j+3 of every row), then pack each vector's
// qwords back to 8 * bits bits (pairs of codes, then pairs of pairs, with multiply-adds) and
// its units' slots together with one byte permutation.
template <int kBits>
void TileRowsBits(const WeightMatrix& w, size_t tile_begin, size_t tile_end, uint8_t* tiles) {
  using U = TiledUnpacker<kBits>;
  constexpr int kPer = U::kPer, kSlot = kPer * kBits;
  const size_t cols = static_cast<size_t>(w.cols), group = static_cast<size_t>(w.quant.group_size);
  const size_t groups = cols / group, vectors = group / 4;
  const size_t record_bytes = TiledRecordBytes(w.scale_dtype);
  const size_t group_bytes = vectors / kPer * U::kUnitBytes + record_bytes;
  const size_t tile_bytes = groups * group_bytes;
  const Unpacker unpacker = MakeUnpacker(kBits);
  alignas(64) uint8_t table[64];
  for (int o = 0; o < 64; ++o) table[o] = static_cast<uint8_t>(o < 8 * kSlot ? o / kSlot * 8 + o % kSlot : 0);
  const __m512i compress = _mm512_load_si512(table);
  const __m512i pair16 = _mm512_set1_epi16(static_cast<int16_t>(1 | ((1 << kBits) << 8)));
  const __m512i pair32 = _mm512_set1_epi32(1 | ((1 << (2 * kBits)) << 16));
  const __m512i low_half = _mm512_set1_epi64(0xffffffff);
  auto pack = [&](__m512i v) __attribute__((always_inline)) {
    if constexpr (kBits == 8) {
      return v;
    } else {
      const __m512i x = _mm512_madd_epi16(_mm512_maddubs_epi16(v, pair16), pair32);
      // x's qwords: lanes 2q's four codes in bits [0, 4 * bits), lane 2q + 1's at bit 32.
      return _mm512_or_si512(_mm512_and_si512(x, low_half), _mm512_slli_epi64(_mm512_srli_epi64(x, 32), 4 * kBits));
    }
  };
  const size_t scale_bytes = w.scale_dtype == DType::kF32 ? 4 : 2;
  for (size_t t = tile_begin; t < tile_end; ++t) {
    uint8_t* tile = tiles + t * tile_bytes;
    const size_t present = std::min<size_t>(16, static_cast<size_t>(w.rows) - t * 16);
    for (size_t c = 0; c * 64 < cols; ++c) {
      const int valid = static_cast<int>(std::min<size_t>(64, cols - c * 64));
      __m512i v[16];
      for (size_t i = 0; i < 16; ++i) {
        v[i] = i < present ? Unpack<kBits>(unpacker, w.data + (t * 16 + i) * w.row_bytes + c * 8 * kBits,
                                           LoadMask(kBits, valid))
                           : _mm512_setzero_si512();
      }
      Transpose16x16(v);
      for (int jj = 0; jj < valid / 4; jj += kPer) {
        const size_t j = c * 16 + static_cast<size_t>(jj);  // vector index in the row
        const size_t g = j / vectors, u = j % vectors / kPer;
        __m512i unit = pack(v[jj]);
        for (int p = 1; p < kPer; ++p) unit = _mm512_or_si512(unit, _mm512_slli_epi64(pack(v[jj + p]), p * 8 * kBits));
        uint8_t* dst = tile + g * group_bytes + u * U::kUnitBytes;
        if constexpr (kSlot == 8) {
          _mm512_storeu_si512(dst, unit);
        } else {
          _mm512_mask_storeu_epi8(dst, (__mmask64{1} << U::kUnitBytes) - 1, _mm512_permutexvar_epi8(compress, unit));
        }
      }
    }
    for (size_t g = 0; g < groups; ++g) {
      uint8_t* record = tile + g * group_bytes + (group_bytes - record_bytes);
      std::memset(record, 0, record_bytes);
      for (size_t i = 0; i < present; ++i) {
        const size_t offset = (t * 16 + i) * w.scale_row_bytes + g * scale_bytes;
        if (scale_bytes == 4) {
          std::memcpy(record + 4 * i, w.scales + offset, 4);
          std::memcpy(record + 64 + 4 * i, w.biases + offset, 4);
        } else {
          std::memcpy(record + 4 * i, w.scales + offset, 2);
          std::memcpy(record + 4 * i + 2, w.biases + offset, 2);
        }
      }
    }
  }
}

inline void TileRowsVector(const WeightMatrix& w, size_t tile_begin, size_t tile_end, uint8_t* tiles) {
  switch (w.quant.bits) {
    case 2: TileRowsBits<2>(w, tile_begin, tile_end, tiles); break;
    case 3: TileRowsBits<3>(w, tile_begin, tile_end, tiles); break;
    case 4: TileRowsBits<4>(w, tile_begin, tile_end, tiles); break;
    case 5: TileRowsBits<5>(w, tile_begin, tile_end, tiles); break;
    case 6: TileRowsBits<6>(w, tile_begin, tile_end, tiles); break;
    default: TileRowsBits<8>(w, tile_begin, tile_end, tiles); break;
  }
}

template <int kBits, int kGroup>
struct PickGemvTiled {
  static constexpr TileFn fn = &GemvTiled<kBits, kGroup>;
};
template <int kBits, int kGroup>
struct PickGemmTiled {
  static constexpr TileFn fn = &GemmTiled<kBits, kGroup>;
};

}  // namespace vnni

#pragma GCC pop_options
#endif  // HWY_TARGET == HWY_AVX3_DL

}  // namespace HWY_NAMESPACE
}  // namespace lfm2::kernels
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
