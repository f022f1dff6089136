// apps/lfm2/cmd_logits.cc - `lfm2 logits`: raw float32 logits for a token sequence, the interface
// through which independent checkers compare lfm2.cpp with other implementations.
#include <cstdio>
#include <fstream>
#include <vector>

#include "apps/lfm2/command.h"
#include "apps/lfm2/run_options.h"
#include "base/thread_pool.h"
#include "model/lfm2.h"

namespace lfm2::cli {
namespace {

int RunLogits(int argc, char** argv) {
  std::string model_dir, tokens_text, out_path;
  bool all_positions = false, precise = false;
  int64_t threads = ThreadPool::HardwareThreads(), act_bits = 16;
  std::optional<int64_t> kv_bits;
  int64_t batch = 256;
  FlagParser flags("lfm2 logits --model DIR --tokens IDS --out FILE [options]",
                   "Evaluates the token ids in one sequence and writes raw little-endian float32\n"
                   "logits of shape [positions, vocab_size] (row-major) to FILE: the last position\n"
                   "only, or every position with --all-positions. Prints the shape.");
  flags.String("--model,-m", &model_dir, "DIR", "model directory (config.json + safetensors)");
  flags.String("--tokens", &tokens_text, "IDS", "token ids: 1,2,3 or [1, 2, 3]");
  flags.String("--out,-o", &out_path, "FILE", "output file for the logits");
  flags.Bool("--all-positions", &all_positions, "write the logits of every position");
  AddPathFlags(flags, &precise, &act_bits);
  AddKvFlag(flags, &kv_bits);
  flags.Int("--threads,-t", &threads, "N", "worker threads");
  flags.Int("--batch-size,-b", &batch, "N", "tokens per forward pass (prefill chunk size)");
  flags.Require("--model");
  flags.Require("--tokens");
  flags.Require("--out");
  int exit_code = kExitOk;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (threads < 1 || threads > 1024) {
    return flags.UsageError("logits", FormatMessage("--threads must be in [1, 1024], got %lld", (long long)threads));
  }
  if (batch < 1) {
    return flags.UsageError("logits", FormatMessage("--batch-size must be positive, got %lld", (long long)batch));
  }
  const auto path_or = SelectPath(precise, act_bits);
  if (!path_or.ok()) return flags.UsageError("logits", path_or.status().message());
  const kernels::MatMulPath path = *path_or;
  const auto kv_type = SelectKvType(kv_bits, precise);
  if (!kv_type.ok()) return flags.UsageError("logits", kv_type.status().message());
  auto tokens = ParseIdList(tokens_text);
  if (!tokens.ok()) {
    return flags.UsageError("logits", FormatMessage("--tokens: %s", tokens.status().message().c_str()));
  }
  if (tokens->empty()) {
    return flags.UsageError("logits", "--tokens needs at least one token id");
  }

  auto model = Lfm2Model::Load(model_dir, /*tile=*/!precise);  // the precise path reads file rows
  if (!model.ok()) return ReportError(model.status());
  const ModelConfig& config = (*model)->config();
  const int64_t n = static_cast<int64_t>(tokens->size());
  const int64_t chunk = std::min(batch, n);
  WorkspaceLimits limits{chunk, all_positions ? chunk : 1, n, static_cast<int>(threads)};
  Workspace workspace(config, limits);
  SequenceState state(config, n, *kv_type);
  ThreadPool pool(static_cast<int>(threads));

  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) return ReportError(IoError(out_path, ": cannot open for writing"));
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t count = std::min(chunk, n - begin);
    const bool last = begin + count == n;
    ForwardChunk forward{&state, std::span<const int32_t>(tokens->data() + begin, count),
                         all_positions};
    Status status = (*model)->CheckChunks({&forward, 1}, workspace);
    if (!status.ok()) return ReportError(status);
    const int64_t rows = (*model)->Forward({&forward, 1}, workspace, pool, path);
    if (all_positions || last) {
      const int64_t keep = all_positions ? rows : 1;
      const float* data = workspace.logits.data() + (rows - keep) * config.vocab_size;
      out.write(reinterpret_cast<const char*>(data),
                static_cast<std::streamsize>(keep * config.vocab_size * sizeof(float)));
    }
  }
  out.close();
  if (!out) return ReportError(IoError(out_path, ": write failed"));
  std::printf("logits [%lld, %lld] -> %s\n", static_cast<long long>(all_positions ? n : 1),
              static_cast<long long>(config.vocab_size), out_path.c_str());
  return kExitOk;
}

}  // namespace

LFM2_REGISTER_COMMAND("logits", "write raw float32 logits for a token sequence", RunLogits);

}  // namespace lfm2::cli
