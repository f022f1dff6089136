// server/metrics.cc - Prometheus text exposition.
#include "server/metrics.h"

#include <cstdio>

#include "base/memory_info.h"

namespace lfm2::server {
namespace {

void Line(std::string* out, const char* name, const char* type, const char* help, double value) {
  char buffer[96];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
          name + " " + buffer + "\n";
}

}  // namespace

std::string_view EndpointLabel(std::string_view path) {
  static constexpr std::string_view kRoutes[] = {
      "/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics",
      "/tokenize", "/detokenize", "/apply-template"};
  for (std::string_view route : kRoutes) {
    if (path == route) return route;
    if (route.substr(0, 3) == "/v1" && path == route.substr(3)) return route;
  }
  if (path == "/v1/health") return "/health";
  return "other";
}

void Metrics::CountRequest(std::string_view endpoint, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  requests_[{std::string(EndpointLabel(endpoint)), status}]++;
  request_seconds_ += seconds;
  request_count_++;
}

uint64_t Metrics::requests(std::string_view endpoint, int status) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = requests_.find({std::string(EndpointLabel(endpoint)), status});
  return it == requests_.end() ? 0 : it->second;
}

std::string Metrics::Render(const SchedulerStats& s, const HttpServerStats* transport) const {
  std::string out;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    out += "# HELP lfm2_requests_total HTTP requests by endpoint and status.\n"
           "# TYPE lfm2_requests_total counter\n";
    for (const auto& [key, count] : requests_) {
      out += "lfm2_requests_total{endpoint=\"" + key.first + "\",status=\"" +
             std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
    }
    char sum[64];
    std::snprintf(sum, sizeof(sum), "%.6f", request_seconds_);
    out += "# HELP lfm2_request_duration_seconds Time from request to last response byte.\n"
           "# TYPE lfm2_request_duration_seconds summary\n"
           "lfm2_request_duration_seconds_sum " + std::string(sum) +
           "\nlfm2_request_duration_seconds_count " + std::to_string(request_count_) + "\n";
  }
  if (transport != nullptr) {
    const HttpServerStats& t = *transport;
    Line(&out, "lfm2_http_connections_open", "gauge", "Open client connections.", static_cast<double>(t.open_connections));
    Line(&out, "lfm2_http_connections_accepted_total", "counter", "Connections accepted.", static_cast<double>(t.accepted));
    Line(&out, "lfm2_http_connections_refused_total", "counter",
         "Connections refused with 503 at a connection cap (every connection busy).", static_cast<double>(t.refused));
    Line(&out, "lfm2_http_connections_evicted_total", "counter",
         "Idle or slow connections closed to make room at a connection cap.", static_cast<double>(t.evicted));
    out += "# HELP lfm2_http_timeouts_total Requests or responses not transferred in time.\n"
           "# TYPE lfm2_http_timeouts_total counter\n"
           "lfm2_http_timeouts_total{phase=\"header\"} " + std::to_string(t.header_timeouts) + "\n"
           "lfm2_http_timeouts_total{phase=\"body\"} " + std::to_string(t.body_timeouts) + "\n"
           "lfm2_http_timeouts_total{phase=\"write\"} " + std::to_string(t.write_timeouts) + "\n";
    Line(&out, "lfm2_http_malformed_total", "counter", "Requests the transport refused as malformed or too large.",
         static_cast<double>(t.malformed));
  }
  Line(&out, "lfm2_process_resident_bytes", "gauge", "Resident memory of the server process (VmRSS).",
       static_cast<double>(CurrentRssBytes()));
  Line(&out, "lfm2_generation_jobs_total", "counter", "Sequences admitted to a slot.", static_cast<double>(s.jobs));
  Line(&out, "lfm2_prompt_tokens_total", "counter", "Prompt tokens of admitted sequences.", static_cast<double>(s.prompt_tokens));
  Line(&out, "lfm2_prompt_tokens_cached_total", "counter", "Prompt tokens reused from a slot's cache.", static_cast<double>(s.cached_tokens));
  Line(&out, "lfm2_prefill_tokens_total", "counter", "Prompt tokens run through the model.", static_cast<double>(s.prefilled_tokens));
  Line(&out, "lfm2_generated_tokens_total", "counter", "Tokens sampled.", static_cast<double>(s.generated_tokens));
  Line(&out, "lfm2_forward_passes_total", "counter", "Batched forward passes (scheduler steps).", static_cast<double>(s.forward_passes));
  Line(&out, "lfm2_busy_seconds_total", "counter", "Time spent in forward passes and sampling.", s.busy_seconds);
  Line(&out, "lfm2_tokens_per_second", "gauge", "Generated tokens per second over the last 10 s.", s.tokens_per_second);
  Line(&out, "lfm2_queue_depth", "gauge", "Sequences waiting for a slot.", s.queued);
  Line(&out, "lfm2_slots_active", "gauge", "Slots running a sequence.", s.active);
  Line(&out, "lfm2_slots_total", "gauge", "Slots (--parallel).", s.slots);
  return out;
}

}  // namespace lfm2::server
