// kernels/matmul_vnni-inl.h - AVX3_DL (AVX-512 VNNI + VBMI) kernels of the fast matmul path,
// reading MLX packed rows in place (no repacking), the matrix-matrix kernel both layouts share,
// and the choice of a tile kernel; the tiled layout's own kernels are in matmul_vnni_tiled-inl.h.
// Included by matmul-inl.h; empty elsewhere.
//
// Unpacking: a pack of 8 codes is exactly `bits` bytes. A masked load (never past the row), one
// vpermb that puts the bytes of whole packs into each qword, then per 64 codes one
// vpmultishiftqb (code i of a pack to byte i) and a mask.
//
// Matrix-vector (GemvTile, < kGemmMinTokens tokens): groups are taken in sets of 1, 2 or 4 (as
// many as one 64-byte load holds); per row and set, vpdpbusd(codes u8, hi plane s8), shift left
// 8, vpdpbusd(codes, lo plane) gives exact 16-bit-activation dot products in one accumulator
// whose 32-bit lanes belong to one group each (act_quant.h RowsPosition arranges the
// activations to match). A transposed reduction of the 16 rows' accumulators (44-45 ops) yields
// per group one vector with rows in lanes, and the float epilogue runs with rows in lanes
// (scales / biases transposed once per tile). The next tile is prefetched while this one runs.
//
// Matrix-matrix (GemmTile): codes of 16 rows are unpacked once into scratch; activations come
// in 16-token blocks (act_quant.h kTokenBlocks: 4 k of 16 tokens per 64 bytes), so one vpdpbusd
// multiplies a broadcast of 4 weight codes (u8) of one row by 4 k of 16 tokens (s8), tokens in
// lanes; 4 rows x 2 token blocks x 2 planes share each load and broadcast (16 accumulators).
// At 64+ tokens this runs at the machine's vpdpbusd issue rate.
//
// Both produce exactly the canonical result of kernels/matmul.h: the integer dot products are
// exact and the float epilogue is the same operation sequence in any lane layout.
#if defined(LFM2_KERNELS_MATMUL_VNNI_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LFM2_KERNELS_MATMUL_VNNI_INL_H_
#undef LFM2_KERNELS_MATMUL_VNNI_INL_H_
#else
#define LFM2_KERNELS_MATMUL_VNNI_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "hwy/highway.h"
#include "base/aligned_buffer.h"
#include "kernels/act_quant-inl.h"
#include "kernels/act_quant.h"
#include "weights/dtype.h"
#include "weights/weight_store.h"

