// The continuous-batching scheduler on a small generated model: jobs batched together give the
// tokens they give alone (and the CLI Session gives), prefix reuse (second chat turn, repeated
// prompt), the bounded queue, cancellation, stop strings, job checks and Stop().
#include "server/scheduler.h"

#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "base/memory_info.h"
#include "server/test_model.h"

namespace lfm2::server {
namespace {

struct Result {
  std::string text;
  std::vector<int32_t> tokens;  // from the logprobs (jobs are run with top_logprobs = 0)
  GenerationEvent done;
};

// Reads events until `jobs` are done (or 120 s pass).
std::map<int, Result> Collect(RequestChannel& channel, size_t jobs) {
  std::map<int, Result> results;
  size_t finished = 0;
  const double deadline = NowSeconds() + 120;
  while (finished < jobs && NowSeconds() < deadline) {
    for (GenerationEvent& event : channel.Take(0.1)) {
      Result& r = results[event.index];
      r.text += event.text;
      for (const TokenLogProb& t : event.logprobs) r.tokens.push_back(t.token);
      if (event.done) {
        r.done = std::move(event);
        finished++;
      }
    }
  }
  EXPECT_EQ(finished, jobs);
  return results;
}

class SchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = testing::TinyModelDir();
    if (dir.empty()) return;
    EngineOptions options;
    options.threads = 1;
    auto engine = Engine::Load(dir, options);
    ASSERT_TRUE(engine.ok()) << engine.status().message();
    engine_ = std::move(engine).value().release();
  }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  void SetUp() override {
    if (engine_ == nullptr) GTEST_SKIP() << "no test model";
  }

  static std::vector<int32_t> ChatPrompt(const std::string& user) {
    Json messages = Json::array({{{"role", "user"}, {"content", user}}});
    auto text = engine_->chat_template()->Render(messages, Json(), true);
    EXPECT_TRUE(text.ok());
    return engine_->Tokenize(*text, true);
  }

  static GenerationJob Job(std::vector<int32_t> prompt, int64_t max_tokens, uint64_t seed, int index = 0) {
    GenerationJob job;
    job.prompt = std::move(prompt);
    job.max_tokens = max_tokens;
    job.sampling.temperature = 1.0;
    job.sampling.min_p = 0.0;
    job.sampling.seed = seed;
    job.top_logprobs = 0;
    job.index = index;
    // The random model may sample an end-of-turn token at any point; keep lengths predictable.
    for (int32_t id : engine_->stop_ids()) job.sampling.logit_bias.emplace_back(id, -1000.0f);
    return job;
  }

  static Result RunOne(Scheduler& scheduler, GenerationJob job) {
    auto channel = std::make_shared<RequestChannel>();
    std::vector<GenerationJob> jobs;
    jobs.push_back(std::move(job));
    EXPECT_TRUE(scheduler.Submit(std::move(jobs), channel).ok());
    auto results = Collect(*channel, 1);
    return results.empty() ? Result() : results.begin()->second;
  }

  static Engine* engine_;
};

Engine* SchedulerTest::engine_ = nullptr;

TEST_F(SchedulerTest, BatchedEqualsAloneEqualsSession) {
  const std::vector<std::string> users = {"Hello there", "Write a poem about the sea", "What is 2+2?",
                                          "Tell me a long story about a dragon and a knight"};
  std::vector<GenerationJob> jobs;
  for (int i = 0; i < 4; ++i) jobs.push_back(Job(ChatPrompt(users[i]), 12 + 3 * i, 100 + i, i));

  // One at a time, on a one-slot scheduler.
  std::vector<Result> alone;
  {
    Scheduler scheduler(*engine_, SchedulerOptions{1, 256, 64, 8, 8});
    for (const GenerationJob& job : jobs) alone.push_back(RunOne(scheduler, job));
  }
  // All four at once; a small batch budget forces prefill chunks to interleave with decoding.
  Scheduler scheduler(*engine_, SchedulerOptions{4, 256, 7, 8, 8});
  auto channel = std::make_shared<RequestChannel>();
  ASSERT_TRUE(scheduler.Submit(jobs, channel).ok());
  auto together = Collect(*channel, 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(together[i].tokens, alone[i].tokens) << "job " << i;
    EXPECT_EQ(together[i].text, alone[i].text) << "job " << i;
    EXPECT_EQ(together[i].done.completion_tokens, static_cast<int64_t>(alone[i].tokens.size()));
  }
  // The CLI's Session (the single-sequence loop) gives the same tokens.
  for (int i = 0; i < 4; ++i) {
    Session session(*engine_, 256);
    ASSERT_TRUE(session.Prefill(jobs[i].prompt).ok());
    GenerationOptions options;
    options.max_tokens = jobs[i].max_tokens;
    options.sampling = jobs[i].sampling;
    auto generated = session.Generate(options, nullptr);
    ASSERT_TRUE(generated.ok());
    EXPECT_EQ(generated->tokens, alone[i].tokens) << "job " << i;
  }
  EXPECT_GE(scheduler.stats().forward_passes, 1u);
}

