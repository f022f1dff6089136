// base/log.h - leveled logging to stderr. Library code logs sparingly; the CLI sets the level.
#pragma once

#include <string_view>

#include "base/status.h"

namespace lfm2 {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
void LogMessage(LogLevel level, std::string_view message);

template <typename... Args>
void LogInfo(const Args&... args) {
  if (GetLogLevel() >= LogLevel::kInfo) LogMessage(LogLevel::kInfo, StrCat(args...));
}
template <typename... Args>
void LogWarning(const Args&... args) {
  if (GetLogLevel() >= LogLevel::kWarning) LogMessage(LogLevel::kWarning, StrCat(args...));
}
template <typename... Args>
void LogDebug(const Args&... args) {
  if (GetLogLevel() >= LogLevel::kDebug) LogMessage(LogLevel::kDebug, StrCat(args...));
}

}  // namespace lfm2
