// server/http_server.cc - sockets, the event loop and the worker pool (see http_server.h).
#include "server/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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

constexpr int kLoopTickMs = 100;            // deadlines are checked this often
constexpr double kLingerSeconds = 2.0;      // unread input drained after an error response
constexpr size_t kReadChunk = 64 * 1024;    // one recv
constexpr int kReadsPerEvent = 4;           // then other connections get their turn
constexpr uint32_t kReadEvents = EPOLLIN | EPOLLRDHUP;

std::string ErrorResponse(int status, std::string_view message, bool cors) {
  const std::string body = TransportErrorBody(status, message);
  HttpHeaders headers = {{"Content-Type", "application/json"}};
  if (cors) headers.emplace_back("Access-Control-Allow-Origin", "*");
  return ResponseHead(status, headers, /*keep_alive=*/false, body.size()) + body;
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
  enum class Phase {
    kIdle,       // no byte of the next request yet (new or keep-alive)
    kHead,       // receiving a request head
    kBody,       // receiving a request body
    kQueued,     // complete, waiting for a worker
    kHandling,   // a worker runs the handler
    kFlushing,   // the loop sends the rest of a response
    kLingering,  // an error was answered; draining input until the client closes
  };
  int fd = -1;
  ClientKey client{};
  std::string address;
  Phase phase = Phase::kIdle;
  double since = 0;     // when the phase began (eviction picks the longest-waiting)
  double deadline = 0;  // when the phase times out
  std::unique_ptr<HttpRequestParser> parser;
  std::string outbox;  // response bytes not yet sent, from `sent` on
  size_t sent = 0;
  bool close_after_flush = false;
  bool broken = false;  // a write failed: close without flushing
  bool continue_sent = false;
  size_t receiving = 0;  // this connection's share of receiving_bytes_
  uint32_t watched = 0;  // epoll events registered; 0 = not in the epoll set

  size_t pending() const { return outbox.size() - sent; }
  // Sends what it can without blocking; false when the connection broke.
  bool SendSome() {
    while (sent < outbox.size()) {
      const ssize_t n = send(fd, outbox.data() + sent, outbox.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      broken = true;
      return false;
    }
    if (sent == outbox.size()) {
      outbox.clear();
      sent = 0;
    } else if (sent >= (1 << 20)) {
      outbox.erase(0, sent);
      sent = 0;
    }
    return true;
  }
};

class HttpServer::Responder : public HttpResponder {
 public:
  Responder(HttpServer& server, Connection& connection, const HttpRequest& request, bool keep_alive)
      : server_(server), connection_(connection), request_(request), keep_alive_(keep_alive) {}

  void Send(int status, std::string_view content_type, std::string_view body,
            const HttpHeaders& extra_headers) override {
    if (responded_) return;
    responded_ = true;
    HttpHeaders headers = CommonHeaders();
    if (!content_type.empty()) headers.emplace_back("Content-Type", std::string(content_type));
    headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
    std::string bytes = ResponseHead(status, headers, keep_alive_, body.size());
    if (request_.method != "HEAD") bytes.append(body);
    Queue(bytes);
  }

  bool StartEvents(const HttpHeaders& extra_headers) override {
    if (responded_) return !connection_.broken;
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
    return Queue(head) && Drain();
  }

  bool SendEvent(std::string_view event) override {
    if (!streaming_ || ended_) return false;
    return Queue(raw_stream_ ? std::string(event) : Chunk(event)) && Drain();
  }

  void EndEvents() override {
    if (!streaming_ || ended_) return;
    ended_ = true;
    if (!raw_stream_) Queue(kLastChunk);
  }

  bool ClientGone() override {
    if (connection_.broken || server_.stopping()) return true;
    pollfd p{connection_.fd, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) return true;
    if (p.revents & POLLIN) {
      char byte;
      const ssize_t n = recv(connection_.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0) return true;  // orderly shutdown; n > 0 is a pipelined request
    }
    return false;
  }

  bool responded() const override { return responded_; }
  const std::string& client_address() const override { return connection_.address; }
  bool streaming() const { return streaming_; }
  bool keep_alive() const { return keep_alive_; }

 private:
  HttpHeaders CommonHeaders() const {
    HttpHeaders headers = {{"Server", "lfm2.cpp"}};
    if (server_.options_.cors) headers.emplace_back("Access-Control-Allow-Origin", "*");
    return headers;
  }
  bool Queue(std::string_view bytes) {
    if (connection_.broken) return false;
    connection_.outbox.append(bytes);
    return connection_.SendSome();
  }
  // A stream whose backlog is over the limit waits for the client to read, up to the write
  // timeout; a client that does not read by then is gone.
  bool Drain() {
    if (connection_.pending() <= server_.options_.max_stream_backlog) return !connection_.broken;
    const double deadline = NowSeconds() + server_.options_.write_timeout_seconds;
    while (connection_.pending() > server_.options_.max_stream_backlog && !connection_.broken) {
      const double left = deadline - NowSeconds();
      if (left <= 0 || server_.stopping()) {
        connection_.broken = true;
        std::lock_guard<std::mutex> lock(server_.mutex_);
        server_.stats_.write_timeouts++;
        break;
      }
      pollfd p{connection_.fd, POLLOUT, 0};
      poll(&p, 1, static_cast<int>(std::min(left * 1000.0 + 1, static_cast<double>(kLoopTickMs))));
      if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) connection_.broken = true;
      connection_.SendSome();
    }
    return !connection_.broken;
  }

  HttpServer& server_;
  Connection& connection_;
  const HttpRequest& request_;
  bool keep_alive_;
  bool responded_ = false, streaming_ = false, ended_ = false, raw_stream_ = false;
};

