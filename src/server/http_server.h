// server/http_server.h - the HTTP/1.1 transport on POSIX sockets, kept apart from what requests
// mean (the API layer supplies one HttpHandler). Bounded by construction, and no slow or idle
// client ever holds a worker:
//
//   event loop      one thread on epoll: accepts connections, reads request heads and bodies
//                   (non-blocking, into each connection's parser), enforces the header, body,
//                   idle and write timeouts and the connection caps, answers malformed requests,
//                   and flushes what responses could not write at once. Only complete requests
//                   leave it.
//   worker threads  a fixed pool; each takes one complete request, calls the handler (which may
//                   block, e.g. while a generation runs) and writes the response without
//                   blocking: bytes the socket does not take at once wait in the connection's
//                   outbox, which the event loop flushes after the handler returns. A stream whose
//                   client stops reading is given write_timeout_seconds to drain a backlog of
//                   max_stream_backlog bytes, then counts as gone (the handler cancels its work).
//
// At max_connections (or a client address's max_connections_per_client) a new connection takes
// the place of the longest-waiting connection that is not running a request - idle keep-alive
// first, then one still sending its head, then its body - or, when every connection is busy, is
// refused with 503. Malformed requests get 400/408/413/414/431/501/505 with an OpenAI-style JSON
// error body; the connection is then closed after a short linger that drains unread input (so the
// client gets the response, not a reset).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "server/http_request.h"
#include "server/http_response.h"

namespace lfm2::server {

// How a handler answers one request. Either Send once, or StartEvents, SendEvent*, EndEvents.
class HttpResponder {
 public:
  virtual ~HttpResponder() = default;
  // A complete response.
  virtual void Send(int status, std::string_view content_type, std::string_view body,
                    const HttpHeaders& extra_headers = {}) = 0;
  // Starts a 200 text/event-stream response. Returns false when the client is gone.
  virtual bool StartEvents(const HttpHeaders& extra_headers = {}) = 0;
  // Sends bytes already framed as events (SseEvent, kSseDone). Returns false when the client is
  // gone (or stopped reading for longer than the write timeout): nothing more will be delivered.
  virtual bool SendEvent(std::string_view event) = 0;
  virtual void EndEvents() = 0;
  // Non-blocking: true when the client closed the connection, a write failed, or the server is
  // stopping. For handlers waiting on long work.
  virtual bool ClientGone() = 0;
  // Whether a response was started.
  virtual bool responded() const = 0;
  // The client's address as text ("127.0.0.1", "::1").
  virtual const std::string& client_address() const = 0;
};

using HttpHandler = std::function<void(const HttpRequest& request, HttpResponder& responder)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see HttpServer::port)
  int threads = 8;  // workers: complete requests handled at once
  int max_connections = 1024;           // open connections in all
  int max_connections_per_client = 512; // open connections from one client address
  HttpLimits limits;
  // From a request's first byte (for a new connection: from accept) to the end of its head.
  double header_timeout_seconds = 10;
  // From the end of the head to the end of the body.
  double body_timeout_seconds = 60;
  // For the client to take response bytes: a complete response's rest, or a stream's backlog.
  double write_timeout_seconds = 60;
  // Keep-alive connections between requests.
  double idle_timeout_seconds = 60;
  // Request bytes buffered by all connections still being received; a connection that would go
  // beyond gets 503. 0: 32 x limits.max_body.
  size_t max_receiving_bytes = 0;
  // Unsent event bytes a stream may hold before it waits (up to write_timeout_seconds) for the
  // client to read.
  size_t max_stream_backlog = 4 << 20;
  bool cors = true;  // Access-Control-Allow-Origin: * and OPTIONS preflight
};

// Counters since start (for /metrics and tests).
struct HttpServerStats {
  int64_t open_connections = 0;
  int64_t accepted = 0;
  int64_t refused = 0;         // 503 at the connection caps, every connection busy
  int64_t evicted = 0;         // closed to make room for a new connection
  int64_t header_timeouts = 0; // 408 or closed: head not received in time
  int64_t body_timeouts = 0;   // 408: body not received in time
  int64_t write_timeouts = 0;  // client did not take response bytes in time
  int64_t malformed = 0;       // answered 4xx/5xx by the transport
};

// JSON error body used for transport-level errors: {"error":{"message",...}}.
std::string TransportErrorBody(int status, std::string_view message);

class HttpServer {
 public:
  // Binds, listens and starts the threads. Fails (kIo) when the address cannot be bound.
  static StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                     HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the chosen one when options.port was 0).
  int port() const { return port_; }
  // Stops accepting, tells running handlers their clients are gone, joins every thread and
  // closes every connection. Idempotent.
  void Stop();
  bool stopping() const { return stopping_.load(); }
  // Connections currently open.
  int open_connections() const { return static_cast<int>(stats().open_connections); }
  HttpServerStats stats() const;

 private:
  struct Connection;
  class Responder;
  using ClientKey = std::array<uint8_t, 16>;

  HttpServer(const HttpServerOptions& options, HttpHandler handler);
  // Event loop (one thread): everything below up to Worker runs on it.
  void LoopMain();
  void Accept(double now);
  // Makes room for one more connection from `client`; false when every candidate is busy.
  bool MakeRoom(const ClientKey& client);
  // The connection to close for room: not running a request; idle before receiving a head
  // before receiving a body; longest-waiting first. Optionally only from one client.
  Connection* PickVictim(const ClientKey* only_client) const;
  bool Evict(const ClientKey* only_client);
  void OnReadable(Connection& connection, double now);
  void OnWritable(Connection& connection, double now);
  // Parses what is buffered: dispatches a complete request, answers a malformed one, or waits.
  void Advance(Connection& connection, double now);
  void Dispatch(int fd);
  void TakeReturned(double now);
  void CheckDeadlines(double now);
  // Queues an error response and closes after it (with linger).
  void Reject(Connection& connection, int status, std::string_view message, double now);
  // Sends the outbox without blocking; true when it is empty.
  bool Flush(Connection& connection);
  void Watch(Connection& connection, uint32_t events);
  void Close(int fd);
  // Receiving bytes accounting.
  void SetReceiving(Connection& connection, size_t bytes);
  // Worker side.
  void WorkerMain();
  void Serve(Connection& connection);
  void Return(std::unique_ptr<Connection> connection);
  void Wake();

  HttpServerOptions options_;
  HttpHandler handler_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread loop_;
  std::vector<std::thread> workers_;

  // Owned by the event loop thread.
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;  // loop-owned, by fd
  std::map<ClientKey, int> per_client_;  // open connections (loop- or worker-owned) by address
  int open_ = 0;
  uint64_t next_serial_ = 0;
  size_t receiving_bytes_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable ready_cv_;
  std::deque<std::unique_ptr<Connection>> ready_;      // complete requests, for the workers
  std::vector<std::unique_ptr<Connection>> returned_;  // back from the workers
  bool stopped_ = false;
  HttpServerStats stats_;  // guarded by mutex_
};

}  // namespace lfm2::server
