// model/state.cc - allocation of the hybrid cache.
#include "model/state.h"

#include <algorithm>

namespace lfm2 {

int64_t SequenceState::KvElementsPerLayer(const ModelConfig& config, int64_t capacity) {
  return config.num_key_value_heads * capacity * config.head_dim;
}

int64_t SequenceState::ConvElementsPerLayer(const ModelConfig& config) {
  return (config.conv_L_cache - 1) * config.hidden_size;
}

SequenceState::SequenceState(const ModelConfig& config, int64_t capacity) : capacity_(capacity) {
  const size_t layers = static_cast<size_t>(config.num_hidden_layers);
  keys_.resize(layers);
  values_.resize(layers);
  conv_.resize(layers);
  for (size_t i = 0; i < layers; ++i) {
    if (config.layer_kinds[i] == LayerKind::kAttention) {
      keys_[i] = AlignedBuffer<float>(static_cast<size_t>(KvElementsPerLayer(config, capacity)));
      values_[i] = AlignedBuffer<float>(static_cast<size_t>(KvElementsPerLayer(config, capacity)));
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
    total += keys_[i].bytes() + values_[i].bytes() + conv_[i].bytes();
  }
  return total;
}

}  // namespace lfm2
