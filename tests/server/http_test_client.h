// A raw-socket HTTP/1.1 client for the transport tests: sends exact bytes and parses responses
// (Content-Length or chunked), so malformed requests, pipelining and disconnects can be driven.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <string>

namespace lfm2::server::testing {

inline double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

inline bool SendAll(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Appends what arrives within `timeout` seconds to `buffer`; false on EOF or timeout.
inline bool ReadMore(int fd, std::string* buffer, double deadline) {
  while (true) {
    const int left = static_cast<int>((deadline - Now()) * 1000);
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) continue;
    char chunk[65536];
    const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer->append(chunk, static_cast<size_t>(n));
    return true;
  }
}

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                             // de-chunked
  bool complete = false;
};

// Reads one response from `fd` (bytes after it stay in `buffer`). `until_close`: a body without
// length (HTTP/1.0 streams) runs to EOF.
inline Response ReadResponse(int fd, std::string* buffer, double timeout = 20) {
  const double deadline = Now() + timeout;
  Response response;
  size_t head_end;
  while ((head_end = buffer->find("\r\n\r\n")) == std::string::npos) {
    if (!ReadMore(fd, buffer, deadline)) return response;
  }
  const std::string head = buffer->substr(0, head_end);
  buffer->erase(0, head_end + 4);
  response.status = std::atoi(head.substr(9, 3).c_str());
  size_t at = head.find("\r\n");
  while (at != std::string::npos) {
    const size_t next = head.find("\r\n", at + 2);
    const std::string line = head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      response.headers[name] = line.substr(colon + 2);
    }
    at = next;
  }
  if (response.status == 100 || response.status == 204) {
    response.complete = true;
    return response;
  }
  if (response.headers.count("content-length")) {
    const size_t length = std::stoul(response.headers["content-length"]);
    while (buffer->size() < length) {
      if (!ReadMore(fd, buffer, deadline)) return response;
    }
    response.body = buffer->substr(0, length);
    buffer->erase(0, length);
    response.complete = true;
  } else if (response.headers["transfer-encoding"] == "chunked") {
    while (true) {
      size_t line_end;
      while ((line_end = buffer->find("\r\n")) == std::string::npos) {
        if (!ReadMore(fd, buffer, deadline)) return response;
      }
      const size_t size = std::stoul(buffer->substr(0, line_end), nullptr, 16);
      while (buffer->size() < line_end + 2 + size + 2) {
        if (!ReadMore(fd, buffer, deadline)) return response;
      }
      response.body += buffer->substr(line_end + 2, size);
      buffer->erase(0, line_end + 2 + size + 2);
      if (size == 0) break;
    }
    response.complete = true;
  } else {
    while (ReadMore(fd, buffer, deadline)) {
    }
    response.body = *buffer;
    buffer->clear();
    response.complete = true;
  }
  return response;
}

// True when the server closed the connection (EOF) within `timeout`.
inline bool ClosedByServer(int fd, double timeout = 5) {
  const double deadline = Now() + timeout;
  std::string ignored;
  while (Now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char chunk[4096];
    const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return true;
  }
  return false;
}

}  // namespace lfm2::server::testing
