// server/http_request.cc - the incremental HTTP/1.1 request parser.
#include "server/http_request.h"

#include <algorithm>
#include <cstring>

namespace lfm2::server {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A line without its terminator ("\r\n" or a bare "\n").
std::string_view StripCarriageReturn(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool HasControlChar(std::string_view s, bool allow_tab) {
  for (unsigned char c : s) {
    if (c == 0x7f || (c < 0x20 && !(allow_tab && c == '\t'))) return true;
  }
  return false;
}

// Digits only, no sign, at most 19 of them (fits in uint64).
bool ParseDecimal(std::string_view s, uint64_t* value) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *value = v;
  return true;
}

}  // namespace

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

const std::string* HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return &value;
  }
  return nullptr;
}

bool HttpRequest::KeepAlive() const {
  const std::string* connection = Header("connection");
  auto has = [&](std::string_view option) {
    if (connection == nullptr) return false;
    std::string_view rest = *connection;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      if (EqualsIgnoreCase(Trim(rest.substr(0, comma)), option)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    return false;
  };
  if (version_minor >= 1) return !has("close");
  return has("keep-alive");
}

bool HttpRequest::ExpectsContinue() const {
  const std::string* expect = Header("expect");
  return expect != nullptr && EqualsIgnoreCase(*expect, "100-continue");
}

HttpRequestParser::HttpRequestParser(const HttpLimits& limits) : limits_(limits) {}

HttpRequestParser::State HttpRequestParser::Feed(std::string_view data) {
  if (state_ == State::kError) return state_;
  buffer_.append(data.data(), data.size());
  if (state_ == State::kComplete) return state_;
  return Parse();
}

bool HttpRequestParser::AwaitingBody() const {
  return state_ == State::kNeedMore && phase_ != Phase::kHead;
}

HttpRequestParser::State HttpRequestParser::Next() {
  if (state_ == State::kError) return state_;
  buffer_.erase(0, offset_);
  offset_ = 0;
  if (buffer_.capacity() > (64 << 10) && buffer_.size() < buffer_.capacity() / 4) buffer_.shrink_to_fit();
  request_ = HttpRequest();
  phase_ = Phase::kHead;
  remaining_ = 0;
  trailer_bytes_ = 0;
  head_scan_ = 0;
  cr_scan_ = 0;
  line_end_ = std::string_view::npos;
  state_ = State::kNeedMore;
  return Parse();
}

HttpRequestParser::State HttpRequestParser::Fail(int status, std::string message) {
  state_ = State::kError;
  error_status_ = status;
  error_message_ = std::move(message);
  return state_;
}

bool HttpRequestParser::TakeBody() {
  const size_t take = static_cast<size_t>(std::min<uint64_t>(buffer_.size() - offset_, remaining_));
  // A fixed-length body gets its whole buffer once its first bytes arrive (not on the word of
  // the Content-Length header alone).
  if (phase_ == Phase::kFixedBody && request_.body.empty() && take > 0) {
    request_.body.reserve(static_cast<size_t>(remaining_));
  }
  request_.body.append(buffer_, offset_, take);
  offset_ += take;
  remaining_ -= take;
  // Body bytes are not kept twice: the buffer restarts once everything in it is taken.
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  return remaining_ == 0;
}

bool HttpRequestParser::NextLine(std::string_view* line, size_t limit, int status,
                                 const char* what) {
  const std::string_view rest = std::string_view(buffer_).substr(offset_);
  const size_t end = rest.find('\n');
  if (end == std::string_view::npos) {
    if (rest.size() > limit) Fail(status, std::string(what) + " too long");
    return false;
  }
  if (end > limit) {
    Fail(status, std::string(what) + " too long");
    return false;
  }
  *line = StripCarriageReturn(rest.substr(0, end));
  offset_ += end + 1;
  return true;
}

HttpRequestParser::State HttpRequestParser::Parse() {
  while (state_ == State::kNeedMore) {
    switch (phase_) {
      case Phase::kHead: {
        // Empty lines before the request line are ignored (RFC 9112 2.2).
        while (offset_ < buffer_.size() && (buffer_[offset_] == '\r' || buffer_[offset_] == '\n')) {
          ++offset_;
        }
        const std::string_view rest = std::string_view(buffer_).substr(offset_);
        size_t end = std::string_view::npos, head_size = 0;
        for (size_t at = rest.find('\n', head_scan_); at != std::string_view::npos; at = rest.find('\n', at + 1)) {
          if (at + 1 < rest.size() && rest[at + 1] == '\n') {
            end = at + 1, head_size = at + 2;
            break;
          }
          if (at + 2 < rest.size() && rest[at + 1] == '\r' && rest[at + 2] == '\n') {
            end = at + 1, head_size = at + 3;
            break;
          }
          if (at + 2 >= rest.size()) break;
        }
        // A CR must end a line (RFC 9112 2.2): a bare one is refused at once, not waited on.
        const size_t head_bytes = end == std::string_view::npos ? rest.size() : head_size;
        for (size_t at = cr_scan_; at + 1 < head_bytes; ++at) {
          if (rest[at] == '\r' && rest[at + 1] != '\n') return Fail(400, "bare CR in the request head");
        }
        cr_scan_ = head_bytes > 0 ? head_bytes - 1 : 0;
        if (end == std::string_view::npos) {
          head_scan_ = rest.size() >= 3 ? rest.size() - 3 : 0;
          // The request line so far, without the "\r" that may end it.
          if (line_end_ == std::string_view::npos) line_end_ = rest.find('\n');
          const std::string_view first_line = StripCarriageReturn(rest.substr(0, line_end_));
          if (first_line.size() > limits_.max_request_line) {
            return Fail(414, "request line too long (limit " + std::to_string(limits_.max_request_line) + " bytes)");
          }
          if (rest.size() > limits_.max_header_bytes) {
            return Fail(431, "request head too large (limit " + std::to_string(limits_.max_header_bytes) + " bytes)");
          }
          return state_;
        }
        if (head_size > limits_.max_header_bytes) {
          return Fail(431, "request head too large (limit " + std::to_string(limits_.max_header_bytes) + " bytes)");
        }
        head_scan_ = 0;
        cr_scan_ = 0;
        line_end_ = std::string_view::npos;
        const std::string head(rest.substr(0, end));
        offset_ += head_size;
        if (ParseHead(head) == State::kError) return state_;
        break;
      }
      case Phase::kFixedBody:
        if (!TakeBody()) return state_;
        phase_ = Phase::kDone;
        break;
      case Phase::kChunkSize: {
        std::string_view line;
        if (!NextLine(&line, 1024, 400, "chunk size line")) return state_;
        const std::string_view size_text = Trim(line.substr(0, line.find(';')));
        if (size_text.empty() || size_text.size() > 15) return Fail(400, "malformed chunk size");
        uint64_t size = 0;
        for (char c : size_text) {
          int digit;
          if (c >= '0' && c <= '9') digit = c - '0';
          else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
          else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
          else return Fail(400, "malformed chunk size");
          size = size * 16 + static_cast<uint64_t>(digit);
        }
        if (HasControlChar(line, /*allow_tab=*/true)) return Fail(400, "control character in chunk extension");
        if (request_.body.size() + size > limits_.max_body) {
          return Fail(413, "request body too large (limit " + std::to_string(limits_.max_body) + " bytes)");
        }
        remaining_ = size;
        phase_ = size == 0 ? Phase::kTrailers : Phase::kChunkData;
        break;
      }
      case Phase::kChunkData:
        if (!TakeBody()) return state_;
        phase_ = Phase::kChunkDataEnd;
        break;
      case Phase::kChunkDataEnd: {
        std::string_view line;
        if (!NextLine(&line, 2, 400, "chunk terminator")) return state_;
        if (!line.empty()) return Fail(400, "chunk data not followed by CRLF");
        phase_ = Phase::kChunkSize;
        break;
      }
      case Phase::kTrailers: {
        std::string_view line;
        const size_t before = offset_;
        if (!NextLine(&line, limits_.max_header_bytes, 431, "trailer section")) return state_;
        trailer_bytes_ += offset_ - before;
        if (trailer_bytes_ > limits_.max_header_bytes) return Fail(431, "trailer section too large");
        if (line.empty()) phase_ = Phase::kDone;  // trailers themselves are ignored
        break;
      }
      case Phase::kDone:
        state_ = State::kComplete;
        break;
    }
  }
  return state_;
}

HttpRequestParser::State HttpRequestParser::ParseHead(std::string_view head) {
  // Split into lines; the terminator is "\r\n" or "\n".
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    const size_t end = head.find('\n');
    lines.push_back(StripCarriageReturn(head.substr(0, end)));
    if (end == std::string_view::npos) break;
    head.remove_prefix(end + 1);
  }
  if (lines.empty()) return Fail(400, "empty request");
  // Request line: METHOD SP TARGET SP HTTP/1.x
  const std::string_view line = lines[0];
  if (line.size() > limits_.max_request_line) {
    return Fail(414, "request line too long (limit " + std::to_string(limits_.max_request_line) + " bytes)");
  }
  const size_t first = line.find(' ');
  const size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) {
    return Fail(400, "malformed request line");
  }
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, second - first - 1);
  const std::string_view version = line.substr(second + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), IsTokenChar)) {
    return Fail(400, "malformed method");
  }
  if (target.empty() || HasControlChar(target, false)) return Fail(400, "malformed request target");
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return Fail(400, "malformed HTTP version");
  }
  if (version[5] != '1') return Fail(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  request_.method = std::string(method);
  request_.target = std::string(target);
  request_.version_minor = version[7] - '0';
  std::string_view origin = target;
  if (origin.substr(0, 7) == "http://" || origin.substr(0, 8) == "https://") {
    origin.remove_prefix(origin.find("//") + 2);
    const size_t slash = origin.find('/');
    origin = slash == std::string_view::npos ? std::string_view("/") : origin.substr(slash);
  } else if (origin != "*" && origin.front() != '/') {
    return Fail(400, "malformed request target");
  }
  const size_t question = origin.find('?');
  request_.path = std::string(origin.substr(0, question));
  if (question != std::string_view::npos) request_.query = std::string(origin.substr(question + 1));

  if (lines.size() - 1 > limits_.max_headers) {
    return Fail(431, "too many header fields (limit " + std::to_string(limits_.max_headers) + ")");
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view field = lines[i];
    if (field.empty()) return Fail(400, "malformed header field");
    if (field.front() == ' ' || field.front() == '\t') return Fail(400, "obsolete header line folding");
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return Fail(400, "malformed header field");
    const std::string_view name = field.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), IsTokenChar)) return Fail(400, "malformed header name");
    const std::string_view value = Trim(field.substr(colon + 1));
    if (HasControlChar(value, /*allow_tab=*/true)) return Fail(400, "control character in header value");
    std::string lower(name);
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    request_.headers.emplace_back(std::move(lower), std::string(value));
  }
  if (request_.version_minor >= 1 && request_.Header("host") == nullptr) {
    return Fail(400, "HTTP/1.1 request without a Host header");
  }

  // Body framing: Transfer-Encoding chunked, else Content-Length, else none.
  bool chunked = false, has_length = false;
  uint64_t length = 0;
  for (const auto& [key, value] : request_.headers) {
    if (key == "transfer-encoding") {
      if (chunked || !EqualsIgnoreCase(value, "chunked")) {
        return Fail(501, "unsupported Transfer-Encoding \"" + value + "\" (only chunked)");
      }
      chunked = true;
    } else if (key == "content-length") {
      uint64_t parsed = 0;
      if (!ParseDecimal(value, &parsed)) return Fail(400, "malformed Content-Length");
      if (has_length && parsed != length) return Fail(400, "conflicting Content-Length headers");
      has_length = true;
      length = parsed;
    }
  }
  if (chunked && has_length) return Fail(400, "both Transfer-Encoding and Content-Length");
  if (chunked) {
    phase_ = Phase::kChunkSize;
  } else if (has_length && length > 0) {
    if (length > limits_.max_body) {
      return Fail(413, "request body of " + std::to_string(length) + " bytes is too large (limit " +
                           std::to_string(limits_.max_body) + " bytes)");
    }
    remaining_ = length;
    phase_ = Phase::kFixedBody;
  } else {
    phase_ = Phase::kDone;
  }
  return state_;
}

}  // namespace lfm2::server