HttpServer::HttpServer(const HttpServerOptions& options, HttpHandler handler)
    : options_(options), handler_(std::move(handler)) {
  if (options_.max_receiving_bytes == 0) options_.max_receiving_bytes = 32 * options_.limits.max_body;
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                        HttpHandler handler) {
  if (options.threads < 1) return InvalidArgumentError("the HTTP server needs at least one thread");
  if (options.max_connections < 1 || options.max_connections_per_client < 1) {
    return InvalidArgumentError("the HTTP server needs room for at least one connection");
  }
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
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1024) == 0) {
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
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &length);
  server->port_ = bound.ss_family == AF_INET6
                      ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  server->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  server->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (server->epoll_fd_ < 0 || server->wake_fd_ < 0) return IoError("epoll / eventfd: ", std::strerror(errno));
  for (int fd : {server->listen_fd_, server->wake_fd_}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (epoll_ctl(server->epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      return IoError("epoll_ctl: ", std::strerror(errno));
    }
  }
  HttpServer* raw = server.get();
  raw->loop_ = std::thread([raw] { raw->LoopMain(); });
  for (int i = 0; i < options.threads; ++i) raw->workers_.emplace_back([raw] { raw->WorkerMain(); });
  return server;
}

HttpServer::~HttpServer() { Stop(); }

HttpServerStats HttpServer::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void HttpServer::Wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
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
  if (loop_.joinable()) loop_.join();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  // Every thread is gone: what is left is closed here.
  for (auto& [fd, connection] : connections_) close(fd);
  connections_.clear();
  for (auto& connection : ready_) close(connection->fd);
  for (auto& connection : returned_) close(connection->fd);
  ready_.clear();
  returned_.clear();
  stats_.open_connections = 0;
  for (int* fd : {&listen_fd_, &epoll_fd_, &wake_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

// ---- event loop ----------------------------------------------------------------------------

void HttpServer::LoopMain() {
  std::vector<epoll_event> events(256);
  double next_check = 0;
  while (!stopping_) {
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), kLoopTickMs);
    if (n < 0 && errno != EINTR) {
      LogWarning("lfm2 serve: epoll_wait: ", std::strerror(errno));
      break;
    }
    const double now = NowSeconds();
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      const uint32_t what = events[i].events;
      if (fd == wake_fd_) {
        uint64_t count;
        [[maybe_unused]] ssize_t r = read(wake_fd_, &count, sizeof(count));
        continue;
      }
      if (fd == listen_fd_) {
        Accept(now);
        continue;
      }
      auto it = connections_.find(fd);
      if (it == connections_.end()) continue;  // closed earlier in this round
      if (what & EPOLLOUT) OnWritable(*it->second, now);
      it = connections_.find(fd);
      if (it == connections_.end()) continue;
      if (what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) OnReadable(*it->second, now);
    }
    TakeReturned(now);
    if (now >= next_check) {
      CheckDeadlines(now);
      next_check = now + kLoopTickMs / 1000.0;
    }
  }
  for (auto& [fd, connection] : connections_) close(fd);
  connections_.clear();
}

