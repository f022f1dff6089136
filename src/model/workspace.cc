// model/workspace.cc - buffer sizes and allocation.
#include "model/workspace.h"

#include <algorithm>

#include "kernels/attention.h"

namespace lfm2 {

std::vector<Workspace::Buffer> Workspace::Buffers(const ModelConfig& c, const WorkspaceLimits& l) {
  const int64_t t = l.max_tokens;
  const int64_t h = c.hidden_size;
  const int64_t q = c.num_attention_heads * c.head_dim;
  const int64_t kv = c.num_key_value_heads * c.head_dim;
  const int64_t k = c.is_moe() ? c.num_experts_per_tok : 0;
  // Dense layers need [T, intermediate]; MoE layers run all chosen experts at once: [T * k, moe].
  const int64_t ffn = std::max(c.intermediate_size, k * c.moe_intermediate_size);
  const bool moe = c.is_moe() && c.num_dense_layers < c.num_hidden_layers;
  return {
      {"hidden", t * h},
      {"normed", t * h},
      {"projected", t * std::max(3 * h, q + 2 * kv)},
      {"gated", t * h},
      {"mixed", t * std::max(h, q)},
      {"block_out", t * h},
      {"ffn_gate", t * ffn},
      {"ffn_up", t * ffn},
      {"router", moe ? t * c.num_experts : 0},
      {"route_weight", moe ? t * k : 0},
      {"gathered", moe ? t * k * h : 0},
      {"expert_out", moe ? t * k * h : 0},
      {"rope", t * c.head_dim},
      {"attention", static_cast<int64_t>(l.threads) *
                        static_cast<int64_t>(kernels::AttentionScratchFloats(
                            static_cast<size_t>(kAttentionTokenTile * c.num_attention_heads /
                                                std::max<int64_t>(c.num_key_value_heads, 1)),
                            static_cast<size_t>(c.head_dim)))},
      {"logits", l.max_logit_rows * c.vocab_size},
  };
}

uint64_t Workspace::Bytes(const ModelConfig& config, const WorkspaceLimits& limits) {
  uint64_t total = 0;
  for (const Buffer& buffer : Buffers(config, limits)) {
    total += AlignedBytes<float>(static_cast<size_t>(buffer.elements));
  }
  const uint64_t route_ints = config.is_moe() ? limits.max_tokens * config.num_experts_per_tok : 0;
  total += (3 * route_ints + limits.max_tokens) * sizeof(int32_t);
  return total;
}

Workspace::Workspace(const ModelConfig& config, const WorkspaceLimits& limits) : limits_(limits) {
  LFM2_CHECK(limits.max_tokens >= 1 && limits.max_logit_rows >= 1 &&
             limits.max_logit_rows <= limits.max_tokens && limits.threads >= 1);
  AlignedBuffer<float>* targets[] = {&hidden,   &normed,       &projected, &gated,     &mixed,
                                     &block_out, &ffn_gate,    &ffn_up,    &router,    &route_weight,
                                     &gathered, &expert_out,   &rope,      &attention, &logits};
  const std::vector<Buffer> buffers = Buffers(config, limits);
  LFM2_CHECK(buffers.size() == std::size(targets));
  for (size_t i = 0; i < buffers.size(); ++i) {
    *targets[i] = AlignedBuffer<float>(static_cast<size_t>(buffers[i].elements));
  }
  const size_t route_ints = config.is_moe() ? limits.max_tokens * config.num_experts_per_tok : 0;
  route_expert.assign(route_ints, 0);
  expert_rows.assign(route_ints, 0);
  slot_row.assign(route_ints, 0);
  positions.assign(static_cast<size_t>(limits.max_tokens), 0);
}

}  // namespace lfm2
