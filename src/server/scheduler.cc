// server/scheduler.cc - slots, the wait queue and the batching loop.
#include "server/scheduler.h"

#include <algorithm>

#include "base/memory_info.h"
#include "server/stop_matcher.h"

namespace lfm2::server {
namespace {
constexpr int64_t kCheckpointEvery = 256;  // prefilled tokens between intermediate checkpoints
constexpr int64_t kMinPrefillChunk = 8;    // prefill tokens a step beside decode takes at least
constexpr double kRateWindowSeconds = 10;
}  // namespace

void RequestChannel::Push(GenerationEvent event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

std::vector<GenerationEvent> RequestChannel::Take(double timeout_seconds) {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait_for(lock, std::chrono::duration<double>(timeout_seconds), [&] { return !events_.empty(); });
  std::vector<GenerationEvent> out(std::make_move_iterator(events_.begin()),
                                   std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

// A job running in a slot.
struct Scheduler::Active {
  Active(GenerationJob j, std::shared_ptr<RequestChannel> c, const Engine& engine)
      : job(std::move(j)),
        channel(std::move(c)),
        sampler(job.sampling, engine.allowed_vocab()),
        stops(job.stop) {
    if (engine.tokenizer() != nullptr) decoder = std::make_unique<StreamingDecoder>(*engine.tokenizer());
  }
  enum class Phase { kPrefill, kLastPrompt, kDecode };

  GenerationJob job;
  std::shared_ptr<RequestChannel> channel;
  Sampler sampler;
  StopMatcher stops;
  std::unique_ptr<StreamingDecoder> decoder;
  std::unique_ptr<TokenConstraint> constraint;
  std::vector<int32_t> history;  // prompt + generated, for the penalties
  std::vector<float> row;        // this step's logits, masked and processed by the sampler
  Phase phase = Phase::kPrefill;
  uint64_t order = 0;            // admission order: prefill goes first come, first served
  int64_t fed = 0;               // prompt tokens in the state
  int64_t cached = 0;
  int64_t generated = 0;
  int64_t since_checkpoint = 0;
  int32_t feed = -1;             // the one token a decode chunk feeds
  GenerationEvent event;         // being built during this step
};

struct Scheduler::Slot {
  Slot(const ModelConfig& config, int64_t context, int checkpoints, kernels::KvType kv_type)
      : sequence(config, context, checkpoints, kv_type) {}
  CachedSequence sequence;
  std::unique_ptr<Active> active;
  uint64_t last_used = 0;
};

Scheduler::Scheduler(Engine& engine, const SchedulerOptions& options)
    : engine_(engine), options_(options) {
  LFM2_CHECK(options_.parallel >= 1 && options_.context >= 2 && options_.queue >= 0);
  // As the RAM plan counts it: no more tokens per pass than a context holds, but at least one
  // decode token per slot.
  options_.batch_tokens = std::max<int64_t>(std::min(options_.batch_tokens, options_.context), options_.parallel);
  for (int i = 0; i < options_.parallel; ++i) {
    slots_.push_back(std::make_unique<Slot>(engine.config(), options_.context, options_.checkpoints,
                                           engine.options().kv_type));
  }
  workspace_ = std::make_unique<Workspace>(
      engine.config(), WorkspaceLimits{options_.batch_tokens, options_.parallel, options_.context,
                                       engine.pool().num_threads()});
  stats_.slots = options_.parallel;
  free_slots_ = options_.parallel;
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status Scheduler::Check(const GenerationJob& job) const {
  const int64_t prompt = static_cast<int64_t>(job.prompt.size());
  if (prompt == 0) return InvalidArgumentError("the prompt is empty (no tokens)");
  const int64_t vocab = engine_.config().vocab_size;
  for (int32_t id : job.prompt) {
    if (id < 0 || id >= vocab) {
      return InvalidArgumentError("token id ", id, " is outside the vocabulary [0, ", vocab, ")");
    }
  }
  if (job.max_tokens < 1) return InvalidArgumentError("max_tokens must be >= 1");
  if (prompt >= options_.context) {
    return InvalidArgumentError("the prompt has ", prompt, " tokens but the context of a slot is ",
                                options_.context, " tokens (the server's --ctx)");
  }
  if (prompt + job.max_tokens > options_.context) {
    return InvalidArgumentError("the prompt (", prompt, " tokens) plus max_tokens (", job.max_tokens,
                                ") exceeds the context of a slot, ", options_.context,
                                " tokens: lower max_tokens to at most ", options_.context - prompt);
  }
  return ValidateSamplingParams(job.sampling);
}

Status Scheduler::Submit(std::vector<GenerationJob> jobs, std::shared_ptr<RequestChannel> channel) {
  for (const GenerationJob& job : jobs) LFM2_RETURN_IF_ERROR(Check(job));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return CancelledError("the server is shutting down");
    if (queue_.size() + jobs.size() > static_cast<size_t>(options_.queue) + CountFreeSlots()) {
      return ResourceExhaustedError("the server is busy: ", queue_.size(),
                                    " requests are waiting (--queue ", options_.queue, "); retry later");
    }
    for (GenerationJob& job : jobs) queue_.push_back({std::move(job), channel});
  }
  cv_.notify_all();
  return Status::Ok();
}

int Scheduler::CountFreeSlots() const {
  return free_slots_.load();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  SchedulerStats stats = stats_;
  {
    std::lock_guard<std::mutex> queue_lock(mutex_);
    stats.queued = static_cast<int>(queue_.size());
  }
  const double now = NowSeconds();
  int64_t tokens = 0;
  for (const auto& [time, count] : recent_) {
    if (time > now - kRateWindowSeconds) tokens += count;
  }
  stats.tokens_per_second = tokens / kRateWindowSeconds;
  return stats;
}

void Scheduler::Loop() {
  while (true) {
    std::vector<Pending> admitted;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      const auto any_active = [&] {
        return std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->active != nullptr; });
      };
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || any_active(); });
      if (stopping_) break;
      int free = static_cast<int>(std::count_if(slots_.begin(), slots_.end(),
                                                [](const auto& s) { return s->active == nullptr; }));
      while (free > 0 && !queue_.empty()) {
        admitted.push_back(std::move(queue_.front()));
        queue_.pop_front();
        --free;
      }
      free_slots_ = free;
    }
    for (Pending& pending : admitted) Admit(std::move(pending));
    Step();
    UpdateFreeSlots();
  }
  // Stopping: every running and queued job ends with an error.
  for (auto& slot : slots_) {
    if (slot->active) Finish(*slot, FinishReason::kCancelled, CancelledError("the server is shutting down"));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (Pending& pending : queue_) {
    GenerationEvent event;
    event.index = pending.job.index;
    event.done = true;
    event.finish = FinishReason::kCancelled;
    event.error = CancelledError("the server is shutting down");
    pending.channel->Push(std::move(event));
  }
  queue_.clear();
}