#if HWY_TARGET == HWY_AVX3_DL && !defined(__clang__)
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace lfm2::kernels {
namespace HWY_NAMESPACE {

#if HWY_TARGET == HWY_AVX3_DL && !defined(__clang__)
// Highway's AVX3_DL target string has avxvnni but not avx512vnni (implied by every AVX3_DL CPU),
// so these kernels add it with GCC's target pragma. Clang (used here only for the fuzz builds)
// cannot add a feature inside Highway's target region: it builds the portable kernels instead,
// which give the same results bit for bit (kernels/matmul.h).
#pragma GCC push_options
#pragma GCC target("avx512vnni")

namespace vnni {

struct Unpacker {
  __m512i perm, shift, mask;
};

inline Unpacker MakeUnpacker(int bits) {
  alignas(64) uint8_t perm[64], shift[64];
  for (int j = 0; j < 8; ++j) {
    for (int i = 0; i < 8; ++i) {
      perm[j * 8 + i] = static_cast<uint8_t>(std::min(bits * j + i, 63));
      shift[j * 8 + i] = static_cast<uint8_t>(bits * i);
    }
  }
  return {_mm512_load_si512(perm), _mm512_load_si512(shift),
          _mm512_set1_epi8(static_cast<char>((1 << bits) - 1))};
}

// Byte mask of the packed bytes of `codes` (64 or 32) codes.
inline __mmask64 LoadMask(int bits, int codes) {
  const int bytes = codes * bits / 8;
  return bytes >= 64 ? ~__mmask64{0} : (__mmask64{1} << bytes) - 1;
}

template <int kBits>
inline __m512i Unpack(const Unpacker& u, const uint8_t* p, __mmask64 load) {
  const __m512i raw = _mm512_maskz_loadu_epi8(load, p);
  if constexpr (kBits == 8) {
    return raw;
  } else {
    const __m512i packs = _mm512_permutexvar_epi8(u.perm, raw);
    return _mm512_and_si512(_mm512_multishift_epi64_epi8(u.shift, packs), u.mask);
  }
}

// 16 int32 vectors a[i] (row i) -> lo[i] = sum of lanes 0..7 of a[i], hi[i] = lanes 8..15.
inline void ReduceRows16(const __m512i a[16], __m512i& lo, __m512i& hi) {
  __m512i b[8], c[4];
  for (int p = 0; p < 8; ++p) {
    b[p] = _mm512_add_epi32(_mm512_unpacklo_epi32(a[2 * p], a[2 * p + 1]),
                            _mm512_unpackhi_epi32(a[2 * p], a[2 * p + 1]));
  }
  for (int q = 0; q < 4; ++q) {
    c[q] = _mm512_add_epi32(_mm512_unpacklo_epi64(b[2 * q], b[2 * q + 1]),
                            _mm512_unpackhi_epi64(b[2 * q], b[2 * q + 1]));
  }
  const __m512i d01 = _mm512_add_epi32(_mm512_shuffle_i32x4(c[0], c[1], 0x88),
                                       _mm512_shuffle_i32x4(c[0], c[1], 0xdd));
  const __m512i d23 = _mm512_add_epi32(_mm512_shuffle_i32x4(c[2], c[3], 0x88),
                                       _mm512_shuffle_i32x4(c[2], c[3], 0xdd));
  lo = _mm512_shuffle_i32x4(d01, d23, 0x88);
  hi = _mm512_shuffle_i32x4(d01, d23, 0xdd);
}

// In-place transpose of a 16x16 matrix of floats (r[i] = row i).
inline void Transpose16(__m512 r[16]) {
  __m512i v[16];
  for (int i = 0; i < 16; ++i) v[i] = _mm512_castps_si512(r[i]);
  Transpose16x16(v);
  for (int i = 0; i < 16; ++i) r[i] = _mm512_castsi512_ps(v[i]);
}

// Groups per interleaved set of the matrix-vector kernel (act_quant.h RowsPosition): as many as
// fit one 64-byte load, at most 4, so that one accumulator per row covers the whole set.
constexpr int SetGroups(int bits, int group) {
  const int bytes = group * bits / 8;
  return bytes * 4 <= 64 ? 4 : bytes * 2 <= 64 ? 2 : 1;
}

// vpermb table of a set (act_quant.h RowsPosition): qword slot a * slots + j gathers the bytes of
// packs j * V .. j * V + V - 1 of group a (V * bits <= 8 bytes). For sets of one group (V = 1, each
// 64-code chunk loaded on its own) slot j takes pack j.
inline __m512i SetPermutation(int bits, int group, int set) {
  alignas(64) uint8_t perm[64];
  const int slots = 8 / set, vectors = set == 1 ? 1 : set * group / 64;
  for (int s = 0; s < 8; ++s) {
    const int a = s / slots, first_pack = (s % slots) * vectors;
    for (int i = 0; i < 8; ++i) {
      perm[s * 8 + i] = static_cast<uint8_t>(std::min(a * group * bits / 8 + first_pack * bits + i, 63));
    }
  }
  return _mm512_load_si512(perm);
}

// vpmultishiftqb control extracting, from each qword, the 8 codes of its v-th pack.
inline __m512i SetShift(int bits, int v) {
  alignas(64) uint8_t shift[64];
  for (int i = 0; i < 64; ++i) shift[i] = static_cast<uint8_t>(v * bits * 8 + (i % 8) * bits);
  return _mm512_load_si512(shift);
}

// acc += u8 x s8 dot products (vpdpbusd). As an asm statement with the accumulator tied to the
// output, because GCC 12 copies accumulators around the intrinsic in unrolled loops.
HWY_INLINE __m512i DotAccumulate(__m512i acc, __m512i u8, __m512i s8) {
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
}

// 16 int32 vectors a[i] (row i), each covering 4 groups in 128-bit blocks -> out[b] = the block-b
// sums of rows 0..15 (row i in lane i). 44 ops.
inline void ReduceRows16x4(const __m512i a[16], __m512i out[4]) {
  __m512i b[8], c[4];
  for (int p = 0; p < 8; ++p) {
    b[p] = _mm512_add_epi32(_mm512_unpacklo_epi32(a[2 * p], a[2 * p + 1]),
                            _mm512_unpackhi_epi32(a[2 * p], a[2 * p + 1]));
  }
  for (int q = 0; q < 4; ++q) {
    c[q] = _mm512_add_epi32(_mm512_unpacklo_epi64(b[2 * q], b[2 * q + 1]),
                            _mm512_unpackhi_epi64(b[2 * q], b[2 * q + 1]));
  }
  const __m512i t0 = _mm512_shuffle_i32x4(c[0], c[1], 0x44), t1 = _mm512_shuffle_i32x4(c[0], c[1], 0xee);
  const __m512i t2 = _mm512_shuffle_i32x4(c[2], c[3], 0x44), t3 = _mm512_shuffle_i32x4(c[2], c[3], 0xee);
  out[0] = _mm512_shuffle_i32x4(t0, t2, 0x88);
  out[1] = _mm512_shuffle_i32x4(t0, t2, 0xdd);
  out[2] = _mm512_shuffle_i32x4(t1, t3, 0x88);
  out[3] = _mm512_shuffle_i32x4(t1, t3, 0xdd);
}

// Scales and biases of rows r0 + min(i, n - 1), i < 16, transposed to rows-in-lanes floats:
// scales[g * 16 + i] = s[r, g], biases[g * 16 + i] = fma(center, s[r, g], b[r, g]).
inline void TransposedScales(const WeightMatrix& w, size_t r0, size_t n, size_t groups,
                             float center, float* scales, float* biases) {
  const size_t esize = w.scale_row_bytes / groups;
  const __m512 vcenter = _mm512_set1_ps(center);
  for (size_t g0 = 0; g0 < groups; g0 += 16) {
    const size_t count = std::min<size_t>(16, groups - g0);
    const __mmask16 m = static_cast<__mmask16>((1u << count) - 1u);
    __m512 v[16], u[16];
    if (w.scale_dtype == DType::kF32) {
      for (size_t i = 0; i < 16; ++i) {
        const size_t offset = (r0 + std::min(i, n - 1)) * w.scale_row_bytes + g0 * esize;
        v[i] = _mm512_maskz_loadu_ps(m, w.scales + offset);
        u[i] = _mm512_maskz_loadu_ps(m, w.biases + offset);
      }
      Transpose16(v);
      Transpose16(u);
    } else {
      // 16-bit types: scale and bias of a group share one 32-bit lane (bias in the high half).
      alignas(64) uint16_t interleave[32];
      for (int j = 0; j < 16; ++j) {
        interleave[2 * j] = static_cast<uint16_t>(j);
        interleave[2 * j + 1] = static_cast<uint16_t>(32 + j);
      }
      const __m512i index = _mm512_load_si512(interleave);
      for (size_t i = 0; i < 16; ++i) {
        const size_t offset = (r0 + std::min(i, n - 1)) * w.scale_row_bytes + g0 * esize;
        const __m512i sv = _mm512_castsi256_si512(_mm256_maskz_loadu_epi16(m, w.scales + offset));
        const __m512i bv = _mm512_castsi256_si512(_mm256_maskz_loadu_epi16(m, w.biases + offset));
        v[i] = _mm512_castsi512_ps(_mm512_permutex2var_epi16(sv, index, bv));
      }
      Transpose16(v);
      for (size_t j = 0; j < count; ++j) {
        const __m512i pair = _mm512_castps_si512(v[j]);
        if (w.scale_dtype == DType::kBF16) {
          v[j] = _mm512_castsi512_ps(_mm512_slli_epi32(pair, 16));
          u[j] = _mm512_castsi512_ps(_mm512_and_si512(pair, _mm512_set1_epi32(-65536)));
        } else {
          v[j] = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(pair));
          u[j] = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(pair, 16)));
        }
      }
    }
    for (size_t j = 0; j < count; ++j) {
      _mm512_store_ps(scales + (g0 + j) * 16, v[j]);
      _mm512_store_ps(biases + (g0 + j) * 16, _mm512_fmadd_ps(vcenter, v[j], u[j]));
    }
  }
}

