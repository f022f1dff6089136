// server/http_response.cc - response heads, chunks and SSE events.
#include "server/http_response.h"

#include <cstdio>

namespace lfm2::server {

const char* HttpStatusText(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
  }
  return "Unknown";
}

std::string ResponseHead(int status, const HttpHeaders& headers, bool keep_alive,
                         std::optional<size_t> content_length) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + HttpStatusText(status) + "\r\n";
  for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
  head += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  if (content_length) {
    head += "Content-Length: " + std::to_string(*content_length) + "\r\n";
  } else {
    head += "Transfer-Encoding: chunked\r\n";
  }
  head += "\r\n";
  return head;
}

std::string Chunk(std::string_view payload) {
  if (payload.empty()) return {};
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", payload.size());
  std::string out = size;
  out.append(payload);
  out += "\r\n";
  return out;
}

std::string SseEvent(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 8);
  while (true) {
    const size_t end = data.find('\n');
    std::string_view line = data.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out += "data: ";
    out.append(line);
    out += '\n';
    if (end == std::string_view::npos) break;
    data.remove_prefix(end + 1);
  }
  out += '\n';
  return out;
}

}  // namespace lfm2::server