void Scheduler::UpdateFreeSlots() {
  const int free = static_cast<int>(std::count_if(slots_.begin(), slots_.end(),
                                                  [](const auto& s) { return s->active == nullptr; }));
  free_slots_ = free;
  std::lock_guard<std::mutex> lock(stats_mutex_);
  stats_.active = options_.parallel - free;
}

void Scheduler::Admit(Pending pending) {
  // The free slot sharing the longest prefix with the prompt; then the least recently used.
  Slot* best = nullptr;
  int64_t best_prefix = -1;
  for (auto& slot : slots_) {
    if (slot->active) continue;
    const int64_t prefix = slot->sequence.CommonPrefix(pending.job.prompt);
    if (prefix > best_prefix || (prefix == best_prefix && slot->last_used < best->last_used)) {
      best = slot.get();
      best_prefix = prefix;
    }
  }
  LFM2_CHECK(best != nullptr);
  auto active = std::make_unique<Active>(std::move(pending.job), std::move(pending.channel), engine_);
  Active& a = *active;
  const int64_t length = static_cast<int64_t>(a.job.prompt.size());
  a.cached = best->sequence.Reuse(a.job.prompt);  // at most length - 1
  a.fed = a.cached;
  a.phase = a.fed == length - 1 ? Active::Phase::kLastPrompt : Active::Phase::kPrefill;
  a.order = ++clock_;
  a.history = a.job.prompt;
  a.event.index = a.job.index;
  if (a.job.make_constraint) a.constraint = a.job.make_constraint();
  best->active = std::move(active);
  best->last_used = clock_;
  std::lock_guard<std::mutex> lock(stats_mutex_);
  stats_.jobs++;
  stats_.prompt_tokens += static_cast<uint64_t>(length);
  stats_.cached_tokens += static_cast<uint64_t>(a.cached);
}

