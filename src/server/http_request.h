// server/http_request.h - HTTP/1.1 requests from untrusted bytes: an incremental parser with
// limits on every part (request line, headers, body), Content-Length and chunked bodies, and
// pipelining (bytes after a request stay buffered for the next). Pure: no sockets, so it is unit
// tested and fuzzed on crafted bytes. The transport (http_server.h) feeds it what recv returns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lfm2::server {

struct HttpLimits {
  size_t max_request_line = 8 * 1024;   // "POST /v1/chat/completions HTTP/1.1"
  size_t max_header_bytes = 32 * 1024;  // the whole head: request line + header lines
  size_t max_headers = 100;
  size_t max_body = 8 * 1024 * 1024;    // decoded body bytes (413 beyond)
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ... (case-sensitive, as sent)
  std::string target;  // as sent: "/v1/models?x=1"
  std::string path;    // target without the query: "/v1/models"
  std::string query;   // after '?', without it
  int version_minor = 1;  // HTTP/1.<minor>
  // Header names lower-cased, values with surrounding whitespace removed, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header named `name` (lower-case), or nullptr.
  const std::string* Header(std::string_view name) const;
  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
  bool KeepAlive() const;
  // "Expect: 100-continue" was sent.
  bool ExpectsContinue() const;
};

class HttpRequestParser {
 public:
  enum class State {
    kNeedMore,  // feed more bytes
    kComplete,  // request() is a whole request
    kError,     // error_status() / error_message() say why; the connection must be closed
  };

  explicit HttpRequestParser(const HttpLimits& limits);

  // Appends `data` and parses as far as it goes. Once kComplete, further bytes are kept for the
  // next request (see Next). After kError the parser stays in kError.
  State Feed(std::string_view data);
  State state() const { return state_; }

  // True once the head is parsed and a body is still expected (for "100 Continue").
  bool AwaitingBody() const;

  const HttpRequest& request() const { return request_; }
  HttpRequest& mutable_request() { return request_; }

  // Starts the next request on the same connection with the bytes left over after the last one,
  // and parses them. Returns the new state.
  State Next();
  // Bytes received but not yet part of a completed request.
  size_t buffered() const { return buffer_.size() - offset_; }

  // For kError: the HTTP status to answer (400, 413, 431, 501, 505) and a message.
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

 private:
  enum class Phase { kHead, kFixedBody, kChunkSize, kChunkData, kChunkDataEnd, kTrailers, kDone };
  State Parse();
  State Fail(int status, std::string message);
  State ParseHead(std::string_view head);
  // Finds the end of the next line in the buffer; returns false when it is not complete yet.
  bool NextLine(std::string_view* line, size_t limit, int status, const char* what);
  // Moves up to remaining_ buffered body bytes into the request; true when none remain.
  bool TakeBody();

  HttpLimits limits_;
  std::string buffer_;
  size_t offset_ = 0;  // bytes of buffer_ consumed
  Phase phase_ = Phase::kHead;
  State state_ = State::kNeedMore;
  HttpRequest request_;
  uint64_t remaining_ = 0;  // body or chunk bytes still to read
  size_t trailer_bytes_ = 0;
  size_t head_scan_ = 0;  // where the search for the end of the head resumes
  size_t cr_scan_ = 0;    // where the search for a bare CR resumes
  size_t line_end_ = std::string_view::npos;  // end of the request line, once seen
  int error_status_ = 0;
  std::string error_message_;
};

// RFC 9110 token characters (method and header names).
bool IsTokenChar(char c);

}  // namespace lfm2::server
