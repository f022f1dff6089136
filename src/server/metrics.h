// server/metrics.h - counters for GET /metrics in the Prometheus text format: HTTP requests by
// endpoint and status, request latency, the transport's connections (open, evicted, refused,
// timed out, malformed), the process's resident memory, and the scheduler's token counters,
// throughput, queue depth and slot use.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "server/http_server.h"
#include "server/scheduler.h"

namespace lfm2::server {

class Metrics {
 public:
  // `endpoint` should be one of the server's routes (anything else is counted as "other", so
  // arbitrary paths cannot grow the label set).
  void CountRequest(std::string_view endpoint, int status, double seconds);
  uint64_t requests(std::string_view endpoint, int status) const;

  // The exposition text (text/plain; version=0.0.4). `transport` may be null.
  std::string Render(const SchedulerStats& scheduler, const HttpServerStats* transport = nullptr) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  double request_seconds_ = 0;
  uint64_t request_count_ = 0;
};

// The route label for a path ("other" for unknown ones).
std::string_view EndpointLabel(std::string_view path);

}  // namespace lfm2::server