void Scheduler::Step() {
  for (auto& slot : slots_) {
    if (slot->active && slot->active->channel->cancelled()) Finish(*slot, FinishReason::kCancelled);
  }
  std::vector<ForwardChunk> chunks;
  std::vector<Slot*> owners;
  int64_t tokens = 0;
  // One token for every slot that samples after this step.
  for (auto& slot : slots_) {
    Active* a = slot->active.get();
    if (a == nullptr || a->phase == Active::Phase::kPrefill) continue;
    if (a->phase == Active::Phase::kLastPrompt) a->feed = a->job.prompt.back();
    chunks.push_back({&slot->sequence.state(), std::span<const int32_t>(&a->feed, 1), false});
    owners.push_back(slot.get());
    ++tokens;
  }
  // Prefill chunks with the rest of the budget, oldest admission first - while slots decode, only
  // as many tokens as keep the step within max_decode_gap decode steps.
  const int64_t decoding = tokens;
  int64_t budget = options_.batch_tokens - tokens;
  if (decoding > 0 && options_.max_decode_gap > 0) {
    int64_t allowed = kMinPrefillChunk;
    if (decode_step_seconds_ > 0 && prefill_token_seconds_ > 0) {
      const double extra = (options_.max_decode_gap - 1.0) * decode_step_seconds_;
      allowed = std::max<int64_t>(kMinPrefillChunk, static_cast<int64_t>(extra / prefill_token_seconds_));
    }
    budget = std::min(budget, allowed);
  }
  std::vector<Slot*> prefilling;
  for (auto& slot : slots_) {
    if (slot->active && slot->active->phase == Active::Phase::kPrefill) prefilling.push_back(slot.get());
  }
  std::sort(prefilling.begin(), prefilling.end(),
            [](Slot* x, Slot* y) { return x->active->order < y->active->order; });
  for (Slot* slot : prefilling) {
    Active& a = *slot->active;
    const int64_t end = static_cast<int64_t>(a.job.prompt.size()) - 1;  // the last token decodes
    const int64_t count = std::min(end - a.fed, budget - (tokens - decoding));
    if (count <= 0) continue;
    chunks.push_back({&slot->sequence.state(),
                      std::span<const int32_t>(a.job.prompt).subspan(static_cast<size_t>(a.fed),
                                                                     static_cast<size_t>(count)),
                      false});
    owners.push_back(slot);
    tokens += count;
  }
  if (chunks.empty()) return;
  const Status check = engine_.model().CheckChunks(chunks, *workspace_);
  if (!check.ok()) {  // Check() and the slot sizes make this unreachable; never crash on it
    for (Slot* slot : owners) {
      if (slot->active) Finish(*slot, FinishReason::kCancelled, InternalError(check.message()));
    }
    return;
  }
  const double start = NowSeconds();
  engine_.model().Forward(chunks, *workspace_, engine_.pool(), engine_.options().path);
  const int64_t vocab = engine_.config().vocab_size;
  int64_t generated = 0, prefilled = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    Slot& slot = *owners[i];
    Active& a = *slot.active;
    slot.sequence.Appended(chunks[i].tokens);
    const std::span<const float> row(workspace_->logits.data() + static_cast<int64_t>(i) * vocab,
                                     static_cast<size_t>(vocab));
    const int64_t count = static_cast<int64_t>(chunks[i].tokens.size());
    switch (a.phase) {
      case Active::Phase::kPrefill:
        a.fed += count;
        a.since_checkpoint += count;
        prefilled += count;
        if (a.fed == static_cast<int64_t>(a.job.prompt.size()) - 1) {
          slot.sequence.SaveCheckpoint();
          a.phase = Active::Phase::kLastPrompt;
        } else if (a.since_checkpoint >= kCheckpointEvery) {
          slot.sequence.SaveCheckpoint();
          a.since_checkpoint = 0;
        }
        break;
      case Active::Phase::kLastPrompt:
        a.fed += 1;
        prefilled += 1;
        slot.sequence.SaveCheckpoint();
        a.phase = Active::Phase::kDecode;
        generated += 1;
        Emit(slot, row);
        break;
      case Active::Phase::kDecode:
        generated += 1;
        Emit(slot, row);
        break;
    }
  }
  const double end = NowSeconds();
  // The estimates behind the prefill budget (exponential moving averages).
  const double elapsed = end - start;
  const int64_t step_prefill = tokens - decoding;
  auto update = [](double& average, double sample) {
    average = average > 0 ? 0.7 * average + 0.3 * sample : sample;
  };
  if (step_prefill == 0) {
    update(decode_step_seconds_, elapsed);
  } else if (decoding == 0 || decode_step_seconds_ > 0) {
    const double base = decoding == 0 ? 0.0 : decode_step_seconds_;
    update(prefill_token_seconds_, std::max(0.0, elapsed - base) / static_cast<double>(step_prefill));
  }
  std::lock_guard<std::mutex> lock(stats_mutex_);
  stats_.forward_passes++;
  stats_.busy_seconds += end - start;
  stats_.prefilled_tokens += static_cast<uint64_t>(prefilled);
  stats_.generated_tokens += static_cast<uint64_t>(generated);
  recent_.emplace_back(end, generated);
  while (!recent_.empty() && recent_.front().first < end - kRateWindowSeconds) recent_.pop_front();
}

