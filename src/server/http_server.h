// server/http_server.h - the HTTP/1.1 transport on POSIX sockets, kept apart from what requests
// mean (the API layer supplies one HttpHandler). Bounded by construction:
//
//   poller thread   accept()s (refusing with 503 beyond max_connections) and watches idle
//                   keep-alive connections with poll(); a connection with bytes to read goes to
//                   the ready queue, one idle too long is closed.
//   worker threads  a fixed pool; each takes a ready connection, reads one request (deadline:
//                   request_timeout_seconds from its first byte, else 408), calls the handler,
//                   writes the response (JSON or a chunked text/event-stream), and hands a
//                   keep-alive connection back to the poller (or serves the next pipelined one).
//
// Malformed requests get 400/413/414/431/501/505 with an OpenAI-style JSON error body and the
// connection closed. The handler runs on a worker and may block (e.g. while a generation runs);
// it learns that its client left through HttpResponder::ClientGone or a failed SendEvent.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
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
  // Sends bytes already framed as events (SseEvent, kSseDone) and flushes them. Returns false
  // when the client is gone: nothing more will be delivered.
  virtual bool SendEvent(std::string_view event) = 0;
  virtual void EndEvents() = 0;
  // Non-blocking: true when the client closed the connection, a write failed, or the server is
  // stopping. For handlers waiting on long work.
  virtual bool ClientGone() = 0;
  // Whether a response was started.
  virtual bool responded() const = 0;
};

using HttpHandler = std::function<void(const HttpRequest& request, HttpResponder& responder)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see HttpServer::port)
  int threads = 8;  // workers: requests handled at once
  int max_connections = 512;
  HttpLimits limits;
  double request_timeout_seconds = 30;  // to receive a whole request once it has begun
  double write_timeout_seconds = 60;    // for the client to accept response bytes
  double idle_timeout_seconds = 60;     // keep-alive connections with no request
  bool cors = true;                     // Access-Control-Allow-Origin: * and OPTIONS preflight
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
  int open_connections() const { return open_connections_.load(); }

 private:
  struct Connection;
  class Responder;
  HttpServer(const HttpServerOptions& options, HttpHandler handler);
  void PollerLoop();
  void WorkerLoop();
  // Serves requests on `connection` until it must be closed (false) or waits idle (true).
  bool Serve(Connection& connection);
  void Wake();
  void CloseConnection(std::unique_ptr<Connection> connection);

  HttpServerOptions options_;
  HttpHandler handler_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> open_connections_{0};
  std::thread poller_;
  std::vector<std::thread> workers_;

  std::mutex mutex_;
  std::condition_variable ready_cv_;
  std::deque<std::unique_ptr<Connection>> ready_;     // have bytes to read: for the workers
  std::vector<std::unique_ptr<Connection>> returned_; // idle again: for the poller
  bool stopped_ = false;
};

}  // namespace lfm2::server
