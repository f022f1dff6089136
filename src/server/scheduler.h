// server/scheduler.h - continuous batching over --parallel slots. Knows nothing of HTTP: the API
// layer submits GenerationJobs (token ids + sampling) with a RequestChannel and reads
// GenerationEvents back from it.
//
// One loop thread owns the model's workspace and every slot. Each step it
//   1. admits queued jobs into free slots: the free slot whose held tokens share the longest
//      prefix with the job's prompt (then the least recently used), whose cache is rolled back to
//      the latest conv-state checkpoint inside that prefix (CachedSequence::Reuse) so only the
//      new suffix is run;
//   2. drops jobs whose client went away (RequestChannel::Cancel) - their slot is free again;
//   3. builds ONE Lfm2Model::Forward call: a one-token chunk for every generating slot (its last
//      sampled token, or the last prompt token) plus prefill chunks of admitted prompts, up to
//      batch_tokens tokens in all - so the expert weights are read once per step for all streams;
//      while any slot decodes, the prefill share is cut so the step stays within max_decode_gap
//      decode steps (chunked prefill: no stream stalls behind a long prompt);
//   4. samples each generating slot's row with that job's own Sampler (seeded per request: the
//      model's logits are bit-identical batched or alone, so outputs are too), decodes text,
//      applies stop ids and stop strings, and pushes events.
// Checkpoints: a slot saves its conv state where a later request is likely to diverge: after the
// prompt minus its last token (so a repeated prompt is reused up to its last token), at the
// prompt's end (so the next turn of a chat reuses it), and every ~256 prefilled tokens.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "generate/cached_sequence.h"
#include "generate/engine.h"
#include "sampling/sampler.h"

namespace lfm2::server {

struct TokenLogProb {
  int32_t token = 0;
  double logprob = 0;
  std::vector<std::pair<int32_t, double>> top;  // most likely first
};

// One sequence to generate.
struct GenerationJob {
  std::vector<int32_t> prompt;
  int64_t max_tokens = 16;  // >= 1
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings (never emitted)
  int top_logprobs = -1;          // < 0: no logprobs; else the chosen token's and this many top ones
  // Builds the job's token constraint (JSON schema, sampling/json_schema.h) when it is admitted;
  // may be empty.
  std::function<std::unique_ptr<TokenConstraint>()> make_constraint;
  int index = 0;  // choice index in the API response
};

struct GenerationEvent {
  int index = 0;
  std::string text;                    // new text, safe to show (may be empty)
  std::vector<TokenLogProb> logprobs;  // for the tokens this event covers, when asked for
  bool done = false;
  // When done:
  FinishReason finish = FinishReason::kStop;
  Status error;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;      // prompt tokens taken from the slot's cache
  int64_t completion_tokens = 0;  // tokens generated (stop token excluded)
};

// The events of one API request's jobs; shared by the handler thread and the loop thread.
class RequestChannel {
 public:
  void Push(GenerationEvent event);
  // Waits until at least one event is there or `timeout_seconds` passed; takes all of them.
  std::vector<GenerationEvent> Take(double timeout_seconds);
  // Asks the scheduler to drop this request's jobs (client gone, stop reached upstream).
  void Cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<GenerationEvent> events_;
  std::atomic<bool> cancelled_{false};
};

struct SchedulerOptions {
  int parallel = 1;            // slots
  int64_t context = 4096;      // positions per slot
  int64_t batch_tokens = 512;  // tokens per forward pass (>= parallel)
  int queue = 64;              // jobs waiting for a slot; beyond: Submit fails (HTTP 429)
  int checkpoints = 8;         // conv-state checkpoints per slot
  // While slots decode, a step that also prefills may take at most this many times a
  // decode-only step (estimated from recent steps): a long prompt is prefilled in chunks sized to
  // that, interleaved with every decode step, instead of stalling the streams for whole
  // batch_tokens passes. 0: prefill in chunks of up to batch_tokens regardless.
  double max_decode_gap = 2.0;
};

// How many checkpoints a slot keeps by default (for the RAM plan).
inline constexpr int kSlotCheckpoints = 8;

struct SchedulerStats {
  int slots = 0;
  int active = 0;  // slots running a job
  int queued = 0;
  uint64_t jobs = 0;
  uint64_t prompt_tokens = 0;
  uint64_t cached_tokens = 0;
  uint64_t prefilled_tokens = 0;
  uint64_t generated_tokens = 0;
  uint64_t forward_passes = 0;
  double busy_seconds = 0;        // time spent in steps
  double tokens_per_second = 0;   // generated tokens per second over the last ~10 s
};

class Scheduler {
 public:
  Scheduler(Engine& engine, const SchedulerOptions& options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Checks a job against the slots: prompt non-empty, ids in the vocabulary, prompt +
  // max_tokens <= context. kInvalidArgument with a message for the client.
  Status Check(const GenerationJob& job) const;
  // Queues all the jobs of one request, or none: kResourceExhausted when the queue cannot take
  // them all (HTTP 429), kInvalidArgument from Check, kCancelled when stopping.
  Status Submit(std::vector<GenerationJob> jobs, std::shared_ptr<RequestChannel> channel);

  // Finishes every job with kCancelled and joins the loop thread. Idempotent.
  void Stop();

  SchedulerStats stats() const;
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Active;
  struct Slot;
  struct Pending {
    GenerationJob job;
    std::shared_ptr<RequestChannel> channel;
  };
  void Loop();
  void Admit(Pending pending);
  void Step();
  // Samples the next token of `slot` from `logits` and pushes its event; false when finished.
  bool Emit(Slot& slot, std::span<const float> logits);
  void Finish(Slot& slot, FinishReason reason, Status error = Status::Ok());
  int CountFreeSlots() const;
  void UpdateFreeSlots();

  Engine& engine_;
  SchedulerOptions options_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::unique_ptr<Workspace> workspace_;
  uint64_t clock_ = 0;  // admission counter, for least-recently-used slot choice

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::atomic<int> free_slots_{0};  // as of the last step (jobs beyond them wait in queue_)
  std::thread thread_;

  mutable std::mutex stats_mutex_;
  SchedulerStats stats_;
  std::deque<std::pair<double, int64_t>> recent_;  // (step end time, tokens generated in it)
  // Running estimates for the prefill budget beside decode (0 = not measured yet): the time of a
  // decode-only step and the time one prefilled token adds to a step.
  double decode_step_seconds_ = 0;
  double prefill_token_seconds_ = 0;
};

}  // namespace lfm2::server
