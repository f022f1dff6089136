// generate/engine.h - a loaded model ready to generate: weights, tokenizer, chat template and
// a thread pool (Engine), and one conversation's running state (Session): prefill with reuse of
// the longest cached prefix, then sampled or greedy decoding with stop tokens, streamed text and
// timings.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/thread_pool.h"
#include "generate/cached_sequence.h"
#include "jinja/chat_template.h"
#include "model/lfm2.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace lfm2 {

struct EngineOptions {
  int threads = ThreadPool::HardwareThreads();
  int64_t batch_size = 512;  // tokens per forward pass during prefill
  kernels::MatMulPath path = kernels::MatMulPath::kFast;
  kernels::KvType kv_type = kernels::KvType::kF16;  // element type of every sequence's KV cache
  bool require_tokenizer = true;
};

class Engine {
 public:
  // `model_dir` is a resolved directory (see ResolveModelPath).
  static StatusOr<std::unique_ptr<Engine>> Load(const std::string& model_dir,
                                                const EngineOptions& options);

  const Lfm2Model& model() const { return *model_; }
  const ModelConfig& config() const { return model_->config(); }
  // Null when the directory has no tokenizer.json (allowed with require_tokenizer = false).
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  // Null when the model has no chat template.
  const ChatTemplate* chat_template() const { return chat_template_.get(); }
  ThreadPool& pool() { return *pool_; }
  const EngineOptions& options() const { return options_; }
  double load_seconds() const { return load_seconds_; }

  // Generation stops on these: config.json / generation_config.json eos ids, the tokenizer's eos
  // token, and <|endoftext|> when the tokenizer has it as a special token.
  const std::vector<int32_t>& stop_ids() const { return stop_ids_; }
  // Ids that may be sampled: min(model vocab, tokenizer vocab).
  int64_t allowed_vocab() const { return allowed_vocab_; }

  // Prompt text -> ids. With `chat` the text is an already rendered template (which carries its
  // own BOS): special tokens are parsed and nothing is added. Without, the tokenizer's
  // post-processor adds BOS as `encode` does - unless the text itself starts with BOS.
  std::vector<int32_t> Tokenize(std::string_view text, bool rendered_chat) const;

 private:
  Engine() = default;
  EngineOptions options_;
  std::unique_ptr<Lfm2Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ChatTemplate> chat_template_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<int32_t> stop_ids_;
  int64_t allowed_vocab_ = 0;
  double load_seconds_ = 0;
};

struct GenerationOptions {
  int64_t max_tokens = 256;
  SamplingParams sampling;
  bool stop_on_eos = true;
};

enum class FinishReason { kStop, kLength, kContext, kCancelled };
const char* FinishReasonName(FinishReason reason);

struct PrefillResult {
  int64_t prompt_tokens = 0;
  int64_t reused_tokens = 0;   // taken from the cache
  int64_t prefilled_tokens = 0;
  double seconds = 0;
};

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated, excluding the stop token
  FinishReason finish = FinishReason::kLength;
  double first_token_seconds = 0;  // from the start of Generate to the first token
  double decode_seconds = 0;       // forward passes of generated tokens
  int64_t decoded_tokens = 0;      // forward passes run while generating
};

// Called for every generated token with the text it completes (possibly empty while a UTF-8
// sequence is incomplete). Return false to stop (FinishReason::kCancelled).
using TokenCallback = std::function<bool(int32_t token, std::string_view text)>;

class Session {
 public:
  // Allocates the sequence state and workspace for `context` positions.
  Session(Engine& engine, int64_t context);

  int64_t context() const { return sequence_.capacity(); }
  // The tokens the state holds.
  const std::vector<int32_t>& tokens() const { return sequence_.tokens(); }

  // Makes the state hold exactly `prompt`: keeps the longest common prefix with what it holds
  // (rolling back to a checkpoint if the prompt diverges inside it) and runs the rest. Fails with
  // OutOfRange when the prompt does not fit the context.
  StatusOr<PrefillResult> Prefill(std::span<const int32_t> prompt);

  // Samples up to max_tokens after the prompt, feeding each token back; stops on a stop id, at
  // max_tokens, when the context is full, or when `on_token` returns false.
  StatusOr<GenerationResult> Generate(const GenerationOptions& options, const TokenCallback& on_token);

  // Forgets everything.
  void Reset();

 private:
  void Run(std::span<const int32_t> tokens);  // forward, appending to the sequence
  Engine& engine_;
  CachedSequence sequence_;
  Workspace workspace_;
  std::vector<float> last_logits_;  // logits after the last held token
};

// How many prompt-end checkpoints a Session keeps (for the RAM plan).
inline constexpr int kSessionCheckpoints = 4;

}  // namespace lfm2