TEST_F(SchedulerTest, SecondTurnReusesTheFirst) {
  Scheduler scheduler(*engine_, SchedulerOptions{2, 1024, 64, 8, 8});
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += "The quick brown fox jumps over the lazy dog number " + std::to_string(i) + ". ";
  const std::vector<int32_t> first = ChatPrompt(long_text + "What did the fox do?");
  ASSERT_GT(first.size(), 300u);
  Result one = RunOne(scheduler, Job(first, 6, 1));
  EXPECT_EQ(one.done.cached_tokens, 0);
  // The conversation continues: the prompt starts with every token the slot holds.
  std::vector<int32_t> second = first;
  second.insert(second.end(), one.tokens.begin(), one.tokens.end());
  for (int32_t id : engine_->Tokenize("<|im_end|>\n<|im_start|>user\nmore<|im_end|>\n<|im_start|>assistant\n", true)) {
    second.push_back(id);
  }
  Result two = RunOne(scheduler, Job(second, 4, 2));
  // Held: the first prompt + the generated tokens fed back (all but the last one).
  EXPECT_EQ(two.done.cached_tokens, static_cast<int64_t>(first.size() + one.tokens.size() - 1));
  EXPECT_GE(two.done.cached_tokens * 10, static_cast<int64_t>(second.size()) * 9);
  // The same prompt again reuses all but its last token (a checkpoint sits there).
  Result again = RunOne(scheduler, Job(second, 4, 2));
  EXPECT_EQ(again.done.cached_tokens, static_cast<int64_t>(second.size()) - 1);
  EXPECT_EQ(again.tokens, two.tokens);
  // A prompt diverging inside the first turn rolls back to a checkpoint, with identical output
  // to a cold run.
  std::vector<int32_t> diverged(first.begin(), first.end() - 3);
  diverged.push_back(engine_->Tokenize("x", true)[0]);
  Result warm = RunOne(scheduler, Job(diverged, 5, 3));
  Scheduler cold_scheduler(*engine_, SchedulerOptions{1, 1024, 64, 8, 8});
  Result cold = RunOne(cold_scheduler, Job(diverged, 5, 3));
  EXPECT_EQ(warm.tokens, cold.tokens);
  // Rolled back to the last intermediate checkpoint (every 256 prefilled tokens) before the change.
  EXPECT_EQ(warm.done.cached_tokens, static_cast<int64_t>((first.size() - 3) / 256 * 256));
}