// count values of a scale / bias row (dtype F32, F16 or BF16) -> float out[0, count).
inline void RowToFloat(DType dtype, const uint8_t* p, size_t count, float* out) {
  for (size_t g0 = 0; g0 < count; g0 += 16) {
    const __mmask16 m = static_cast<__mmask16>((1u << std::min<size_t>(16, count - g0)) - 1u);
    __m512 v;
    if (dtype == DType::kF32) {
      v = _mm512_maskz_loadu_ps(m, p + 4 * g0);
    } else {
      const __m256i h = _mm256_maskz_loadu_epi16(m, p + 2 * g0);
      v = dtype == DType::kBF16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
                                : _mm512_cvtph_ps(h);
    }
    _mm512_mask_storeu_ps(out + g0, m, v);
  }
}

// Prefetches (into L2) the packed rows [r0, r0 + rows) - one contiguous block - and their scales
// and biases, clipped to the matrix.
inline void PrefetchRows(const WeightMatrix& w, size_t r0, size_t rows) {
  const size_t end = std::min<size_t>(r0 + rows, static_cast<size_t>(w.rows));
  if (r0 >= end) return;
  const uint8_t* data = w.data + r0 * w.row_bytes;
  for (size_t offset = 0; offset < (end - r0) * w.row_bytes; offset += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(data + offset), _MM_HINT_T1);
  }
  for (size_t offset = 0; offset < (end - r0) * w.scale_row_bytes; offset += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(w.scales + r0 * w.scale_row_bytes + offset), _MM_HINT_T1);
    _mm_prefetch(reinterpret_cast<const char*>(w.biases + r0 * w.scale_row_bytes + offset), _MM_HINT_T1);
  }
}

