// apps/lfm2/cmd_inspect.cc - `lfm2 inspect`: what a checkpoint holds (architecture, layer kinds,
// quantization and bytes per tensor group, total and active parameters), after full validation.
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "apps/lfm2/command.h"
#include "base/memory_info.h"
#include "io/json.h"
#include "model/lfm2.h"

namespace lfm2::cli {
namespace {

std::string Thousands(uint64_t value) {
  std::string digits = std::to_string(value), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

struct GroupStats {
  int64_t tensors = 0;
  uint64_t parameters = 0;
  uint64_t bytes = 0;
  std::set<std::string> formats;  // "affine 3-bit g64 (BF16 scales)", "BF16", ...
};

int RunInspect(int argc, char** argv) {
  std::string model_dir;
  bool json = false;
  FlagParser flags("lfm2 inspect --model DIR [--json]",
                   "Loads and validates a checkpoint and describes it: architecture, layer kinds,\n"
                   "quantization and bytes on disk per tensor group, total and active (per token)\n"
                   "parameter counts.");
  flags.String("--model,-m", &model_dir, "DIR", "model directory (config.json + safetensors)");
  flags.Bool("--json", &json, "print one JSON object instead of text");
  flags.Require("--model");
  int exit_code = kExitOk;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;

  const double load_start = NowSeconds();
  // Nothing is computed: the weights stay in the file mapping (no tiled copy).
  auto model = Lfm2Model::Load(model_dir, /*tile=*/false);
  if (!model.ok()) return ReportError(model.status());
  const double load_seconds = NowSeconds() - load_start;
  const uint64_t rss_after_load = CurrentRssBytes();
  const ModelConfig& c = (*model)->config();
  const WeightStore& store = (*model)->store();

  // Walk the model's tensor list and look each one up in the files.
  std::map<TensorGroup, GroupStats> groups;
  uint64_t total = 0, experts_total = 0;
  ForEachTensor(c, TensorNaming::Detect(c, store), nullptr, [&](const TensorSpec& spec, TensorSlot) {
    GroupStats& g = groups[spec.group];
    const uint64_t params = static_cast<uint64_t>(spec.parameters());
    g.parameters += params;
    total += params;
    if (spec.kind == TensorSpec::Kind::kExperts) experts_total += params;
    if (spec.kind == TensorSpec::Kind::kVector) {
      const TensorInfo* t = store.tensors().Find(spec.name);
      g.tensors += 1;
      g.bytes += t->bytes;
      g.formats.insert(DTypeName(t->dtype));
      return;
    }
    const TensorInfo* weight = store.tensors().Find(spec.name + ".weight");
    g.tensors += 1;
    g.bytes += weight->bytes;
    if (const TensorInfo* scales = store.tensors().Find(spec.name + ".scales")) {
      const TensorInfo* biases = store.tensors().Find(spec.name + ".biases");
      const QuantSpec q = *store.quantization().ForModule(spec.name);
      g.tensors += 2;
      g.bytes += scales->bytes + biases->bytes;
      g.formats.insert(StrCat("affine ", q.bits, "-bit g", q.group_size, " (", DTypeName(scales->dtype),
                              " scales)"));
    } else {
      g.formats.insert(DTypeName(weight->dtype));
    }
  });
  const uint64_t active =
      c.is_moe() ? total - experts_total + experts_total / c.num_experts * c.num_experts_per_tok
                 : total;

  std::string kinds;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    kinds += c.layer_kinds[i] == LayerKind::kAttention ? 'A' : 'C';
  }
  if (json) {
    Json out;
    out["model"] = model_dir;
    out["model_type"] = c.model_type;
    out["files"] = store.tensors().file_paths();
    Json config;
    config["vocab_size"] = c.vocab_size;
    config["hidden_size"] = c.hidden_size;
    config["num_hidden_layers"] = c.num_hidden_layers;
    config["num_attention_heads"] = c.num_attention_heads;
    config["num_key_value_heads"] = c.num_key_value_heads;
    config["head_dim"] = c.head_dim;
    config["intermediate_size"] = c.intermediate_size;
    config["conv_L_cache"] = c.conv_L_cache;
    config["rope_theta"] = c.rope_theta;
    config["norm_eps"] = c.norm_eps;
    config["tie_word_embeddings"] = c.tie_word_embeddings;
    config["eos_token_ids"] = c.eos_token_ids;
    if (c.is_moe()) {
      config["num_experts"] = c.num_experts;
      config["num_experts_per_tok"] = c.num_experts_per_tok;
      config["moe_intermediate_size"] = c.moe_intermediate_size;
      config["num_dense_layers"] = c.num_dense_layers;
      config["use_expert_bias"] = c.use_expert_bias;
      config["norm_topk_prob"] = c.norm_topk_prob;
      config["routed_scaling_factor"] = c.routed_scaling_factor;
    }
    out["config"] = config;
    Json layers = Json::array();
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      layers.push_back({{"index", i},
                        {"operator", LayerKindName(c.layer_kinds[i])},
                        {"ffn", c.IsMoeLayer(i) ? "moe" : "dense"}});
    }
    out["layers"] = layers;
    Json group_json = Json::object();
    for (const auto& [group, g] : groups) {
      group_json[TensorGroupName(group)] = {{"tensors", g.tensors},
                                            {"parameters", g.parameters},
                                            {"bytes", g.bytes},
                                            {"formats", std::vector<std::string>(g.formats.begin(), g.formats.end())}};
    }
    out["groups"] = group_json;
    out["total_parameters"] = total;
    out["active_parameters"] = active;
    out["tensor_bytes"] = store.tensors().total_bytes();
    out["load_ms"] = load_seconds * 1e3;
    out["rss_after_load_bytes"] = rss_after_load;
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }

