// base/log.cc - the process-wide log level and the stderr sink.
#include "base/log.h"

#include <atomic>
#include <cstdio>

namespace lfm2 {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kWarning)};
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

void LogMessage(LogLevel level, std::string_view message) {
  const char* prefix = level == LogLevel::kError     ? "error: "
                       : level == LogLevel::kWarning ? "warning: "
                                                     : "";
  std::fprintf(stderr, "lfm2: %s%.*s\n", prefix, static_cast<int>(message.size()), message.data());
}

}  // namespace lfm2
