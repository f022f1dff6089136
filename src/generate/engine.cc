// generate/engine.cc - model + tokenizer loading, prefix-reusing prefill and the decode loop.
#include "generate/engine.h"

#include <algorithm>
#include <filesystem>

#include "base/memory_info.h"

namespace lfm2 {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kContext: return "context";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "?";
}

StatusOr<std::unique_ptr<Engine>> Engine::Load(const std::string& model_dir,
                                               const EngineOptions& options) {
  namespace fs = std::filesystem;
  const double start = NowSeconds();
  auto engine = std::unique_ptr<Engine>(new Engine());
  engine->options_ = options;
  // The tiled layout serves the fast path; the precise path reads rows, which the file has.
  LFM2_ASSIGN_OR_RETURN(engine->model_, Lfm2Model::Load(model_dir, options.path != kernels::MatMulPath::kPrecise));
  std::error_code error;
  if (fs::exists(fs::path(model_dir) / "tokenizer.json", error)) {
    LFM2_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::FromDirectory(model_dir));
    engine->tokenizer_ = std::make_unique<Tokenizer>(std::move(tokenizer));
    auto chat = ChatTemplate::Load(model_dir);
    if (chat.ok()) {
      engine->chat_template_ = std::make_unique<ChatTemplate>(std::move(chat).value());
    } else if (chat.status().code() != StatusCode::kNotFound) {
      return chat.status();  // a template that exists but does not parse is an error
    }
  } else if (options.require_tokenizer) {
    return NotFoundError((fs::path(model_dir) / "tokenizer.json").string(),
                         ": missing (needed to turn text into tokens; pass --tokens to give ids)");
  }
  const ModelConfig& config = engine->model_->config();
  for (int64_t id : config.eos_token_ids) engine->stop_ids_.push_back(static_cast<int32_t>(id));
  engine->allowed_vocab_ = config.vocab_size;
  if (engine->tokenizer_) {
    const Tokenizer& tokenizer = *engine->tokenizer_;
    engine->allowed_vocab_ = std::min<int64_t>(config.vocab_size, tokenizer.vocab_size());
    if (auto eos = tokenizer.eos_id()) engine->stop_ids_.push_back(*eos);
    if (auto end = tokenizer.TokenToId("<|endoftext|>"); end && tokenizer.IsSpecial(*end)) {
      engine->stop_ids_.push_back(*end);
    }
  }
  std::sort(engine->stop_ids_.begin(), engine->stop_ids_.end());
  engine->stop_ids_.erase(std::unique(engine->stop_ids_.begin(), engine->stop_ids_.end()),
                          engine->stop_ids_.end());
  engine->pool_ = std::make_unique<ThreadPool>(options.threads);
  engine->load_seconds_ = NowSeconds() - start;
  return engine;
}

std::vector<int32_t> Engine::Tokenize(std::string_view text, bool rendered_chat) const {
  LFM2_CHECK(tokenizer_ != nullptr);
  std::vector<int32_t> ids = tokenizer_->Encode(text, /*add_special_tokens=*/!rendered_chat);
  // A raw prompt that already starts with BOS (e.g. a rendered conversation passed with
  // --ignore-chat-template) does not get a second one.
  const std::optional<int32_t> bos = tokenizer_->bos_id();
  if (!rendered_chat && bos && ids.size() >= 2 && ids[0] == *bos && ids[1] == *bos &&
      tokenizer_->adds_special_tokens()) {
    ids.erase(ids.begin());
  }
  return ids;
}

Session::Session(Engine& engine, int64_t context)
    : engine_(engine),
      sequence_(engine.config(), context, kSessionCheckpoints, engine.options().kv_type),
      workspace_(engine.config(),
                 WorkspaceLimits{std::min(engine.options().batch_size, context), 1, context,
                                 engine.pool().num_threads()}) {}

void Session::Reset() {
  sequence_.Reset();
  last_logits_.clear();
}

