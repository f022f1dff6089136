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

HWY_BEFORE_NAMESPACE();
namespace lfm2::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Query rows per register tile of the score product (each key vector load feeds this many rows).
constexpr size_t kRowTile = 4;
// A score that takes no part: exp(kMasked - m) is 0 for any m a real score gives.
constexpr float kMasked = -1e30f;

void AttentionImpl(const AttentionRows& rows, const float* HWY_RESTRICT keys, size_t key_stride,
                   const float* HWY_RESTRICT values, size_t head_dim, float scale, float* scratch) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
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
  HWY_ALIGN float tail[2 * HWY_MAX_BYTES / sizeof(float)];
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
      // Scores: scale * q . k, two key vectors of kRowTile rows at a time.
      for (size_t jv = 0; jv < key_vectors; jv += 2) {
        const bool two = jv + 1 < key_vectors;
        const size_t first = kb + jv * lanes;
        const size_t span = (two ? 2 : 1) * lanes;
        const bool inside = first + span <= key_stride;
        V acc0[kRowTile], acc1[kRowTile];
        for (size_t r = 0; r < kRowTile; ++r) acc0[r] = acc1[r] = hn::Zero(d);
        for (size_t c = 0; c < head_dim; ++c) {
          const float* k = keys + c * key_stride + first;
          if (!inside) {
            // The last positions of the cache: copy what exists, zero the rest (masked below).
            const size_t have = key_stride - first;
            std::fill_n(tail, span, 0.0f);
            std::memcpy(tail, k, std::min(have, span) * sizeof(float));
            k = tail;
          }
          const V k0 = hn::LoadU(d, k);
          const V k1 = two ? hn::LoadU(d, k + lanes) : hn::Zero(d);
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
      // Per row: mask, online softmax update, o += p v.
      for (size_t r = 0; r < kRowTile && r0 + r < n; ++r) {
        if (valid[r] == 0) continue;
        float* s = scores[r];
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
        float* oi = o + i * head_dim;
        const V vc = hn::Set(d, correction);
        // o = c o + sum_j p_j v_j, up to 8 vectors of the row in registers at a time.
        for (size_t c0 = 0; c0 < head_dim; c0 += 8 * lanes) {
          const size_t count = std::min<size_t>(8, (head_dim - c0 + lanes - 1) / lanes);
          V acc[8];
          for (size_t v = 0; v < count; ++v) acc[v] = hn::Mul(hn::LoadU(d, oi + c0 + v * lanes), vc);
          const float* value = values + kb * head_dim + c0;
          for (size_t j = 0; j < valid[r]; ++j, value += head_dim) {
            const V p = hn::Set(d, s[j]);
            for (size_t v = 0; v < count; ++v) acc[v] = hn::MulAdd(p, hn::LoadU(d, value + v * lanes), acc[v]);
          }
          for (size_t v = 0; v < count; ++v) hn::StoreU(acc[v], d, oi + c0 + v * lanes);
        }
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const float inv = 1.0f / l[i];
    for (size_t c = 0; c < head_dim; ++c) rows.out[i][c] = o[i * head_dim + c] * inv;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lfm2::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lfm2::kernels {

HWY_EXPORT(AttentionImpl);

void Attention(const AttentionRows& rows, const float* keys, size_t key_stride, const float* values,
               size_t head_dim, float scale, float* scratch) {
  HWY_DYNAMIC_DISPATCH(AttentionImpl)(rows, keys, key_stride, values, head_dim, scale, scratch);
}

namespace scalar {

void Attention(const AttentionRows& rows, const float* keys, size_t key_stride, const float* values,
               size_t head_dim, float scale, float*) {
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
        for (size_t c = 0; c < head_dim; ++c) dot += rows.q[i][c] * keys[c * key_stride + kb + j];
        s[j] = scale * dot;
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
        for (size_t j = 0; j < valid; ++j) acc += s[j] * values[(kb + j) * head_dim + c];
        o[c] = acc;
      }
    }
    for (size_t c = 0; c < head_dim; ++c) rows.out[i][c] = o[c] * (1.0f / l);
  }
}

}  // namespace scalar
}  // namespace lfm2::kernels
#endif  // HWY_ONCE
