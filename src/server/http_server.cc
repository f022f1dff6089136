// server/http_server.cc - sockets, the poller and the worker pool.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "base/memory_info.h"
#include "io/json.h"

namespace lfm2::server {
namespace {

constexpr int kPollSliceMs = 200;  // blocking waits wake this often to notice Stop()

int MillisecondsUntil(double deadline) {
  const double left = deadline - NowSeconds();
  if (left <= 0) return 0;
  return static_cast<int>(std::min(left * 1000.0 + 1, static_cast<double>(kPollSliceMs)));
}

// Writes all of `data` before `deadline`. False on error, peer gone or timeout.
bool WriteAll(int fd, std::string_view data, double deadline, const std::atomic<bool>& stopping) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (NowSeconds() >= deadline || stopping.load()) return false;
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, MillisecondsUntil(deadline));
      if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return false;
      continue;
    }
    return false;
  }
  return true;
}

void SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

}  // namespace

std::string TransportErrorBody(int status, std::string_view message) {
  Json error = {{"message", std::string(message)},
                {"type", status >= 500 ? "server_error" : "invalid_request_error"},
                {"param", nullptr},
                {"code", nullptr}};
  return DumpJson(Json{{"error", error}});
}

struct HttpServer::Connection {
  int fd = -1;
  double idle_since = 0;
  std::unique_ptr<HttpRequestParser> parser;
  bool started = false;  // a request was parsed on it already (call Next before the next)
};

class HttpServer::Responder : public HttpResponder {
 public:
  Responder(HttpServer& server, int fd, const HttpRequest& request, bool keep_alive)
      : server_(server), fd_(fd), request_(request), keep_alive_(keep_alive) {}

  void Send(int status, std::string_view content_type, std::string_view body,
            const HttpHeaders& extra_headers) override {
    if (responded_) return;
    responded_ = true;
    HttpHeaders headers = CommonHeaders();
    if (!content_type.empty()) headers.emplace_back("Content-Type", std::string(content_type));
    headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
    const bool head_only = request_.method == "HEAD";
    std::string bytes = ResponseHead(status, headers, keep_alive_, body.size());
    if (!head_only) bytes.append(body);
    Write(bytes);
  }

  bool StartEvents(const HttpHeaders& extra_headers) override {
    if (responded_) return !broken_;
    responded_ = true;
    streaming_ = true;
    HttpHeaders headers = CommonHeaders();
    headers.emplace_back("Content-Type", "text/event-stream");
    headers.emplace_back("Cache-Control", "no-cache");
    headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
    std::string head;
    if (request_.version_minor == 0) {
      // HTTP/1.0 has no chunked encoding: the body ends when the connection closes.
      keep_alive_ = false;
      raw_stream_ = true;
      head = "HTTP/1.0 200 OK\r\n";
      for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
      head += "Connection: close\r\n\r\n";
    } else {
      head = ResponseHead(200, headers, keep_alive_, std::nullopt);
    }
    return Write(head);
  }

  bool SendEvent(std::string_view event) override {
    if (!streaming_ || ended_) return false;
    return Write(raw_stream_ ? std::string(event) : Chunk(event));
  }

  void EndEvents() override {
    if (!streaming_ || ended_) return;
    ended_ = true;
    if (!raw_stream_) Write(kLastChunk);
  }

  bool ClientGone() override {
    if (broken_ || server_.stopping()) return true;
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) return true;
    if (p.revents & POLLIN) {
      char byte;
      const ssize_t n = recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0) return true;  // orderly shutdown; n > 0 is a pipelined request
    }
    return false;
  }

  bool responded() const override { return responded_; }
  bool streaming() const { return streaming_; }
  bool broken() const { return broken_; }
  bool keep_alive() const { return keep_alive_; }

 private:
  HttpHeaders CommonHeaders() const {
    HttpHeaders headers = {{"Server", "lfm2.cpp"}};
    if (server_.options_.cors) headers.emplace_back("Access-Control-Allow-Origin", "*");
    return headers;
  }
  bool Write(std::string_view bytes) {
    if (broken_) return false;
    const double deadline = NowSeconds() + server_.options_.write_timeout_seconds;
    if (!WriteAll(fd_, bytes, deadline, server_.stopping_)) broken_ = true;
    return !broken_;
  }

  HttpServer& server_;
  int fd_;
  const HttpRequest& request_;
  bool keep_alive_;
  bool responded_ = false, streaming_ = false, ended_ = false, raw_stream_ = false;
  bool broken_ = false;
};