  std::printf("model        %s\n", model_dir.c_str());
  for (const std::string& path : store.tensors().file_paths()) {
    std::printf("file         %s\n", std::filesystem::path(path).filename().c_str());
  }
  std::printf("architecture %s, %lld layers (%lld conv + %lld attention), hidden %lld, vocab %lld\n",
              c.model_type.c_str(), (long long)c.num_hidden_layers, (long long)c.num_conv_layers(),
              (long long)c.num_attention_layers(), (long long)c.hidden_size, (long long)c.vocab_size);
  std::printf("attention    %lld heads / %lld KV heads, head_dim %lld, rope_theta %g, QK-norm\n",
              (long long)c.num_attention_heads, (long long)c.num_key_value_heads,
              (long long)c.head_dim, c.rope_theta);
  std::printf("conv         kernel %lld, bias %s\n", (long long)c.conv_L_cache, c.conv_bias ? "yes" : "no");
  if (c.is_moe()) {
    std::printf("ffn          dense SwiGLU %lld (layers 0-%lld), then MoE: %lld experts, top-%lld, "
                "width %lld, sigmoid routing%s%s, scaling %g\n",
                (long long)c.intermediate_size, (long long)c.num_dense_layers - 1,
                (long long)c.num_experts, (long long)c.num_experts_per_tok,
                (long long)c.moe_intermediate_size, c.use_expert_bias ? ", expert bias" : "",
                c.norm_topk_prob ? ", normalised top-k" : "", c.routed_scaling_factor);
  } else {
    std::printf("ffn          dense SwiGLU %lld\n", (long long)c.intermediate_size);
  }
  std::printf("layers       %s  (C = conv, A = attention)\n", kinds.c_str());
  std::printf("head         %s\n", c.tie_word_embeddings ? "tied to embed_tokens" : "lm_head");
  std::printf("\n%-10s %8s %16s %16s  %s\n", "group", "tensors", "parameters", "bytes", "format");
  for (const auto& [group, g] : groups) {
    std::string formats;
    for (const std::string& f : g.formats) formats += (formats.empty() ? "" : ", ") + f;
    std::printf("%-10s %8lld %16s %16s  %s\n", TensorGroupName(group), (long long)g.tensors,
                Thousands(g.parameters).c_str(), Thousands(g.bytes).c_str(), formats.c_str());
  }
  std::printf("\nparameters   %s total, %s active per token\n", Thousands(total).c_str(),
              Thousands(active).c_str());
  std::printf("tensor bytes %s\n", Thousands(store.tensors().total_bytes()).c_str());
  std::printf("load         %.0f ms (mapped, not copied: %s bytes resident after load)\n",
              load_seconds * 1e3, Thousands(rss_after_load).c_str());
  return kExitOk;
}

}  // namespace

LFM2_REGISTER_COMMAND("inspect", "describe and validate a checkpoint (architecture, quantization, sizes)",
                      RunInspect);

}  // namespace lfm2::cli