template <typename T>
void Reserve(AlignedBuffer<T>& buffer, size_t count) {
  if (buffer.size() < count) buffer = AlignedBuffer<T>(count);
}

struct Scratch {
  AlignedBuffer<float> scales, biases;          // GEMV: [groups][16]
  AlignedBuffer<uint8_t> codes;                 // GEMM: [16][cols rounded up to 64]
  AlignedBuffer<float> row_scales, row_biases;  // GEMM: [16][groups]
};

// Largest tile (16 packed rows) whose successor the matrix-vector kernel prefetches into L1.
inline constexpr size_t kL1PrefetchTileBytes = 16 << 10;

// Tokens per pass of the matrix-vector kernel over one tile (its per-token accumulators).
inline constexpr size_t kGemvMaxTokens = 8;

// Rows [r0, r0 + n) (n <= 16) for every token of xq (kRows layout, set_groups =
// SetGroups(kBits, kGroup)).
template <int kBits, int kGroup>
void GemvTile(const WeightMatrix& w, const QuantizedActivations& xq, size_t r0, size_t n, float* y,
              size_t y_stride, Scratch& s) {
  constexpr int kSet = SetGroups(kBits, kGroup);
  // 64-code vectors per set; sets of one group read each vector from its own 8*bits bytes.
  constexpr int kVectors = kSet == 1 ? kGroup / 64 : kSet * kGroup / 64;
  constexpr size_t kSetBytes = kSet * kGroup * kBits / 8;
  const size_t groups = xq.groups;
  Reserve(s.scales, groups * 16);
  Reserve(s.biases, groups * 16);
  TransposedScales(w, r0, n, groups, static_cast<float>(1 << (kBits - 1)), s.scales.data(),
                   s.biases.data());
  const uint8_t* rows[16];
  for (size_t i = 0; i < 16; ++i) rows[i] = w.data + (r0 + std::min(i, n - 1)) * w.row_bytes;
  // A set's V vectors come from one load and one vpermb (none when the packs already sit in
  // place, V * bits == 8), then one vpmultishiftqb + mask per vector.
  constexpr bool kPermute = kBits != 8 && !(kSet > 1 && kVectors * kBits == 8);
  const __m512i perm = SetPermutation(kBits, kGroup, kSet);
  __m512i shift[kSet == 1 ? 1 : kVectors];
  for (int v = 0; v < (kSet == 1 ? 1 : kVectors); ++v) shift[v] = SetShift(kBits, v);
  const __m512i mask = _mm512_set1_epi8(static_cast<char>((1 << kBits) - 1));
  auto permute = [&](const __m512i raw) __attribute__((always_inline)) {
    if constexpr (kPermute) {
      return _mm512_permutexvar_epi8(perm, raw);
    } else {
      return raw;
    }
  };
  auto extract = [&](const __m512i packs, int v) __attribute__((always_inline)) {
    if constexpr (kBits == 8) {
      return packs;
    } else {
      return _mm512_and_si512(_mm512_multishift_epi64_epi8(shift[v], packs), mask);
    }
  };
  const __mmask16 store_mask = static_cast<__mmask16>((1u << n) - 1u);
  const float* S = s.scales.data();
  const float* B = s.biases.data();
  const size_t sets = (groups + kSet - 1) / kSet;
  // The 16 rows are read as 16 short interleaved streams the hardware prefetchers do not follow;
  // fetch the next tile (one contiguous block) while this one computes.
  const uint8_t* next = w.data + (r0 + 16) * w.row_bytes;
  const size_t next_lines = (16 * w.row_bytes + 63) / 64;
  const size_t lines_per_set = (next_lines + sets - 1) / sets;
  // The next tile's scales and biases: two contiguous blocks of 16 rows (every line of them;
  // their rows are rarely line-aligned).
  {
    const uintptr_t scale_begin = reinterpret_cast<uintptr_t>(w.scales + (r0 + 16) * w.scale_row_bytes);
    const uintptr_t bias_begin = reinterpret_cast<uintptr_t>(w.biases + (r0 + 16) * w.scale_row_bytes);
    const size_t span = 16 * w.scale_row_bytes + (scale_begin & 63) + 63;
    for (size_t offset = 0; offset < span; offset += 64) {
      _mm_prefetch(reinterpret_cast<const char*>((scale_begin & ~uintptr_t{63}) + offset), _MM_HINT_T0);
    }
    const size_t bias_span = 16 * w.scale_row_bytes + (bias_begin & 63) + 63;
    for (size_t offset = 0; offset < bias_span; offset += 64) {
      _mm_prefetch(reinterpret_cast<const char*>((bias_begin & ~uintptr_t{63}) + offset), _MM_HINT_T0);
    }
  }
  // Per row and set: codes . hi, shifted up 8 bits, plus codes . lo (act_quant.h), all exact.
  auto row_dot = [&](const __m512i* codes, const uint8_t* xv) __attribute__((always_inline)) {
    __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), codes[0], _mm512_load_si512(xv));
    for (int v = 1; v < kVectors; ++v) sum = _mm512_dpbusd_epi32(sum, codes[v], _mm512_load_si512(xv + v * 64));
    sum = _mm512_slli_epi32(sum, 8);
    for (int v = 0; v < kVectors; ++v) {
      sum = _mm512_dpbusd_epi32(sum, codes[v], _mm512_load_si512(xv + xq.plane_bytes + v * 64));
    }
    return sum;
  };
  // The codes of row i in set `set` (kVectors vectors of 64).
  auto unpack = [&](int i, size_t set, size_t present, __m512i* codes) __attribute__((always_inline)) {
    if constexpr (kSet == 1) {
      const __mmask64 load = LoadMask(kBits, 64);
      for (int v = 0; v < kVectors; ++v) {
        codes[v] = extract(permute(_mm512_maskz_loadu_epi8(load, rows[i] + set * kSetBytes + v * 8 * kBits)), 0);
      }
    } else {
      const __mmask64 load = LoadMask(kBits, static_cast<int>(present * kGroup));
      const __m512i packs = permute(_mm512_maskz_loadu_epi8(load, rows[i] + set * kSetBytes));
      for (int v = 0; v < kVectors; ++v) codes[v] = extract(packs, v);
    }
  };
  // Per group: the 16 rows' exact dots (rows in lanes) -> fma into acc (kernels/matmul.h order).
  auto epilogue = [&](size_t t, __m512i dot, size_t g, __m512& acc) __attribute__((always_inline)) {
    const size_t e = t * groups + g;
    dot = _mm512_sub_epi32(dot, _mm512_set1_epi32(xq.qsum[e] << (kBits - 1)));
    const __m512 sd = _mm512_mul_ps(_mm512_load_ps(S + g * 16), _mm512_set1_ps(xq.scale[e]));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), sd, acc);
    acc = _mm512_fmadd_ps(_mm512_load_ps(B + g * 16), _mm512_set1_ps(xq.sum[e]), acc);
  };
  auto reduce = [&](size_t t, const __m512i a[16], size_t g0, size_t present, __m512& acc) __attribute__((always_inline)) {
    if constexpr (kSet == 4) {
      __m512i out[4];
      ReduceRows16x4(a, out);
      for (size_t j = 0; j < present; ++j) epilogue(t, out[j], g0 + j, acc);
    } else {
      __m512i lo, hi;
      ReduceRows16(a, lo, hi);
      if constexpr (kSet == 1) {
        epilogue(t, _mm512_add_epi32(lo, hi), g0, acc);
      } else {
        epilogue(t, lo, g0, acc);
        if (present > 1) epilogue(t, hi, g0 + 1, acc);
      }
    }
  };
  // Into L1 while two tiles fit there beside the activations; larger tiles (6- and 8-bit rows
  // of 2048+ columns) into L2, or the prefetched lines evict the ones being read.
  const bool next_to_l1 = 16 * w.row_bytes <= kL1PrefetchTileBytes;
  auto prefetch_next = [&](size_t set) __attribute__((always_inline)) {
    const size_t end = std::min(next_lines, (set + 1) * lines_per_set);
    for (size_t l = set * lines_per_set; l < end; ++l) {
      if (next_to_l1) {
        _mm_prefetch(reinterpret_cast<const char*>(next + l * 64), _MM_HINT_T0);
      } else {
        _mm_prefetch(reinterpret_cast<const char*>(next + l * 64), _MM_HINT_T1);
      }
    }
  };
  if (xq.tokens == 1) {
    __m512 acc = _mm512_setzero_ps();
    for (size_t set = 0; set < sets; ++set) {
      const size_t g0 = set * kSet;
      const size_t present = std::min<size_t>(kSet, groups - g0);
      prefetch_next(set);
      const uint8_t* xv = xq.q + set * kVectors * 64;
      __m512i a[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) {
        __m512i codes[kVectors];
        unpack(i, set, present, codes);
        a[i] = row_dot(codes, xv);
      }
      reduce(0, a, g0, present, acc);
    }
    _mm512_mask_storeu_ps(y + r0, store_mask, acc);
    return;
  }
  // Several tokens (a batched decode step): each row's codes are unpacked once per set and
  // multiplied by every token's activations; then per token the same reduction and epilogue.
  for (size_t t0 = 0; t0 < xq.tokens; t0 += kGemvMaxTokens) {
    const size_t count = std::min(kGemvMaxTokens, xq.tokens - t0);
    __m512 acc[kGemvMaxTokens];
    for (size_t t = 0; t < count; ++t) acc[t] = _mm512_setzero_ps();
    alignas(64) __m512i a[kGemvMaxTokens][16];
    for (size_t set = 0; set < sets; ++set) {
      const size_t g0 = set * kSet;
      const size_t present = std::min<size_t>(kSet, groups - g0);
      if (t0 == 0) prefetch_next(set);
      const uint8_t* xv = xq.q + t0 * xq.q_stride + set * kVectors * 64;
#pragma GCC unroll 4
      for (int i = 0; i < 16; ++i) {
        __m512i codes[kVectors];
        unpack(i, set, present, codes);
        for (size_t t = 0; t < count; ++t) a[t][i] = row_dot(codes, xv + t * xq.q_stride);
      }
      for (size_t t = 0; t < count; ++t) reduce(t0 + t, a[t], g0, present, acc[t]);
    }
    for (size_t t = 0; t < count; ++t) {
      _mm512_mask_storeu_ps(y + (t0 + t) * y_stride + r0, store_mask, acc[t]);
    }
  }
}