HttpServer::HttpServer(const HttpServerOptions& options, HttpHandler handler)
    : options_(options), handler_(std::move(handler)) {}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                        HttpHandler handler) {
  if (options.threads < 1) return InvalidArgumentError("the HTTP server needs at least one thread");
  auto server = std::unique_ptr<HttpServer>(new HttpServer(options, std::move(handler)));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  const std::string port = std::to_string(options.port);
  const int resolved = getaddrinfo(options.host.c_str(), port.c_str(), &hints, &addresses);
  if (resolved != 0) {
    return IoError("cannot resolve --host ", options.host, ": ", gai_strerror(resolved));
  }
  std::string last_error = "no address";
  for (addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 128) == 0) {
      server->listen_fd_ = fd;
      break;
    }
    last_error = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(addresses);
  if (server->listen_fd_ < 0) {
    return IoError("cannot listen on ", options.host, ":", options.port, ": ", last_error);
  }
  SetNonBlocking(server->listen_fd_);
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &length);
  server->port_ = bound.ss_family == AF_INET6
                      ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (pipe2(server->wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return IoError("pipe: ", std::strerror(errno));
  }
  HttpServer* raw = server.get();
  raw->poller_ = std::thread([raw] { raw->PollerLoop(); });
  for (int i = 0; i < options.threads; ++i) raw->workers_.emplace_back([raw] { raw->WorkerLoop(); });
  return server;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Wake() {
  const char byte = 1;
  [[maybe_unused]] ssize_t n = write(wake_pipe_[1], &byte, 1);
}

void HttpServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  stopping_ = true;
  Wake();
  ready_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& connection : ready_) close(connection->fd);
  for (auto& connection : returned_) close(connection->fd);
  ready_.clear();
  returned_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
  for (int& fd : wake_pipe_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

void HttpServer::CloseConnection(std::unique_ptr<Connection> connection) {
  close(connection->fd);
  open_connections_--;
}

void HttpServer::PollerLoop() {
  std::vector<std::unique_ptr<Connection>> idle;
  std::vector<pollfd> fds;
  while (!stopping_) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& connection : returned_) {
        connection->idle_since = NowSeconds();
        idle.push_back(std::move(connection));
      }
      returned_.clear();
    }
    fds.clear();
    fds.push_back({wake_pipe_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& connection : idle) fds.push_back({connection->fd, POLLIN, 0});
    const int ready = poll(fds.data(), fds.size(), 1000);
    if (ready < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      char drain[64];
      while (read(wake_pipe_[0], drain, sizeof(drain)) > 0) {
      }
    }
    const double now = NowSeconds();
    // Idle connections first (fds[2..] match `idle` as it was before accepting).
    std::vector<std::unique_ptr<Connection>> still_idle;
    for (size_t i = 0; i < idle.size(); ++i) {
      if (fds[i + 2].revents != 0) {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.push_back(std::move(idle[i]));
        ready_cv_.notify_one();
      } else if (now - idle[i]->idle_since > options_.idle_timeout_seconds) {
        CloseConnection(std::move(idle[i]));
      } else {
        still_idle.push_back(std::move(idle[i]));
      }
    }
    idle.swap(still_idle);
    if (fds[1].revents & POLLIN) {
      while (true) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
          if (errno == EMFILE || errno == ENFILE) {
            LogWarning("lfm2 serve: accept: ", std::strerror(errno), " (out of file descriptors)");
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
          break;
        }
        if (open_connections_.load() >= options_.max_connections) {
          const std::string body = TransportErrorBody(503, "too many open connections");
          const std::string bytes = ResponseHead(503, {{"Content-Type", "application/json"}}, false,
                                                 body.size()) + body;
          [[maybe_unused]] ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          close(fd);
          continue;
        }
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        auto connection = std::make_unique<Connection>();
        connection->fd = fd;
        connection->idle_since = now;
        connection->parser = std::make_unique<HttpRequestParser>(options_.limits);
        open_connections_++;
        idle.push_back(std::move(connection));
      }
    }
  }
  for (auto& connection : idle) CloseConnection(std::move(connection));
}

