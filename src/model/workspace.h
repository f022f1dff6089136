// model/workspace.h - the activation buffers one Forward call works in, allocated once for a
// maximum number of tokens per call (the micro-batch), logit rows and context. Their sizes are a
// pure function of (config, limits, threads) that the RAM planner also uses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/aligned_buffer.h"
#include "model/config.h"

namespace lfm2 {

// Tokens of one sequence whose query heads of one key/value head go to one attention call.
inline constexpr int64_t kAttentionTokenTile = 16;

struct WorkspaceLimits {
  int64_t max_tokens = 512;     // tokens per Forward call (all chunks together)
  int64_t max_logit_rows = 1;   // logit rows per Forward call (<= max_tokens)
  int64_t max_context = 4096;   // longest sequence attended to (a sequence's capacity)
  int threads = 1;
};

class Workspace {
 public:
  // Name and float count of every buffer, in allocation order.
  struct Buffer {
    const char* name;
    int64_t elements;
  };
  static std::vector<Buffer> Buffers(const ModelConfig& config, const WorkspaceLimits& limits);
  // Bytes Workspace(config, limits) allocates.
  static uint64_t Bytes(const ModelConfig& config, const WorkspaceLimits& limits);

  Workspace(const ModelConfig& config, const WorkspaceLimits& limits);
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  const WorkspaceLimits& limits() const { return limits_; }

  // Shapes below use T = max_tokens, R = max_logit_rows.
  AlignedBuffer<float> hidden;       // [T, hidden] residual stream
  AlignedBuffer<float> normed;       // [T, hidden] normed input of the current block
  AlignedBuffer<float> projected;    // [T, max(3*hidden, q + 2*kv widths)] in_proj / qkv output
  AlignedBuffer<float> gated;        // [T, hidden] conv: B*x;
  AlignedBuffer<float> mixed;        // [T, max(hidden, heads*head_dim)] operator output before out_proj
  AlignedBuffer<float> block_out;    // [T, hidden] output of out_proj / down projection
  AlignedBuffer<float> ffn_gate;     // [T, intermediate] or [T * experts_per_tok, moe width]:
                                     // gate (then silu(gate) * up)
  AlignedBuffer<float> ffn_up;       // as ffn_gate
  AlignedBuffer<float> router;       // [T, experts] router logits
  AlignedBuffer<float> route_weight; // [T, experts_per_tok]
  AlignedBuffer<float> gathered;     // [T * experts_per_tok, hidden] expert inputs, by expert
  AlignedBuffer<float> expert_out;   // [T * experts_per_tok, hidden] expert outputs, by expert
  AlignedBuffer<float> rope;         // [T, head_dim] cos (first half) and sin (second half)
  AlignedBuffer<float> attention;    // [threads, AttentionScratchFloats(tile rows, head_dim)]: the
                                     // running sums of one attention call per worker
  AlignedBuffer<float> logits;       // [R, vocab]
  std::vector<int32_t> route_expert; // [T * experts_per_tok]
  std::vector<int32_t> positions;    // [T]
  std::vector<int32_t> expert_rows;  // [T * experts_per_tok] slots (t * k + j) grouped by expert
  std::vector<int32_t> slot_row;     // [T * experts_per_tok] row of each slot in expert_rows order

 private:
  WorkspaceLimits limits_;
};

}  // namespace lfm2
