// generate/cached_sequence.h - one sequence's model state together with the tokens it holds and
// conv-state checkpoints, so that a new prompt can reuse the longest cached prefix. The hybrid
// cache makes this subtle: KV entries past a position can simply be overwritten, but the conv
// layers' rolling state cannot be trimmed - it can only be restored from a checkpoint taken at
// an earlier length. Used by Session (CLI) and by the server's slots.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/config.h"
#include "model/state.h"

namespace lfm2 {

class CachedSequence {
 public:
  CachedSequence(const ModelConfig& config, int64_t capacity, int max_checkpoints,
                 kernels::KvType kv_type = kernels::KvType::kF32);

  SequenceState& state() { return state_; }
  int64_t capacity() const { return state_.capacity(); }
  // The tokens the state holds, in order.
  const std::vector<int32_t>& tokens() const { return tokens_; }

  // Length of the common prefix of `prompt` and the held tokens.
  int64_t CommonPrefix(std::span<const int32_t> prompt) const;

  // Prepares the state for `prompt` and returns how many of its tokens are kept from the cache;
  // the caller then runs prompt[kept:] (always at least one token, so that the logits of the
  // last prompt position are computed). Rolls back to the latest checkpoint inside the common
  // prefix when the cache runs past it (or resets when there is none).
  int64_t Reuse(std::span<const int32_t> prompt);

  // Records tokens that a Forward call appended to the state.
  void Appended(std::span<const int32_t> tokens);
  // Saves a checkpoint at the current length (dropping the oldest beyond max_checkpoints).
  void SaveCheckpoint();
  // Forgets everything.
  void Reset();

 private:
  SequenceState state_;
  std::vector<int32_t> tokens_;
  std::vector<SequenceState::Checkpoint> checkpoints_;  // oldest first
  int max_checkpoints_;
};

}  // namespace lfm2
