// model/config.cc - config.json parsing for both LFM2 schemas.
#include "model/config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

namespace lfm2 {

const char* LayerKindName(LayerKind kind) {
  return kind == LayerKind::kAttention ? "full_attention" : "conv";
}

int64_t ModelConfig::num_attention_layers() const {
  return std::count(layer_kinds.begin(), layer_kinds.end(), LayerKind::kAttention);
}

namespace {

Status RequirePositive(int64_t value, const char* key, const std::string& where) {
  if (value <= 0) return InvalidArgumentError(where, ": \"", key, "\" must be positive, got ", value);
  return Status::Ok();
}

// Reads the first present key of `keys` as an integer; fails if none is present.
StatusOr<int64_t> GetIntAlias(const Json& config, std::initializer_list<const char*> keys,
                              const std::string& where) {
  for (const char* key : keys) {
    if (const Json* value = FindMember(config, key); value != nullptr && !value->is_null()) {
      return GetInt(config, key, where);
    }
  }
  std::string names;
  for (const char* key : keys) names += (names.empty() ? "\"" : " or \"") + std::string(key) + "\"";
  return InvalidArgumentError(where, ": missing required key ", names);
}

// eos_token_id may be an int or a list of ints.
Status AppendEos(const Json& object, const std::string& where, std::vector<int64_t>* ids) {
  const Json* eos = FindMember(object, "eos_token_id");
  if (eos == nullptr || eos->is_null()) return Status::Ok();
  if (eos->is_array()) {
    LFM2_ASSIGN_OR_RETURN(std::vector<int64_t> list, GetIntArray(*eos, where + ": eos_token_id"));
    for (int64_t id : list) {
      if (std::find(ids->begin(), ids->end(), id) == ids->end()) ids->push_back(id);
    }
    return Status::Ok();
  }
  LFM2_ASSIGN_OR_RETURN(int64_t id, GetInt(object, "eos_token_id", where));
  if (std::find(ids->begin(), ids->end(), id) == ids->end()) ids->push_back(id);
  return Status::Ok();
}

Status ParseLayerKinds(const Json& config, const std::string& where, ModelConfig* c) {
  c->layer_kinds.assign(static_cast<size_t>(c->num_hidden_layers), LayerKind::kConv);
  if (const Json* types = FindMember(config, "layer_types"); types != nullptr && !types->is_null()) {
    if (!types->is_array()) {
      return InvalidArgumentError(where, ": \"layer_types\" must be an array, got ",
                                  JsonTypeName(*types));
    }
    if (static_cast<int64_t>(types->size()) != c->num_hidden_layers) {
      return InvalidArgumentError(where, ": \"layer_types\" has ", types->size(),
                                  " entries but num_hidden_layers is ", c->num_hidden_layers);
    }
    for (size_t i = 0; i < types->size(); ++i) {
      const Json& type = (*types)[i];
      if (type == "full_attention") {
        c->layer_kinds[i] = LayerKind::kAttention;
      } else if (type != "conv") {
        return UnsupportedError(where, ": layer_types[", i, "] = ", DumpJson(type),
                                " is not supported (expected \"conv\" or \"full_attention\")");
      }
    }
    return Status::Ok();
  }
  const Json* indices = FindMember(config, "full_attn_idxs");
  if (indices == nullptr || indices->is_null()) {
    return InvalidArgumentError(where, ": missing \"layer_types\" (or legacy \"full_attn_idxs\") "
                                "saying which layers are attention");
  }
  LFM2_ASSIGN_OR_RETURN(std::vector<int64_t> list, GetIntArray(*indices, where + ": full_attn_idxs"));
  for (int64_t index : list) {
    if (index < 0 || index >= c->num_hidden_layers) {
      return InvalidArgumentError(where, ": full_attn_idxs entry ", index,
                                  " is outside [0, num_hidden_layers=", c->num_hidden_layers, ")");
    }
    c->layer_kinds[static_cast<size_t>(index)] = LayerKind::kAttention;
  }
  return Status::Ok();
}

Status ParseRope(const Json& config, const std::string& where, ModelConfig* c) {
  if (const Json* scaling = FindMember(config, "rope_scaling"); scaling != nullptr && !scaling->is_null()) {
    return UnsupportedError(where, ": \"rope_scaling\" ", DumpJson(*scaling).substr(0, 80),
                            " is not supported (LFM2 uses plain RoPE)");
  }
  if (const Json* params = FindMember(config, "rope_parameters"); params != nullptr && !params->is_null()) {
    if (!params->is_object()) {
      return InvalidArgumentError(where, ": \"rope_parameters\" must be an object");
    }
    const std::string params_where = where + ": rope_parameters";
    LFM2_ASSIGN_OR_RETURN(std::string type, FindString(*params, "rope_type", "default", params_where));
    if (type != "default") {
      return UnsupportedError(params_where, ".rope_type \"", type,
                              "\" is not supported (expected \"default\")");
    }
    if (FindMember(*params, "rope_theta") != nullptr) {
      LFM2_ASSIGN_OR_RETURN(c->rope_theta, GetNumber(*params, "rope_theta", params_where));
      return Status::Ok();
    }
  }
  for (const char* key : {"rope_theta", "theta"}) {
    if (const Json* value = FindMember(config, key); value != nullptr && !value->is_null()) {
      LFM2_ASSIGN_OR_RETURN(c->rope_theta, GetNumber(config, key, where));
      return Status::Ok();
    }
  }
  c->rope_theta = 1e6;
  return Status::Ok();
}

// Dense FFN width. lfm2: block_ff_dim (else intermediate_size), adjusted as the reference does when
// block_auto_adjust_ff_dim is true. lfm2_moe dense layers: intermediate_size as is.
Status ParseFfnWidth(const Json& config, const std::string& where, ModelConfig* c) {
  if (c->is_moe()) {
    LFM2_ASSIGN_OR_RETURN(c->intermediate_size, GetInt(config, "intermediate_size", where));
    return RequirePositive(c->intermediate_size, "intermediate_size", where);
  }
  LFM2_ASSIGN_OR_RETURN(int64_t ff, GetIntAlias(config, {"block_ff_dim", "intermediate_size"}, where));
  LFM2_ASSIGN_OR_RETURN(bool adjust, FindBool(config, "block_auto_adjust_ff_dim", false, where));
  if (adjust) {
    LFM2_ASSIGN_OR_RETURN(int64_t multiple_of, FindInt(config, "block_multiple_of", 256, where));
    LFM2_RETURN_IF_ERROR(RequirePositive(multiple_of, "block_multiple_of", where));
    int64_t width = static_cast<int64_t>(2.0 * static_cast<double>(ff) / 3.0);
    const Json* multiplier = FindMember(config, "block_ffn_dim_multiplier");
    if (multiplier != nullptr && !multiplier->is_null()) {
      LFM2_ASSIGN_OR_RETURN(double m, GetNumber(config, "block_ffn_dim_multiplier", where));
      width = static_cast<int64_t>(m * static_cast<double>(width));
    }
    ff = multiple_of * ((width + multiple_of - 1) / multiple_of);
  }
  c->intermediate_size = ff;
  return RequirePositive(ff, "block_ff_dim", where);
}

Status ParseMoe(const Json& config, const std::string& where, ModelConfig* c) {
  LFM2_ASSIGN_OR_RETURN(c->num_experts, GetInt(config, "num_experts", where));
  LFM2_ASSIGN_OR_RETURN(c->num_experts_per_tok, GetInt(config, "num_experts_per_tok", where));
  LFM2_ASSIGN_OR_RETURN(c->moe_intermediate_size, GetInt(config, "moe_intermediate_size", where));
  LFM2_ASSIGN_OR_RETURN(c->num_dense_layers, FindInt(config, "num_dense_layers", 0, where));
  LFM2_ASSIGN_OR_RETURN(c->use_expert_bias, FindBool(config, "use_expert_bias", true, where));
  LFM2_ASSIGN_OR_RETURN(c->norm_topk_prob, FindBool(config, "norm_topk_prob", true, where));
  LFM2_ASSIGN_OR_RETURN(c->routed_scaling_factor,
                        FindNumber(config, "routed_scaling_factor", 1.0, where));
  LFM2_RETURN_IF_ERROR(RequirePositive(c->num_experts, "num_experts", where));
  LFM2_RETURN_IF_ERROR(RequirePositive(c->num_experts_per_tok, "num_experts_per_tok", where));
  LFM2_RETURN_IF_ERROR(RequirePositive(c->moe_intermediate_size, "moe_intermediate_size", where));
  if (c->num_experts_per_tok > c->num_experts) {
    return InvalidArgumentError(where, ": num_experts_per_tok ", c->num_experts_per_tok,
                                " exceeds num_experts ", c->num_experts);
  }
  if (c->num_dense_layers < 0 || c->num_dense_layers > c->num_hidden_layers) {
    return InvalidArgumentError(where, ": num_dense_layers ", c->num_dense_layers,
                                " is outside [0, num_hidden_layers=", c->num_hidden_layers, "]");
  }
  if (!std::isfinite(c->routed_scaling_factor)) {
    return InvalidArgumentError(where, ": routed_scaling_factor must be finite");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ModelConfig> ModelConfig::Parse(const Json& config, const Json* generation_config,
                                         const std::string& where) {
  if (!config.is_object()) return InvalidArgumentError(where, ": expected a JSON object");
  ModelConfig c;
  const Json* type = FindMember(config, "model_type");
  if (type == nullptr) return InvalidArgumentError(where, ": missing \"model_type\"");
  LFM2_ASSIGN_OR_RETURN(c.model_type, GetString(config, "model_type", where));
  if (c.model_type != "lfm2" && c.model_type != "lfm2_moe") {
    return UnsupportedError(where, ": model_type \"", c.model_type,
                            "\" is not supported (expected \"lfm2\" or \"lfm2_moe\")");
  }
  LFM2_ASSIGN_OR_RETURN(c.vocab_size, GetInt(config, "vocab_size", where));
  LFM2_ASSIGN_OR_RETURN(c.hidden_size, GetIntAlias(config, {"hidden_size", "block_dim"}, where));
  LFM2_ASSIGN_OR_RETURN(c.num_hidden_layers, GetInt(config, "num_hidden_layers", where));
  LFM2_ASSIGN_OR_RETURN(c.num_attention_heads,
                        GetIntAlias(config, {"num_attention_heads", "num_heads"}, where));
  LFM2_ASSIGN_OR_RETURN(c.num_key_value_heads, GetInt(config, "num_key_value_heads", where));
  for (auto [value, key] : {std::pair{c.vocab_size, "vocab_size"}, {c.hidden_size, "hidden_size"},
                            {c.num_hidden_layers, "num_hidden_layers"},
                            {c.num_attention_heads, "num_attention_heads"},
                            {c.num_key_value_heads, "num_key_value_heads"}}) {
    LFM2_RETURN_IF_ERROR(RequirePositive(value, key, where));
  }
  if (c.vocab_size > (int64_t{1} << 30) || c.hidden_size > (1 << 20) ||
      c.num_hidden_layers > 4096 || c.num_attention_heads > 4096) {
    return InvalidArgumentError(where, ": implausible sizes (vocab_size ", c.vocab_size,
                                ", hidden_size ", c.hidden_size, ", num_hidden_layers ",
                                c.num_hidden_layers, ")");
  }
  if (const Json* block_dim = FindMember(config, "block_dim"); block_dim != nullptr) {
    LFM2_ASSIGN_OR_RETURN(int64_t dim, GetInt(config, "block_dim", where));
    if (dim != c.hidden_size) {
      return InvalidArgumentError(where, ": block_dim ", dim, " differs from hidden_size ",
                                  c.hidden_size);
    }
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return InvalidArgumentError(where, ": num_attention_heads ", c.num_attention_heads,
                                " is not a multiple of num_key_value_heads ", c.num_key_value_heads);
  }
  if (const Json* head_dim = FindMember(config, "head_dim"); head_dim != nullptr && !head_dim->is_null()) {
    LFM2_ASSIGN_OR_RETURN(c.head_dim, GetInt(config, "head_dim", where));
    LFM2_RETURN_IF_ERROR(RequirePositive(c.head_dim, "head_dim", where));
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      return InvalidArgumentError(where, ": hidden_size ", c.hidden_size,
                                  " is not a multiple of num_attention_heads ",
                                  c.num_attention_heads, " and there is no \"head_dim\"");
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) {
    return InvalidArgumentError(where, ": head_dim ", c.head_dim, " must be even for RoPE");
  }
  LFM2_ASSIGN_OR_RETURN(c.conv_L_cache, FindInt(config, "conv_L_cache", 3, where));
  if (c.conv_L_cache < 1 || c.conv_L_cache > 64) {
    return InvalidArgumentError(where, ": conv_L_cache ", c.conv_L_cache, " is outside [1, 64]");
  }
  LFM2_ASSIGN_OR_RETURN(c.conv_bias, FindBool(config, "conv_bias", false, where));
  LFM2_ASSIGN_OR_RETURN(c.norm_eps, FindNumber(config, "norm_eps", 1e-5, where));
  if (!(c.norm_eps >= 0.0) || !std::isfinite(c.norm_eps)) {
    return InvalidArgumentError(where, ": norm_eps must be a finite number >= 0");
  }
  LFM2_RETURN_IF_ERROR(ParseRope(config, where, &c));
  if (!(c.rope_theta > 0.0) || !std::isfinite(c.rope_theta)) {
    return InvalidArgumentError(where, ": rope theta must be positive, got ", c.rope_theta);
  }
  LFM2_ASSIGN_OR_RETURN(c.max_position_embeddings,
                        FindInt(config, "max_position_embeddings", 128000, where));
  if (FindMember(config, "tie_word_embeddings") != nullptr) {
    LFM2_ASSIGN_OR_RETURN(c.tie_word_embeddings, FindBool(config, "tie_word_embeddings", true, where));
  } else {
    LFM2_ASSIGN_OR_RETURN(c.tie_word_embeddings, FindBool(config, "tie_embedding", true, where));
  }
  LFM2_ASSIGN_OR_RETURN(c.torch_dtype, FindString(config, "torch_dtype", "", where));
  if (c.torch_dtype.empty()) {
    LFM2_ASSIGN_OR_RETURN(c.torch_dtype, FindString(config, "dtype", "", where));
  }
  LFM2_ASSIGN_OR_RETURN(c.bos_token_id, FindInt(config, "bos_token_id", -1, where));
  LFM2_ASSIGN_OR_RETURN(c.pad_token_id, FindInt(config, "pad_token_id", -1, where));
  LFM2_RETURN_IF_ERROR(AppendEos(config, where, &c.eos_token_ids));
  if (generation_config != nullptr) {
    LFM2_RETURN_IF_ERROR(AppendEos(*generation_config, "generation_config.json", &c.eos_token_ids));
  }
  for (int64_t id : c.eos_token_ids) {
    if (id < 0 || id >= c.vocab_size) {
      return InvalidArgumentError(where, ": eos_token_id ", id, " is outside the vocabulary [0, ",
                                  c.vocab_size, ")");
    }
  }
  LFM2_RETURN_IF_ERROR(ParseLayerKinds(config, where, &c));
  LFM2_RETURN_IF_ERROR(ParseFfnWidth(config, where, &c));
  if (c.is_moe()) LFM2_RETURN_IF_ERROR(ParseMoe(config, where, &c));
  LFM2_ASSIGN_OR_RETURN(c.quantization, QuantizationConfig::FromModelConfig(config, where));
  return c;
}

StatusOr<ModelConfig> ModelConfig::FromDirectory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return NotFoundError("model directory \"", dir, "\" does not exist or is not a directory");
  }
  const std::string config_path = (fs::path(dir) / "config.json").string();
  if (!fs::exists(config_path, error)) {
    return NotFoundError(config_path, ": missing (a model directory needs config.json)");
  }
  LFM2_ASSIGN_OR_RETURN(Json config, ReadJsonFile(config_path));
  const std::string generation_path = (fs::path(dir) / "generation_config.json").string();
  Json generation;
  const bool has_generation = fs::exists(generation_path, error);
  if (has_generation) {
    LFM2_ASSIGN_OR_RETURN(generation, ReadJsonFile(generation_path));
  }
  return Parse(config, has_generation ? &generation : nullptr, config_path);
}

}  // namespace lfm2
