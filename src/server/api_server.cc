// server/api_server.cc - routing, authentication and the small endpoints. The generating
// endpoints are in openai_generate.cc.
#include "server/api_server.h"

#include <cctype>
#include <chrono>
#include <exception>

#include "base/log.h"
#include "base/memory_info.h"
#include "server/openai_response.h"

namespace lfm2::server {
namespace {

// Compares without an early exit, so response times do not reveal how much of a key matched.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string_view StripV1(std::string_view path) {
  if (path.substr(0, 4) == "/v1/") path.remove_prefix(3);
  return path;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

// Requests this large are followed by handing freed memory back to the system.
constexpr size_t kTrimAfterBytes = 1 << 20;

}  // namespace

int SendJson(HttpResponder& responder, int status, const Json& body) {
  responder.Send(status, "application/json", DumpJson(body));
  return status;
}

int SendError(HttpResponder& responder, const ApiError& error) {
  HttpHeaders headers;
  if (error.status == 401) headers.emplace_back("WWW-Authenticate", "Bearer");
  if (error.status == 429 || error.status == 503) headers.emplace_back("Retry-After", "1");
  responder.Send(error.status, "application/json", ErrorBody(error), headers);
  return error.status;
}

ApiServer::ApiServer(Engine& engine, Scheduler& scheduler, ApiOptions options)
    : engine_(engine), scheduler_(scheduler), options_(std::move(options)) {
  LFM2_CHECK(engine.tokenizer() != nullptr);
  structured_ = std::make_unique<StructuredOutput>(engine);
}

RequestLimits ApiServer::Limits() const {
  RequestLimits limits;
  limits.vocab_size = engine_.allowed_vocab();
  limits.json.max_depth = options_.max_json_depth;
  return limits;
}

uint64_t ApiServer::NextSeed() const {
  if (options_.seed) return *options_.seed;
  static std::atomic<uint64_t> counter{0};
  uint64_t x = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
               (counter.fetch_add(1) * 0x9e3779b97f4a7c15ull);
  x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
  return x ^ (x >> 29);
}

void ApiServer::Handle(const HttpRequest& request, HttpResponder& responder) {
  const double start = NowSeconds();
  int status = 500;
  // Reserve the memory this request may take at its peak, or tell the client to come back.
  const size_t reserve = kRequestBytesPerBodyByte * request.body.size() + kRequestBytesFloor;
  if (reserved_memory_.fetch_add(reserve) + reserve > options_.max_request_memory &&
      request.body.size() > kAlwaysAdmittedBody) {
    reserved_memory_.fetch_sub(reserve);
    ApiError error;
    error.status = 503;
    error.type = "server_error";
    error.code = "server_busy";
    error.message = StrCat("server busy: requests being handled hold the memory large bodies may need (",
                           options_.max_request_memory >> 20, " MiB, --max-request-memory); retry");
    status = SendError(responder, error);
    metrics_.CountRequest(request.path, status, NowSeconds() - start);
    return;
  }
  struct Release {
    std::atomic<size_t>& reserved;
    size_t bytes;
    ~Release() { reserved.fetch_sub(bytes); }
  } release{reserved_memory_, reserve};
  // The last line of defence: our code reports errors as Status, but a third-party exception
  // (e.g. std::bad_alloc) must become a 500, never a crashed server.
  try {
    status = Route(request, responder);
  } catch (const std::exception& e) {
    LogWarning("lfm2 serve: ", request.method, " ", request.path, ": internal error: ", e.what());
    ApiError error;
    error.status = 500;
    error.type = "server_error";
    error.message = std::string("internal error: ") + e.what();
    if (!responder.responded()) status = SendError(responder, error);
  }
  metrics_.CountRequest(request.path, status, NowSeconds() - start);
  // A large request leaves freed memory in malloc's arenas; hand it back so the server's RSS
  // returns to where it was.
  if (request.body.size() >= kTrimAfterBytes) ReleaseFreeMemory();
}

bool ApiServer::Authorized(const HttpRequest& request, HttpResponder& responder, int* status) {
  if (options_.api_key.empty()) return true;
  std::string_view key;
  const std::string* authorization = request.Header("authorization");
  const std::string* api_key = request.Header("x-api-key");
  if (authorization != nullptr && StartsWithIgnoreCase(*authorization, "bearer ")) {
    key = std::string_view(*authorization).substr(7);
    while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
  } else if (api_key != nullptr) {
    key = *api_key;
  }
  if (!key.empty() && ConstantTimeEquals(key, options_.api_key)) return true;
  ApiError error;
  error.status = 401;
  error.message = authorization == nullptr && api_key == nullptr
                      ? "missing API key: send \"Authorization: Bearer KEY\""
                      : "invalid API key";
  error.code = "invalid_api_key";
  *status = SendError(responder, error);
  return false;
}

int ApiServer::Route(const HttpRequest& request, HttpResponder& responder) {
  const std::string_view path = StripV1(request.path);
  // Authentication first: without the key, nothing else about the server is revealed.
  const bool health = path == "/health" && (request.method == "GET" || request.method == "HEAD");
  if (int status = 0; !health && !Authorized(request, responder, &status)) return status;
  struct RouteInfo {
    std::string_view path;
    const char* method;
  };
  static constexpr RouteInfo kRoutes[] = {
      {"/chat/completions", "POST"}, {"/completions", "POST"}, {"/models", "GET"},
      {"/health", "GET"},           {"/metrics", "GET"},      {"/tokenize", "POST"},
      {"/detokenize", "POST"},      {"/apply-template", "POST"}};
  const RouteInfo* route = nullptr;
  for (const RouteInfo& r : kRoutes) {
    if (r.path == path) route = &r;
  }
  if (route == nullptr) {
    ApiError error;
    error.status = 404;
    error.message = "no route for " + request.method + " " + request.path;
    error.code = "not_found";
    return SendError(responder, error);
  }
  const bool head_of_get = request.method == "HEAD" && std::string_view(route->method) == "GET";
  if (request.method != route->method && !head_of_get) {
    ApiError error;
    error.status = 405;
    error.message = request.path + " takes " + route->method + ", not " + request.method;
    responder.Send(405, "application/json", ErrorBody(error), {{"Allow", route->method}});
    return 405;
  }
  if (path == "/health") return Health(responder);
  if (path == "/models") return Models(responder);
  if (path == "/metrics") {
    std::optional<HttpServerStats> transport;
    if (transport_stats_) transport = transport_stats_();
    responder.Send(200, "text/plain; version=0.0.4; charset=utf-8",
                   metrics_.Render(scheduler_.stats(), transport ? &*transport : nullptr));
    return 200;
  }
  // The POST routes take a JSON object, parsed under the depth and memory limits.
  JsonLimits json_limits = Limits().json;
  json_limits.max_bytes = kJsonBytesPerBodyByte * request.body.size() + kJsonBytesFloor;
  auto body = ParseJson(request.body, "request body", json_limits);
  if (!body.ok()) {
    switch (body.status().code()) {
      case StatusCode::kOutOfRange:
        return SendError(responder, BadRequest(StrCat(body.status().message(), " (the server's --max-json-depth)")));
      case StatusCode::kResourceExhausted: {
        ApiError error = BadRequest(StrCat(body.status().message(), ": the body is too complex to hold (limit ",
                                           kJsonBytesPerBodyByte, " bytes of parsed JSON per body byte)"));
        error.status = 413;
        return SendError(responder, error);
      }
      default:
        return SendError(responder, BadRequest("the body is not valid JSON: " + body.status().message()));
    }
  }
  if (!body->is_object()) return SendError(responder, BadRequest("the body must be a JSON object"));
  if (path == "/chat/completions") return ChatCompletions(std::move(body).value(), responder);
  if (path == "/completions") return Completions(*body, responder);
  if (path == "/tokenize") return Tokenize(*body, responder);
  if (path == "/detokenize") return Detokenize(*body, responder);
  return ApplyTemplate(std::move(body).value(), responder);
}

int ApiServer::Health(HttpResponder& responder) {
  const SchedulerStats stats = scheduler_.stats();
  return SendJson(responder, 200,
                  {{"status", "ok"},
                   {"slots_idle", stats.slots - stats.active},
                   {"slots_processing", stats.active},
                   {"queue", stats.queued}});
}

int ApiServer::Models(HttpResponder& responder) {
  const ModelConfig& config = engine_.config();
  Json model = {{"id", options_.model_name},
                {"object", "model"},
                {"created", UnixTime()},
                {"owned_by", "lfm2.cpp"},
                {"meta",
                 {{"model_type", config.model_type},
                  {"vocab_size", config.vocab_size},
                  {"context_per_slot", scheduler_.options().context},
                  {"slots", scheduler_.options().parallel}}}};
  return SendJson(responder, 200, {{"object", "list"}, {"data", Json::array({model})}});
}

int ApiServer::Tokenize(const Json& body, HttpResponder& responder) {
  const Json* content = FindMember(body, "content");
  if (content == nullptr || !content->is_string()) {
    return SendError(responder, BadRequest("'content' must be a string", "content"));
  }
  auto add_special = FindBool(body, "add_special", false, "request");
  auto with_pieces = FindBool(body, "with_pieces", false, "request");
  auto parse_special = FindBool(body, "parse_special", true, "request");
  if (!add_special.ok()) return SendError(responder, BadRequest(add_special.status().message(), "add_special"));
  if (!with_pieces.ok()) return SendError(responder, BadRequest(with_pieces.status().message(), "with_pieces"));
  if (!parse_special.ok()) return SendError(responder, BadRequest(parse_special.status().message(), "parse_special"));
  const Tokenizer& tokenizer = *engine_.tokenizer();
  EncodeOptions encode;
  encode.add_special_tokens = *add_special;
  encode.parse_special_tokens = *parse_special;
  const std::vector<int32_t> ids = tokenizer.Encode(content->get_ref<const std::string&>(), encode);
  // Written straight to text: a JSON tree of a million {"id","piece"} objects would take ~100x
  // the memory of the answer.
  std::string out = "{\"tokens\":[";
  out.reserve(out.size() + ids.size() * (*with_pieces ? 24 : 7) + 2);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    if (*with_pieces) {
      out += "{\"id\":";
      out += std::to_string(ids[i]);
      out += ",\"piece\":";
      out += DumpJson(Json(tokenizer.Decode(std::span<const int32_t>(&ids[i], 1))));
      out += '}';
    } else {
      out += std::to_string(ids[i]);
    }
  }
  out += "]}";
  responder.Send(200, "application/json", out);
  if (out.size() >= kTrimAfterBytes) {
    std::string().swap(out);
    ReleaseFreeMemory();
  }
  return 200;
}