void HttpServer::Accept(double now) {
  while (true) {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length,
                           SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: free an idle one for the next attempt, else wait a tick (the
        // listening socket stays readable, so the loop comes back).
        LogWarning("lfm2 serve: accept: ", std::strerror(errno), " (out of file descriptors)");
        if (!Evict(nullptr)) std::this_thread::sleep_for(std::chrono::milliseconds(kLoopTickMs / 4));
      }
      return;
    }
    auto connection = std::make_unique<Connection>();
    connection->fd = fd;
    char text[INET6_ADDRSTRLEN] = "?";
    if (address.ss_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
      connection->client[10] = connection->client[11] = 0xff;
      std::memcpy(&connection->client[12], &v4->sin_addr, 4);
      inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    } else if (address.ss_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
      std::memcpy(connection->client.data(), &v6->sin6_addr, 16);
      inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    }
    connection->address = text;
    if (!MakeRoom(connection->client)) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.refused++;
      }
      const std::string bytes = ErrorResponse(503, "too many open connections", options_.cors);
      [[maybe_unused]] ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      close(fd);
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    connection->phase = Connection::Phase::kIdle;
    connection->since = now;
    connection->deadline = now + options_.header_timeout_seconds;
    connection->parser = std::make_unique<HttpRequestParser>(options_.limits);
    per_client_[connection->client]++;
    open_++;
    Connection& added = *connection;
    connections_.emplace(fd, std::move(connection));
    Watch(added, kReadEvents);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.accepted++;
    stats_.open_connections = open_;
  }
}

HttpServer::Connection* HttpServer::PickVictim(const ClientKey* only_client) const {
  using Phase = Connection::Phase;
  auto rank = [](Phase phase) {
    switch (phase) {
      case Phase::kIdle: return 0;
      case Phase::kHead: return 1;
      case Phase::kBody: return 2;
      default: return -1;  // running or finishing a request: never evicted
    }
  };
  Connection* victim = nullptr;
  for (const auto& [fd, connection] : connections_) {
    const int r = rank(connection->phase);
    if (r < 0 || (only_client != nullptr && connection->client != *only_client)) continue;
    if (victim == nullptr || r < rank(victim->phase) ||
        (r == rank(victim->phase) && connection->since < victim->since)) {
      victim = connection.get();
    }
  }
  return victim;
}

bool HttpServer::Evict(const ClientKey* only_client) {
  Connection* victim = PickVictim(only_client);
  if (victim == nullptr) return false;
  Close(victim->fd);
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.evicted++;
  return true;
}

bool HttpServer::MakeRoom(const ClientKey& client) {
  while (true) {
    auto found = per_client_.find(client);
    const bool client_full = found != per_client_.end() && found->second >= options_.max_connections_per_client;
    const bool server_full = open_ >= options_.max_connections;
    if (!client_full && !server_full) return true;
    if (!Evict(client_full ? &client : nullptr)) return false;
  }
}

void HttpServer::Watch(Connection& connection, uint32_t events) {
  if (connection.watched == events) return;
  epoll_event event{};
  event.events = events;
  event.data.fd = connection.fd;
  const int op = connection.watched == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(epoll_fd_, op, connection.fd, &event) != 0) {
    LogWarning("lfm2 serve: epoll_ctl: ", std::strerror(errno));
  }
  connection.watched = events;
}

void HttpServer::SetReceiving(Connection& connection, size_t bytes) {
  receiving_bytes_ = receiving_bytes_ - connection.receiving + bytes;
  connection.receiving = bytes;
}

void HttpServer::Close(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  Connection& connection = *it->second;
  SetReceiving(connection, 0);
  close(fd);  // also leaves the epoll set
  auto client = per_client_.find(connection.client);
  if (client != per_client_.end() && --client->second <= 0) per_client_.erase(client);
  open_--;
  connections_.erase(it);
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.open_connections = open_;
}

bool HttpServer::Flush(Connection& connection) {
  if (!connection.SendSome()) return false;
  return connection.pending() == 0;
}

