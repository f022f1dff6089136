// model/lfm2.h - the LFM2 / LFM2-MoE model: load a checkpoint directory, run tokens to logits.
//
// Flow: model dir -> config.json (ModelConfig) -> safetensors (WeightStore) -> bound weights
// (ModelWeights) -> Forward over chunks of tokens, each appended to its own SequenceState.
// Dense and MoE models share this one code path; the weight type (float or quantized) is the
// kernels' business, never the model's.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "base/thread_pool.h"
#include "io/anonymous_memory.h"
#include "kernels/matmul.h"
#include "model/config.h"
#include "model/state.h"
#include "model/weights.h"
#include "model/workspace.h"
#include "weights/weight_store.h"

namespace lfm2 {

// Tokens of one sequence to process in a Forward call.
struct ForwardChunk {
  SequenceState* state = nullptr;
  std::span<const int32_t> tokens;
  bool all_logits = false;  // logits for every token, else only for the last one
};

class Lfm2Model {
 public:
  // Reads DIR/config.json (+ generation_config.json), maps the safetensors files and binds every
  // tensor, validating names, shapes, dtypes and quantization against the config. When the CPU's
  // fast path reads the tiled layout natively (model/tiling.h TilingWanted), the quantized
  // matrices are then copied into it on all hardware threads (the file pages released).
  // tile = false keeps every matrix in the file mapping: for `inspect`, which computes nothing,
  // and for precise-path runs, which read whole rows.
  static StatusOr<std::unique_ptr<Lfm2Model>> Load(const std::string& dir, bool tile = true);
  // Whether the quantized matrices are in the tiled layout.
  bool tiled() const { return tiles_.data() != nullptr; }

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const WeightStore& store() const { return *store_; }

  // The user-input checks Forward relies on: token ids inside the vocabulary, room in each
  // state, and the chunks fitting the workspace.
  Status CheckChunks(std::span<const ForwardChunk> chunks, const Workspace& workspace) const;

  // Runs every chunk's tokens, appending them to the chunk's state, and writes the logit rows
  // (per chunk: all tokens or the last one, in chunk order) to workspace.logits [rows, vocab].
  // Returns the number of logit rows. Requires CheckChunks(chunks, workspace).ok().
  int64_t Forward(std::span<const ForwardChunk> chunks, Workspace& workspace, ThreadPool& pool,
                  kernels::MatMulPath path) const;

 private:
  Lfm2Model() = default;
  void ConvBlock(int64_t layer, const ConvWeights& w, std::span<const ForwardChunk> chunks,
                 int64_t tokens, Workspace& ws, ThreadPool& pool, kernels::MatMulPath path) const;
  void AttentionBlock(int64_t layer, const AttentionWeights& w,
                      std::span<const ForwardChunk> chunks, int64_t tokens, Workspace& ws,
                      ThreadPool& pool, kernels::MatMulPath path) const;
  void DenseFfnBlock(const DenseFfnWeights& w, int64_t tokens, Workspace& ws, ThreadPool& pool,
                     kernels::MatMulPath path) const;
  void MoeBlock(const MoeWeights& w, int64_t tokens, Workspace& ws, ThreadPool& pool,
                kernels::MatMulPath path) const;

  ModelConfig config_;
  std::unique_ptr<WeightStore> store_;
  AnonymousMemory tiles_;  // the tiled matrices (model/tiling.h), when tiled
  ModelWeights weights_;
};

}  // namespace lfm2
