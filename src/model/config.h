// model/config.h - an LFM2 / LFM2-MoE config.json, parsed and validated once. Fields keep the
// config.json spelling; derived values (layer kinds, head_dim, FFN width, merged eos ids) are
// computed in Parse from whichever schema the file uses (legacy `full_attn_idxs` + `block_*`
// keys, or `layer_types`), and every error names the offending key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/json.h"
#include "weights/quantization.h"

namespace lfm2 {

enum class LayerKind { kConv, kAttention };

struct ModelConfig {
  std::string model_type;  // "lfm2" or "lfm2_moe"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;           // `head_dim` key, else hidden_size / num_attention_heads
  int64_t intermediate_size = 0;  // dense SwiGLU width actually used (after block_* adjustment)
  int64_t conv_L_cache = 3;
  bool conv_bias = false;
  double norm_eps = 1e-5;
  double rope_theta = 1e6;  // rope_parameters.rope_theta, rope_theta or theta
  int64_t max_position_embeddings = 0;
  bool tie_word_embeddings = true;  // tie_word_embeddings or legacy tie_embedding
  int64_t bos_token_id = -1;
  int64_t pad_token_id = -1;
  std::vector<int64_t> eos_token_ids;  // config.json and generation_config.json merged
  std::string torch_dtype;  // "torch_dtype" or "dtype" ("bfloat16", "float32", ...); may be empty

  // lfm2_moe only (zero / defaults for dense lfm2).
  int64_t num_dense_layers = 0;
  int64_t num_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t moe_intermediate_size = 0;
  bool use_expert_bias = false;
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;

  std::vector<LayerKind> layer_kinds;  // one per layer
  QuantizationConfig quantization;

  // Parses a config.json object; `generation_config` (may be null) contributes eos ids.
  static StatusOr<ModelConfig> Parse(const Json& config, const Json* generation_config,
                                     const std::string& where);
  // Reads DIR/config.json (+ DIR/generation_config.json when present).
  static StatusOr<ModelConfig> FromDirectory(const std::string& dir);

  bool is_moe() const { return model_type == "lfm2_moe"; }
  bool IsMoeLayer(int64_t layer) const { return is_moe() && layer >= num_dense_layers; }
  int64_t num_attention_layers() const;
  int64_t num_conv_layers() const { return num_hidden_layers - num_attention_layers(); }
};

const char* LayerKindName(LayerKind kind);

}  // namespace lfm2
