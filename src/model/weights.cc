// model/weights.cc - the LFM2 tensor list (ForEachTensor) and weight binding.
#include "model/weights.h"

namespace lfm2 {

const char* TensorGroupName(TensorGroup group) {
  switch (group) {
    case TensorGroup::kEmbedding: return "embedding";
    case TensorGroup::kNorms: return "norms";
    case TensorGroup::kConv: return "conv";
    case TensorGroup::kAttention: return "attention";
    case TensorGroup::kDenseFfn: return "dense_ffn";
    case TensorGroup::kRouter: return "router";
    case TensorGroup::kExperts: return "experts";
    case TensorGroup::kHead: return "lm_head";
  }
  return "?";
}

TensorNaming TensorNaming::Default(const ModelConfig& config) {
  TensorNaming naming;
  naming.dense_ffn_w123 = !config.is_moe();
  naming.lm_head = !config.tie_word_embeddings;
  return naming;
}

TensorNaming TensorNaming::Detect(const ModelConfig& config, const WeightStore& store) {
  TensorNaming naming = Default(config);
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    if (config.IsMoeLayer(i)) continue;
    const std::string prefix = StrCat("model.layers.", i, ".feed_forward.");
    if (store.Has(prefix + "w1.weight")) naming.dense_ffn_w123 = true;
    if (store.Has(prefix + "gate_proj.weight")) naming.dense_ffn_w123 = false;
    break;
  }
  // An lm_head.weight is used only when the config unties the head; a tied config ignores it
  // (as HF and mlx-lm do).
  naming.lm_head = !config.tie_word_embeddings && store.Has("lm_head.weight");
  return naming;
}

