// apps/lfm2/cmd_generate.cc - `lfm2 generate`: one prompt in, streamed text out, following
// mlx_lm.generate / llama-cli conventions.
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "apps/lfm2/run_options.h"
#include "base/memory_info.h"
#include "io/json.h"

namespace lfm2::cli {
namespace {

void PrintStats(const PrefillResult& prefill, const GenerationResult& generation) {
  std::fprintf(stderr, "\n---\n");
  std::fprintf(stderr, "prompt:     %lld tokens, prefill %.3f s (%.1f tok/s)\n",
               (long long)prefill.prompt_tokens, prefill.seconds,
               prefill.seconds > 0 ? prefill.prefilled_tokens / prefill.seconds : 0.0);
  std::fprintf(stderr, "generation: %lld tokens, decode %.3f s (%.1f tok/s), finish: %s\n",
               (long long)generation.tokens.size(), generation.decode_seconds,
               generation.decode_seconds > 0 ? generation.decoded_tokens / generation.decode_seconds : 0.0,
               FinishReasonName(generation.finish));
  std::fprintf(stderr, "time to first token: %.3f s\n", prefill.seconds + generation.first_token_seconds);
  std::fprintf(stderr, "peak RSS:   %.1f MB\n", PeakRssBytes() / 1e6);
}

int RunGenerate(int argc, char** argv) {
  RunOptions run;
  SamplingFlags sampling;
  std::string prompt_flag, system_prompt, tokens_flag, output_format = "text";
  int64_t max_tokens = 256;
  bool ignore_chat_template = false;
  FlagParser flags(
      "lfm2 generate --model DIR --prompt TEXT|- [options]",
      "Generates a continuation of a prompt and streams it to stdout. The prompt goes through the\n"
      "model's chat template (as a user message, after --system-prompt) unless\n"
      "--ignore-chat-template; \"\\n\" and \"\\t\" in --prompt become newline and tab, and \"-\"\n"
      "reads the prompt from stdin. Generation stops at the model's end-of-turn token, at\n"
      "--max-tokens, or when the context (--ctx) is full. Sampling defaults are LiquidAI's\n"
      "recommendation for LFM2 (temperature 0.3, min-p 0.15, repetition penalty 1.05); --temp 0\n"
      "is greedy. Text output ends without an added newline unless stdout is a terminal.");
  AddRunFlags(flags, &run);
  flags.String("--prompt,-p", &prompt_flag, "TEXT", "the prompt, or - for stdin");
  flags.String("--system-prompt", &system_prompt, "TEXT", "system message for the chat template");
  flags.String("--tokens", &tokens_flag, "IDS", "prompt as token ids (1,2,3 or [1,2,3]) instead of text");
  flags.Int("--max-tokens,-n", &max_tokens, "N", "maximum tokens to generate");
  flags.Bool("--ignore-chat-template", &ignore_chat_template, "use the raw prompt (with BOS), no chat template");
  flags.String("--output-format", &output_format, "FORMAT",
               "text (streamed), ids (JSON array of generated ids) or json (one object with text, "
               "ids, finish reason, usage and timings)");
  AddSamplingFlags(flags, &sampling);
  int exit_code = kExitOk;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (!CheckRunFlags("generate", run, &sampling)) return kExitUsage;
  if (prompt_flag.empty() == tokens_flag.empty()) {
    return flags.UsageError("generate", "give exactly one of --prompt and --tokens");
  }
  if (output_format != "text" && output_format != "ids" && output_format != "json") {
    return flags.UsageError("generate", "--output-format must be text, ids or json, got \"" +
                                            output_format + "\"");
  }
  if (max_tokens < 0) {
    return flags.UsageError("generate", "--max-tokens must be >= 0");
  }
  std::vector<int32_t> prompt_ids;
  if (!tokens_flag.empty()) {
    auto ids = ParseIdList(tokens_flag);
    if (!ids.ok() || ids->empty()) {
      return flags.UsageError("generate", FormatMessage("--tokens: %s",
                   ids.ok() ? "needs at least one id" : ids.status().message().c_str()));
    }
    prompt_ids = *ids;
  }

  // Text needs a tokenizer; ids in and ids (or json, whose "text" is then null) out do not.
  const bool need_tokenizer = prompt_ids.empty() || output_format == "text";
  auto engine = LoadEngine(run, need_tokenizer);
  if (!engine.ok()) return ReportError(engine.status());
  Engine& e = **engine;
  if (prompt_ids.empty()) {
    auto prompt = ReadPrompt(prompt_flag);
    if (!prompt.ok()) return ReportError(prompt.status());
    if (e.chat_template() != nullptr && !ignore_chat_template) {
      Json messages = Json::array();
      if (!system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", system_prompt}});
      messages.push_back({{"role", "user"}, {"content", *prompt}});
      auto rendered = e.chat_template()->Render(messages, Json(), /*add_generation_prompt=*/true);
      if (!rendered.ok()) return ReportError(rendered.status());
      prompt_ids = e.Tokenize(*rendered, /*rendered_chat=*/true);
    } else {
      prompt_ids = e.Tokenize(*prompt, /*rendered_chat=*/false);
    }
  }
  const int64_t prompt_length = static_cast<int64_t>(prompt_ids.size());
  PlanRequest plan_request;
  plan_request.threads = static_cast<int>(run.threads);
  plan_request.ubatch = run.batch_size;
  plan_request.tokenizer = e.tokenizer() != nullptr;
  plan_request.checkpoints = kSessionCheckpoints;
  plan_request.kv_type = e.options().kv_type;
  const int64_t wanted = std::min<int64_t>(prompt_length + std::max<int64_t>(max_tokens, 1),
                                           std::max<int64_t>(e.config().max_position_embeddings, prompt_length + 1));
  auto context = ResolveContext(run.ctx, run.max_ram, e.model(), wanted, plan_request);
  if (!context.ok()) return ReportError(context.status());
  Session session(e, *context);
  auto prefill = session.Prefill(prompt_ids);
  if (!prefill.ok()) return ReportError(prefill.status());

  GenerationOptions options;
  options.max_tokens = max_tokens;
  options.sampling = sampling.Params();
  const bool stream = output_format == "text";
  std::string text;
  bool ends_with_newline = false;
  auto generation = session.Generate(options, [&](int32_t, std::string_view piece) {
    if (stream && !piece.empty()) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      ends_with_newline = piece.back() == '\n';
    }
    text += piece;
    return true;
  });
  if (!generation.ok()) return ReportError(generation.status());
  if (stream && isatty(STDOUT_FILENO) && !ends_with_newline) std::fputc('\n', stdout);
  if (output_format == "ids") {
    std::printf("%s\n", Json(generation->tokens).dump().c_str());
  } else if (output_format == "json") {
    Json out;
    out["text"] = e.tokenizer() != nullptr ? Json(text) : Json();
    out["ids"] = generation->tokens;
    out["finish_reason"] = FinishReasonName(generation->finish);
    out["usage"] = {{"prompt_tokens", prompt_length},
                    {"completion_tokens", generation->tokens.size()}};
    out["timings"] = {{"prefill_seconds", prefill->seconds},
                      {"decode_seconds", generation->decode_seconds},
                      {"decoded_tokens", generation->decoded_tokens},
                      {"time_to_first_token_seconds", prefill->seconds + generation->first_token_seconds},
                      {"peak_rss_bytes", PeakRssBytes()}};
    std::printf("%s\n", DumpJson(out).c_str());
  }
  std::fflush(stdout);
  if (run.verbose) PrintStats(*prefill, *generation);
  return kExitOk;
}

}  // namespace

LFM2_REGISTER_COMMAND("generate", "generate text from a prompt (streams to stdout)", RunGenerate);

}  // namespace lfm2::cli
