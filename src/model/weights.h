// model/weights.h - every tensor of an LFM2 / LFM2-MoE checkpoint, listed once.
//
// ForEachTensor enumerates the model's tensors from the config (names exactly as in the MLX
// safetensors files, shapes in HF order [out_features, in_features]); binding the weights,
// validating a checkpoint, the RAM planner and `lfm2 inspect` are all driven by that one list.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "base/aligned_buffer.h"
#include "model/config.h"
#include "weights/weight_store.h"

namespace lfm2 {

// Tensor groups, for plans and `inspect`.
enum class TensorGroup { kEmbedding, kNorms, kConv, kAttention, kDenseFfn, kRouter, kExperts, kHead };
inline constexpr int kNumTensorGroups = 8;
const char* TensorGroupName(TensorGroup group);

struct ConvWeights {
  WeightMatrix in_proj;           // [3 * hidden, hidden]  -> B, C, x chunks in that order
  AlignedBuffer<float> kernel;    // [hidden, L]  (conv.conv.weight, MLX [H, L, 1] / HF [H, 1, L])
  WeightMatrix out_proj;          // [hidden, hidden]
  AlignedBuffer<float> in_bias;   // [3 * hidden], only when conv_bias
  AlignedBuffer<float> kernel_bias;  // [hidden], only when conv_bias
  AlignedBuffer<float> out_bias;  // [hidden], only when conv_bias
};

struct AttentionWeights {
  WeightMatrix q_proj;                // [heads * head_dim, hidden]
  WeightMatrix k_proj;                // [kv_heads * head_dim, hidden]
  WeightMatrix v_proj;                // [kv_heads * head_dim, hidden]
  WeightMatrix out_proj;              // [hidden, heads * head_dim]
  AlignedBuffer<float> q_layernorm;   // [head_dim]
  AlignedBuffer<float> k_layernorm;   // [head_dim]
};

struct DenseFfnWeights {
  WeightMatrix gate;  // [intermediate, hidden]  (gate_proj / w1)
  WeightMatrix up;    // [intermediate, hidden]  (up_proj / w3)
  WeightMatrix down;  // [hidden, intermediate]  (down_proj / w2)
};

struct MoeWeights {
  WeightMatrix router;               // [experts, hidden]  (feed_forward.gate)
  AlignedBuffer<float> expert_bias;  // [experts], only when use_expert_bias
  ExpertStack gate;                  // [experts, moe_intermediate, hidden]
  ExpertStack up;                    // [experts, moe_intermediate, hidden]
  ExpertStack down;                  // [experts, hidden, moe_intermediate]
};

struct LayerWeights {
  AlignedBuffer<float> operator_norm;  // [hidden]
  AlignedBuffer<float> ffn_norm;       // [hidden]
  std::variant<ConvWeights, AttentionWeights> op;
  std::variant<DenseFfnWeights, MoeWeights> ffn;
};

struct ModelWeights {
  WeightMatrix embed_tokens;            // [vocab, hidden]; also the LM head when tied
  AlignedBuffer<float> embedding_norm;  // [hidden]  (the final norm)
  WeightMatrix lm_head;                 // [vocab, hidden]; a copy of the embed_tokens view when tied
  std::vector<LayerWeights> layers;
};

// How a checkpoint spells the parts that vary between converters.
struct TensorNaming {
  bool dense_ffn_w123 = false;  // feed_forward.w1/w3/w2 instead of gate_proj/up_proj/down_proj
  bool lm_head = false;         // an untied lm_head.weight
  // MLX naming for the model type (what mlx_lm.convert writes).
  static TensorNaming Default(const ModelConfig& config);
  // What the files use.
  static TensorNaming Detect(const ModelConfig& config, const WeightStore& store);
};

struct TensorSpec {
  enum class Kind { kLinear, kExperts, kVector };
  Kind kind;
  TensorGroup group;
  std::string name;  // module path for kLinear/kExperts, tensor name for kVector
  int64_t experts = 0;  // kExperts only
  int64_t rows = 0;     // kLinear/kExperts: out_features; kVector: element count
  int64_t cols = 0;     // kLinear/kExperts: in_features
  std::vector<std::vector<int64_t>> shapes;  // kVector: accepted shapes
  std::string why;  // the config keys the shape comes from
  int64_t parameters() const { return kind == Kind::kVector ? rows : std::max<int64_t>(experts, 1) * rows * cols; }
};

// Where ForEachTensor stores a bound tensor (monostate when only listing).
using TensorSlot = std::variant<std::monostate, WeightMatrix*, ExpertStack*, AlignedBuffer<float>*>;

// Calls fn(spec, slot) for every tensor of the model in a fixed order. With `weights` non-null,
// the layer structs are shaped for the config first and slots point into them.
void ForEachTensor(const ModelConfig& config, const TensorNaming& naming, ModelWeights* weights,
                   const std::function<void(const TensorSpec&, TensorSlot)>& fn);

// Binds and validates every tensor; fails if the checkpoint has any tensor the config doesn't use.
StatusOr<ModelWeights> BindWeights(const ModelConfig& config, WeightStore& store);

}  // namespace lfm2
