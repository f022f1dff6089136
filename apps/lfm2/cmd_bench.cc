// apps/lfm2/cmd_bench.cc - `lfm2 bench`: prefill (pp) and decode (tg) throughput in llama-bench's
// vocabulary, on random token ids (tokenization and sampling excluded), with load time and peak
// RSS. --json prints llama-bench's record fields plus ours, so existing tooling reads both.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <random>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "apps/lfm2/command.h"
#include "apps/lfm2/run_options.h"
#include "base/memory_info.h"
#include "base/thread_pool.h"
#include "generate/model_path.h"
#include "io/json.h"
#include "kernels/ops.h"
#include "model/lfm2.h"

namespace lfm2::cli {
namespace {

struct TestResult {
  std::string name;  // pp512, tg128, pp512 @ d1024, ttft8192
  int64_t n_prompt = 0, n_gen = 0, n_depth = 0;
  std::vector<double> seconds;  // per repetition
  bool ttft = false;            // reported as time to first token (a prefill ending in logits)
  double MeanSeconds() const {
    double sum = 0;
    for (double s : seconds) sum += s;
    return sum / seconds.size();
  }
  double Tokens() const { return static_cast<double>(n_prompt + n_gen); }
  double MeanRate() const {
    double sum = 0;
    for (double s : seconds) sum += Tokens() / s;
    return sum / seconds.size();
  }
  double StddevRate() const {
    if (seconds.size() < 2) return 0;
    const double mean = MeanRate();
    double sum = 0;
    for (double s : seconds) sum += (Tokens() / s - mean) * (Tokens() / s - mean);
    return std::sqrt(sum / (seconds.size() - 1));
  }
};

int RunBench(int argc, char** argv) {
  std::string model_arg, prompts = "512", gens = "128", depths = "0", ttfts, max_ram;
  int64_t repetitions = 3, threads = ThreadPool::HardwareThreads(), batch = 512, seed = 1234, act_bits = 16;
  std::optional<int64_t> kv_bits;
  bool json = false, precise = false;
  FlagParser flags(
      "lfm2 bench --model DIR [-p 512] [-n 128] [-r 3] [-t N] [-d DEPTH] [--json]",
      "Measures prompt processing (pp: prefill of -p tokens in batches of -b) and token\n"
      "generation (tg: -n tokens decoded one at a time) on random token ids, as llama-bench does:\n"
      "each test runs once to warm up, then -r times on a fresh context (after -d tokens of\n"
      "context when a depth is given, filled once per depth and rolled back to before each\n"
      "run); rates are mean +- sd over the repetitions. Lists such as -p 128,512 run every\n"
      "value. Tokenization and sampling are not included. Load time includes copying the\n"
      "quantized weights into the kernels' tiled layout on CPUs with AVX-512 VNNI\n"
      "(LFM2_TILED=0 in the environment keeps the file layout: faster load, slower decode).\n"
      "\n"
      "--ttft N runs the prefill of an N-token prompt up to the logits of its last token - the\n"
      "time to the first token a user waits for, sampling aside - and reports it in ms (also the\n"
      "ttft_ms field of every pp record in --json).");
  flags.String("--model,-m", &model_arg, "DIR|ORG/NAME", "model directory or Hugging Face repo id");
  flags.String("--n-prompt,-p", &prompts, "N[,N...]", "prompt lengths for pp tests (0 = none)");
  flags.String("--n-gen,-n", &gens, "N[,N...]", "tokens to generate for tg tests (0 = none)");
  flags.String("--n-depth,-d", &depths, "N[,N...]", "context already filled before each test");
  flags.String("--ttft", &ttfts, "N[,N...]", "prompt lengths whose time to first token is reported");
  flags.Int("--repetitions,-r", &repetitions, "N", "measured repetitions per test");
  flags.Int("--threads,-t", &threads, "N", "worker threads");
  flags.Int("--batch-size,-b", &batch, "N", "tokens per forward pass during prefill");
  flags.Int("--seed", &seed, "N", "seed of the random token ids");
  AddPathFlags(flags, &precise, &act_bits);
  AddKvFlag(flags, &kv_bits);
  flags.String("--max-ram", &max_ram, "SIZE", "refuse to run when the plan for the largest test exceeds SIZE");
  flags.Bool("--json", &json, "print a JSON list of records (llama-bench fields + ours)");
  flags.Require("--model");
  int exit_code = kExitOk;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  constexpr int64_t kNoLimit = std::numeric_limits<long long>::max();
  const auto prompt_parsed = ParseIntList(prompts, 0, kNoLimit);
  const auto gen_parsed = ParseIntList(gens, 0, kNoLimit);
  const auto depth_parsed = ParseIntList(depths, 0, kNoLimit);
  const auto ttft_parsed = ttfts.empty() ? std::optional<std::vector<int64_t>>(std::vector<int64_t>())
                                         : ParseIntList(ttfts, 1, kNoLimit);
  if (!prompt_parsed || !gen_parsed || !depth_parsed) {
    return flags.UsageError("bench", "-p, -n and -d take comma-separated non-negative integers");
  }
  if (!ttft_parsed) return flags.UsageError("bench", "--ttft takes comma-separated positive integers");
  const std::vector<int64_t>& ttft_list = *ttft_parsed;
  const std::vector<int64_t>& prompt_list = *prompt_parsed;
  const std::vector<int64_t>& gen_list = *gen_parsed;
  const std::vector<int64_t>& depth_list = *depth_parsed;
  if (repetitions < 1 || threads < 1 || threads > 1024 || batch < 1) {
    return flags.UsageError("bench", "-r, -t and -b must be positive (-t at most 1024)");
  }

  const auto path_or = SelectPath(precise, act_bits);
  if (!path_or.ok()) return flags.UsageError("bench", path_or.status().message());
  const kernels::MatMulPath path = *path_or;
  const auto kv_type_or = SelectKvType(kv_bits, precise);
  if (!kv_type_or.ok()) return flags.UsageError("bench", kv_type_or.status().message());
  const kernels::KvType kv_type = *kv_type_or;
  auto dir = ResolveModelPath(model_arg);
  if (!dir.ok()) return ReportError(dir.status());
  const double load_start = NowSeconds();
  auto model = Lfm2Model::Load(*dir, /*tile=*/!precise);  // the precise path reads file rows
  if (!model.ok()) return ReportError(model.status());
  const double load_ms = (NowSeconds() - load_start) * 1e3;
  const ModelConfig& c = (*model)->config();
  ThreadPool pool(static_cast<int>(threads));

  // One context and workspace sized for the largest test.
  int64_t max_context = 1, max_chunk = 1;
  for (int64_t d : depth_list) {
    for (int64_t p : prompt_list) max_context = std::max(max_context, d + p);
    for (int64_t n : gen_list) max_context = std::max(max_context, d + n);
    max_chunk = std::max({max_chunk, std::min(batch, std::max<int64_t>(d, 1))});
  }
  for (int64_t d : depth_list) {
    for (int64_t p : ttft_list) max_context = std::max(max_context, d + p);
  }
  for (int64_t p : prompt_list) max_chunk = std::max(max_chunk, std::min(batch, std::max<int64_t>(p, 1)));
  for (int64_t p : ttft_list) max_chunk = std::max(max_chunk, std::min(batch, p));
  if (!max_ram.empty()) {
    PlanRequest request;
    request.threads = static_cast<int>(threads);
    request.ubatch = max_chunk;
    request.tokenizer = false;
    request.checkpoints = 0;
    request.kv_type = kv_type;
    auto checked = ResolveContext(std::to_string(max_context), max_ram, **model, max_context, request);
    if (!checked.ok()) return ReportError(checked.status());
  }
  Workspace workspace(c, WorkspaceLimits{max_chunk, 1, max_context, static_cast<int>(threads)});
  SequenceState state(c, max_context, kv_type);
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  auto random_tokens = [&](int64_t n) {
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint64_t>(c.vocab_size));
    return ids;
  };
  auto prefill = [&](const std::vector<int32_t>& ids) {
    for (size_t begin = 0; begin < ids.size(); begin += static_cast<size_t>(max_chunk)) {
      const size_t count = std::min(ids.size() - begin, static_cast<size_t>(max_chunk));
      ForwardChunk chunk{&state, std::span<const int32_t>(ids.data() + begin, count), false};
      (*model)->Forward({&chunk, 1}, workspace, pool, path);
    }
  };
  // The -d context is filled once per depth; each run then rolls the sequence back to it (the
  // conv windows' checkpoint; KV entries past it are overwritten), so a sweep to 16k costs one
  // fill per depth rather than one per run.
  int64_t filled_depth = -1;
  SequenceState::Checkpoint at_depth;
  auto run_test = [&](TestResult& test, bool measure) {
    if (test.n_depth == 0) {
      state.Reset();
    } else if (test.n_depth == filled_depth) {
      state.Restore(at_depth);
    } else {
      state.Reset();
      prefill(random_tokens(test.n_depth));
      at_depth = state.Save();
      filled_depth = test.n_depth;
    }
    const auto ids = random_tokens(std::max(test.n_prompt, test.n_gen));
    const double start = NowSeconds();
    if (test.n_prompt > 0) {
      prefill(ids);
    } else {
      for (int64_t i = 0; i < test.n_gen; ++i) {
        ForwardChunk chunk{&state, std::span<const int32_t>(&ids[i], 1), false};
        (*model)->Forward({&chunk, 1}, workspace, pool, path);
      }
    }
    if (measure) test.seconds.push_back(NowSeconds() - start);
  };