void HttpServer::WorkerLoop() {
  while (true) {
    std::unique_ptr<Connection> connection;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_cv_.wait(lock, [&] { return stopping_.load() || !ready_.empty(); });
      if (stopping_) return;
      connection = std::move(ready_.front());
      ready_.pop_front();
    }
    if (Serve(*connection) && !stopping_) {
      std::lock_guard<std::mutex> lock(mutex_);
      returned_.push_back(std::move(connection));
      Wake();
    } else {
      CloseConnection(std::move(connection));
    }
  }
}

bool HttpServer::Serve(Connection& connection) {
  HttpRequestParser& parser = *connection.parser;
  char buffer[16384];
  while (true) {
    HttpRequestParser::State state =
        connection.started ? parser.Next() : parser.state();
    connection.started = true;
    const bool had_bytes = parser.buffered() > 0;
    const double deadline = NowSeconds() + options_.request_timeout_seconds;
    bool sent_continue = false, received = had_bytes;
    while (state == HttpRequestParser::State::kNeedMore) {
      if (parser.AwaitingBody() && parser.request().ExpectsContinue() && !sent_continue) {
        sent_continue = true;
        if (!WriteAll(connection.fd, "HTTP/1.1 100 Continue\r\n\r\n", deadline, stopping_)) return false;
      }
      if (stopping_) return false;
      const double now = NowSeconds();
      if (now >= deadline) {
        if (!received) return false;  // nothing of a request arrived: just close
        const std::string body = TransportErrorBody(408, "request not received in time");
        WriteAll(connection.fd,
                 ResponseHead(408, {{"Content-Type", "application/json"}}, false, body.size()) + body,
                 now + 1.0, stopping_);
        return false;
      }
      pollfd p{connection.fd, POLLIN, 0};
      const int polled = poll(&p, 1, MillisecondsUntil(deadline));
      if (polled < 0 && errno != EINTR) return false;
      if (polled <= 0) continue;
      const ssize_t n = recv(connection.fd, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n == 0) return false;  // the client closed
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        return false;
      }
      received = true;
      state = parser.Feed(std::string_view(buffer, static_cast<size_t>(n)));
    }
    if (state == HttpRequestParser::State::kError) {
      const std::string body = TransportErrorBody(parser.error_status(), parser.error_message());
      HttpHeaders headers = {{"Content-Type", "application/json"}};
      if (options_.cors) headers.emplace_back("Access-Control-Allow-Origin", "*");
      WriteAll(connection.fd, ResponseHead(parser.error_status(), headers, false, body.size()) + body,
               NowSeconds() + 1.0, stopping_);
      return false;
    }
    const HttpRequest& request = parser.request();
    Responder responder(*this, connection.fd, request, request.KeepAlive() && !stopping_);
    HttpResponder& generic = responder;
    if (options_.cors && request.method == "OPTIONS") {
      generic.Send(204, "", "",
                     {{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
                      {"Access-Control-Allow-Headers", "Authorization, Content-Type"},
                      {"Access-Control-Max-Age", "86400"}});
    } else {
      handler_(request, responder);
    }
    if (!responder.responded()) {
      generic.Send(500, "application/json", TransportErrorBody(500, "no response was produced"));
    }
    if (responder.streaming()) responder.EndEvents();
    if (responder.broken() || !responder.keep_alive() || stopping_) return false;
    // A pipelined request may already be buffered; otherwise wait idle in the poller.
    if (parser.buffered() == 0) {
      parser.Next();
      connection.started = false;
      return true;
    }
  }
}

}  // namespace lfm2::server
