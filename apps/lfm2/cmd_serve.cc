// apps/lfm2/cmd_serve.cc - `lfm2 serve`: the OpenAI-compatible HTTP server (server/). Loads the
// model, sizes --parallel slots against the RAM plan, and serves until SIGINT / SIGTERM.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "apps/lfm2/run_options.h"
#include "base/log.h"
#include "base/memory_info.h"
#include "server/api_server.h"
#include "server/http_server.h"
#include "server/scheduler.h"

namespace lfm2::cli {
namespace {

int RunServe(int argc, char** argv) {
  RunOptions run;
  SamplingFlags sampling;
  std::string host = "127.0.0.1", api_key, alias;
  int64_t port = 8080, parallel = 4, queue = 64, max_body = 8 << 20, http_threads = 0;
  int64_t header_timeout = 10, body_timeout = 60, write_timeout = 60, idle_timeout = 60;
  int64_t max_connections = 1024, max_per_client = 512, max_header_bytes = 32 << 10;
  int64_t max_json_depth = 128;
  double decode_gap = 2.0;
  bool special_in_messages = false;
  std::string max_request_memory = "auto";
  FlagParser flags(
      "lfm2 serve --model DIR [--host 127.0.0.1] [--port 8080] [--parallel N] [--ctx N] "
      "[--max-ram SIZE] [--api-key KEY] [options]",
      "Serves the model over an OpenAI-compatible HTTP API: POST /v1/chat/completions and\n"
      "/v1/completions (JSON or SSE streaming), GET /v1/models, /health, /metrics (Prometheus),\n"
      "POST /tokenize, /detokenize and /apply-template. --parallel slots generate at once with\n"
      "continuous batching (their decode steps share one pass over the weights); each slot holds\n"
      "--ctx tokens (prompt + completion) and keeps its cache, so a request extending an earlier\n"
      "conversation only prefills the new part. Requests beyond the slots wait in a queue of\n"
      "--queue; when it is full the server answers 429.\n"
      "\n"
      "Sampling: a request's fields (temperature, top_p, top_k, min_p, repetition_penalty,\n"
      "presence_penalty, frequency_penalty, seed, logit_bias) override the defaults given here,\n"
      "which are LiquidAI's recommendation for LFM2 (temperature 0.3, min_p 0.15, repetition\n"
      "penalty 1.05) - not OpenAI's (temperature 1). A request without a seed gets a fresh one\n"
      "unless --seed is given. max_tokens defaults to the rest of the slot's context; a prompt +\n"
      "max_tokens beyond --ctx is refused with 400.\n"
      "\n"
      "Message text of every role (tool results, tool-call arguments and tool definitions\n"
      "included) is tokenized as plain text: \"<|im_end|>\" typed by a client stays text, and\n"
      "control tokens come only from the chat template (--special-tokens-in-messages restores\n"
      "Hugging Face's apply_chat_template + encode, which parses them). /v1/completions prompts\n"
      "are raw text and keep their control tokens.\n"
      "\n"
      "Limits, for clients that misbehave: request heads up to --max-header-bytes (431 beyond),\n"
      "bodies up to --max-body (413), JSON nested up to --max-json-depth levels (400 naming\n"
      "where) and holding at most 16 bytes of parsed JSON per body byte + 1 MiB (413); requests\n"
      "being handled reserve 40 x body + 1 MiB each from --max-request-memory (503 when full,\n"
      "so concurrent large bodies cannot exhaust RAM; bodies up to 64 KiB always pass); the head\n"
      "must arrive within --header-timeout and the body within --body-timeout (408). Slow or\n"
      "idle clients never hold a worker: heads and bodies are read by one event loop, and only\n"
      "complete requests reach the --http-threads workers. At --max-connections (or\n"
      "--max-connections-per-client from one address) a new connection replaces the\n"
      "longest-waiting one not running a request (idle first, then slow heads, then slow\n"
      "bodies); when every connection is busy it gets 503.\n"
      "\n"
      "The server refuses to start (exit 1) when the RAM plan for --parallel slots of --ctx\n"
      "tokens exceeds --max-ram. It prints its URL on stdout once listening.");
  AddRunFlags(flags, &run);
  flags.String("--host", &host, "ADDR", "address to listen on (0.0.0.0 for every interface)");
  flags.Int("--port", &port, "N", "TCP port (0: any free port, printed at start)");
  flags.Int("--parallel,-np", &parallel, "N", "slots: sequences generated at once");
  flags.Int("--queue", &queue, "N", "requests that may wait for a slot; beyond, 429");
  flags.String("--api-key", &api_key, "KEY", "require \"Authorization: Bearer KEY\" or \"X-Api-Key: KEY\" (every request but GET /health)");
  flags.String("--alias", &alias, "NAME", "model id reported by /v1/models (default: --model)");
  flags.Int("--max-body", &max_body, "BYTES", "largest request body accepted; beyond, 413");
  flags.Int("--max-header-bytes", &max_header_bytes, "BYTES",
            "largest request head, request line and headers; beyond, 431");
  flags.Int("--max-json-depth", &max_json_depth, "N",
            "deepest JSON nesting in a body or in JSON inside its strings; beyond, 400");
  flags.Int("--http-threads", &http_threads, "N",
            "complete requests handled at once (default: parallel + queue + 4, at most 260)");
  flags.Int("--max-connections", &max_connections, "N", "open connections in all; at the cap the longest-waiting idle or slow one is replaced");
  flags.Int("--max-connections-per-client", &max_per_client, "N",
            "open connections from one client address (as --max-connections, per address)");
  flags.Int("--header-timeout", &header_timeout, "SECONDS",
            "to receive a request head, from its first byte or the connection; else 408");
  flags.Int("--body-timeout", &body_timeout, "SECONDS", "to receive a request body after its head; else 408");
  flags.Int("--write-timeout", &write_timeout, "SECONDS",
            "for a client to take response bytes before it counts as gone");
  flags.Int("--idle-timeout", &idle_timeout, "SECONDS", "keep-alive connections idle longer are closed");
  flags.Double("--decode-gap", &decode_gap, "F",
               "while slots decode, a step that also prefills a prompt may take at most F decode steps "
               "(long prompts are prefilled in chunks between the streams' tokens); 0: no limit");
  flags.String("--max-request-memory", &max_request_memory, "SIZE",
               "memory requests being handled may hold together: each reserves 40 x its body + 1 MiB; "
               "beyond, 503. auto: 512M, or 40 x --max-body + 1 MiB if larger");
  flags.Bool("--special-tokens-in-messages", &special_in_messages,
             "parse control-token text in messages as control tokens (Hugging Face's behaviour)");
  AddSamplingFlags(flags, &sampling);
  int exit_code = kExitOk;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (!CheckRunFlags("serve", run, &sampling)) return kExitUsage;
  if (port < 0 || port > 65535) return flags.UsageError("serve", "--port must be in [0, 65535]");
  if (parallel < 1 || parallel > 256) return flags.UsageError("serve", "--parallel must be in [1, 256]");
  if (queue < 0 || queue > 4096) return flags.UsageError("serve", "--queue must be in [0, 4096]");
  if (max_body < 1024 || max_body > (int64_t{1} << 30)) {
    return flags.UsageError("serve", "--max-body must be in [1024, 1073741824]");
  }
  if (http_threads < 0 || http_threads > 1024) return flags.UsageError("serve", "--http-threads must be in [1, 1024]");
  if (header_timeout < 1 || body_timeout < 1 || write_timeout < 1 || idle_timeout < 1) {
    return flags.UsageError("serve", "--header-timeout, --body-timeout, --write-timeout and --idle-timeout must be >= 1");
  }
  if (max_connections < 1 || max_connections > 1000000 || max_per_client < 1) {
    return flags.UsageError("serve", "--max-connections must be in [1, 1000000] and --max-connections-per-client >= 1");
  }
  if (max_header_bytes < 1024 || max_header_bytes > (int64_t{1} << 24)) {
    return flags.UsageError("serve", "--max-header-bytes must be in [1024, 16777216]");
  }
  if (max_json_depth < 2 || max_json_depth > 1024) return flags.UsageError("serve", "--max-json-depth must be in [2, 1024]");
  if (!(decode_gap == 0 || (decode_gap >= 1.1 && decode_gap <= 1000))) {
    return flags.UsageError("serve", "--decode-gap must be 0 (no limit) or in [1.1, 1000]");
  }
  // One request with the largest body must fit on its own.
  const uint64_t largest_request =
      server::kRequestBytesPerBodyByte * static_cast<uint64_t>(max_body) + server::kRequestBytesFloor;
  uint64_t request_memory = std::max<uint64_t>(uint64_t{512} << 20, largest_request);
  if (max_request_memory != "auto") {
    auto parsed = ParseByteSize(max_request_memory);
    if (!parsed.ok()) return flags.UsageError("serve", "--max-request-memory: " + parsed.status().message());
    if (*parsed < largest_request) {
      return flags.UsageError("serve", StrCat("--max-request-memory must hold one request with the largest body: at "
                                              "least 40 x --max-body + 1 MiB = ", largest_request, " bytes"));
    }
    request_memory = *parsed;
  }

  auto engine = LoadEngine(run, /*require_tokenizer=*/true);
  if (!engine.ok()) return ReportError(engine.status());
  Engine& e = **engine;
  PlanRequest plan_request;
  plan_request.threads = static_cast<int>(run.threads);
  plan_request.ubatch = run.batch_size;
  plan_request.batch = parallel;
  plan_request.checkpoints = server::kSlotCheckpoints;
  plan_request.kv_type = e.options().kv_type;
  auto context = ResolveContext(run.ctx, run.max_ram, e.model(),
                                std::min<int64_t>(4096, std::max<int64_t>(e.config().max_position_embeddings, 2)),
                                plan_request);
  if (!context.ok()) return ReportError(context.status());
  if (*context < 2) return ReportError(InvalidArgumentError("--ctx must be at least 2 for the server"));

  // SIGINT / SIGTERM are taken by sigwait below; every thread started from here inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  server::SchedulerOptions scheduler_options;
  scheduler_options.parallel = static_cast<int>(parallel);
  scheduler_options.context = *context;
  scheduler_options.batch_tokens = std::max<int64_t>(run.batch_size, parallel);
  scheduler_options.queue = static_cast<int>(queue);
  scheduler_options.checkpoints = server::kSlotCheckpoints;
  scheduler_options.max_decode_gap = decode_gap;
  server::Scheduler scheduler(e, scheduler_options);

  server::ApiOptions api_options;
  api_options.model_name = alias.empty() ? run.model : alias;
  api_options.api_key = api_key;
  api_options.sampling = sampling.Params();
  api_options.max_json_depth = static_cast<int>(max_json_depth);
  api_options.special_tokens_in_messages = special_in_messages;
  api_options.max_request_memory = static_cast<size_t>(request_memory);
  if (sampling.seed) api_options.seed = static_cast<uint64_t>(*sampling.seed);
  server::ApiServer api(e, scheduler, api_options);

  server::HttpServerOptions http_options;
  http_options.host = host;
  http_options.port = static_cast<int>(port);
  http_options.threads = static_cast<int>(http_threads > 0 ? http_threads : std::min<int64_t>(parallel + queue, 256) + 4);
  http_options.limits.max_body = static_cast<size_t>(max_body);
  http_options.limits.max_header_bytes = static_cast<size_t>(max_header_bytes);
  http_options.limits.max_request_line = std::min<size_t>(http_options.limits.max_request_line,
                                                          static_cast<size_t>(max_header_bytes));
  http_options.header_timeout_seconds = static_cast<double>(header_timeout);
  http_options.body_timeout_seconds = static_cast<double>(body_timeout);
  http_options.write_timeout_seconds = static_cast<double>(write_timeout);
  http_options.idle_timeout_seconds = static_cast<double>(idle_timeout);
  http_options.max_connections = static_cast<int>(max_connections);
  http_options.max_connections_per_client = static_cast<int>(max_per_client);
  // Every connection is a descriptor: raise the soft limit to the hard one, and keep the
  // connection cap under what the process may open.
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0) {
    if (files.rlim_cur < files.rlim_max) {
      files.rlim_cur = files.rlim_max;
      setrlimit(RLIMIT_NOFILE, &files);
      getrlimit(RLIMIT_NOFILE, &files);
    }
    const int64_t reserve = 64 + http_options.threads;
    const int64_t usable = files.rlim_cur == RLIM_INFINITY ? max_connections
                                                          : static_cast<int64_t>(files.rlim_cur) - reserve;
    if (usable < max_connections) {
      LogWarning("lfm2 serve: --max-connections ", max_connections, " lowered to ", std::max<int64_t>(usable, 1),
                 " (the open-file limit is ", files.rlim_cur, ")");
      http_options.max_connections = static_cast<int>(std::max<int64_t>(usable, 1));
    }
  }
  // Large request buffers get their own mappings, returned to the system when freed.
  UseMappedAllocationsFrom(1 << 20);
  // /metrics reads the transport's counters; requests may arrive before Start returns.
  std::atomic<server::HttpServer*> transport{nullptr};
  api.SetTransportStats([&transport] {
    server::HttpServer* http = transport.load();
    return http != nullptr ? http->stats() : server::HttpServerStats{};
  });
  auto http = server::HttpServer::Start(http_options, [&api](const server::HttpRequest& request,
                                                             server::HttpResponder& responder) {
    api.Handle(request, responder);
  });
  if (!http.ok()) return ReportError(http.status());
  transport = http->get();
  const bool ipv6 = host.find(':') != std::string::npos;
  std::printf("lfm2 serve: listening on http://%s%s%s:%d (%lld slots x %lld tokens, model %s)\n",
              ipv6 ? "[" : "", host.c_str(), ipv6 ? "]" : "", (*http)->port(), (long long)parallel,
              (long long)*context, api_options.model_name.c_str());
  std::fflush(stdout);

  int received = 0;
  sigwait(&signals, &received);
  std::fprintf(stderr, "lfm2 serve: %s, shutting down\n", received == SIGINT ? "SIGINT" : "SIGTERM");
  (*http)->Stop();
  scheduler.Stop();
  return kExitOk;
}

}  // namespace

LFM2_REGISTER_COMMAND("serve", "OpenAI-compatible HTTP server with continuous batching", RunServe);

}  // namespace lfm2::cli