int ApiServer::Detokenize(const Json& body, HttpResponder& responder) {
  const Json* tokens = FindMember(body, "tokens");
  if (tokens == nullptr || !tokens->is_array()) {
    return SendError(responder, BadRequest("'tokens' must be an array of token ids", "tokens"));
  }
  const Tokenizer& tokenizer = *engine_.tokenizer();
  std::vector<int32_t> ids;
  for (const Json& id : *tokens) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX ||
        !tokenizer.IsValidId(static_cast<int32_t>(id.get<int64_t>()))) {
      return SendError(responder, BadRequest("'tokens' must hold token ids in [0, " +
                                                 std::to_string(tokenizer.vocab_size()) + ")", "tokens"));
    }
    ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
  }
  return SendJson(responder, 200, {{"content", tokenizer.Decode(ids)}});
}

int ApiServer::ApplyTemplate(Json body, HttpResponder& responder) {
  auto add_generation_prompt = FindBool(body, "add_generation_prompt", true, "request");
  if (!add_generation_prompt.ok()) {
    return SendError(responder, BadRequest(add_generation_prompt.status().message(), "add_generation_prompt"));
  }
  auto return_tokens = FindBool(body, "return_tokens", false, "request");
  if (!return_tokens.ok()) return SendError(responder, BadRequest(return_tokens.status().message(), "return_tokens"));
  ChatRequest request;
  if (auto error = ParseMessages(std::move(body), Limits(), &request)) return SendError(responder, *error);
  auto prompt = RenderChat(request, *add_generation_prompt);
  if (!prompt.ok()) return SendError(responder, ErrorFromStatus(prompt.status(), "messages"));
  Json answer = {{"prompt", prompt->text}};
  if (*return_tokens) answer["tokens"] = prompt->ids;
  return SendJson(responder, 200, answer);
}