// Token blocks processed together by the matrix-matrix kernel: each broadcast weight word then
// feeds 2 * kB vpdpbusd (hi and lo planes).
inline constexpr size_t kGemmBlocks = 2;

// The unpacked tile (s.codes etc.) against token blocks [b0, b0 + kB): kGemmRows rows at a time,
// kPlanes int32 accumulators (hi, lo) per (row, block) and group, the float epilogue per group
// into a 16-row x kB-block buffer that is transposed into y's token rows at the end. With one
// plane (8-bit activations) twice as many rows share each activation load: 16 accumulators and
// one broadcast per 2 * kB dot products either way.
template <int kPlanes>
inline constexpr size_t kGemmRows = kPlanes == 2 ? 4 : 8;

// kTiled: the tile was unpacked from the tiled layout, vector by vector ([groups][J][16 rows][4]
// codes; scales and biases [groups][16]) instead of row by row ([16][padded]; [16][groups]).
template <int kBits, int kGroup, int kB, bool kTiled, int kPlanes>
void GemmRows(const QuantizedActivations& xq, size_t b0, size_t n, size_t padded, size_t r0,
              float* y, size_t y_stride, Scratch& s) {
  constexpr size_t kBlock = QuantizedActivations::kBlock;
  const size_t groups = xq.groups;
  const uint8_t* x[kB];
  const float* d[kB];
  const float* xs[kB];
  const int32_t* qs[kB];
  for (int b = 0; b < kB; ++b) {
    x[b] = xq.q + (b0 + b) * xq.q_stride;
    d[b] = xq.scale + (b0 + b) * groups * kBlock;
    xs[b] = xq.sum + (b0 + b) * groups * kBlock;
    qs[b] = xq.qsum + (b0 + b) * groups * kBlock;
  }
  // Results of the tile's 16 rows for the kB blocks (rows in 16-float lines), written to y below
  // as whole per-token rows.
  constexpr size_t kRows = kGemmRows<kPlanes>;
  alignas(64) float out[16][kB][kBlock];
  for (size_t i0 = 0; i0 < n; i0 += kRows) {
    size_t rows[kRows];
    const uint8_t* codes[kRows];
    for (size_t r = 0; r < kRows; ++r) {
      rows[r] = std::min(i0 + r, n - 1);
      codes[r] = s.codes.data() + rows[r] * (kTiled ? 4 : padded);
    }
    for (size_t r = 0; r < kRows && i0 + r < 16; ++r) {
      for (int b = 0; b < kB; ++b) _mm512_store_ps(out[i0 + r][b], _mm512_setzero_ps());
    }
    for (size_t g = 0; g < groups; ++g) {
      // Per (row, block): codes . hi and codes . lo; the low sum starts at -c * qsum, which
      // centres the codes (kernels/matmul.h).
      // With one plane the low sum is zero: the centring term alone.
      __m512i acc_hi[kRows][kB], acc_lo[kPlanes == 2 ? kRows : 1][kB], init[kB];
      for (int b = 0; b < kB; ++b) {
        init[b] = _mm512_sub_epi32(
            _mm512_setzero_si512(), _mm512_slli_epi32(_mm512_loadu_si512(qs[b] + g * kBlock), kBits - 1));
        for (size_t r = 0; r < kRows; ++r) {
          acc_hi[r][b] = _mm512_setzero_si512();
          if constexpr (kPlanes == 2) acc_lo[r][b] = init[b];
        }
      }
#pragma GCC unroll 1
      for (size_t j = 0; j < kGroup / 4; ++j) {
        __m512i x_hi[kB], x_lo[kB];
        for (int b = 0; b < kB; ++b) {
          x_hi[b] = _mm512_load_si512(x[b] + (g * kGroup / 4 + j) * 64);
          if constexpr (kPlanes == 2) x_lo[b] = _mm512_load_si512(x[b] + xq.plane_bytes + (g * kGroup / 4 + j) * 64);
        }
        for (size_t r = 0; r < kRows; ++r) {
          int32_t word;
          std::memcpy(&word, codes[r] + (kTiled ? (g * kGroup / 4 + j) * 64 : g * kGroup + j * 4), 4);
          const __m512i wv = _mm512_set1_epi32(word);
          for (int b = 0; b < kB; ++b) {
            acc_hi[r][b] = DotAccumulate(acc_hi[r][b], wv, x_hi[b]);
            if constexpr (kPlanes == 2) acc_lo[r][b] = DotAccumulate(acc_lo[r][b], wv, x_lo[b]);
          }
        }
      }
      for (size_t r = 0; r < kRows && i0 + r < 16; ++r) {
        const size_t at = kTiled ? g * 16 + rows[r] : rows[r] * groups + g;
        const __m512 sv = _mm512_set1_ps(s.row_scales[at]);
        const __m512 bv = _mm512_set1_ps(s.row_biases[at]);
        for (int b = 0; b < kB; ++b) {
          const __m512i dot = _mm512_add_epi32(_mm512_slli_epi32(acc_hi[r][b], 8),
                                               kPlanes == 2 ? acc_lo[r][b] : init[b]);
          const __m512 sd = _mm512_mul_ps(_mm512_loadu_ps(d[b] + g * kBlock), sv);
          __m512 acc_y = _mm512_load_ps(out[i0 + r][b]);
          acc_y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), sd, acc_y);
          acc_y = _mm512_fmadd_ps(_mm512_loadu_ps(xs[b] + g * kBlock), bv, acc_y);
          _mm512_store_ps(out[i0 + r][b], acc_y);
        }
      }
    }
  }
  const __mmask16 row_mask = static_cast<__mmask16>((1u << n) - 1u);
  for (int b = 0; b < kB; ++b) {
    __m512 v[16];
    for (size_t i = 0; i < 16; ++i) v[i] = _mm512_load_ps(out[std::min(i, n - 1)][b]);
    Transpose16(v);
    const size_t t0 = (b0 + b) * kBlock;
    const size_t tokens = std::min(kBlock, xq.tokens - t0);
    for (size_t l = 0; l < tokens; ++l) _mm512_mask_storeu_ps(y + (t0 + l) * y_stride + r0, row_mask, v[l]);
  }
}