TEST_F(SchedulerTest, QueueBoundAndCancellation) {
  Scheduler scheduler(*engine_, SchedulerOptions{1, 4096, 64, 1, 8});
  auto running = std::make_shared<RequestChannel>();
  ASSERT_TRUE(scheduler.Submit({Job(ChatPrompt("long one"), 4000, 1)}, running).ok());
  // Wait until it runs, then fill the one queue place.
  while (scheduler.stats().active == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto queued = std::make_shared<RequestChannel>();
  ASSERT_TRUE(scheduler.Submit({Job(ChatPrompt("queued"), 3, 2)}, queued).ok());
  auto refused = std::make_shared<RequestChannel>();
  const Status full = scheduler.Submit({Job(ChatPrompt("refused"), 3, 3)}, refused);
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(scheduler.stats().queued, 1);
  // Cancelling the running job frees its slot for the queued one.
  running->Cancel();
  auto done = Collect(*queued, 1);
  EXPECT_EQ(done[0].done.completion_tokens, 3);
  auto cancelled = Collect(*running, 1);
  EXPECT_EQ(cancelled[0].done.finish, FinishReason::kCancelled);
  EXPECT_LT(cancelled[0].done.completion_tokens, 4000);
}

TEST_F(SchedulerTest, StopStringsAreNeverEmitted) {
  Scheduler scheduler(*engine_, SchedulerOptions{1, 256, 64, 8, 8});
  GenerationJob job = Job(ChatPrompt("Hello there"), 40, 9);
  Result free_run = RunOne(scheduler, job);
  ASSERT_GT(free_run.text.size(), 6u);
  // Stop on a piece of the text the free run produced, spanning whatever tokens it spans.
  const std::string stop = free_run.text.substr(free_run.text.size() / 2, 3);
  job.stop = {stop};
  Result stopped = RunOne(scheduler, job);
  EXPECT_EQ(stopped.text, free_run.text.substr(0, free_run.text.find(stop)));
  EXPECT_EQ(stopped.done.finish, FinishReason::kStop);
  EXPECT_LE(stopped.done.completion_tokens, free_run.done.completion_tokens);
}

TEST_F(SchedulerTest, JobChecks) {
  Scheduler scheduler(*engine_, SchedulerOptions{1, 64, 64, 8, 8});
  auto channel = std::make_shared<RequestChannel>();
  EXPECT_EQ(scheduler.Check(Job({}, 5, 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler.Check(Job({1, -5}, 5, 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler.Check(Job({1, 999999}, 5, 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler.Check(Job(std::vector<int32_t>(64, 1), 1, 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler.Check(Job(std::vector<int32_t>(60, 1), 5, 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(scheduler.Check(Job(std::vector<int32_t>(60, 1), 4, 1)).ok());
  GenerationJob bad_sampling = Job({1, 2}, 2, 1);
  bad_sampling.sampling.top_p = 0;
  EXPECT_FALSE(scheduler.Check(bad_sampling).ok());
  EXPECT_FALSE(scheduler.Submit({bad_sampling}, channel).ok());
  // A job using the whole context ends with "length" at the limit.
  Result full = RunOne(scheduler, Job(std::vector<int32_t>(60, 1), 4, 1));
  EXPECT_EQ(full.done.finish, FinishReason::kLength);
  EXPECT_EQ(full.done.completion_tokens + full.done.prompt_tokens, 64 - 0);
}

TEST_F(SchedulerTest, StopFinishesEveryJob) {
  auto scheduler = std::make_unique<Scheduler>(*engine_, SchedulerOptions{1, 4096, 64, 8, 8});
  auto channel = std::make_shared<RequestChannel>();
  std::vector<GenerationJob> jobs = {Job(ChatPrompt("a"), 4000, 1, 0), Job(ChatPrompt("b"), 4000, 1, 1),
                                     Job(ChatPrompt("c"), 4000, 1, 2)};
  ASSERT_TRUE(scheduler->Submit(jobs, channel).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  scheduler->Stop();
  auto results = Collect(*channel, 3);
  for (auto& [index, result] : results) {
    EXPECT_EQ(result.done.finish, FinishReason::kCancelled) << index;
    EXPECT_EQ(result.done.error.code(), StatusCode::kCancelled) << index;
  }
  EXPECT_EQ(scheduler->Submit({Job(ChatPrompt("late"), 3, 1)}, channel).code(), StatusCode::kCancelled);
}

// While a stream decodes, a long prompt is prefilled in chunks sized so each step stays within
// max_decode_gap decode steps: the stream keeps getting tokens during the prefill. With the limit
// off, the prefill runs in batch_tokens passes and the stream waits for them.
TEST_F(SchedulerTest, LongPrefillDoesNotStallDecodingStreams) {
  std::string long_text;
  for (int i = 0; i < 60; ++i) long_text += "The quick brown fox jumps over the lazy dog number " + std::to_string(i) + ". ";
  const std::vector<int32_t> long_prompt = ChatPrompt(long_text);
  ASSERT_GT(long_prompt.size(), 700u);
  auto tokens_during_prefill = [&](double max_decode_gap) {
    SchedulerOptions options{2, 2048, 512, 8, 8};
    options.max_decode_gap = max_decode_gap;
    Scheduler scheduler(*engine_, options);
    auto stream = std::make_shared<RequestChannel>();
    EXPECT_TRUE(scheduler.Submit({Job(ChatPrompt("Tell me a story"), 1500, 7)}, stream).ok());
    // Let the stream decode for a while (the estimates settle), then send the long prompt.
    int64_t before = 0;
    const double warm_deadline = NowSeconds() + 60;
    while (before < 40 && NowSeconds() < warm_deadline) {
      for (const GenerationEvent& event : stream->Take(0.1)) before += static_cast<int64_t>(event.logprobs.size());
    }
    auto prompt = std::make_shared<RequestChannel>();
    EXPECT_TRUE(scheduler.Submit({Job(long_prompt, 1, 8)}, prompt).ok());
    int64_t during = 0;
    bool first_token = false;
    const double deadline = NowSeconds() + 120;
    while (!first_token && NowSeconds() < deadline) {
      for (const GenerationEvent& event : stream->Take(0.001)) during += static_cast<int64_t>(event.logprobs.size());
      first_token = !prompt->Take(0.0).empty();
    }
    EXPECT_TRUE(first_token);
    stream->Cancel();
    return during;
  };
  const int64_t chunked = tokens_during_prefill(2.0);
  const int64_t whole = tokens_during_prefill(0.0);
  EXPECT_GE(chunked, 2 * whole + 8) << "the stream got " << chunked << " tokens while the prompt prefilled";
  std::printf("tokens a stream got while a %zu-token prompt prefilled: %lld chunked, %lld in full passes\n",
              long_prompt.size(), static_cast<long long>(chunked), static_cast<long long>(whole));
  // The prompt in 511-token passes: a few steps, give or take the ones around them.
  EXPECT_LE(whole, 8) << "without the limit the prompt takes few full passes";
}

}  // namespace
}  // namespace lfm2::server
