// The transport on loopback: keep-alive, pipelining, malformed and oversized requests, slow
// clients (header / body / write timeouts, slow heads holding no worker), Expect: 100-continue,
// SSE streaming (chunked and HTTP/1.0), CORS preflight, the connection caps and eviction,
// client-disconnect detection, more clients than workers, and Stop().
#include "server/http_server.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "server/http_test_client.h"

namespace lfm2::server {
namespace {

using testing::ClosedByServer;
using testing::Connect;
using testing::ReadResponse;
using testing::SendAll;

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    auto server = HttpServer::Start(options, [this](const HttpRequest& request, HttpResponder& r) {
      Handle(request, r);
    });
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  void Handle(const HttpRequest& request, HttpResponder& r) {
    handled_++;
    if (request.path == "/echo") {
      r.Send(200, "text/plain", request.method + " " + request.body);
    } else if (request.path == "/stream") {
      r.StartEvents();
      for (int i = 0; i < 3; ++i) r.SendEvent(SseEvent("{\"i\":" + std::to_string(i) + "}"));
      r.SendEvent(kSseDone);
      r.EndEvents();
    } else if (request.path == "/wait") {
      // Waits (up to 10 s) for the client to go away, like a long generation would.
      const double deadline = testing::Now() + 10;
      while (!r.ClientGone() && testing::Now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      noticed_gone_ = r.ClientGone();
      waiting_done_ = true;
    } else if (request.path == "/flood") {
      // Streams until SendEvent fails (at most 1 GB).
      r.StartEvents();
      const std::string event = SseEvent(std::string(16 * 1024, 'x'));
      bool ok = true;
      for (int i = 0; i < 65536 && ok; ++i) ok = r.SendEvent(event);
      flood_result_ = ok ? 1 : 0;
    } else if (request.path == "/silent") {
      // No response: the transport answers 500.
    } else {
      r.Send(404, "text/plain", "nope");
    }
  }

  int port() const { return server_->port(); }

  std::unique_ptr<HttpServer> server_;
  std::atomic<int> handled_{0};
  std::atomic<bool> noticed_gone_{false}, waiting_done_{false};
  std::atomic<int> flood_result_{-1};
};

TEST_F(HttpServerTest, KeepAliveAndPipelining) {
  Start();
  const int fd = Connect(port());
  ASSERT_GE(fd, 0);
  std::string buffer;
  ASSERT_TRUE(SendAll(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"));
  auto first = ReadResponse(fd, &buffer);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, "POST abc");
  EXPECT_EQ(first.headers["connection"], "keep-alive");
  EXPECT_EQ(first.headers["access-control-allow-origin"], "*");
  // Two pipelined requests in one write, on the same connection.
  ASSERT_TRUE(SendAll(fd, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz"));
  auto second = ReadResponse(fd, &buffer);
  auto third = ReadResponse(fd, &buffer);
  EXPECT_EQ(second.body, "GET ");
  EXPECT_EQ(third.body, "POST z");
  ASSERT_TRUE(SendAll(fd, "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto last = ReadResponse(fd, &buffer);
  EXPECT_EQ(last.headers["connection"], "close");
  EXPECT_TRUE(ClosedByServer(fd));
  close(fd);
}

TEST_F(HttpServerTest, MalformedOversizedAndUnhandled) {
  HttpServerOptions options;
  options.limits.max_body = 100;
  Start(options);
  struct Case {
    std::string bytes;
    int status;
  } cases[] = {
      {"BROKEN\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n\r\n", 400},
      {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", 413},
      {"GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505},
      {"GET /silent HTTP/1.1\r\nHost: x\r\n\r\n", 500},
  };
  for (const Case& c : cases) {
    const int fd = Connect(port());
    std::string buffer;
    ASSERT_TRUE(SendAll(fd, c.bytes));
    auto response = ReadResponse(fd, &buffer);
    EXPECT_EQ(response.status, c.status) << c.bytes;
    if (c.status != 500) {
      EXPECT_NE(response.body.find("\"error\""), std::string::npos);
      EXPECT_TRUE(ClosedByServer(fd));
    }
    close(fd);
  }
}

TEST_F(HttpServerTest, SlowClientGets408) {
  HttpServerOptions options;
  options.body_timeout_seconds = 0.5;
  Start(options);
  const int fd = Connect(port());
  std::string buffer;
  ASSERT_TRUE(SendAll(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"));
  auto response = ReadResponse(fd, &buffer, 5);
  EXPECT_EQ(response.status, 408);
  EXPECT_TRUE(ClosedByServer(fd));
  close(fd);
}

TEST_F(HttpServerTest, ExpectContinue) {
  Start();
  const int fd = Connect(port());
  std::string buffer;
  ASSERT_TRUE(SendAll(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
  auto interim = ReadResponse(fd, &buffer);
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(SendAll(fd, "hi"));
  auto response = ReadResponse(fd, &buffer);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "POST hi");
  close(fd);
}

TEST_F(HttpServerTest, EventStreams) {
  Start();
  const int fd = Connect(port());
  std::string buffer;
  ASSERT_TRUE(SendAll(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto response = ReadResponse(fd, &buffer);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers["content-type"], "text/event-stream");
  EXPECT_EQ(response.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(response.body, "data: {\"i\":0}\n\ndata: {\"i\":1}\n\ndata: {\"i\":2}\n\ndata: [DONE]\n\n");
  // The connection stays usable after a stream.
  ASSERT_TRUE(SendAll(fd, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(ReadResponse(fd, &buffer).body, "GET ");
  close(fd);
  // HTTP/1.0: no chunked encoding, the stream ends with the connection.
  const int old = Connect(port());
  std::string old_buffer;
  ASSERT_TRUE(SendAll(old, "GET /stream HTTP/1.0\r\n\r\n"));
  auto plain = ReadResponse(old, &old_buffer);
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(plain.body.substr(0, 15), "data: {\"i\":0}\n\n");
  close(old);
}

TEST_F(HttpServerTest, CorsPreflight) {
  Start();
  const int fd = Connect(port());
  std::string buffer;
  ASSERT_TRUE(SendAll(fd, "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: x\r\nOrigin: http://a\r\n\r\n"));
  auto response = ReadResponse(fd, &buffer);
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(response.headers["access-control-allow-origin"], "*");
  EXPECT_NE(response.headers["access-control-allow-headers"].find("Authorization"), std::string::npos);
  EXPECT_EQ(handled_.load(), 0);
  close(fd);
}

TEST_F(HttpServerTest, HandlerSeesClientDisconnect) {
  Start();
  const int fd = Connect(port());
  ASSERT_TRUE(SendAll(fd, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  close(fd);
  const double deadline = testing::Now() + 5;
  while (!waiting_done_ && testing::Now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(waiting_done_.load());
  EXPECT_TRUE(noticed_gone_.load());
}

TEST_F(HttpServerTest, ConnectionLimitEvictsTheLongestWaiting) {
  HttpServerOptions options;
  options.max_connections = 2;
  Start(options);
  // a: idle since connecting; b: sending a head, slowly.
  const int a = Connect(port());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const int b = Connect(port());
  ASSERT_TRUE(SendAll(b, "GET /echo HTTP/1.1\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // c takes a's place (idle goes before a half-sent head), and works.
  const int c = Connect(port());
  std::string buffer_c;
  ASSERT_TRUE(SendAll(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(ReadResponse(c, &buffer_c).status, 200);
  EXPECT_TRUE(ClosedByServer(a));
  // d takes b's place (c is idle again, but newer than b's head).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const int d = Connect(port());
  std::string buffer_d;
  ASSERT_TRUE(SendAll(d, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(ReadResponse(d, &buffer_d).status, 200);
  EXPECT_EQ(server_->stats().evicted, 2);
  close(a);
  close(b);
  close(c);
  close(d);
}

TEST_F(HttpServerTest, ConnectionLimitRefusesWhenEveryConnectionIsBusy) {
  HttpServerOptions options;
  options.max_connections = 1;
  Start(options);
  const int busy = Connect(port());
  ASSERT_TRUE(SendAll(busy, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int refused = Connect(port());
  std::string buffer;
  EXPECT_EQ(ReadResponse(refused, &buffer, 5).status, 503);
  EXPECT_EQ(server_->stats().refused, 1);
  close(refused);
  close(busy);
}

TEST_F(HttpServerTest, PerClientCapEvictsOnlyThatClientsConnections) {
  HttpServerOptions options;
  options.max_connections_per_client = 3;
  Start(options);
  std::vector<int> slow;
  for (int i = 0; i < 6; ++i) {
    slow.push_back(Connect(port()));
    ASSERT_TRUE(SendAll(slow.back(), "GET /echo HTTP/1.1\r\nHost"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(server_->open_connections(), 3);
  // The newest three are the ones left; they can still finish their requests.
  for (int i = 3; i < 6; ++i) {
    std::string buffer;
    ASSERT_TRUE(SendAll(slow[i], ": x\r\n\r\n"));
    EXPECT_EQ(ReadResponse(slow[i], &buffer).status, 200) << i;
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(ClosedByServer(slow[i])) << i;
  for (int fd : slow) close(fd);
}

TEST_F(HttpServerTest, SlowHeadsHoldNoWorker) {
  HttpServerOptions options;
  options.threads = 1;
  Start(options);
  std::vector<int> slow;
  for (int i = 0; i < 50; ++i) {
    slow.push_back(Connect(port()));
    ASSERT_TRUE(SendAll(slow.back(), "POST /echo HTTP/1.1\r\nHo"));
  }
  // With the one worker, a complete request is served at once.
  const double start = testing::Now();
  const int fd = Connect(port());
  std::string buffer;
  ASSERT_TRUE(SendAll(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok"));
  EXPECT_EQ(ReadResponse(fd, &buffer).body, "POST ok");
  EXPECT_LT(testing::Now() - start, 2.0);
  close(fd);
  for (int s : slow) close(s);
}

TEST_F(HttpServerTest, HeaderTimeout) {
  HttpServerOptions options;
  options.header_timeout_seconds = 0.3;
  Start(options);
  // A partial head gets 408; a connection that sends nothing is just closed.
  const int partial = Connect(port());
  const int silent = Connect(port());
  ASSERT_TRUE(SendAll(partial, "GET /echo HTTP/1.1\r\n"));
  std::string buffer;
  EXPECT_EQ(ReadResponse(partial, &buffer, 5).status, 408);
  EXPECT_TRUE(ClosedByServer(partial));
  EXPECT_TRUE(ClosedByServer(silent));
  EXPECT_GE(server_->stats().header_timeouts, 1);
  close(partial);
  close(silent);
}

TEST_F(HttpServerTest, BareCarriageReturnIsRefusedAtOnce) {
  Start();
  const int fd = Connect(port());
  ASSERT_TRUE(SendAll(fd, "GET /echo HTTP/1.1\rHost: x\r"));
  std::string buffer;
  const double start = testing::Now();
  EXPECT_EQ(ReadResponse(fd, &buffer, 5).status, 400);
  EXPECT_LT(testing::Now() - start, 2.0);
  close(fd);
}

TEST_F(HttpServerTest, OverLimitRequestGetsItsResponseNotAReset) {
  HttpServerOptions options;
  options.limits.max_header_bytes = 1024;
  Start(options);
  // The client keeps sending after the head went over the limit; it must still read a 431.
  const int fd = Connect(port());
  std::string big = "GET /echo HTTP/1.1\r\nHost: x\r\n";
  while (big.size() < 256 * 1024) big += "X-Filler: " + std::string(100, 'a') + "\r\n";
  SendAll(fd, big);  // may fail part way once the server shut its side
  std::string buffer;
  EXPECT_EQ(ReadResponse(fd, &buffer, 5).status, 431);
  close(fd);
}

TEST_F(HttpServerTest, StreamToAClientThatDoesNotRead) {
  HttpServerOptions options;
  options.write_timeout_seconds = 0.5;
  options.max_stream_backlog = 64 * 1024;
  Start(options);
  // The handler streams far more than the socket buffers hold; the client never reads.
  flood_result_ = -1;
  const int fd = Connect(port());
  ASSERT_TRUE(SendAll(fd, "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n"));
  const double deadline = testing::Now() + 10;
  while (flood_result_ < 0 && testing::Now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(flood_result_.load(), 0);  // SendEvent reported the client gone
  EXPECT_GE(server_->stats().write_timeouts, 1);
  close(fd);
}

TEST_F(HttpServerTest, MoreClientsThanWorkers) {
  HttpServerOptions options;
  options.threads = 2;
  Start(options);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&, i] {
      const int fd = Connect(port());
      std::string buffer;
      const std::string body = "n" + std::to_string(i);
      for (int round = 0; round < 3; ++round) {
        SendAll(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body);
        if (ReadResponse(fd, &buffer).body == "POST " + body) ok++;
      }
      close(fd);
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(ok.load(), 48);
}

TEST_F(HttpServerTest, StopWithBusyAndIdleConnections) {
  Start();
  const int idle = Connect(port());
  const int busy = Connect(port());
  ASSERT_TRUE(SendAll(busy, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const double start = testing::Now();
  server_->Stop();
  EXPECT_LT(testing::Now() - start, 5.0);
  EXPECT_TRUE(waiting_done_.load());
  EXPECT_TRUE(ClosedByServer(idle));
  close(idle);
  close(busy);
}

}  // namespace
}  // namespace lfm2::server
