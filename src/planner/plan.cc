// planner/plan.cc - RAM plan arithmetic.
#include "planner/plan.h"

#include "kernels/matmul.h"
#include "kernels/tiled.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <optional>

#include "base/aligned_buffer.h"
#include "model/state.h"
#include "model/tiling.h"
#include "model/workspace.h"
#include "weights/dtype.h"

namespace lfm2 {
namespace {

// Safetensors header bytes per tensor entry (name, dtype, shape, offsets in compact JSON);
// an estimate used in both inventories so that they agree.
constexpr uint64_t kHeaderBytesPerTensor = 112;

uint64_t VectorCopyBytes(const TensorSpec& spec) {
  return AlignedBytes<float>(static_cast<size_t>(spec.rows));
}

int CountTensors(const TensorSpec& spec, bool quantized) {
  return spec.kind == TensorSpec::Kind::kVector ? 1 : (quantized ? 3 : 1);
}

}  // namespace

namespace {

// Zero rows the tiled layout adds to the matrix of `spec` when this process tiles it.
uint64_t TilePaddingBytes(const TensorSpec& spec, const std::optional<QuantSpec>& quant, DType scale_dtype) {
  if (!quant || !TilingWanted() || !TiledTensor(spec)) return 0;
  // The matrix as the loader would see it; the kernels decide what they tile and its size.
  WeightMatrix w;
  w.rows = spec.rows;
  w.cols = spec.cols;
  w.quant = *quant;
  w.scale_dtype = scale_dtype;
  if (!kernels::Tileable(w)) return 0;
  w.row_bytes = static_cast<size_t>(spec.cols) * static_cast<size_t>(quant->bits) / 8;
  w.scale_row_bytes = static_cast<size_t>(spec.cols / quant->group_size) * DTypeBits(scale_dtype) / 8;
  return static_cast<uint64_t>(std::max<int64_t>(spec.experts, 1)) * (kernels::TiledBytes(w) - w.StorageBytes());
}

}  // namespace

uint64_t WeightInventory::total_tensor_bytes() const {
  uint64_t total = 0;
  for (uint64_t bytes : group_bytes) total += bytes;
  return total;
}

WeightInventory InventoryFromFiles(const ModelConfig& config, const WeightStore& store) {
  WeightInventory inventory;
  const SafetensorsSet& files = store.tensors();
  ForEachTensor(config, TensorNaming::Detect(config, store), nullptr,
                [&](const TensorSpec& spec, TensorSlot) {
                  uint64_t& group = inventory.group_bytes[static_cast<int>(spec.group)];
                  if (spec.kind == TensorSpec::Kind::kVector) {
                    group += files.Find(spec.name)->bytes;
                    inventory.float_copy_bytes += VectorCopyBytes(spec);
                    inventory.header_bytes += kHeaderBytesPerTensor;
                    return;
                  }
                  int tensors = 0;
                  for (const char* suffix : {".weight", ".scales", ".biases"}) {
                    if (const TensorInfo* t = files.Find(spec.name + suffix)) {
                      group += t->bytes;
                      ++tensors;
                    }
                  }
                  inventory.header_bytes += kHeaderBytesPerTensor * tensors;
                  if (const TensorInfo* scales = files.Find(spec.name + ".scales")) {
                    inventory.tile_padding_bytes += TilePaddingBytes(
                        spec, config.quantization.ForModule(spec.name), scales->dtype);
                  }
                });
  return inventory;
}

WeightInventory InventoryFromConfig(const ModelConfig& config, int float_bytes,
                                    int expert_bias_bytes) {
  WeightInventory inventory;
  ForEachTensor(config, TensorNaming::Default(config), nullptr,
                [&](const TensorSpec& spec, TensorSlot) {
                  uint64_t& group = inventory.group_bytes[static_cast<int>(spec.group)];
                  if (spec.kind == TensorSpec::Kind::kVector) {
                    const bool bias = spec.name.size() >= 11 &&
                                      spec.name.compare(spec.name.size() - 11, 11, "expert_bias") == 0;
                    group += static_cast<uint64_t>(spec.rows) * (bias ? expert_bias_bytes : float_bytes);
                    inventory.float_copy_bytes += VectorCopyBytes(spec);
                    inventory.header_bytes += kHeaderBytesPerTensor;
                    return;
                  }
                  const uint64_t matrices = std::max<int64_t>(spec.experts, 1);
                  const auto quant = config.quantization.ForModule(spec.name);
                  const uint64_t rows = static_cast<uint64_t>(spec.rows), cols = static_cast<uint64_t>(spec.cols);
                  if (quant) {
                    group += matrices * (rows * cols * quant->bits / 8 +
                                         2 * rows * (cols / quant->group_size) * float_bytes);
                  } else {
                    group += matrices * rows * cols * float_bytes;
                  }
                  inventory.header_bytes += kHeaderBytesPerTensor * CountTensors(spec, quant.has_value());
                  inventory.tile_padding_bytes += TilePaddingBytes(spec, quant, float_bytes == 4 ? DType::kF32 : DType::kBF16);
                });
  return inventory;
}

uint64_t Plan::Component(const std::string& name) const {
  for (const PlanComponent& c : components) {
    if (c.name == name) return c.bytes;
  }
  return 0;
}

uint64_t RuntimeOverheadBytes(int threads) {
  // Measured: the lfm2 binary with its libraries and allocator is ~4.5 MB resident before
  // loading a model; each worker thread adds its touched stack, TLS scratch and malloc arena
  // pages. (Re-measured when the KV cache went to float16: the small models' runs at a full
  // context came within 0.2 MB of the old 6 MB, which the float32 cache's share had hidden.)
  return (6ull << 20) + (512ull << 10) + static_cast<uint64_t>(threads) * (512ull << 10);
}

uint64_t TokenizerBytes(const ModelConfig& config) {
  // Vocabulary, merges (pair -> rank hash map), added tokens, pre-token cache and the parsed
  // chat template: about 400 bytes per vocabulary entry plus a fixed part.
  return (4ull << 20) + static_cast<uint64_t>(config.vocab_size) * 400;
}

Plan MakePlan(const ModelConfig& c, const WeightInventory& w, const PlanRequest& r) {
  Plan plan;
  plan.context = r.context;
  plan.batch = r.batch;
  auto add = [&](std::string name, uint64_t bytes, std::string detail) {
    plan.components.push_back({std::move(name), bytes, std::move(detail)});
  };
  for (int g = 0; g < kNumTensorGroups; ++g) {
    if (w.group_bytes[g] == 0) continue;
    add(StrCat("weights.", TensorGroupName(static_cast<TensorGroup>(g))), w.group_bytes[g],
        TilingWanted() ? "quantized matrices copied to the tiled layout at load (file pages released), "
                         "the rest mapped from the safetensors files"
                       : "mapped from the safetensors files");
  }
  if (w.tile_padding_bytes > 0) {
    add("weights.tile_padding", w.tile_padding_bytes, "zero rows of the tiled layout (16-row tiles)");
  }
  add("weights.headers", w.header_bytes, "safetensors headers, mapped");
  add("weights.f32_copies", w.float_copy_bytes, "norms, conv kernels, biases converted to f32 at load");

  const uint64_t batch = static_cast<uint64_t>(r.batch);
  const uint64_t kv_layer = SequenceState::KvBytesPerLayer(c, r.context, r.kv_type);
  const char* kv_element = r.kv_type == kernels::KvType::kF32   ? "f32"
                           : r.kv_type == kernels::KvType::kF16 ? "f16"
                                                                : "int8 (+ an f32 scale per position and head)";
  add("kv_cache", batch * static_cast<uint64_t>(c.num_attention_layers()) * kv_layer,
      StrCat(c.num_attention_layers(), " attention layers x (K+V) x ", c.num_key_value_heads, " KV heads x ",
             r.context, " positions x ", c.head_dim, " x ", kv_element, " x ", r.batch, " sequence(s)"));
  const uint64_t conv_layer = AlignedBytes<float>(static_cast<size_t>(SequenceState::ConvElementsPerLayer(c)));
  add("conv_state", batch * static_cast<uint64_t>(c.num_conv_layers()) * conv_layer,
      StrCat(c.num_conv_layers(), " conv layers x ", c.conv_L_cache - 1, " x ", c.hidden_size, " x f32 x ",
             r.batch, " sequence(s)"));
  add("checkpoints", batch * static_cast<uint64_t>(r.checkpoints) * SequenceState::CheckpointBytes(c),
      StrCat(r.checkpoints, " prompt-end conv-state checkpoints per sequence"));
  const WorkspaceLimits limits{std::min(r.ubatch, r.context), 1, r.context, r.threads};
  add("activations", Workspace::Bytes(c, limits),
      StrCat("one forward pass of ", limits.max_tokens, " tokens, attention scores for ", r.threads,
             " thread(s)"));
  // The fast matmul path's thread-local scratch (quantized activations, unpacked tiles), sized
  // for the widest input any product reads.
  const int64_t widest = std::max({c.hidden_size, c.intermediate_size, c.moe_intermediate_size});
  add("matmul_scratch",
      kernels::MatMulScratchBytes(static_cast<size_t>(limits.max_tokens), static_cast<size_t>(widest), 1,
                                  r.threads),
      StrCat("quantized activations of ", limits.max_tokens, " x ", widest, ", per-thread tiles"));
  // Per sequence: the last logits, the sampler's copy, log-probs, filtered log-probs (f32) and
  // draw weights (f64).
  add("sampling", batch * static_cast<uint64_t>(c.vocab_size) * (4 + 4 + 4 + 4 + 8),
      "vocabulary-sized logits and sampler buffers per sequence");
  if (r.tokenizer) add("tokenizer", TokenizerBytes(c), "vocabulary, merges, chat template");
  uint64_t subtotal = 0;
  for (const PlanComponent& component : plan.components) subtotal += component.bytes;
  // Plus 1% of everything for page granularity and allocator slack, so that the plan stays an
  // upper bound a --max-ram budget can rely on.
  add("runtime", RuntimeOverheadBytes(r.threads) + subtotal / 100,
      StrCat("binary, libraries, allocator, ", r.threads, " thread(s), 1% slack"));
  for (const PlanComponent& component : plan.components) plan.peak_bytes += component.bytes;
  return plan;
}

int64_t LargestContextWithin(const ModelConfig& config, const WeightInventory& weights,
                             PlanRequest request, uint64_t budget_bytes, int64_t max_context) {
  int64_t low = 0, high = max_context;  // the plan grows with the context
  while (low < high) {
    const int64_t mid = low + (high - low + 1) / 2;
    request.context = mid;
    if (MakePlan(config, weights, request).peak_bytes <= budget_bytes) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  return low;
}

StatusOr<uint64_t> ParseByteSize(const std::string& text) {
  size_t end = 0;
  double value = 0;
  try {
    value = std::stod(text, &end);
  } catch (...) {
    return InvalidArgumentError("\"", text, "\" is not a size (e.g. 8G, 3.5GiB, 512M)");
  }
  std::string unit = text.substr(end);
  for (char& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  double scale = 1;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "K" || unit == "KB" || unit == "KIB") {
    scale = 1024.0;
  } else if (unit == "M" || unit == "MB" || unit == "MIB") {
    scale = 1024.0 * 1024;
  } else if (unit == "G" || unit == "GB" || unit == "GIB") {
    scale = 1024.0 * 1024 * 1024;
  } else if (unit == "T" || unit == "TB" || unit == "TIB") {
    scale = 1024.0 * 1024 * 1024 * 1024;
  } else {
    return InvalidArgumentError("\"", text, "\": unknown unit \"", unit, "\" (use K, M, G or T)");
  }
  if (!(value > 0) || !std::isfinite(value * scale) || value * scale > 1.0e18) {
    return InvalidArgumentError("\"", text, "\" is not a positive size");
  }
  return static_cast<uint64_t>(value * scale);
}

std::string FormatBytes(uint64_t bytes) {
  char text[32];
  if (bytes >= (1ull << 30)) {
    std::snprintf(text, sizeof(text), "%.2f GiB", bytes / 1073741824.0);
  } else if (bytes >= (1ull << 20)) {
    std::snprintf(text, sizeof(text), "%.1f MiB", bytes / 1048576.0);
  } else {
    std::snprintf(text, sizeof(text), "%.1f KiB", bytes / 1024.0);
  }
  return text;
}

}  // namespace lfm2
