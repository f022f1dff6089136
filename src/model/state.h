// model/state.h - the per-sequence cache of the hybrid architecture: a KV cache for each attention
// layer and a rolling window of the last L-1 gated inputs (B*x) for each conv layer. Its size is
// fixed at creation from the context capacity, so a sequence can never grow past its plan. The KV
// cache holds float32, float16 or int8 with per-position scales (kernels::KvType, --kv-bits).
#pragma once

#include <cstdint>
#include <vector>

#include "base/aligned_buffer.h"
#include "kernels/attention.h"
#include "model/config.h"

namespace lfm2 {

class SequenceState {
 public:
  // Element counts of the buffers a sequence of `capacity` positions needs (used by the planner).
  static int64_t KvElementsPerLayer(const ModelConfig& config, int64_t capacity);
  static int64_t ConvElementsPerLayer(const ModelConfig& config);
  // Bytes of one attention layer's KV cache (keys, values and, for int8, their scales).
  static uint64_t KvBytesPerLayer(const ModelConfig& config, int64_t capacity, kernels::KvType type);

  SequenceState(const ModelConfig& config, int64_t capacity,
                kernels::KvType kv_type = kernels::KvType::kF32);
  SequenceState(SequenceState&&) = default;
  SequenceState& operator=(SequenceState&&) = default;

  int64_t length() const { return length_; }          // positions already processed
  int64_t capacity() const { return capacity_; }
  kernels::KvType kv_type() const { return kv_type_; }
  // Forgets everything: positions restart at 0 and the conv windows are zeroed (KV entries at or
  // beyond length() are never read).
  void Reset();
  // Total bytes held by the caches.
  uint64_t bytes() const;

  // Layer-indexed views; layers of the other kind have empty buffers.
  // The KV cache of one key/value head of an attention layer (keys [head_dim, capacity], values
  // [capacity, head_dim]; heads one after the other).
  kernels::KvHead kv_head(int64_t layer, int64_t head);
  // conv window: [L-1, hidden], oldest first.
  float* conv(int64_t layer) { return conv_[layer].data(); }
  void Advance(int64_t n) { length_ += n; }

  // A copy of the conv windows at some length: restoring it rolls the sequence back to that
  // length exactly (KV entries past it are simply overwritten later). The conv layers' state
  // cannot be trimmed otherwise.
  struct Checkpoint {
    int64_t length = 0;
    std::vector<AlignedBuffer<float>> conv;
  };
  Checkpoint Save() const;
  void Restore(const Checkpoint& checkpoint);
  // Bytes one checkpoint holds.
  static uint64_t CheckpointBytes(const ModelConfig& config);

 private:
  int64_t length_ = 0;
  int64_t capacity_ = 0;
  int64_t head_dim_ = 0;
  kernels::KvType kv_type_ = kernels::KvType::kF32;
  std::vector<AlignedBuffer<uint8_t>> keys_;
  std::vector<AlignedBuffer<uint8_t>> values_;
  std::vector<AlignedBuffer<float>> scales_;  // int8 cache: [2][kv_heads][capacity] (keys, values)
  std::vector<AlignedBuffer<float>> conv_;
};

}  // namespace lfm2