void HttpServer::Reject(Connection& connection, int status, std::string_view message, double now) {
  connection.outbox.append(ErrorResponse(status, message, options_.cors));
  connection.phase = Connection::Phase::kLingering;
  connection.since = now;
  connection.deadline = now + std::min(options_.write_timeout_seconds, 10.0);
  SetReceiving(connection, 0);
  if (!connection.SendSome()) {
    Close(connection.fd);
    return;
  }
  if (connection.pending() == 0) {
    shutdown(connection.fd, SHUT_WR);
    connection.deadline = now + kLingerSeconds;
    Watch(connection, kReadEvents);
  } else {
    Watch(connection, EPOLLOUT);
  }
}

void HttpServer::OnReadable(Connection& connection, double now) {
  using Phase = Connection::Phase;
  const int fd = connection.fd;
  char buffer[kReadChunk];
  if (connection.phase == Phase::kLingering) {
    for (int i = 0; i < kReadsPerEvent; ++i) {
      const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      Close(fd);  // the client closed too: done
      return;
    }
    return;
  }
  if (connection.phase != Phase::kIdle && connection.phase != Phase::kHead &&
      connection.phase != Phase::kBody) {
    return;
  }
  for (int i = 0; i < kReadsPerEvent; ++i) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n == 0) {
      Close(fd);  // the client closed, idle or mid-request
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      Close(fd);
      return;
    }
    if (connection.phase == Phase::kIdle) {
      connection.phase = Phase::kHead;
      connection.since = now;
      connection.deadline = now + options_.header_timeout_seconds;
    }
    SetReceiving(connection, connection.receiving + static_cast<size_t>(n));
    if (receiving_bytes_ > options_.max_receiving_bytes) {
      Reject(connection, 503, "server busy: too many request bytes in transit, retry later", now);
      return;
    }
    connection.parser->Feed(std::string_view(buffer, static_cast<size_t>(n)));
    Advance(connection, now);
    // Advance may have dispatched, rejected or closed the connection.
    auto it = connections_.find(fd);
    if (it == connections_.end() || it->second.get() != &connection) return;
    if (connection.phase != Phase::kHead && connection.phase != Phase::kBody) return;
    if (static_cast<size_t>(n) < sizeof(buffer)) return;
  }
}

void HttpServer::Advance(Connection& connection, double now) {
  using Phase = Connection::Phase;
  using State = HttpRequestParser::State;
  HttpRequestParser& parser = *connection.parser;
  switch (parser.state()) {
    case State::kError: {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.malformed++;
      }
      Reject(connection, parser.error_status(), parser.error_message(), now);
      return;
    }
    case State::kComplete:
      Dispatch(connection.fd);
      return;
    case State::kNeedMore:
      if (connection.phase == Phase::kIdle && parser.buffered() > 0) {
        connection.phase = Phase::kHead;
        connection.since = now;
        connection.deadline = now + options_.header_timeout_seconds;
      }
      if (parser.AwaitingBody() && connection.phase != Phase::kBody) {
        connection.phase = Phase::kBody;
        connection.since = now;
        connection.deadline = now + options_.body_timeout_seconds;
        if (parser.request().ExpectsContinue() && !connection.continue_sent) {
          connection.continue_sent = true;
          connection.outbox.append("HTTP/1.1 100 Continue\r\n\r\n");
          if (!connection.SendSome()) {
            Close(connection.fd);
            return;
          }
          Watch(connection, connection.pending() > 0 ? kReadEvents | EPOLLOUT : kReadEvents);
        }
      }
      return;
  }
}

void HttpServer::Dispatch(int fd) {
  auto node = connections_.extract(fd);
  std::unique_ptr<Connection> connection = std::move(node.mapped());
  if (connection->watched != 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    connection->watched = 0;
  }
  SetReceiving(*connection, 0);
  connection->phase = Connection::Phase::kQueued;
  std::lock_guard<std::mutex> lock(mutex_);
  ready_.push_back(std::move(connection));
  ready_cv_.notify_one();
}

