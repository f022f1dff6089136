// weights/quantization.h - the `quantization` block of an MLX config.json: global MLX affine
// parameters plus per-module overrides (extra keys of the same object, keyed by module path
// without ".weight"; a value of false means "not quantized"). Only mode "affine" with bits
// 2,3,4,5,6,8 and group sizes 32,64,128 is supported; everything else is refused by name.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "base/status.h"
#include "io/json.h"

namespace lfm2 {

struct QuantSpec {
  int bits = 0;        // 2, 3, 4, 5, 6 or 8
  int group_size = 0;  // 32, 64 or 128
  // Packed uint32 words per row of `in_features` values.
  int64_t PackedWords(int64_t in_features) const { return in_features * bits / 32; }
  int64_t Groups(int64_t in_features) const { return in_features / group_size; }
  bool operator==(const QuantSpec&) const = default;
};

// Checks bits / group size / mode; `where` names the config entry in the error.
Status ValidateQuantSpec(int64_t bits, int64_t group_size, const std::string& mode,
                         const std::string& where);

class QuantizationConfig {
 public:
  // Parses config.json's "quantization" (preferred) or "quantization_config" object. A config
  // without either is unquantized. Refuses non-MLX schemes (quant_method), non-affine modes,
  // unsupported bits/group sizes and quantize_activations.
  static StatusOr<QuantizationConfig> FromModelConfig(const Json& config, const std::string& where);

  bool present() const { return present_; }
  const QuantSpec& global() const { return global_; }
  // The spec for module `path` (e.g. "model.layers.2.feed_forward.gate"): its override if any,
  // else the global one. nullopt when the config says the module is not quantized (false) or the
  // config has no quantization block.
  std::optional<QuantSpec> ForModule(const std::string& path) const;
  const std::map<std::string, std::optional<QuantSpec>>& overrides() const { return overrides_; }

 private:
  bool present_ = false;
  QuantSpec global_;
  std::map<std::string, std::optional<QuantSpec>> overrides_;
};

}  // namespace lfm2
