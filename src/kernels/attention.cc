// kernels/attention.cc - the tiled attention kernel (kernels/attention.h) per Highway target, and
// its scalar twin.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/attention.h"
#include "kernels/act_quant.h"
#include "weights/dtype.h"

HWY_BEFORE_NAMESPACE();
namespace lfm2::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Query rows per register tile of the score product (each key vector load feeds this many rows).
constexpr size_t kRowTile = 4;
// A score that takes no part: exp(kMasked - m) is 0 for any m a real score gives.
constexpr float kMasked = -1e30f;

// `lanes` cached elements from element `offset` as floats.
template <KvType kType, class D>
HWY_INLINE hn::Vec<D> LoadCached(D d, const void* base, size_t offset) {
  if constexpr (kType == KvType::kF32) {
    return hn::LoadU(d, static_cast<const float*>(base) + offset);
  } else if constexpr (kType == KvType::kF16) {
    const hn::Rebind<hwy::float16_t, D> dh;
    return hn::PromoteTo(d, hn::LoadU(dh, static_cast<const hwy::float16_t*>(base) + offset));
  } else {
    const hn::Rebind<int8_t, D> d8;
    const hn::RebindToSigned<D> di;
    return hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(d8, static_cast<const int8_t*>(base) + offset)));
  }
}

// Value vectors per row and pass of the p v accumulation: kRowTile x this many accumulators stay
// in registers (16 of AVX-512's 32, 8 of AVX2's 16).
constexpr size_t kValueVectors = HWY_MAX_BYTES >= 64 ? 4 : 2;
// The weights of a row that takes no part in a block.
alignas(64) constexpr float kZeros[kAttentionKeyBlock] = {};

// For each of the kRowTile rows: o_r[c0, c0 + kCount vectors) = c_r o_r + sum_{j < valid} p_rj v_j,
// with the kRowTile x kCount sums in registers (counts known at compile time keep GCC from
// spilling them at every position) and each v_j vector loaded once for all rows.
template <size_t kCount, KvType kType, class D>
HWY_INLINE void AccumulateValues(D d, float* const* o, size_t c0, const hn::Vec<D>* correction,
                                 const void* values, size_t first, size_t head_dim,
                                 const float* const* p, size_t valid) {
  const size_t lanes = hn::Lanes(d);
  hn::Vec<D> acc[kRowTile][kCount];
  HWY_UNROLL(4)
  for (size_t r = 0; r < kRowTile; ++r) {
    HWY_UNROLL(4)
    for (size_t v = 0; v < kCount; ++v) acc[r][v] = hn::Mul(hn::LoadU(d, o[r] + c0 + v * lanes), correction[r]);
  }
  size_t value = first;
  for (size_t j = 0; j < valid; ++j, value += head_dim) {
    hn::Vec<D> x[kCount];
    HWY_UNROLL(4)
    for (size_t v = 0; v < kCount; ++v) x[v] = LoadCached<kType>(d, values, value + v * lanes);
    HWY_UNROLL(4)
    for (size_t r = 0; r < kRowTile; ++r) {
      const hn::Vec<D> w = hn::Set(d, p[r][j]);
      HWY_UNROLL(4)
      for (size_t v = 0; v < kCount; ++v) acc[r][v] = hn::MulAdd(w, x[v], acc[r][v]);
    }
  }
  HWY_UNROLL(4)
  for (size_t r = 0; r < kRowTile; ++r) {
    HWY_UNROLL(4)
    for (size_t v = 0; v < kCount; ++v) hn::StoreU(acc[r][v], d, o[r] + c0 + v * lanes);
  }
}

