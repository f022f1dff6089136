// apps/lfm2/run_options.cc - shared flags of the generating commands.
#include "apps/lfm2/run_options.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>

#include "base/memory_info.h"
#include "generate/model_path.h"

namespace lfm2::cli {

SamplingParams SamplingFlags::Params() const {
  SamplingParams params;
  params.temperature = temperature;
  params.top_p = top_p;
  params.top_k = top_k;
  params.min_p = min_p;
  params.min_tokens_to_keep = min_tokens_to_keep;
  params.repetition_penalty = repetition_penalty;
  params.repetition_context_size = repetition_context_size;
  params.seed = seed ? static_cast<uint64_t>(*seed)
                     : static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  return params;
}

void AddRunFlags(FlagParser& flags, RunOptions* o) {
  flags.String("--model,-m", &o->model, "DIR|ORG/NAME",
               "model directory, or a Hugging Face repo id found in the local HF cache");
  flags.Int("--threads,-t", &o->threads, "N", "worker threads");
  flags.Int("--batch-size,-b", &o->batch_size, "N", "tokens per forward pass during prefill");
  flags.String("--ctx,-c", &o->ctx, "N|auto",
               "context size in tokens (prompt + generated); bounds the KV cache. auto: the largest "
               "that fits --max-ram (or the memory available now)");
  flags.String("--max-ram", &o->max_ram, "SIZE",
               "RAM budget, e.g. 6G: refuse to start when the plan (lfm2 plan) exceeds it");
  flags.String("--device", &o->device, "NAME", "cpu (mps/gpu/cuda/metal are accepted: this build runs on the CPU)");
  AddPathFlags(flags, &o->precise, &o->act_bits);
  AddKvFlag(flags, &o->kv_bits);
  flags.Bool("--verbose,-v", &o->verbose,
             "report prompt tokens, prefill and decode speed, time to first token and peak RSS on stderr");
}

void AddPathFlags(FlagParser& flags, bool* precise, int64_t* act_bits) {
  flags.Int("--act-bits", act_bits, "16|8",
            "activations in the quantized products: 16 (16-bit fixed point; logits within ~2e-4 "
            "of the reference) or 8 (int8 per group: ~1.6x faster prefill on AVX-512 VNNI CPUs, "
            "error ~5e-3 per product; see docs/performance.md for its accuracy)");
  flags.Bool("--precise", precise, "float32 activations in every product (slow reference path)");
}

StatusOr<kernels::MatMulPath> SelectPath(bool precise, int64_t act_bits) {
  if (act_bits != 8 && act_bits != 16) {
    return InvalidArgumentError("--act-bits must be 8 or 16, got ", act_bits);
  }
  if (precise) return kernels::MatMulPath::kPrecise;
  return act_bits == 8 ? kernels::MatMulPath::kFast8 : kernels::MatMulPath::kFast;
}

void AddKvFlag(FlagParser& flags, std::optional<int64_t>* kv_bits) {
  flags.OptionalInt("--kv-bits", kv_bits, "32|16|8",
            "KV cache elements: 16 (float16, the default; 32 with --precise), 32 (float32) or 8 "
            "(int8 with a scale per position: half of float16's memory and of the bytes each "
            "token reads at depth; see docs/performance.md for the accuracy of each)");
}

StatusOr<kernels::KvType> SelectKvType(std::optional<int64_t> kv_bits, bool precise) {
  if (!kv_bits) return precise ? kernels::KvType::kF32 : kernels::KvType::kF16;
  switch (*kv_bits) {
    case 32: return kernels::KvType::kF32;
    case 16: return kernels::KvType::kF16;
    case 8: return kernels::KvType::kQ8;
    default: return InvalidArgumentError("--kv-bits must be 32, 16 or 8, got ", *kv_bits);
  }
}

void AddSamplingFlags(FlagParser& flags, SamplingFlags* s) {
  flags.Double("--temp,--temperature", &s->temperature, "T", "sampling temperature; 0 = greedy");
  flags.Double("--top-p", &s->top_p, "P", "nucleus sampling mass; 1 = off");
  flags.Int("--top-k", &s->top_k, "K", "sample among the K most likely tokens; 0 = off");
  flags.Double("--min-p", &s->min_p, "P", "drop tokens below P x the most likely one's probability; 0 = off");
  flags.Int("--min-tokens-to-keep", &s->min_tokens_to_keep, "N", "tokens min-p always keeps");
  flags.Double("--repetition-penalty", &s->repetition_penalty, "R",
               "penalise tokens seen in the last --repetition-context-size tokens; 1 = off");
  flags.Int("--repetition-context-size", &s->repetition_context_size, "N", "tokens the repetition penalty looks back");
  flags.OptionalInt("--seed,-s", &s->seed, "N", "random seed (same seed, same output; default: from the clock)");
}

bool CheckRunFlags(const char* command, const RunOptions& o, const SamplingFlags* s) {
  auto fail = [&](const std::string& message) {
    std::fprintf(stderr, "lfm2 %s: %s\nRun with --help for all options.\n", command, message.c_str());
    return false;
  };
  if (o.model.empty()) return fail("missing required option --model");
  if (o.threads < 1 || o.threads > 1024) return fail("--threads must be in [1, 1024]");
  if (o.batch_size < 1 || o.batch_size > 65536) return fail("--batch-size must be in [1, 65536]");
  if (!o.ctx.empty() && o.ctx != "auto") {
    char* end = nullptr;
    const long long value = std::strtoll(o.ctx.c_str(), &end, 10);
    if (*end != '\0' || value < 1 || value > (1ll << 24)) {
      return fail("--ctx must be auto or a number in [1, 16777216], got \"" + o.ctx + "\"");
    }
  }
  if (auto path = SelectPath(o.precise, o.act_bits); !path.ok()) return fail(path.status().message());
  if (auto kv = SelectKvType(o.kv_bits, o.precise); !kv.ok()) return fail(kv.status().message());
  if (!o.max_ram.empty()) {
    auto budget = ParseByteSize(o.max_ram);
    if (!budget.ok()) return fail("--max-ram: " + budget.status().message());
  }
  if (o.device != "cpu") {
    if (o.device == "mps" || o.device == "gpu" || o.device == "cuda" || o.device == "metal") {
      std::fprintf(stderr, "lfm2: --device %s: this build runs on the CPU; continuing on the CPU\n",
                   o.device.c_str());
    } else {
      return fail("--device must be cpu (or mps/gpu/cuda/metal, which run on the CPU), got \"" + o.device + "\"");
    }
  }
  if (s != nullptr) {
    SamplingParams params = s->Params();
    Status status = ValidateSamplingParams(params);
    if (!status.ok()) return fail(status.message());
  }
  return true;
}

StatusOr<std::unique_ptr<Engine>> LoadEngine(const RunOptions& o, bool require_tokenizer) {
  LFM2_ASSIGN_OR_RETURN(std::string dir, ResolveModelPath(o.model));
  EngineOptions engine_options;
  engine_options.threads = static_cast<int>(o.threads);
  engine_options.batch_size = o.batch_size;
  LFM2_ASSIGN_OR_RETURN(engine_options.path, SelectPath(o.precise, o.act_bits));
  LFM2_ASSIGN_OR_RETURN(engine_options.kv_type, SelectKvType(o.kv_bits, o.precise));
  engine_options.require_tokenizer = require_tokenizer;
  return Engine::Load(dir, engine_options);
}

StatusOr<int64_t> ResolveContext(const std::string& ctx_flag, const std::string& max_ram_flag,
                                 const Lfm2Model& model, int64_t default_context, PlanRequest request) {
  const ModelConfig& config = model.config();
  const WeightInventory inventory = InventoryFromFiles(config, model.store());
  const int64_t limit = std::max<int64_t>(config.max_position_embeddings, 1);
  std::optional<uint64_t> budget;
  if (!max_ram_flag.empty()) {
    LFM2_ASSIGN_OR_RETURN(uint64_t parsed, ParseByteSize(max_ram_flag));
    budget = parsed;
  }
  int64_t context = default_context;
  if (ctx_flag == "auto") {
    const uint64_t available = budget ? *budget : AvailableMemoryBytes();
    context = LargestContextWithin(config, inventory, request, available, limit);
    if (context == 0) {
      request.context = 1;
      return ResourceExhaustedError("--ctx auto: no context fits ", FormatBytes(available),
                                    budget ? " (--max-ram)" : " (available memory)",
                                    ": the model alone needs ",
                                    FormatBytes(MakePlan(config, inventory, request).peak_bytes));
    }
  } else if (!ctx_flag.empty()) {
    context = std::strtoll(ctx_flag.c_str(), nullptr, 10);
  }
  request.context = context;
  if (budget) {
    const Plan plan = MakePlan(config, inventory, request);
    if (plan.peak_bytes > *budget) {
      std::string parts;
      for (const PlanComponent& c : plan.components) {
        if (c.bytes >= (1u << 20)) parts += StrCat(parts.empty() ? "" : ", ", c.name, " ", FormatBytes(c.bytes));
      }
      const int64_t fits = LargestContextWithin(config, inventory, request, *budget, limit);
      return ResourceExhaustedError(
          "the plan for context ", context, " needs ", FormatBytes(plan.peak_bytes), " (", parts,
          ") but --max-ram is ", FormatBytes(*budget), "; ",
          fits > 0 ? StrCat("the largest context that fits is ", fits, " (--ctx ", fits, " or --ctx auto)")
                   : std::string("no context fits: the model alone needs more"));
    }
  }
  return context;
}

StatusOr<std::string> ReadPrompt(const std::string& prompt) {
  // Exactly mlx_lm: prompt.replace("\\n", "\n").replace("\\t", "\t"), then "-" is stdin.
  auto replace_all = [](std::string text, const std::string& from, const std::string& to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
    return text;
  };
  std::string text = replace_all(replace_all(prompt, "\\n", "\n"), "\\t", "\t");
  if (text == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (std::cin.bad()) return IoError("reading the prompt from standard input failed");
  }
  return text;
}

}  // namespace lfm2::cli