  std::vector<TestResult> tests;
  for (int64_t d : depth_list) {
    for (int64_t p : prompt_list) {
      if (p > 0) tests.push_back({"pp" + std::to_string(p), p, 0, d, {}});
    }
    for (int64_t n : gen_list) {
      if (n > 0) tests.push_back({"tg" + std::to_string(n), 0, n, d, {}});
    }
    for (int64_t p : ttft_list) tests.push_back({"ttft" + std::to_string(p), p, 0, d, {}, true});
  }
  for (TestResult& test : tests) {
    if (test.n_depth > 0) test.name += " @ d" + std::to_string(test.n_depth);
    run_test(test, false);  // warm-up (also pages the weights in)
    for (int64_t r = 0; r < repetitions; ++r) run_test(test, true);
  }
  const uint64_t peak_rss = PeakRssBytes();
  uint64_t file_bytes = 0;
  for (const std::string& file : (*model)->store().tensors().file_paths()) {
    file_bytes += std::filesystem::file_size(file);
  }
  // How much of the weights sits in 2 MiB pages (docs/performance.md): the file mapping's, plus
  // the tiled copy's (anonymous memory) when the model is tiled.
  const uint64_t huge_bytes = std::min<uint64_t>(
      FilePmdMappedBytes() + ((*model)->tiled() ? AnonHugePagesBytes() : 0), file_bytes);
  int64_t params = 0;
  ForEachTensor(c, TensorNaming::Detect(c, (*model)->store()), nullptr,
                [&](const TensorSpec& spec, TensorSlot) { params += spec.parameters(); });
  std::string quant = "f";
  if (c.quantization.present()) {
    quant = StrCat("q", c.quantization.global().bits, " g", c.quantization.global().group_size);
  }
  const std::string model_type = StrCat(c.model_type, " ", quant);

