// tokenizer/pre_tokenizer.h - tokenizer.json "pre_tokenizer": Split (regex or literal pattern,
// all five delimiter behaviours, invert), ByteLevel (add_prefix_space, use_regex with GPT-2's
// pattern) and Sequence of these, applied as HF's PreTokenizedString does. Runs between the
// added-token carving and the BPE model.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/json.h"
#include "tokenizer/unicode_regex.h"

namespace lfm2::tokenizer {

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

class PreTokenizer {
 public:
  // Receives each non-empty pre-token in order. `byte_mapped`: the piece holds raw bytes that a
  // ByteLevel step mapped to its characters (applied lazily by the BPE model); otherwise the
  // piece is the final text (no ByteLevel, or one already materialized for a later Split).
  using Sink = std::function<void(std::string_view piece, bool byte_mapped)>;

  // Parses the "pre_tokenizer" value (null = keep each piece whole). `where` names it in errors;
  // unsupported types give "<where>: unsupported type \"Metaspace\"" with the nested path.
  static StatusOr<PreTokenizer> FromJson(const Json& value, std::string_view where);

  // Pre-tokenizes one piece of text (valid UTF-8) left over from the added-token pass.
  void Run(std::string_view text, const Sink& sink) const;

  // True when a ByteLevel step is present (the decoder should then be ByteLevel too).
  bool has_byte_level() const;

 private:
  struct Step {
    enum class Kind { kSplit, kByteLevel } kind;
    Regex regex;  // kSplit: the pattern; kByteLevel with use_regex: GPT-2's pattern
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;
    bool add_prefix_space = false;
    bool use_regex = false;
  };

  static Status Parse(const Json& value, const std::string& where, std::vector<Step>* steps);
  void RunFrom(size_t step, std::string_view piece, bool byte_mapped, const Sink& sink) const;

  std::vector<Step> steps_;
};

// Applies HF's Pattern::find_matches + NormalizedString::split to `text`: returns the kept
// [start, end) ranges (empty ones dropped) for `behavior`. Exposed for tests.
std::vector<std::pair<size_t, size_t>> SplitByRegex(const Regex& regex, std::string_view text,
                                                    SplitBehavior behavior, bool invert);

}  // namespace lfm2::tokenizer
