// weights/quantization.cc - parsing and validation of MLX quantization parameters.
#include "weights/quantization.h"

namespace lfm2 {

Status ValidateQuantSpec(int64_t bits, int64_t group_size, const std::string& mode,
                         const std::string& where) {
  if (mode == "mxfp4" || mode == "nvfp4" || mode == "mxfp8") {
    return UnsupportedError(where, ": quantization mode \"", mode,
                            "\" is not supported (supported: \"affine\" with bits 2,3,4,5,6,8 and "
                            "group_size 32,64,128)");
  }
  if (mode != "affine") {
    return UnsupportedError(where, ": unknown quantization mode \"", mode,
                            "\" (supported: \"affine\")");
  }
  if (bits != 2 && bits != 3 && bits != 4 && bits != 5 && bits != 6 && bits != 8) {
    return UnsupportedError(where, ": bits ", bits,
                            " is not supported (MLX affine bits are 2, 3, 4, 5, 6 or 8)");
  }
  if (group_size != 32 && group_size != 64 && group_size != 128) {
    return UnsupportedError(where, ": group_size ", group_size,
                            " is not supported (expected 32, 64 or 128)");
  }
  return Status::Ok();
}

namespace {
StatusOr<QuantSpec> ParseSpec(const Json& object, const std::string& default_mode,
                              const std::string& where) {
  LFM2_ASSIGN_OR_RETURN(int64_t bits, GetInt(object, "bits", where));
  LFM2_ASSIGN_OR_RETURN(int64_t group_size, GetInt(object, "group_size", where));
  LFM2_ASSIGN_OR_RETURN(std::string mode, FindString(object, "mode", default_mode, where));
  LFM2_RETURN_IF_ERROR(ValidateQuantSpec(bits, group_size, mode, where));
  return QuantSpec{static_cast<int>(bits), static_cast<int>(group_size)};
}
}  // namespace

StatusOr<QuantizationConfig> QuantizationConfig::FromModelConfig(const Json& config,
                                                                 const std::string& where) {
  QuantizationConfig result;
  const char* key = "quantization";
  const Json* block = FindMember(config, key);
  if (block == nullptr || block->is_null()) {
    key = "quantization_config";
    block = FindMember(config, key);
  }
  if (block == nullptr || block->is_null()) return result;
  const std::string block_where = StrCat(where, ": ", key);
  if (!block->is_object()) {
    return InvalidArgumentError(block_where, " must be an object, got ", JsonTypeName(*block));
  }
  if (const Json* method = FindMember(*block, "quant_method")) {
    return UnsupportedError(block_where, ".quant_method ", DumpJson(*method),
                            " is not MLX affine quantization; only MLX checkpoints "
                            "(mlx_lm.convert) are supported");
  }
  LFM2_ASSIGN_OR_RETURN(bool quantize_activations,
                        FindBool(*block, "quantize_activations", false, block_where));
  if (quantize_activations) {
    return UnsupportedError(block_where, ".quantize_activations true is not supported");
  }
  LFM2_ASSIGN_OR_RETURN(std::string mode, FindString(*block, "mode", "affine", block_where));
  LFM2_ASSIGN_OR_RETURN(result.global_, ParseSpec(*block, mode, block_where));
  result.present_ = true;
  for (auto it = block->begin(); it != block->end(); ++it) {
    const std::string& path = it.key();
    if (path == "bits" || path == "group_size" || path == "mode" ||
        path == "quantize_activations") {
      continue;
    }
    const std::string entry_where = StrCat(block_where, "[\"", path, "\"]");
    if (it.value().is_boolean()) {
      if (it.value().get<bool>()) {
        result.overrides_[path] = result.global_;
      } else {
        result.overrides_[path] = std::nullopt;
      }
    } else if (it.value().is_object()) {
      LFM2_ASSIGN_OR_RETURN(QuantSpec spec, ParseSpec(it.value(), mode, entry_where));
      result.overrides_[path] = spec;
    } else {
      return InvalidArgumentError(entry_where, " must be an object {\"bits\", \"group_size\"} or "
                                  "false, got ", JsonTypeName(it.value()));
    }
  }
  return result;
}

std::optional<QuantSpec> QuantizationConfig::ForModule(const std::string& path) const {
  if (!present_) return std::nullopt;
  auto it = overrides_.find(path);
  if (it != overrides_.end()) return it->second;
  return global_;
}

}  // namespace lfm2