void ForEachTensor(const ModelConfig& c, const TensorNaming& naming, ModelWeights* w,
                   const std::function<void(const TensorSpec&, TensorSlot)>& fn) {
  using Kind = TensorSpec::Kind;
  const int64_t h = c.hidden_size;
  const std::string hidden = StrCat("hidden_size=", h);
  auto linear = [&](TensorGroup group, std::string path, int64_t rows, int64_t cols,
                    std::string why, WeightMatrix* slot) {
    TensorSpec spec{Kind::kLinear, group, std::move(path), 0, rows, cols, {}, std::move(why)};
    fn(spec, slot ? TensorSlot(slot) : TensorSlot());
  };
  auto experts = [&](std::string path, int64_t rows, int64_t cols, std::string why,
                     ExpertStack* slot) {
    TensorSpec spec{Kind::kExperts, TensorGroup::kExperts, std::move(path), c.num_experts, rows,
                    cols, {}, std::move(why)};
    fn(spec, slot ? TensorSlot(slot) : TensorSlot());
  };
  auto vector = [&](TensorGroup group, std::string name, std::vector<std::vector<int64_t>> shapes,
                    std::string why, AlignedBuffer<float>* slot) {
    int64_t count = 1;
    for (int64_t dim : shapes.front()) count *= dim;
    TensorSpec spec{Kind::kVector, group, std::move(name), 0, count, 1, std::move(shapes),
                    std::move(why)};
    fn(spec, slot ? TensorSlot(slot) : TensorSlot());
  };

  linear(TensorGroup::kEmbedding, "model.embed_tokens", c.vocab_size, h,
         StrCat("vocab_size=", c.vocab_size, ", ", hidden), w ? &w->embed_tokens : nullptr);
  if (w) w->layers.resize(static_cast<size_t>(c.num_hidden_layers));

  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    LayerWeights* layer = w ? &w->layers[static_cast<size_t>(i)] : nullptr;
    const std::string p = StrCat("model.layers.", i, ".");
    vector(TensorGroup::kNorms, p + "operator_norm.weight", {{h}}, hidden,
           layer ? &layer->operator_norm : nullptr);
    if (c.layer_kinds[static_cast<size_t>(i)] == LayerKind::kConv) {
      ConvWeights* conv = layer ? &layer->op.emplace<ConvWeights>() : nullptr;
      const int64_t l = c.conv_L_cache;
      linear(TensorGroup::kConv, p + "conv.in_proj", 3 * h, h, "3*hidden_size, " + hidden,
             conv ? &conv->in_proj : nullptr);
      vector(TensorGroup::kConv, p + "conv.conv.weight", {{h, l, 1}, {h, 1, l}, {h, l}},
             StrCat(hidden, ", conv_L_cache=", l), conv ? &conv->kernel : nullptr);
      linear(TensorGroup::kConv, p + "conv.out_proj", h, h, hidden, conv ? &conv->out_proj : nullptr);
      if (c.conv_bias) {
        vector(TensorGroup::kConv, p + "conv.in_proj.bias", {{3 * h}}, "conv_bias, 3*" + hidden,
               conv ? &conv->in_bias : nullptr);
        vector(TensorGroup::kConv, p + "conv.conv.bias", {{h}}, "conv_bias, " + hidden,
               conv ? &conv->kernel_bias : nullptr);
        vector(TensorGroup::kConv, p + "conv.out_proj.bias", {{h}}, "conv_bias, " + hidden,
               conv ? &conv->out_bias : nullptr);
      }
    } else {
      AttentionWeights* attn = layer ? &layer->op.emplace<AttentionWeights>() : nullptr;
      const int64_t q_rows = c.num_attention_heads * c.head_dim;
      const int64_t kv_rows = c.num_key_value_heads * c.head_dim;
      const std::string q_why = StrCat("num_attention_heads=", c.num_attention_heads,
                                       " x head_dim=", c.head_dim, ", ", hidden);
      const std::string kv_why = StrCat("num_key_value_heads=", c.num_key_value_heads,
                                        " x head_dim=", c.head_dim, ", ", hidden);
      linear(TensorGroup::kAttention, p + "self_attn.q_proj", q_rows, h, q_why,
             attn ? &attn->q_proj : nullptr);
      linear(TensorGroup::kAttention, p + "self_attn.k_proj", kv_rows, h, kv_why,
             attn ? &attn->k_proj : nullptr);
      linear(TensorGroup::kAttention, p + "self_attn.v_proj", kv_rows, h, kv_why,
             attn ? &attn->v_proj : nullptr);
      linear(TensorGroup::kAttention, p + "self_attn.out_proj", h, q_rows, q_why,
             attn ? &attn->out_proj : nullptr);
      const std::string norm_why = StrCat("head_dim=", c.head_dim);
      vector(TensorGroup::kNorms, p + "self_attn.q_layernorm.weight", {{c.head_dim}}, norm_why,
             attn ? &attn->q_layernorm : nullptr);
      vector(TensorGroup::kNorms, p + "self_attn.k_layernorm.weight", {{c.head_dim}}, norm_why,
             attn ? &attn->k_layernorm : nullptr);
    }
    vector(TensorGroup::kNorms, p + "ffn_norm.weight", {{h}}, hidden,
           layer ? &layer->ffn_norm : nullptr);
    const std::string f = p + "feed_forward.";
    if (!c.IsMoeLayer(i)) {
      DenseFfnWeights* ffn = layer ? &layer->ffn.emplace<DenseFfnWeights>() : nullptr;
      const int64_t n = c.intermediate_size;
      const std::string why = StrCat(c.is_moe() ? "intermediate_size=" : "FFN width ", n, ", ", hidden);
      linear(TensorGroup::kDenseFfn, f + (naming.dense_ffn_w123 ? "w1" : "gate_proj"), n, h, why,
             ffn ? &ffn->gate : nullptr);
      linear(TensorGroup::kDenseFfn, f + (naming.dense_ffn_w123 ? "w3" : "up_proj"), n, h, why,
             ffn ? &ffn->up : nullptr);
      linear(TensorGroup::kDenseFfn, f + (naming.dense_ffn_w123 ? "w2" : "down_proj"), h, n, why,
             ffn ? &ffn->down : nullptr);
    } else {
      MoeWeights* moe = layer ? &layer->ffn.emplace<MoeWeights>() : nullptr;
      const int64_t n = c.moe_intermediate_size;
      const std::string experts_why = StrCat("num_experts=", c.num_experts);
      linear(TensorGroup::kRouter, f + "gate", c.num_experts, h, experts_why + ", " + hidden,
             moe ? &moe->router : nullptr);
      if (c.use_expert_bias) {
        vector(TensorGroup::kRouter, f + "expert_bias", {{c.num_experts}}, experts_why,
               moe ? &moe->expert_bias : nullptr);
      }
      const std::string why = StrCat(experts_why, ", moe_intermediate_size=", n, ", ", hidden);
      experts(f + "switch_mlp.gate_proj", n, h, why, moe ? &moe->gate : nullptr);
      experts(f + "switch_mlp.up_proj", n, h, why, moe ? &moe->up : nullptr);
      experts(f + "switch_mlp.down_proj", h, n, why, moe ? &moe->down : nullptr);
    }
  }
  vector(TensorGroup::kNorms, "model.embedding_norm.weight", {{h}}, hidden,
         w ? &w->embedding_norm : nullptr);
  if (naming.lm_head) {
    linear(TensorGroup::kHead, "lm_head", c.vocab_size, h,
           StrCat("vocab_size=", c.vocab_size, ", ", hidden), w ? &w->lm_head : nullptr);
  }
}

StatusOr<ModelWeights> BindWeights(const ModelConfig& config, WeightStore& store) {
  ModelWeights weights;
  const TensorNaming naming = TensorNaming::Detect(config, store);
  Status status;
  ForEachTensor(config, naming, &weights, [&](const TensorSpec& spec, TensorSlot slot) {
    if (!status.ok()) return;
    if (auto* matrix = std::get_if<WeightMatrix*>(&slot)) {
      auto bound = store.Matrix(spec.name, spec.rows, spec.cols, spec.why);
      if (bound.ok()) **matrix = std::move(bound).value();
      status = bound.status();
    } else if (auto* stack = std::get_if<ExpertStack*>(&slot)) {
      auto bound = store.Experts(spec.name, spec.experts, spec.rows, spec.cols, spec.why);
      if (bound.ok()) **stack = std::move(bound).value();
      status = bound.status();
    } else if (auto* buffer = std::get_if<AlignedBuffer<float>*>(&slot)) {
      auto bound = store.FloatTensor(spec.name, spec.shapes, spec.why);
      if (bound.ok()) **buffer = std::move(bound).value();
      status = bound.status();
    }
  });
  LFM2_RETURN_IF_ERROR(status);
  if (!naming.lm_head) {
    weights.lm_head = weights.embed_tokens;
    // A tied config ignores a stray lm_head.weight (and its quantization tensors).
    for (const char* name : {"lm_head.weight", "lm_head.scales", "lm_head.biases"}) {
      store.Ignore(name);
    }
  }
  LFM2_RETURN_IF_ERROR(store.CheckAllUsed());
  return weights;
}

}  // namespace lfm2
