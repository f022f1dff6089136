// server/stop_matcher.h - OpenAI `stop` strings over streamed text: text arrives in pieces (one
// per token, split anywhere), a stop string may span several pieces, and neither the stop string
// nor anything after it is ever emitted. Text that could still be the start of a stop string is
// held back until it is decided.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lfm2::server {

class StopMatcher {
 public:
  // Empty strings in `stops` are ignored.
  explicit StopMatcher(std::vector<std::string> stops);

  // Adds a piece of generated text; returns the text that is now safe to emit. After a stop
  // string is found, stopped() is true and further Add calls return "".
  std::string Add(std::string_view piece);
  // The held-back text, at the end of generation (when no stop string was found).
  std::string Flush();

  bool stopped() const { return stopped_; }
  // Bytes currently held back.
  size_t held() const { return pending_.size(); }

 private:
  std::vector<std::string> stops_;
  size_t longest_ = 0;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace lfm2::server
