// server/http_response.h - the bytes of HTTP/1.1 responses: status lines and heads, chunked
// transfer framing, and Server-Sent Events framing (`data: ...\n\n`). Pure functions, shared by
// the transport (http_server.h) and the tests.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lfm2::server {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// "OK", "Bad Request", ... ("Unknown" for codes not listed).
const char* HttpStatusText(int status);

// "HTTP/1.1 <status> <text>\r\n", the given headers, Connection and either Content-Length or
// Transfer-Encoding: chunked, then the blank line.
std::string ResponseHead(int status, const HttpHeaders& headers, bool keep_alive,
                         std::optional<size_t> content_length);

// One chunk of a chunked body ("<hex size>\r\n<payload>\r\n"); empty payloads give "" (an empty
// chunk would end the body).
std::string Chunk(std::string_view payload);
// The chunk that ends a chunked body.
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// One Server-Sent Event carrying `data`: "data: <line>\n" per line of data, then "\n". Compact
// JSON has no newlines, so it is one line.
std::string SseEvent(std::string_view data);
// The event OpenAI streams end with.
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace lfm2::server