void Session::Run(std::span<const int32_t> tokens) {
  const int64_t chunk_size = workspace_.limits().max_tokens;
  for (size_t begin = 0; begin < tokens.size();) {
    const size_t count = std::min(tokens.size() - begin, static_cast<size_t>(chunk_size));
    ForwardChunk chunk{&sequence_.state(), tokens.subspan(begin, count), false};
    LFM2_CHECK(engine_.model().CheckChunks({&chunk, 1}, workspace_).ok());
    engine_.model().Forward({&chunk, 1}, workspace_, engine_.pool(), engine_.options().path);
    sequence_.Appended(chunk.tokens);
    begin += count;
  }
  const int64_t vocab = engine_.config().vocab_size;
  last_logits_.assign(workspace_.logits.data(), workspace_.logits.data() + vocab);
}

StatusOr<PrefillResult> Session::Prefill(std::span<const int32_t> prompt) {
  const double start = NowSeconds();
  PrefillResult result;
  result.prompt_tokens = static_cast<int64_t>(prompt.size());
  if (prompt.empty()) return InvalidArgumentError("the prompt is empty (no tokens)");
  if (static_cast<int64_t>(prompt.size()) > context()) {
    return OutOfRangeError("the prompt has ", prompt.size(), " tokens but the context is ",
                           context(), " (raise --ctx)");
  }
  for (int32_t id : prompt) {
    if (id < 0 || id >= engine_.config().vocab_size) {
      return InvalidArgumentError("token id ", id, " is outside the vocabulary [0, ",
                                  engine_.config().vocab_size, ")");
    }
  }
  const int64_t held = static_cast<int64_t>(sequence_.tokens().size());
  if (sequence_.CommonPrefix(prompt) == held && held == result.prompt_tokens) {
    result.reused_tokens = held;  // already there, logits included
  } else {
    const int64_t kept = sequence_.Reuse(prompt);
    result.reused_tokens = kept;
    result.prefilled_tokens = result.prompt_tokens - kept;
    Run(prompt.subspan(static_cast<size_t>(kept)));
  }
  sequence_.SaveCheckpoint();
  result.seconds = NowSeconds() - start;
  return result;
}

StatusOr<GenerationResult> Session::Generate(const GenerationOptions& options,
                                             const TokenCallback& on_token) {
  if (sequence_.tokens().empty()) return InvalidArgumentError("Generate needs a prompt (Prefill first)");
  LFM2_RETURN_IF_ERROR(ValidateSamplingParams(options.sampling));
  if (options.max_tokens < 0) return InvalidArgumentError("max_tokens must be >= 0");
  const double start = NowSeconds();
  GenerationResult result;
  Sampler sampler(options.sampling, engine_.allowed_vocab());
  std::unique_ptr<StreamingDecoder> decoder;
  if (engine_.tokenizer() != nullptr) decoder = std::make_unique<StreamingDecoder>(*engine_.tokenizer());
  std::vector<int32_t> history = sequence_.tokens();
  std::vector<float> logits;
  result.finish = FinishReason::kLength;
  for (int64_t step = 0; step < options.max_tokens; ++step) {
    logits = last_logits_;
    const int32_t token = sampler.Sample(logits, history);
    if (step == 0) result.first_token_seconds = NowSeconds() - start;
    history.push_back(token);
    const auto& stops = engine_.stop_ids();
    if (options.stop_on_eos && std::binary_search(stops.begin(), stops.end(), token)) {
      result.finish = FinishReason::kStop;
      break;
    }
    result.tokens.push_back(token);
    const std::string text = decoder ? decoder->Add(token) : std::string();
    if (on_token && !on_token(token, text)) {
      result.finish = FinishReason::kCancelled;
      break;
    }
    if (step + 1 == options.max_tokens) break;
    if (static_cast<int64_t>(sequence_.tokens().size()) >= context()) {
      result.finish = FinishReason::kContext;
      break;
    }
    const double decode_start = NowSeconds();
    Run(std::span<const int32_t>(&token, 1));
    result.decode_seconds += NowSeconds() - decode_start;
    result.decoded_tokens++;
  }
  if (decoder) {
    const std::string tail = decoder->Finish();
    if (!tail.empty() && on_token) on_token(-1, tail);
  }
  return result;
}

}  // namespace lfm2