// The unpacked tile against every token block of xq, kGemmBlocks at a time.
template <int kBits, int kGroup, bool kTiled>
void GemmBlocks(const QuantizedActivations& xq, size_t n, size_t padded, size_t r0, float* y,
                size_t y_stride, Scratch& s) {
  for (size_t b = 0; b < xq.blocks(); b += kGemmBlocks) {
    const bool pair = xq.blocks() - b >= 2;
    if (xq.planes == 1) {
      if (pair) {
        GemmRows<kBits, kGroup, 2, kTiled, 1>(xq, b, n, padded, r0, y, y_stride, s);
      } else {
        GemmRows<kBits, kGroup, 1, kTiled, 1>(xq, b, n, padded, r0, y, y_stride, s);
      }
    } else if (pair) {
      GemmRows<kBits, kGroup, 2, kTiled, 2>(xq, b, n, padded, r0, y, y_stride, s);
    } else {
      GemmRows<kBits, kGroup, 1, kTiled, 2>(xq, b, n, padded, r0, y, y_stride, s);
    }
  }
}

// Rows [r0, r0 + n) (n <= 16) for every token of xq (kTokenBlocks layout).
template <int kBits, int kGroup>
void GemmTile(const WeightMatrix& w, const QuantizedActivations& xq, size_t r0, size_t n, float* y,
              size_t y_stride, Scratch& s) {
  const size_t cols = xq.cols, groups = xq.groups;
  const size_t padded = (cols + 63) / 64 * 64;
  Reserve(s.codes, 16 * padded);
  Reserve(s.row_scales, 16 * groups);
  Reserve(s.row_biases, 16 * groups);
  // The next tile's weights arrive while this one computes.
  PrefetchRows(w, r0 + 16, 16);
  // Codes as bytes (the unsigned operand), scales and centred biases as floats.
  const Unpacker u = MakeUnpacker(kBits);
  constexpr size_t kChunkBytes = 8 * kBits;
  const __m512 center = _mm512_set1_ps(static_cast<float>(1 << (kBits - 1)));
  for (size_t i = 0; i < n; ++i) {
    const size_t r = r0 + i;
    const uint8_t* row = w.data + r * w.row_bytes;
    uint8_t* codes = s.codes.data() + i * padded;
    for (size_t c = 0; c * 64 < cols; ++c) {
      const int valid = static_cast<int>(std::min<size_t>(64, cols - c * 64));
      _mm512_store_si512(codes + c * 64, Unpack<kBits>(u, row + c * kChunkBytes, LoadMask(kBits, valid)));
    }
    float* scales = s.row_scales.data() + i * groups;
    float* biases = s.row_biases.data() + i * groups;
    RowToFloat(w.scale_dtype, w.scales + r * w.scale_row_bytes, groups, scales);
    RowToFloat(w.scale_dtype, w.biases + r * w.scale_row_bytes, groups, biases);
    for (size_t g0 = 0; g0 < groups; g0 += 16) {
      const __mmask16 m = static_cast<__mmask16>((1u << std::min<size_t>(16, groups - g0)) - 1u);
      _mm512_mask_storeu_ps(biases + g0, m,
                            _mm512_fmadd_ps(center, _mm512_maskz_loadu_ps(m, scales + g0),
                                            _mm512_maskz_loadu_ps(m, biases + g0)));
    }
  }
  GemmBlocks<kBits, kGroup, false>(xq, n, padded, r0, y, y_stride, s);
}


