// apps/lfm2/cmd_chat.cc - `lfm2 chat`: an interactive multi-turn conversation on a terminal or
// over piped stdin (one user message per line). The conversation's state is kept between turns:
// each turn renders the whole conversation with the chat template, and the session reuses every
// token it already holds, so only the new turn is prefilled.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "apps/lfm2/run_options.h"
#include "base/memory_info.h"
#include "io/json.h"

namespace lfm2::cli {
namespace {

int RunChat(int argc, char** argv) {
  RunOptions run;
  SamplingFlags sampling;
  std::string system_prompt;
  int64_t max_tokens = 1024;
  FlagParser flags(
      "lfm2 chat --model DIR [options]",
      "Chats with the model. Type a message and press Enter; the reply streams back. Each line\n"
      "of standard input is one user message, so a conversation can be piped in. Commands:\n"
      "/reset starts a new conversation, /exit (or end of input) quits. Only the new turn is\n"
      "prefilled: the earlier turns stay in the model's cache. With --verbose each turn reports\n"
      "its prompt tokens, how many were reused from the cache and how many were prefilled.\n"
      "The context (--ctx, default 4096) holds the whole conversation; a turn that does not fit\n"
      "is an error (start over with /reset).");
  AddRunFlags(flags, &run);
  flags.String("--system-prompt", &system_prompt, "TEXT", "system message for the conversation");
  flags.Int("--max-tokens,-n", &max_tokens, "N", "maximum tokens per reply");
  AddSamplingFlags(flags, &sampling);
  int exit_code = kExitOk;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (!CheckRunFlags("chat", run, &sampling)) return kExitUsage;
  if (max_tokens < 1) {
    return flags.UsageError("chat", "--max-tokens must be >= 1");
  }
  auto engine = LoadEngine(run, /*require_tokenizer=*/true);
  if (!engine.ok()) return ReportError(engine.status());
  Engine& e = **engine;
  if (e.chat_template() == nullptr) {
    return ReportError(NotFoundError("the model has no chat template (chat_template.jinja or "
                                     "tokenizer_config.json \"chat_template\"); use lfm2 generate"));
  }
  PlanRequest plan_request;
  plan_request.threads = static_cast<int>(run.threads);
  plan_request.ubatch = run.batch_size;
  plan_request.checkpoints = kSessionCheckpoints;
  plan_request.kv_type = e.options().kv_type;
  auto resolved = ResolveContext(run.ctx, run.max_ram, e.model(), std::min<int64_t>(4096, e.config().max_position_embeddings), plan_request);
  if (!resolved.ok()) return ReportError(resolved.status());
  const int64_t context = *resolved;
  Session session(e, context);
  GenerationOptions options;
  options.max_tokens = max_tokens;
  options.sampling = sampling.Params();

  const bool interactive = isatty(STDIN_FILENO);
  if (interactive) {
    std::fprintf(stderr, "lfm2 chat: %s, context %lld tokens. /reset clears, /exit quits.\n",
                 e.config().model_type.c_str(), (long long)context);
  }
  Json messages = Json::array();
  auto reset = [&] {
    messages = Json::array();
    if (!system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", system_prompt}});
  };
  reset();
  int turn = 0;
  std::string line;
  while (true) {
    if (interactive) std::fprintf(stderr, "> ");
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      reset();
      session.Reset();
      turn = 0;
      if (interactive) std::fprintf(stderr, "(new conversation)\n");
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", line}});
    auto rendered = e.chat_template()->Render(messages, Json(), /*add_generation_prompt=*/true);
    if (!rendered.ok()) return ReportError(rendered.status());
    const std::vector<int32_t> prompt = e.Tokenize(*rendered, /*rendered_chat=*/true);
    auto prefill = session.Prefill(prompt);
    if (!prefill.ok()) {
      return ReportError(prefill.status().code() == StatusCode::kOutOfRange
                             ? OutOfRangeError("context full: ", prefill.status().message(),
                                               "; /reset to start over")
                             : prefill.status());
    }
    std::string reply;
    auto generation = session.Generate(options, [&](int32_t, std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      reply += piece;
      return true;
    });
    if (!generation.ok()) return ReportError(generation.status());
    std::fputc('\n', stdout);
    std::fflush(stdout);
    ++turn;
    if (run.verbose) {
      std::fprintf(stderr,
                   "[turn %d: prompt %lld tokens, %lld reused from the cache, %lld prefilled in %.3f s; "
                   "generated %zu tokens, decode %.1f tok/s, finish %s; peak RSS %.1f MB]\n",
                   turn, (long long)prefill->prompt_tokens, (long long)prefill->reused_tokens,
                   (long long)prefill->prefilled_tokens, prefill->seconds, generation->tokens.size(),
                   generation->decode_seconds > 0 ? generation->decoded_tokens / generation->decode_seconds : 0.0,
                   FinishReasonName(generation->finish), PeakRssBytes() / 1e6);
    }
    messages.push_back({{"role", "assistant"}, {"content", reply}});
  }
  return kExitOk;
}

}  // namespace

LFM2_REGISTER_COMMAND("chat", "interactive multi-turn chat (terminal or piped stdin)", RunChat);

}  // namespace lfm2::cli