void HttpServer::OnWritable(Connection& connection, double now) {
  using Phase = Connection::Phase;
  if (!connection.SendSome()) {
    Close(connection.fd);
    return;
  }
  if (connection.pending() > 0) return;
  switch (connection.phase) {
    case Phase::kFlushing: {
      // The response is out: as if it had just returned from the worker.
      connection.phase = Phase::kHandling;
      const int fd = connection.fd;
      auto node = connections_.extract(fd);
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      node.mapped()->watched = 0;
      std::lock_guard<std::mutex> lock(mutex_);
      returned_.push_back(std::move(node.mapped()));
      return;  // TakeReturned picks it up in this round
    }
    case Phase::kLingering:
      shutdown(connection.fd, SHUT_WR);
      connection.deadline = now + kLingerSeconds;
      Watch(connection, kReadEvents);
      return;
    default:
      Watch(connection, kReadEvents);  // a 100 Continue went out
      return;
  }
}

void HttpServer::TakeReturned(double now) {
  using Phase = Connection::Phase;
  std::vector<std::unique_ptr<Connection>> returned;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    returned.swap(returned_);
  }
  for (auto& owned : returned) {
    Connection& connection = *owned;
    const int fd = connection.fd;
    connections_.emplace(fd, std::move(owned));
    if (connection.broken || stopping_) {
      Close(fd);
      continue;
    }
    if (connection.pending() > 0) {
      connection.phase = Phase::kFlushing;
      connection.since = now;
      connection.deadline = now + options_.write_timeout_seconds;
      Watch(connection, EPOLLOUT);
      continue;
    }
    if (connection.close_after_flush) {
      // Lingering close: the client reads the response, then closes; unread input is drained.
      connection.phase = Phase::kLingering;
      connection.since = now;
      connection.deadline = now + kLingerSeconds;
      shutdown(fd, SHUT_WR);
      Watch(connection, kReadEvents);
      continue;
    }
    // Keep-alive: the next request, which may already be buffered (pipelining).
    connection.continue_sent = false;
    connection.phase = Phase::kIdle;
    connection.since = now;
    connection.deadline = now + options_.idle_timeout_seconds;
    connection.parser->Next();
    SetReceiving(connection, connection.parser->buffered());
    Watch(connection, kReadEvents);
    Advance(connection, now);
  }
}

void HttpServer::CheckDeadlines(double now) {
  using Phase = Connection::Phase;
  std::vector<int> expired;
  for (auto& [fd, connection] : connections_) {
    if (connection->deadline <= now) expired.push_back(fd);
  }
  for (int fd : expired) {
    auto it = connections_.find(fd);
    if (it == connections_.end()) continue;
    Connection& connection = *it->second;
    switch (connection.phase) {
      case Phase::kHead:
      case Phase::kBody: {
        const bool head = connection.phase == Phase::kHead;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          (head ? stats_.header_timeouts : stats_.body_timeouts)++;
        }
        Reject(connection, 408,
               StrCat("request ", head ? "head" : "body", " not received within ",
                      head ? options_.header_timeout_seconds : options_.body_timeout_seconds, " s"),
               now);
        break;
      }
      case Phase::kFlushing: {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          stats_.write_timeouts++;
        }
        Close(fd);
        break;
      }
      default:  // idle too long, or lingering done
        Close(fd);
        break;
    }
  }
}

// ---- workers -------------------------------------------------------------------------------

void HttpServer::WorkerMain() {
  while (true) {
    std::unique_ptr<Connection> connection;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_cv_.wait(lock, [&] { return stopping_.load() || !ready_.empty(); });
      if (stopping_) return;
      connection = std::move(ready_.front());
      ready_.pop_front();
    }
    Serve(*connection);
    Return(std::move(connection));
  }
}

void HttpServer::Return(std::unique_ptr<Connection> connection) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    returned_.push_back(std::move(connection));
  }
  Wake();
}

void HttpServer::Serve(Connection& connection) {
  connection.phase = Connection::Phase::kHandling;
  const HttpRequest& request = connection.parser->request();
  Responder responder(*this, connection, request, request.KeepAlive() && !stopping_);
  HttpResponder& generic = responder;
  if (options_.cors && request.method == "OPTIONS") {
    generic.Send(204, "", "",
                 {{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
                  {"Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key"},
                  {"Access-Control-Max-Age", "86400"}});
  } else {
    handler_(request, responder);
  }
  if (!responder.responded()) {
    generic.Send(500, "application/json", TransportErrorBody(500, "no response was produced"));
  }
  if (responder.streaming()) responder.EndEvents();
  connection.close_after_flush = !responder.keep_alive() || stopping_;
}

}  // namespace lfm2::server