StatusOr<ChatPrompt> ApiServer::RenderChat(const ChatRequest& request, bool add_generation_prompt,
                                           std::string_view suffix) const {
  const ChatTemplate* chat = engine_.chat_template();
  if (chat == nullptr) {
    return InvalidArgumentError("the model has no chat template (chat_template.jinja or "
                                "tokenizer_config.json \"chat_template\"): use /v1/completions");
  }
  const Tokenizer& tokenizer = *engine_.tokenizer();
  if (options_.special_tokens_in_messages) {
    return RenderChatPrompt(*chat, tokenizer, TemplateMessages(request, nullptr), request.tools,
                            add_generation_prompt, nullptr, suffix);
  }
  ControlTokenGuard guard(tokenizer);
  const Json messages =
      TemplateMessages(request, [&guard](std::string_view text) { return guard.Protect(text); });
  // Tools are copied only when some string in them needs a marker (they may be megabytes).
  if (!guard.NeedsProtection(request.tools)) {
    return RenderChatPrompt(*chat, tokenizer, messages, request.tools, add_generation_prompt, &guard, suffix);
  }
  Json tools = request.tools;
  guard.ProtectStrings(&tools);
  return RenderChatPrompt(*chat, tokenizer, messages, tools, add_generation_prompt, &guard, suffix);
}

}  // namespace lfm2::server
