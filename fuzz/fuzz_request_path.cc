// fuzz/fuzz_request_path.cc - libFuzzer target for the whole request path of `lfm2 serve`:
// body bytes -> ApiServer::Handle (JSON limits, request validation, message normalisation,
// control-token guard, chat-template rendering, tokenization, JSON-schema compilation, the
// scheduler and a real generation on the bundled demo model) -> response. Every request must get
// a response that is not a 5xx, never a crash, a hang or a sanitizer report.
//
// Input: byte 0 picks the route (low 3 bits) and whether to expand (bit 7). Without expansion the
// rest is the body. With it, bytes 1-2 give a size n and byte 3 a shape; the rest is a template
// whose first '@' becomes a generated value: n-deep arrays or objects, an n-wide array of empty
// strings / arrays / objects, or such a deep value JSON-encoded as a string - deep and wide JSON
// in any field the template puts it (tool-call arguments, tool parameters, schemas, ...).
// Seeds: tools/fuzz_seeds.sh fuzz_request_path.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "base/check.h"
#include "server/api_server.h"

namespace {

using namespace lfm2;
using namespace lfm2::server;

class CapturingResponder : public HttpResponder {
 public:
  void Send(int status, std::string_view, std::string_view body, const HttpHeaders&) override {
    status_ = status;
    body_ = body;
  }
  bool StartEvents(const HttpHeaders&) override {
    status_ = 200;
    streaming_ = true;
    return true;
  }
  bool SendEvent(std::string_view) override { return true; }
  void EndEvents() override {}
  bool ClientGone() override { return false; }
  bool responded() const override { return status_ != 0; }
  const std::string& client_address() const override { return address_; }

  int status_ = 0;
  bool streaming_ = false;
  std::string body_, address_ = "127.0.0.1";
};

struct Server {
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<ApiServer> api;
};

Server& TheServer() {
  static Server* server = [] {
    const char* source = std::getenv("LFM2_SOURCE_DIR");
    const std::string root = source != nullptr && *source != '\0' ? source : LFM2_SOURCE_DIR_DEFAULT;
    EngineOptions options;
    options.threads = 1;
    auto engine = Engine::Load(root + "/models/lfm2-demo-moe", options);
    LFM2_CHECK_MSG(engine.ok(), "the fuzz target needs the bundled demo model (set LFM2_SOURCE_DIR)");
    auto* s = new Server;
    s->engine = std::move(engine).value();
    SchedulerOptions scheduler;
    scheduler.parallel = 1;
    scheduler.context = 96;  // bounds each generation; longer prompts are refused after rendering
    scheduler.batch_tokens = 64;
    scheduler.queue = 4;
    s->scheduler = std::make_unique<Scheduler>(*s->engine, scheduler);
    ApiOptions api;
    api.seed = 1;
    api.poll_seconds = 0.001;
    s->api = std::make_unique<ApiServer>(*s->engine, *s->scheduler, api);
    return s;
  }();
  return *server;
}

std::string Generated(size_t n, uint8_t shape) {
  std::string value;
  switch (shape % 6) {
    case 0: value = std::string(n, '[') + std::string(n, ']'); break;
    case 1:
      for (size_t i = 0; i < n; ++i) value += "{\"a\":";
      value += "0" + std::string(n, '}');
      break;
    case 2:
      value = "[";
      for (size_t i = 0; i < n; ++i) value += i ? ",\"\"" : "\"\"";
      value += "]";
      break;
    case 3:
      value = "[";
      for (size_t i = 0; i < n; ++i) value += i ? ",[]" : "[]";
      value += "]";
      break;
    case 4:
      value = "{";
      for (size_t i = 0; i < n; ++i) value += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":{}";
      value += "}";
      break;
    default: {
      std::string deep;
      for (size_t i = 0; i < n; ++i) deep += "{\"a\":[";
      deep += "1";
      for (size_t i = 0; i < n; ++i) deep += "]}";
      value = DumpJson(Json(deep));  // JSON in a string
      break;
    }
  }
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 256 * 1024) return 0;
  static constexpr const char* kRoutes[] = {"/v1/chat/completions", "/apply-template", "/v1/completions",
                                            "/tokenize", "/detokenize", "/v1/chat/completions",
                                            "/apply-template", "/v1/chat/completions"};
  const uint8_t mode = data[0];
  HttpRequest request;
  request.method = "POST";
  request.path = kRoutes[mode & 7];
  request.target = request.path;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((mode & 0x80) && rest.size() >= 3) {
    const size_t n = 1 + ((static_cast<uint8_t>(rest[0]) << 8 | static_cast<uint8_t>(rest[1])) * 3) % 200000;
    const uint8_t shape = static_cast<uint8_t>(rest[2]);
    std::string body(rest.substr(3));
    const size_t at = body.find('@');
    if (at == std::string::npos) return 0;
    body.replace(at, 1, Generated(n, shape));
    request.body = std::move(body);
  } else {
    request.body = std::string(rest);
  }
  CapturingResponder responder;
  TheServer().api->Handle(request, responder);
  LFM2_CHECK(responder.responded());
  LFM2_CHECK_MSG(responder.status_ < 500, "the request path answered 5xx");
  if (!responder.streaming_) LFM2_CHECK(ParseJson(responder.body_, "response").ok());
  return 0;
}
