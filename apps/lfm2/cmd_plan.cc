// apps/lfm2/cmd_plan.cc - `lfm2 plan`: the RAM a run needs, component by component, for each
// context and batch asked - exact from a model directory, or what-if from a config.json alone at
// any bits / group size.
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "apps/lfm2/command.h"
#include "apps/lfm2/run_options.h"
#include "base/thread_pool.h"
#include "generate/model_path.h"
#include "io/json.h"
#include "planner/plan.h"

namespace lfm2::cli {
namespace {

// The quantization block mlx_lm.convert -q --q-bits B --q-group-size G writes, with lfm2_moe's
// router forced to 8 bits / group 64.
void SetQuantization(Json& config, int64_t bits, int64_t group_size) {
  Json q = {{"group_size", group_size}, {"bits", bits}, {"mode", "affine"}};
  if (config.value("model_type", "") == "lfm2_moe") {
    const int64_t layers = config.value("num_hidden_layers", 0);
    const int64_t dense = config.value("num_dense_layers", 0);
    for (int64_t i = dense; i < layers; ++i) {
      q[StrCat("model.layers.", i, ".feed_forward.gate")] = {{"group_size", 64}, {"bits", 8}};
    }
  }
  config["quantization"] = q;
  config.erase("quantization_config");
}

int RunPlan(int argc, char** argv) {
  std::string model_arg, config_path, contexts = "2048,4096,8192,16384,32768", batches = "1";
  std::optional<int64_t> bits, group_size;
  int64_t threads = ThreadPool::HardwareThreads(), ubatch = 512;
  std::optional<int64_t> kv_bits;
  std::optional<int64_t> float_bytes;
  bool json = false, no_tokenizer = false;
  FlagParser flags(
      "lfm2 plan (--model DIR | --config config.json [--bits B] [--group-size G]) [--ctx 2048,4096] "
      "[--batch 1,4] [--json]",
      "Prints the RAM a run needs: the checkpoint's tensors (mapped from the files), the f32\n"
      "copies made at load, KV cache and conv state per sequence, prompt-end checkpoints, one\n"
      "forward pass's activations, sampler buffers, tokenizer and runtime - and the peak, for\n"
      "each context (--ctx) and number of sequences (--batch). From a model directory the tensor\n"
      "bytes are exact; from a config.json alone they are computed for its quantization block or\n"
      "for --bits/--group-size as mlx_lm.convert would write them (router at 8 bits).");
  flags.String("--model,-m", &model_arg, "DIR|ORG/NAME", "model directory (exact plan)");
  flags.String("--config", &config_path, "FILE", "config.json alone (what-if plan)");
  flags.OptionalInt("--bits", &bits, "B", "with --config: quantize to B bits (2,3,4,5,6,8)");
  flags.OptionalInt("--group-size", &group_size, "G", "with --config: group size (32, 64, 128) [64]");
  flags.OptionalInt("--float-bytes", &float_bytes, "N",
                    "with --config: bytes of float tensors and scales (2 = bf16/f16, 4 = f32) "
                    "[from the config's torch_dtype, else 2]");
  flags.String("--ctx,-c", &contexts, "N[,N...]", "context sizes");
  flags.String("--batch", &batches, "N[,N...]", "sequences held at once");
  flags.Int("--threads,-t", &threads, "N", "worker threads");
  flags.Int("--ubatch", &ubatch, "N", "tokens per forward pass");
  AddKvFlag(flags, &kv_bits);
  flags.Bool("--no-tokenizer", &no_tokenizer, "leave out the tokenizer (runs on token ids, like bench)");
  flags.Bool("--json", &json, "print a JSON list of {ctx, batch, peak_bytes, components}");
  int exit_code = kExitOk;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (model_arg.empty() == config_path.empty()) {
    return flags.UsageError("plan", "give exactly one of --model and --config");
  }
  if ((bits || group_size) && config_path.empty()) {
    return flags.UsageError("plan", "--bits and --group-size apply to --config (a model directory is exact)");
  }
  if (float_bytes && *float_bytes != 2 && *float_bytes != 4) {
    return flags.UsageError("plan", "--float-bytes must be 2 or 4");
  }
  const auto context_parsed = ParseIntList(contexts, 1, int64_t{1} << 24);
  const auto batch_parsed = ParseIntList(batches, 1, int64_t{1} << 24);
  if (contexts.empty() || batches.empty() || !context_parsed || !batch_parsed) {
    return flags.UsageError("plan", "--ctx and --batch take comma-separated positive integers");
  }
  const std::vector<int64_t>& context_list = *context_parsed;
  const std::vector<int64_t>& batch_list = *batch_parsed;
  if (threads < 1 || threads > 1024 || ubatch < 1) return flags.UsageError("plan", "--threads and --ubatch must be positive");

  ModelConfig config;
  WeightInventory inventory;
  std::unique_ptr<WeightStore> store;
  if (!model_arg.empty()) {
    auto dir = ResolveModelPath(model_arg);
    if (!dir.ok()) return ReportError(dir.status());
    auto parsed = ModelConfig::FromDirectory(*dir);
    if (!parsed.ok()) return ReportError(parsed.status());
    config = *parsed;
    auto opened = WeightStore::Open(*dir, config.quantization);
    if (!opened.ok()) return ReportError(opened.status());
    store = std::move(opened).value();
    inventory = InventoryFromFiles(config, *store);
  } else {
    auto text = ReadJsonFile(config_path);
    if (!text.ok()) return ReportError(text.status());
    Json raw = *text;
    if (bits || group_size) {
      if (!raw.is_object()) return ReportError(InvalidArgumentError(config_path, ": expected a JSON object"));
      SetQuantization(raw, bits.value_or(4), group_size.value_or(64));
    }
    auto parsed = ModelConfig::Parse(raw, nullptr, config_path);
    if (!parsed.ok()) return ReportError(parsed.status());
    config = *parsed;
    const int bytes = float_bytes ? static_cast<int>(*float_bytes) : (config.torch_dtype == "float32" ? 4 : 2);
    inventory = InventoryFromConfig(config, bytes);
  }

  const auto kv_type = SelectKvType(kv_bits, /*precise=*/false);
  if (!kv_type.ok()) return flags.UsageError("plan", kv_type.status().message());
  std::vector<Plan> plans;
  for (int64_t batch : batch_list) {
    for (int64_t context : context_list) {
      PlanRequest request;
      request.context = context;
      request.batch = batch;
      request.ubatch = ubatch;
      request.threads = static_cast<int>(threads);
      request.tokenizer = !no_tokenizer;
      request.kv_type = *kv_type;
      plans.push_back(MakePlan(config, inventory, request));
    }
  }
  if (json) {
    Json out = Json::array();
    for (const Plan& plan : plans) {
      Json components = Json::object();
      for (const PlanComponent& c : plan.components) components[c.name] = c.bytes;
      out.push_back({{"ctx", plan.context}, {"batch", plan.batch}, {"peak_bytes", plan.peak_bytes},
                     {"components", components}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  std::string quant = "unquantized";
  if (config.quantization.present()) {
    quant = StrCat("MLX affine ", config.quantization.global().bits, "-bit g",
                   config.quantization.global().group_size);
  }
  std::printf("RAM plan: %s, %s, %lld thread(s), forward pass of up to %lld tokens%s\n",
              config.model_type.c_str(), quant.c_str(), (long long)threads, (long long)ubatch,
              model_arg.empty() ? " (from config.json)" : "");
  for (const Plan& plan : plans) {
    std::printf("\nctx %lld, batch %lld: peak %s (%llu bytes)\n", (long long)plan.context,
                (long long)plan.batch, FormatBytes(plan.peak_bytes).c_str(),
                (unsigned long long)plan.peak_bytes);
    for (const PlanComponent& c : plan.components) {
      std::printf("  %-20s %12s  %s\n", c.name.c_str(), FormatBytes(c.bytes).c_str(), c.detail.c_str());
    }
  }
  return kExitOk;
}

}  // namespace

LFM2_REGISTER_COMMAND("plan", "RAM needed per component for given contexts and batch sizes", RunPlan);

}  // namespace lfm2::cli
