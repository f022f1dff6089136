// server/stop_matcher.cc - stop strings across token boundaries.
#include "server/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace lfm2::server {

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (std::string& stop : stops) {
    if (stop.empty()) continue;
    longest_ = std::max(longest_, stop.size());
    stops_.push_back(std::move(stop));
  }
}

std::string StopMatcher::Add(std::string_view piece) {
  if (stopped_) return {};
  pending_.append(piece);
  if (stops_.empty()) return std::exchange(pending_, std::string());
  // The earliest complete stop string wins.
  size_t first = std::string::npos;
  for (const std::string& stop : stops_) first = std::min(first, pending_.find(stop));
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, first);
    pending_.clear();
    return out;
  }
  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  const size_t max_hold = std::min(pending_.size(), longest_ - 1);
  for (size_t length = max_hold; length > 0; --length) {
    const std::string_view suffix = std::string_view(pending_).substr(pending_.size() - length);
    const bool is_prefix = std::any_of(stops_.begin(), stops_.end(), [&](const std::string& stop) {
      return stop.size() > length && std::string_view(stop).substr(0, length) == suffix;
    });
    if (is_prefix) {
      hold = length;
      break;
    }
  }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopMatcher::Flush() {
  if (stopped_) return {};
  return std::exchange(pending_, std::string());
}

}  // namespace lfm2::server
