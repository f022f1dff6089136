// fuzz/fuzz_http_request.cc - libFuzzer target for the server's HTTP/1.1 request parser
// (server/http_request.h): arbitrary bytes from a client, fed in arbitrary pieces, with small
// limits so the limit paths are reached too. Must never crash, hang, leak or trip a sanitizer,
// and must give the same result however the bytes are split.
//
// Input layout: byte 0 picks the split sizes (a seed for a tiny generator), byte 1 the limits;
// the rest is what the client sends (possibly several pipelined requests).
// Seeds (tools/fuzz_seeds.sh fuzz_http_request): well-formed GET/POST/chunked/pipelined requests.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "server/http_request.h"

namespace {

using lfm2::server::HttpLimits;
using lfm2::server::HttpRequest;
using lfm2::server::HttpRequestParser;
using State = HttpRequestParser::State;

struct Outcome {
  std::vector<std::string> requests;  // method, path, body of each complete request
  int error = 0;
};

void Record(const HttpRequest& r, Outcome* out) {
  std::string summary = r.method + " " + r.path + "?" + r.query + " " + std::to_string(r.version_minor) +
                        (r.KeepAlive() ? " keep" : " close") + (r.ExpectsContinue() ? " continue" : "");
  for (const auto& [name, value] : r.headers) summary += "|" + name + "=" + value;
  summary += "#" + r.body;
  out->requests.push_back(std::move(summary));
}

// Parses `bytes` fed in pieces whose sizes come from `split` (0 = all at once).
Outcome Parse(std::string_view bytes, uint8_t split, const HttpLimits& limits) {
  Outcome out;
  HttpRequestParser parser(limits);
  uint32_t state = split;
  size_t at = 0;
  State s = State::kNeedMore;
  while (true) {
    while (s == State::kComplete) {
      Record(parser.request(), &out);
      if (out.requests.size() > 64) return out;
      s = parser.Next();
    }
    if (s == State::kError) {
      LFM2_CHECK(parser.error_status() >= 400 && parser.error_status() < 600);
      LFM2_CHECK(!parser.error_message().empty());
      out.error = parser.error_status();
      return out;
    }
    if (at >= bytes.size()) return out;
    size_t n = bytes.size() - at;
    if (split != 0) {
      state = state * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (state >> 16) % 17);
    }
    s = parser.Feed(bytes.substr(at, n));
    at += n;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  HttpLimits limits;
  if (data[1] & 1) {
    limits.max_request_line = 64;
    limits.max_header_bytes = 256;
    limits.max_headers = 4;
    limits.max_body = 64;
  }
  const std::string_view bytes(reinterpret_cast<const char*>(data + 2), size - 2);
  const Outcome whole = Parse(bytes, 0, limits);
  const Outcome pieces = Parse(bytes, data[0] | 1, limits);
  // Feeding in pieces never changes what is parsed (the head-size limit can only trigger
  // earlier or identically, so compare when both ended the same way).
  if (whole.error == pieces.error) LFM2_CHECK(whole.requests == pieces.requests);
  return 0;
}