using TileFn = void (*)(const WeightMatrix&, const QuantizedActivations&, size_t, size_t, float*,
                        size_t, Scratch&);

template <template <int, int> class Pick>
TileFn SelectTile(int bits, int group) {
  auto by_group = [&](auto bits_constant) -> TileFn {
    constexpr int kBits = decltype(bits_constant)::value;
    switch (group) {
      case 32: return Pick<kBits, 32>::fn;
      case 64: return Pick<kBits, 64>::fn;
      default: return Pick<kBits, 128>::fn;
    }
  };
  switch (bits) {
    case 2: return by_group(std::integral_constant<int, 2>());
    case 3: return by_group(std::integral_constant<int, 3>());
    case 4: return by_group(std::integral_constant<int, 4>());
    case 5: return by_group(std::integral_constant<int, 5>());
    case 6: return by_group(std::integral_constant<int, 6>());
    default: return by_group(std::integral_constant<int, 8>());
  }
}

template <int kBits, int kGroup>
struct PickGemv {
  static constexpr TileFn fn = &GemvTile<kBits, kGroup>;
};
template <int kBits, int kGroup>
struct PickGemm {
  static constexpr TileFn fn = &GemmTile<kBits, kGroup>;
};

}  // namespace vnni

#pragma GCC pop_options
#endif  // HWY_TARGET == HWY_AVX3_DL

}  // namespace HWY_NAMESPACE
}  // namespace lfm2::kernels
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
