// generate/cached_sequence.cc - prefix reuse on the hybrid (KV + conv) cache.
#include "generate/cached_sequence.h"

#include <algorithm>

namespace lfm2 {

CachedSequence::CachedSequence(const ModelConfig& config, int64_t capacity, int max_checkpoints,
                               kernels::KvType kv_type)
    : state_(config, capacity, kv_type), max_checkpoints_(max_checkpoints) {}

int64_t CachedSequence::CommonPrefix(std::span<const int32_t> prompt) const {
  size_t common = 0;
  while (common < tokens_.size() && common < prompt.size() && tokens_[common] == prompt[common]) {
    ++common;
  }
  return static_cast<int64_t>(common);
}

int64_t CachedSequence::Reuse(std::span<const int32_t> prompt) {
  LFM2_CHECK(!prompt.empty());
  const size_t keep = static_cast<size_t>(
      std::min<int64_t>(CommonPrefix(prompt), static_cast<int64_t>(prompt.size()) - 1));
  if (keep < tokens_.size()) {
    const SequenceState::Checkpoint* best = nullptr;
    for (const auto& checkpoint : checkpoints_) {
      if (static_cast<size_t>(checkpoint.length) <= keep &&
          (best == nullptr || checkpoint.length > best->length)) {
        best = &checkpoint;
      }
    }
    if (best != nullptr) {
      state_.Restore(*best);
      tokens_.resize(static_cast<size_t>(best->length));
    } else {
      state_.Reset();
      tokens_.clear();
    }
    std::erase_if(checkpoints_, [&](const SequenceState::Checkpoint& c) {
      return c.length > static_cast<int64_t>(tokens_.size());
    });
  }
  return static_cast<int64_t>(tokens_.size());
}

void CachedSequence::Appended(std::span<const int32_t> tokens) {
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  LFM2_DCHECK(static_cast<int64_t>(tokens_.size()) == state_.length());
}

void CachedSequence::SaveCheckpoint() {
  if (max_checkpoints_ <= 0) return;
  if (!checkpoints_.empty() && checkpoints_.back().length == state_.length()) return;
  if (static_cast<int>(checkpoints_.size()) == max_checkpoints_) checkpoints_.erase(checkpoints_.begin());
  checkpoints_.push_back(state_.Save());
}

void CachedSequence::Reset() {
  state_.Reset();
  tokens_.clear();
  checkpoints_.clear();
}

}  // namespace lfm2
