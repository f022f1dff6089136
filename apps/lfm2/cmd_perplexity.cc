// apps/lfm2/cmd_perplexity.cc - `lfm2 perplexity`: perplexity of a text file, following
// llama-perplexity: the tokenized text is cut into non-overlapping windows of --ctx tokens, the
// first token of each window is replaced by BOS, and the second half of each window is scored
// (every scored token has at least ctx/2 tokens of context). Reports PPL = exp(mean NLL) with its
// standard error (delta method over the scored tokens).
#include <cmath>
#include <cstdio>
#include <vector>

#include "apps/lfm2/run_options.h"
#include "io/json.h"

namespace lfm2::cli {
namespace {

int RunPerplexity(int argc, char** argv) {
  RunOptions run;
  std::string file;
  int64_t window = 512;
  bool json = false;
  FlagParser flags(
      "lfm2 perplexity --model DIR --file TEXT [--ctx 512] [options]",
      "Computes the model's perplexity on a text file as llama-perplexity does: the text is\n"
      "tokenized (without BOS), cut into non-overlapping windows of --ctx tokens whose first\n"
      "token is replaced by BOS, and the second half of every window is scored. Prints the\n"
      "running estimate per window and the final PPL +- standard error.");
  flags.String("--model,-m", &run.model, "DIR|ORG/NAME", "model directory (with tokenizer.json)");
  flags.String("--file,-f", &file, "PATH", "UTF-8 text to evaluate");
  flags.Int("--ctx,-c", &window, "N", "window size in tokens");
  flags.Int("--threads,-t", &run.threads, "N", "worker threads");
  flags.Int("--batch-size,-b", &run.batch_size, "N", "tokens per forward pass");
  AddPathFlags(flags, &run.precise, &run.act_bits);
  AddKvFlag(flags, &run.kv_bits);
  flags.Bool("--json", &json, "print one JSON object with the result");
  flags.Require("--model");
  flags.Require("--file");
  int exit_code = kExitOk;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (window < 4) return flags.UsageError("perplexity", "--ctx must be at least 4");
  if (!CheckRunFlags("perplexity", run, nullptr)) return kExitUsage;

  auto text = ReadFileToString(file);
  if (!text.ok()) return ReportError(text.status());
  auto engine = LoadEngine(run, /*require_tokenizer=*/true);
  if (!engine.ok()) return ReportError(engine.status());
  Engine& e = **engine;
  const auto bos = e.tokenizer()->bos_id();
  if (!bos) return ReportError(NotFoundError("the tokenizer has no BOS token (tokenizer_config.json bos_token)"));
  const std::vector<int32_t> tokens = e.tokenizer()->Encode(*text, /*add_special_tokens=*/false);
  const int64_t windows = static_cast<int64_t>(tokens.size()) / window;
  if (windows == 0) {
    return ReportError(InvalidArgumentError(file, ": ", tokens.size(), " tokens, fewer than one window of ", window,
                                            " (lower --ctx)"));
  }
  const ModelConfig& c = e.config();
  const int64_t chunk_tokens = std::min(run.batch_size, window);
  Workspace workspace(c, WorkspaceLimits{chunk_tokens, chunk_tokens, window, static_cast<int>(run.threads)});
  SequenceState state(c, window, e.options().kv_type);
  const kernels::MatMulPath path = e.options().path;
  double nll_sum = 0, nll_square_sum = 0;
  int64_t scored = 0;
  const int64_t first = window / 2;
  if (!json) std::fprintf(stderr, "perplexity: %zu tokens, %lld windows of %lld, scoring the second half of each\n",
                          tokens.size(), (long long)windows, (long long)window);
  for (int64_t w = 0; w < windows; ++w) {
    std::vector<int32_t> ids(tokens.begin() + w * window, tokens.begin() + (w + 1) * window);
    ids[0] = *bos;
    state.Reset();
    for (int64_t begin = 0; begin < window; begin += chunk_tokens) {
      const int64_t count = std::min(chunk_tokens, window - begin);
      ForwardChunk chunk{&state, std::span<const int32_t>(ids.data() + begin, count), true};
      const int64_t rows = e.model().Forward({&chunk, 1}, workspace, e.pool(), path);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t position = begin + r;  // logits at position predict ids[position + 1]
        if (position < first || position + 1 >= window) continue;
        const float* logits = workspace.logits.data() + r * c.vocab_size;
        double max_logit = logits[0];
        for (int64_t v = 1; v < c.vocab_size; ++v) max_logit = std::max(max_logit, double(logits[v]));
        double sum = 0;
        for (int64_t v = 0; v < c.vocab_size; ++v) sum += std::exp(double(logits[v]) - max_logit);
        const double nll = std::log(sum) + max_logit - logits[ids[position + 1]];
        nll_sum += nll;
        nll_square_sum += nll * nll;
        ++scored;
      }
    }
    if (!json) std::fprintf(stderr, "[%lld]%.4f%s", (long long)(w + 1), std::exp(nll_sum / scored), w + 1 < windows ? "," : "\n");
  }
  const double mean = nll_sum / scored;
  const double variance = std::max(0.0, nll_square_sum / scored - mean * mean);
  const double ppl = std::exp(mean);
  const double error = ppl * std::sqrt(variance / std::max<int64_t>(scored - 1, 1));
  if (json) {
    Json out = {{"ppl", ppl}, {"ppl_stderr", error}, {"mean_nll", mean}, {"scored_tokens", scored},
                {"windows", windows}, {"ctx", window}, {"tokens", tokens.size()}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, error);
  }
  return kExitOk;
}

}  // namespace

LFM2_REGISTER_COMMAND("perplexity", "perplexity of a text file (llama-perplexity windows)", RunPerplexity);

}  // namespace lfm2::cli
