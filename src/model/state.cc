// model/state.cc - allocation of the hybrid cache.
#include "model/state.h"

#include <algorithm>

namespace lfm2 {

int64_t SequenceState::KvElementsPerLayer(const ModelConfig& config, int64_t capacity) {
  return config.num_key_value_heads * static_cast<int64_t>(kernels::KvPositions(static_cast<size_t>(capacity))) *
         config.head_dim;
}

int64_t SequenceState::ConvElementsPerLayer(const ModelConfig& config) {
  return (config.conv_L_cache - 1) * config.hidden_size;
}

uint64_t SequenceState::KvBytesPerLayer(const ModelConfig& config, int64_t capacity, kernels::KvType type) {
  const size_t elements = static_cast<size_t>(KvElementsPerLayer(config, capacity));
  uint64_t bytes = 2 * AlignedBytes<uint8_t>(elements * kernels::KvTypeBytes(type));
  if (type == kernels::KvType::kQ8) {
    bytes += AlignedBytes<float>(2 * static_cast<size_t>(config.num_key_value_heads) *
                                 kernels::KvPositions(static_cast<size_t>(capacity)));
  }
  return bytes;
}

SequenceState::SequenceState(const ModelConfig& config, int64_t capacity, kernels::KvType kv_type)
    : capacity_(capacity), head_dim_(config.head_dim), kv_type_(kv_type) {
  const size_t layers = static_cast<size_t>(config.num_hidden_layers);
  keys_.resize(layers);
  values_.resize(layers);
  scales_.resize(layers);
  conv_.resize(layers);
  const size_t kv_bytes = static_cast<size_t>(KvElementsPerLayer(config, capacity)) * kernels::KvTypeBytes(kv_type);
  for (size_t i = 0; i < layers; ++i) {
    if (config.layer_kinds[i] == LayerKind::kAttention) {
      keys_[i] = AlignedBuffer<uint8_t>(kv_bytes);
      values_[i] = AlignedBuffer<uint8_t>(kv_bytes);
      if (kv_type == kernels::KvType::kQ8) {
        scales_[i] = AlignedBuffer<float>(2 * static_cast<size_t>(config.num_key_value_heads) *
                                          kernels::KvPositions(static_cast<size_t>(capacity)));
      }
    } else {
      conv_[i] = AlignedBuffer<float>(static_cast<size_t>(ConvElementsPerLayer(config)));
    }
  }
}

void SequenceState::Reset() {
  length_ = 0;
  for (auto& window : conv_) window.Zero();
}

SequenceState::Checkpoint SequenceState::Save() const {
  Checkpoint checkpoint;
  checkpoint.length = length_;
  checkpoint.conv.reserve(conv_.size());
  for (const auto& window : conv_) checkpoint.conv.push_back(window.Clone());
  return checkpoint;
}

void SequenceState::Restore(const Checkpoint& checkpoint) {
  LFM2_CHECK(checkpoint.conv.size() == conv_.size() && checkpoint.length <= capacity_);
  length_ = checkpoint.length;
  for (size_t i = 0; i < conv_.size(); ++i) {
    if (!conv_[i].empty()) std::copy_n(checkpoint.conv[i].data(), conv_[i].size(), conv_[i].data());
  }
}

uint64_t SequenceState::CheckpointBytes(const ModelConfig& config) {
  return static_cast<uint64_t>(config.num_conv_layers()) *
         AlignedBytes<float>(static_cast<size_t>(ConvElementsPerLayer(config)));
}

uint64_t SequenceState::bytes() const {
  uint64_t total = 0;
  for (size_t i = 0; i < keys_.size(); ++i) {
    total += keys_[i].bytes() + values_[i].bytes() + scales_[i].bytes() + conv_[i].bytes();
  }
  return total;
}

kernels::KvHead SequenceState::kv_head(int64_t layer, int64_t head) {
  const size_t positions = kernels::KvPositions(static_cast<size_t>(capacity_));
  const size_t per_head = positions * static_cast<size_t>(head_dim_) * kernels::KvTypeBytes(kv_type_);
  const size_t l = static_cast<size_t>(layer), h = static_cast<size_t>(head);
  kernels::KvHead kv;
  kv.type = kv_type_;
  kv.keys = keys_[l].data() + h * per_head;
  kv.values = values_[l].data() + h * per_head;
  if (kv_type_ == kernels::KvType::kQ8) {
    const size_t heads = scales_[l].size() / (2 * positions);
    kv.key_scales = scales_[l].data() + h * positions;
    kv.value_scales = scales_[l].data() + (heads + h) * positions;
  }
  kv.capacity = static_cast<size_t>(capacity_);
  kv.head_dim = static_cast<size_t>(head_dim_);
  return kv;
}

}  // namespace lfm2
