// planner/plan.h - the RAM plan: a pure function from (config, per-tensor storage, context,
// batch, threads) to the bytes of every component a run holds, and their sum, the peak. The
// allocators (SequenceState, Workspace, Session checkpoints) size themselves with the very
// functions used here, so the plan cannot drift from the code; tests compare both.
//
// What is counted: the checkpoint's tensors (mapped read-only from the files: resident once
// touched, and every expert is touched sooner or later), the f32 copies made at load (norms,
// conv kernels, biases), the KV cache of the attention layers and the conv windows of the conv
// layers (per sequence), prompt-end checkpoints, the activation workspace of one forward pass,
// the sampler's vocabulary-sized buffers, the tokenizer, and the process's fixed overhead.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/attention.h"
#include "model/config.h"
#include "model/weights.h"
#include "weights/weight_store.h"

namespace lfm2 {

// Bytes of the model's tensors per group, from the files or computed from the config.
struct WeightInventory {
  uint64_t group_bytes[kNumTensorGroups] = {};  // mapped tensor data per TensorGroup
  uint64_t header_bytes = 0;                     // safetensors headers (mapped, read at load)
  uint64_t float_copy_bytes = 0;                 // f32 copies of vector tensors (anonymous)
  // The tiled layout's zero rows (model/tiling.h: matrices padded to 16 rows), when the loader
  // tiles on this CPU; the tiled copies replace the file pages otherwise.
  uint64_t tile_padding_bytes = 0;
  uint64_t total_tensor_bytes() const;
};

// Exact: the tensors of an opened checkpoint.
WeightInventory InventoryFromFiles(const ModelConfig& config, const WeightStore& store);

// From config.json alone: `float_bytes` is the size of unquantized elements and of scales and
// biases (2 for bf16/f16 checkpoints, 4 for f32), `expert_bias_bytes` that of expert_bias
// (mlx-lm keeps it as stored in the HF checkpoint: F32 for LFM2-8B-A1B). Quantized modules and
// their bits / group size come from the config's quantization block.
WeightInventory InventoryFromConfig(const ModelConfig& config, int float_bytes = 2,
                                    int expert_bias_bytes = 4);

struct PlanRequest {
  int64_t context = 4096;     // positions per sequence
  int64_t batch = 1;          // sequences held at once (server slots)
  int64_t ubatch = 512;       // tokens per forward pass
  int threads = 1;
  int64_t checkpoints = 4;    // prompt-end checkpoints per sequence
  bool tokenizer = true;      // the run loads tokenizer.json + chat template
  kernels::KvType kv_type = kernels::KvType::kF32;  // element type of the KV cache (--kv-bits)
};

struct PlanComponent {
  std::string name;    // "weights.experts", "kv_cache", ...
  uint64_t bytes = 0;
  std::string detail;  // how it was computed, for people
};

struct Plan {
  int64_t context = 0;
  int64_t batch = 0;
  std::vector<PlanComponent> components;
  uint64_t peak_bytes = 0;
  uint64_t Component(const std::string& name) const;  // 0 if absent
};

// Fixed process overhead the plan adds (binary, libraries, allocator, thread stacks in use).
uint64_t RuntimeOverheadBytes(int threads);
// Memory the tokenizer and chat template hold, estimated from the vocabulary size.
uint64_t TokenizerBytes(const ModelConfig& config);

Plan MakePlan(const ModelConfig& config, const WeightInventory& weights, const PlanRequest& request);

// The largest context (<= max_context) whose plan fits `budget_bytes`, or 0 if none does.
int64_t LargestContextWithin(const ModelConfig& config, const WeightInventory& weights,
                             PlanRequest request, uint64_t budget_bytes, int64_t max_context);

// "4G", "3.5GB", "512M", "1024" (bytes) -> bytes. Units are binary (K = 1024).
StatusOr<uint64_t> ParseByteSize(const std::string& text);
// "3.42 GiB"
std::string FormatBytes(uint64_t bytes);

}  // namespace lfm2
