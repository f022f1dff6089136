// apps/lfm2/run_options.h - the flags generate, chat (and later bench/serve) share: model,
// threads, device, context, sampling. One place defines their names, defaults and help.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "apps/lfm2/command.h"
#include "generate/engine.h"
#include "planner/plan.h"
#include "sampling/sampler.h"

namespace lfm2::cli {

struct RunOptions {
  std::string model;
  int64_t threads = ThreadPool::HardwareThreads();
  int64_t batch_size = 512;
  std::string device = "cpu";
  std::string ctx;      // "" (command default), "auto" or a number
  std::string max_ram;  // "" or a size such as 6G
  bool precise = false;
  int64_t act_bits = 16;
  std::optional<int64_t> kv_bits;  // unset: float16, or float32 with --precise
  bool verbose = false;
};

struct SamplingFlags {
  double temperature = 0.3;
  double top_p = 1.0;
  int64_t top_k = 0;
  double min_p = 0.15;
  int64_t min_tokens_to_keep = 1;
  double repetition_penalty = 1.05;
  int64_t repetition_context_size = 20;
  std::optional<int64_t> seed;

  // The SamplingParams these flags give; an unset seed draws one from the clock.
  SamplingParams Params() const;
};

void AddRunFlags(FlagParser& flags, RunOptions* options);

// --precise and --act-bits 8|16: the matmul path of a command (kernels/matmul.h).
void AddPathFlags(FlagParser& flags, bool* precise, int64_t* act_bits);
// The path they select, or an InvalidArgument error naming a bad --act-bits.
StatusOr<kernels::MatMulPath> SelectPath(bool precise, int64_t act_bits);

// --kv-bits 32|16|8: the element type of the KV cache (kernels/attention.h KvType); by default
// float16, or float32 with --precise (the reference path keeps a float32 cache).
void AddKvFlag(FlagParser& flags, std::optional<int64_t>* kv_bits);
StatusOr<kernels::KvType> SelectKvType(std::optional<int64_t> kv_bits, bool precise);
void AddSamplingFlags(FlagParser& flags, SamplingFlags* sampling);

// Checks the shared flags after parsing; prints the problem and returns false on a usage error.
// Prints the --device notice for GPU names.
bool CheckRunFlags(const char* command, const RunOptions& options, const SamplingFlags* sampling);

// Resolves the model (directory or HF cache) and loads it. Errors are returned for the caller to
// report (exit 1).
StatusOr<std::unique_ptr<Engine>> LoadEngine(const RunOptions& options, bool require_tokenizer);

// The context size a run uses, checked against --max-ram before any cache is allocated:
// --ctx N, or `default_context` when --ctx is not given, or with --ctx auto the largest context
// whose plan fits --max-ram (else the memory available now), capped at the model's
// max_position_embeddings. Fails (exit 1) with the plan and the largest context that fits when
// the plan exceeds --max-ram. `request` gives batch, threads and what the run loads.
StatusOr<int64_t> ResolveContext(const std::string& ctx_flag, const std::string& max_ram_flag,
                                 const Lfm2Model& model,
                                 int64_t default_context, PlanRequest request);

// mlx_lm's handling of --prompt: "\n" and "\t" escapes become newline and tab, and "-" reads
// standard input.
StatusOr<std::string> ReadPrompt(const std::string& prompt);

}  // namespace lfm2::cli