template <KvType kType>
void AttentionTyped(const AttentionRows& rows, const KvHead& kv, float scale, float* scratch) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const void* HWY_RESTRICT keys = kv.keys;
  const void* HWY_RESTRICT values = kv.values;
  const size_t head_dim = kv.head_dim;
  const size_t lanes = hn::Lanes(d);
  const size_t n = rows.rows;
  if (n == 0) return;
  // Per row: o[head_dim], then m and l.
  float* o = scratch;
  float* m = o + n * head_dim;
  float* l = m + n;
  std::fill_n(o, n * head_dim, 0.0f);
  std::fill_n(m, n, kMasked);
  std::fill_n(l, n, 0.0f);
  int64_t max_limit = 0;
  for (size_t i = 0; i < n; ++i) max_limit = std::max(max_limit, rows.limit[i]);

  constexpr size_t kBlock = kAttentionKeyBlock;
  HWY_ALIGN float scores[kRowTile][kBlock];
  float* dummy_out = l + n;  // the spare row: sums of rows that take no part
  const size_t vectors_per_block = (kBlock + lanes - 1) / lanes;
  for (size_t kb = 0; kb < static_cast<size_t>(max_limit); kb += kBlock) {
    for (size_t r0 = 0; r0 < n; r0 += kRowTile) {
      // Keys of this block the tile's rows see.
      size_t valid[kRowTile];
      size_t tile_keys = 0;
      const float* q[kRowTile];
      for (size_t r = 0; r < kRowTile; ++r) {
        const size_t i = std::min(r0 + r, n - 1);
        q[r] = rows.q[i];
        const int64_t limit = r0 + r < n ? rows.limit[i] : 0;
        valid[r] = limit > static_cast<int64_t>(kb) ? std::min<size_t>(kBlock, static_cast<size_t>(limit) - kb) : 0;
        tile_keys = std::max(tile_keys, valid[r]);
      }
      if (tile_keys == 0) continue;
      const size_t key_vectors = std::min(vectors_per_block, (tile_keys + lanes - 1) / lanes);
      // Scores: scale * q . k, two key vectors of kRowTile rows at a time (the block's keys are
      // whole vectors of its storage; positions past the limits are masked below).
      const size_t block_keys = kb * head_dim;
      for (size_t jv = 0; jv < key_vectors; jv += 2) {
        const bool two = jv + 1 < key_vectors;
        V acc0[kRowTile], acc1[kRowTile];
        for (size_t r = 0; r < kRowTile; ++r) acc0[r] = acc1[r] = hn::Zero(d);
        for (size_t c = 0; c < head_dim; ++c) {
          const size_t at = block_keys + c * kBlock + jv * lanes;
          const V k0 = LoadCached<kType>(d, keys, at);
          const V k1 = two ? LoadCached<kType>(d, keys, at + lanes) : hn::Zero(d);
          for (size_t r = 0; r < kRowTile; ++r) {
            const V qv = hn::Set(d, q[r][c]);
            acc0[r] = hn::MulAdd(qv, k0, acc0[r]);
            acc1[r] = hn::MulAdd(qv, k1, acc1[r]);
          }
        }
        const V vscale = hn::Set(d, scale);
        for (size_t r = 0; r < kRowTile; ++r) {
          hn::Store(hn::Mul(acc0[r], vscale), d, scores[r] + jv * lanes);
          if (two) hn::Store(hn::Mul(acc1[r], vscale), d, scores[r] + (jv + 1) * lanes);
        }
      }
      // Per row: mask, online softmax update (p_j replaces s_j; times the value scale for int8).
      float corrections[kRowTile];
      for (size_t r = 0; r < kRowTile && r0 + r < n; ++r) {
        if (valid[r] == 0) continue;
        float* s = scores[r];
        if constexpr (kType == KvType::kQ8) {
          for (size_t j = 0; j < valid[r]; ++j) s[j] *= kv.key_scales[kb + j];
        }
        for (size_t j = valid[r]; j < key_vectors * lanes; ++j) s[j] = kMasked;
        V vmax = hn::Load(d, s);
        for (size_t v = 1; v < key_vectors; ++v) vmax = hn::Max(vmax, hn::Load(d, s + v * lanes));
        const size_t i = r0 + r;
        const float m_new = std::max(m[i], hn::GetLane(hn::MaxOfLanes(d, vmax)));
        const float correction = std::exp(m[i] - m_new);
        m[i] = m_new;
        const V vm = hn::Set(d, m_new);
        V vsum = hn::Zero(d);
        for (size_t v = 0; v < key_vectors; ++v) {
          const V p = hn::CallExp(d, hn::Sub(hn::Load(d, s + v * lanes), vm));
          hn::Store(p, d, s + v * lanes);
          vsum = hn::Add(vsum, p);
        }
        l[i] = l[i] * correction + hn::GetLane(hn::SumOfLanes(d, vsum));
        corrections[r] = correction;
        if constexpr (kType == KvType::kQ8) {
          for (size_t j = 0; j < valid[r]; ++j) s[j] *= kv.value_scales[kb + j];
        }
      }
      // o = c o + sum_j p_j v_j for the tile's rows together: each value vector is loaded once
      // for all of them. Rows without keys in this block (and rows past n) add nothing to a
      // dummy; positions past a row's own limit have p_j = 0, which leaves its sums unchanged.
      float* outs[kRowTile];
      const float* weights[kRowTile];
      V vc[kRowTile];
      size_t block_valid = 0;
      for (size_t r = 0; r < kRowTile; ++r) {
        const bool active = r0 + r < n && valid[r] > 0;
        outs[r] = active ? o + (r0 + r) * head_dim : dummy_out;
        weights[r] = active ? scores[r] : kZeros;
        vc[r] = hn::Set(d, active ? corrections[r] : 1.0f);
        block_valid = std::max(block_valid, valid[r]);
      }
      for (size_t c0 = 0; c0 < head_dim; c0 += kValueVectors * lanes) {
        const size_t count = std::min<size_t>(kValueVectors, (head_dim - c0 + lanes - 1) / lanes);
        const size_t first = kb * head_dim + c0;
        switch (count) {
          case 1: AccumulateValues<1, kType>(d, outs, c0, vc, values, first, head_dim, weights, block_valid); break;
          case 2: AccumulateValues<2, kType>(d, outs, c0, vc, values, first, head_dim, weights, block_valid); break;
          case 3: AccumulateValues<3, kType>(d, outs, c0, vc, values, first, head_dim, weights, block_valid); break;
          default: AccumulateValues<4, kType>(d, outs, c0, vc, values, first, head_dim, weights, block_valid); break;
        }
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const float inv = 1.0f / l[i];
    for (size_t c = 0; c < head_dim; ++c) rows.out[i][c] = o[i * head_dim + c] * inv;
  }
}

void AttentionImpl(const AttentionRows& rows, const KvHead& kv, float scale, float* scratch) {
  switch (kv.type) {
    case KvType::kF32: return AttentionTyped<KvType::kF32>(rows, kv, scale, scratch);
    case KvType::kF16: return AttentionTyped<KvType::kF16>(rows, kv, scale, scratch);
    case KvType::kQ8: return AttentionTyped<KvType::kQ8>(rows, kv, scale, scratch);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lfm2::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lfm2::kernels {

HWY_EXPORT(AttentionImpl);

size_t KvTypeBytes(KvType type) { return type == KvType::kF32 ? 4 : type == KvType::kF16 ? 2 : 1; }
int KvTypeBits(KvType type) { return static_cast<int>(8 * KvTypeBytes(type)); }

namespace {

// float32 -> IEEE half, round to nearest even (overflow to infinity, subnormals kept).
uint16_t F32ToF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520
  if (abs < 0x38800000u) {
    // Subnormal half (or zero): the value in units of 2^-24, rounded to nearest even.
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // below half of 2^-24
    const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    const int shift = 126 - static_cast<int>(abs >> 23);  // 14 .. 24
    uint32_t half = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = ((abs - 0x38000000u) >> 13);  // rebias the exponent, keep 10 mantissa bits
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // may carry into the exponent
  return static_cast<uint16_t>(sign | half);
}

float ToFloat(KvType type, const void* base, size_t index) {
  switch (type) {
    case KvType::kF32: return static_cast<const float*>(base)[index];
    case KvType::kF16: return F16ToF32(static_cast<const uint16_t*>(base)[index]);
    case KvType::kQ8: return static_cast<float>(static_cast<const int8_t*>(base)[index]);
  }
  return 0.0f;
}

// Stores n floats x[i] at base[i * stride] as `type`; for kQ8 returns the scale (else 1).
float StoreConverted(KvType type, const float* x, size_t n, void* base, size_t stride) {
  switch (type) {
    case KvType::kF32:
      for (size_t i = 0; i < n; ++i) static_cast<float*>(base)[i * stride] = x[i];
      return 1.0f;
    case KvType::kF16:
      for (size_t i = 0; i < n; ++i) static_cast<uint16_t*>(base)[i * stride] = F32ToF16(x[i]);
      return 1.0f;
    case KvType::kQ8: {
      float amax = 0.0f;
      for (size_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
      const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
      for (size_t i = 0; i < n; ++i) {
        static_cast<int8_t*>(base)[i * stride] = static_cast<int8_t>(RoundHalfEven(x[i] * inv));
      }
      return amax / 127.0f;
    }
  }
  return 1.0f;
}

}  // namespace

void StoreKv(const KvHead& head, size_t pos, const float* key, const float* value) {
  const size_t bytes = KvTypeBytes(head.type), block = pos / kAttentionKeyBlock * kAttentionKeyBlock;
  const float key_scale = StoreConverted(head.type, key, head.head_dim,
                                         static_cast<uint8_t*>(head.keys) + (block * head.head_dim + pos - block) * bytes,
                                         kAttentionKeyBlock);
  const float value_scale = StoreConverted(head.type, value, head.head_dim,
                                           static_cast<uint8_t*>(head.values) + pos * head.head_dim * bytes, 1);
  if (head.type == KvType::kQ8) {
    head.key_scales[pos] = key_scale;
    head.value_scales[pos] = value_scale;
  }
}

float CachedKey(const KvHead& head, size_t j, size_t c) {
  const size_t block = j / kAttentionKeyBlock * kAttentionKeyBlock;
  return ToFloat(head.type, head.keys, block * head.head_dim + c * kAttentionKeyBlock + j - block);
}

float CachedValue(const KvHead& head, size_t j, size_t c) {
  return ToFloat(head.type, head.values, j * head.head_dim + c);
}

void Attention(const AttentionRows& rows, const KvHead& kv, float scale, float* scratch) {
  HWY_DYNAMIC_DISPATCH(AttentionImpl)(rows, kv, scale, scratch);
}

namespace scalar {

void Attention(const AttentionRows& rows, const KvHead& kv, float scale, float*) {
  const size_t head_dim = kv.head_dim;
  const bool q8 = kv.type == KvType::kQ8;
  std::vector<float> o(head_dim), s(kAttentionKeyBlock);
  for (size_t i = 0; i < rows.rows; ++i) {
    const size_t limit = static_cast<size_t>(rows.limit[i]);
    std::fill(o.begin(), o.end(), 0.0f);
    float m = -1e30f, l = 0.0f;
    for (size_t kb = 0; kb < limit; kb += kAttentionKeyBlock) {
      const size_t valid = std::min(kAttentionKeyBlock, limit - kb);
      float block_max = -1e30f;
      for (size_t j = 0; j < valid; ++j) {
        float dot = 0.0f;
        for (size_t c = 0; c < head_dim; ++c) dot += rows.q[i][c] * CachedKey(kv, kb + j, c);
        s[j] = scale * dot;
        if (q8) s[j] *= kv.key_scales[kb + j];
        block_max = std::max(block_max, s[j]);
      }
      const float m_new = std::max(m, block_max);
      const float correction = std::exp(m - m_new);
      m = m_new;
      float sum = 0.0f;
      for (size_t j = 0; j < valid; ++j) sum += (s[j] = std::exp(s[j] - m_new));
      l = l * correction + sum;
      for (size_t c = 0; c < head_dim; ++c) {
        float acc = o[c] * correction;
        for (size_t j = 0; j < valid; ++j) {
          acc += (q8 ? s[j] * kv.value_scales[kb + j] : s[j]) * CachedValue(kv, kb + j, c);
        }
        o[c] = acc;
      }
    }
    for (size_t c = 0; c < head_dim; ++c) rows.out[i][c] = o[c] * (1.0f / l);
  }
}

}  // namespace scalar
}  // namespace lfm2::kernels
#endif  // HWY_ONCE
