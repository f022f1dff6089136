// kernels/attention.h - causal attention of query rows against a key/value cache, tiled with an
// online softmax (flash-attention style): the query rows that share one key/value head (GQA
// groups, several tokens of a prefill pass) read each block of keys and values once, scores never
// exist for more than one block, and the work per row is proportional to its own keys.
//
// Keys are stored transposed - component d of position j at keys[d * key_stride + j] - so a score
// block is a sum of broadcast query components times contiguous runs of keys (no reductions
// across lanes); values are stored by position: values[j * head_dim + d].
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

// Positions per block of the online softmax (and per score buffer).
inline constexpr size_t kAttentionKeyBlock = 64;

struct AttentionRows {
  const float* const* q = nullptr;  // [rows] pointers to head_dim floats
  float* const* out = nullptr;      // [rows] pointers to head_dim floats
  const int64_t* limit = nullptr;   // [rows] positions each row attends to: 0 .. limit - 1
  size_t rows = 0;
};

// Rows sharing one key/value head. `key_stride` >= every limit: the keys' allocated positions
// (reads never go past key_stride positions of component head_dim - 1). `scratch` holds
// AttentionScratchFloats(rows.rows, head_dim) floats (the rows' running sums).
void Attention(const AttentionRows& rows, const float* keys, size_t key_stride, const float* values,
               size_t head_dim, float scale, float* scratch);
inline size_t AttentionScratchFloats(size_t rows, size_t head_dim) { return rows * (head_dim + 2); }

namespace scalar {
// Twin of Attention: the same blocked online softmax, written out one value at a time.
void Attention(const AttentionRows& rows, const float* keys, size_t key_stride, const float* values,
               size_t head_dim, float scale, float* scratch);
}  // namespace scalar

}  // namespace lfm2::kernels