  if (json) {
    Json records = Json::array();
    char time_text[64];
    const std::time_t now = std::time(nullptr);
    std::strftime(time_text, sizeof(time_text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    for (const TestResult& test : tests) {
      std::vector<double> samples_ns, samples_ts;
      double mean_ns = 0;
      for (double s : test.seconds) {
        samples_ns.push_back(s * 1e9);
        samples_ts.push_back(test.Tokens() / s);
        mean_ns += s * 1e9 / test.seconds.size();
      }
      double sd_ns = 0;
      for (double ns : samples_ns) sd_ns += (ns - mean_ns) * (ns - mean_ns);
      sd_ns = test.seconds.size() > 1 ? std::sqrt(sd_ns / (test.seconds.size() - 1)) : 0;
      records.push_back({{"build_commit", "lfm2.cpp"},
                         {"build_number", 0},
                         {"cpu_info", kernels::ActiveTargetName()},
                         {"backends", "CPU"},
                         {"model_filename", *dir},
                         {"model_type", model_type},
                         {"model_size", file_bytes},
                         {"model_n_params", params},
                         {"n_batch", batch},
                         {"n_ubatch", max_chunk},
                         {"n_threads", threads},
                         {"type_k", "f32"},
                         {"type_v", "f32"},
                         {"n_prompt", test.n_prompt},
                         {"n_gen", test.n_gen},
                         {"n_depth", test.n_depth},
                         {"test_time", time_text},
                         {"avg_ns", static_cast<uint64_t>(mean_ns)},
                         {"stddev_ns", static_cast<uint64_t>(sd_ns)},
                         {"avg_ts", test.MeanRate()},
                         {"stddev_ts", test.StddevRate()},
                         {"samples_ns", samples_ns},
                         {"samples_ts", samples_ts},
                         {"ttft_ms", test.n_prompt > 0 ? Json(test.MeanSeconds() * 1e3) : Json()},
                         {"peak_rss_bytes", peak_rss},
                         {"load_ms", load_ms},
                         {"huge_page_bytes", huge_bytes},
                         {"tiled", (*model)->tiled()},
                         {"precise", precise},
                         {"act_bits", precise ? 32 : act_bits},
                         {"kv_bits", kernels::KvTypeBits(kv_type)}});
    }
    std::printf("%s\n", records.dump(2).c_str());
    return kExitOk;
  }
  std::printf("| model | size | params | backend | threads | test | t/s |\n");
  std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
  for (const TestResult& test : tests) {
    if (test.ttft) continue;
    std::printf("| %s | %.2f GiB | %.2f B | CPU %s | %lld | %s | %.2f ± %.2f |\n", model_type.c_str(),
                file_bytes / 1073741824.0, params / 1e9, kernels::ActiveTargetName(),
                (long long)threads, test.name.c_str(), test.MeanRate(), test.StddevRate());
  }
  for (const TestResult& test : tests) {
    if (!test.ttft) continue;
    std::printf("time to first token, %lld-token prompt%s: %.0f ms (%.1f tok/s)\n", (long long)test.n_prompt,
                test.n_depth > 0 ? StrCat(" after ", test.n_depth, " tokens of context").c_str() : "",
                test.MeanSeconds() * 1e3, test.MeanRate());
  }
  std::printf("\nload %.0f ms, peak RSS %.1f MB (checkpoint %.1f MB, %.0f%% of it in 2 MiB pages%s)%s%s\n",
              load_ms, peak_rss / 1e6, file_bytes / 1e6,
              file_bytes > 0 ? 100.0 * static_cast<double>(huge_bytes) / static_cast<double>(file_bytes) : 0.0,
              (*model)->tiled() ? ", tiled" : "",
              precise ? ", precise path" : act_bits == 16 ? ", 16-bit activations" : ", 8-bit activations",
              kv_type == kernels::KvType::kF32   ? ", f32 KV cache"
              : kv_type == kernels::KvType::kF16 ? ", f16 KV cache"
                                                 : ", int8 KV cache");
  return kExitOk;
}

}  // namespace

LFM2_REGISTER_COMMAND("bench", "prefill / decode throughput, llama-bench style", RunBench);

}  // namespace lfm2::cli