bool Scheduler::Emit(Slot& slot, std::span<const float> logits) {
  Active& a = *slot.active;
  a.row.assign(logits.begin(), logits.end());
  const int32_t token = a.sampler.Sample(a.row, a.history, a.constraint.get());
  if (a.constraint) {
    if (Status accepted = a.constraint->Accept(token); !accepted.ok()) {
      // Only reachable when every token was masked (a vocabulary the grammar cannot finish in).
      Finish(slot, FinishReason::kStop, InternalError("structured output: ", accepted.message()));
      return false;
    }
  }
  const std::vector<int32_t>& stop_ids = engine_.stop_ids();
  if (std::binary_search(stop_ids.begin(), stop_ids.end(), token)) {
    Finish(slot, FinishReason::kStop);
    return false;
  }
  a.generated++;
  a.history.push_back(token);
  if (a.job.top_logprobs >= 0) {
    a.event.logprobs.push_back({token, a.sampler.LogProb(token),
                                a.job.top_logprobs > 0 ? a.sampler.TopLogProbs(a.job.top_logprobs)
                                                       : std::vector<std::pair<int32_t, double>>()});
  }
  if (a.decoder) a.event.text += a.stops.Add(a.decoder->Add(token));
  if (a.stops.stopped()) {
    Finish(slot, FinishReason::kStop);
    return false;
  }
  if (a.generated >= a.job.max_tokens) {
    Finish(slot, FinishReason::kLength);
    return false;
  }
  if (slot.sequence.state().length() >= slot.sequence.capacity()) {
    Finish(slot, FinishReason::kContext);
    return false;
  }
  a.feed = token;
  if (!a.event.text.empty() || !a.event.logprobs.empty()) {
    a.channel->Push(std::move(a.event));
    a.event = GenerationEvent();
    a.event.index = a.job.index;
  }
  return true;
}

void Scheduler::Finish(Slot& slot, FinishReason reason, Status error) {
  Active& a = *slot.active;
  GenerationEvent& event = a.event;
  if (reason != FinishReason::kCancelled && a.decoder) {
    event.text += a.stops.Add(a.decoder->Finish());
    event.text += a.stops.Flush();
  }
  event.done = true;
  event.finish = reason;
  event.error = std::move(error);
  event.prompt_tokens = static_cast<int64_t>(a.job.prompt.size());
  event.cached_tokens = a.cached;
  event.completion_tokens = a.generated;
  a.channel->Push(std::move(event));
  slot.active.reset();
  slot.last_used = ++clock_;
}

}  // namespace lfm2::server
