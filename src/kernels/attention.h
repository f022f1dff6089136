// kernels/attention.h - causal attention of query rows against a key/value cache, tiled with an
// online softmax (flash-attention style): the query rows that share one key/value head (GQA
// groups, several tokens of a prefill pass) read each block of keys and values once, scores never
// exist for more than one block, and the work per row is proportional to its own keys.
//
// Keys are stored transposed in blocks of kAttentionKeyBlock positions - component d of position
// j at keys[(j / B) * B * head_dim + d * B + j % B] - so a score block is a sum of broadcast query
// components times contiguous runs of keys (no reductions across lanes) and one block of keys is
// one contiguous stretch of memory; values are stored by position: values[j * head_dim + d].
// A cache holds whole blocks (KvPositions). The cache holds them as
// float32, float16 or int8 with one scale per position (KvType); the kernel converts what it
// loads to float32 and computes in float32 whatever the storage.
//
// For row i:  out_i = sum_{j < limit_i} softmax_j(scale * q_i . k_j) v_j   (limit_i >= 1)
// computed as, per block of kAttentionKeyBlock positions: s = scale * q . k;  m' = max(m, max s);
// c = exp(m - m');  l = c l + sum exp(s - m');  o = c o + sum exp(s - m') v;  then out = o / l.
// The operation order per row depends only on the row's query and limit, the keys and values -
// not on which rows share a call, the thread count or the batching.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lfm2::kernels {

// Positions per block of the online softmax (and per score buffer, and per block of keys).
inline constexpr size_t kAttentionKeyBlock = 64;

// Positions a cache of `capacity` positions allocates: whole key blocks.
inline size_t KvPositions(size_t capacity) {
  return (capacity + kAttentionKeyBlock - 1) / kAttentionKeyBlock * kAttentionKeyBlock;
}

// Element type of a key/value cache.
//   kF32: float32.
//   kF16: IEEE half precision, rounded to nearest even (relative error <= 2^-11).
//   kQ8:  int8 with one float scale per position and head: x_c ~ scale * q_c, scale = amax / 127
//         over the head_dim components, q_c = RoundHalfEven(x_c / scale) (error <= amax / 254).
enum class KvType { kF32, kF16, kQ8 };

// Bytes per cached element (scales aside) and the bits named by --kv-bits.
size_t KvTypeBytes(KvType type);
int KvTypeBits(KvType type);

// One key/value head's cache: `capacity` positions of head_dim components, in KvPositions(capacity)
// positions of storage (keys in blocks as above, values by position, kQ8 scales per position).
struct KvHead {
  KvType type = KvType::kF32;
  void* keys = nullptr;
  void* values = nullptr;
  float* key_scales = nullptr;
  float* value_scales = nullptr;
  size_t capacity = 0;
  size_t head_dim = 0;
};

// Writes position `pos` of a head's cache from head_dim floats of key and of value, converted to
// the cache's type as defined above (the same on every target: plain scalar code).
void StoreKv(const KvHead& head, size_t pos, const float* key, const float* value);
// Element c of position j as float, as the kernel sees it (tests and the scalar twin).
float CachedKey(const KvHead& head, size_t j, size_t c);
float CachedValue(const KvHead& head, size_t j, size_t c);

struct AttentionRows {
  const float* const* q = nullptr;  // [rows] pointers to head_dim floats
  float* const* out = nullptr;      // [rows] pointers to head_dim floats
  const int64_t* limit = nullptr;   // [rows] positions each row attends to: 0 .. limit - 1
  size_t rows = 0;
};

// Rows sharing one key/value head; kv.capacity >= every limit (reads never go past the cache's
// KvPositions(capacity) positions). `scratch` holds AttentionScratchFloats(rows.rows, head_dim)
// floats (the rows' running sums and a spare row). For kQ8, a score is
// (scale * sum_c q_c k_c) * key_scale_j and a value row's weight p_j * value_scale_j.
void Attention(const AttentionRows& rows, const KvHead& kv, float scale, float* scratch);
inline size_t AttentionScratchFloats(size_t rows, size_t head_dim) { return rows * (head_dim + 2) + head_dim; }

namespace scalar {
// Twin of Attention: the same blocked online softmax, written out one value at a time.
void Attention(const AttentionRows& rows, const KvHead& kv, float scale, float* scratch);
}  // namespace scalar

}  // namespace lfm2::kernels
