// tokenizer/unicode_regex.h - the Split pre-tokenizer's regex. tokenizer.json patterns are
// Oniguruma (Ruby syntax, UTF-8), which is what HF tokenizers compiles them with; we translate them
// to an equivalent PCRE2 pattern (UTF + UCP, JIT when available) and iterate matches exactly like
// rust-onig's FindMatches (which HF's Split uses).
//
// Translation rules (Oniguruma Unicode semantics made explicit for PCRE2 10.42 = Unicode 14):
//   \s / \S     -> \p{White_Space} / \P{White_Space}   (PCRE2's \s would add U+180E)
//   \d / \D     -> \p{Nd} / \P{Nd}
//   \w / \W     -> [\p{Alphabetic}\p{M}\p{Nd}\p{Pc} + Latin-1 ²³¹¼½¾] / its negation (checked
//                  per character against HF; PCRE2 10.42 \w differs)
//   \h / \H     -> hex digit / non hex digit                (PCRE2's \h is horizontal space)
//   \b / \B     -> look-arounds on the \w class above
//   .           -> any character but \n ((?m) = Ruby dot-all -> any character)
//   ^ / $       -> Ruby line anchors (after / before \n)
//   \v \a \e    -> U+000B U+0007 U+001B;  \uHHHH, \x{H..}, \xHH (< 0x80), \0oo, \o{..}
//   \p{Long_Category_Name} -> short names PCRE2 knows; \p{Script} -> \p{sc:Script} (PCRE2
//                  alone would use Script_Extensions); \p{^X} -> \P{X}
//   {,n} -> {0,n};  X{n}? is (?:X{n})? and X{n,m}+ is (?:X{n,m})+ (Ruby: no lazy/possessive there)
//   (?imx-imx) and (?imx-imx:...) with Ruby meanings (m = dot-all, x = extended)
// Unsupported constructs (back-references, subexpression calls, absent operator, conditionals,
// nested classes / && in classes, \X \K \R-less oddities, ...) give an error naming the construct.
// Known residual difference: case-insensitive matching uses simple case folding (PCRE2), where
// Oniguruma also applies multi-character folds (e.g. (?i:ss) matching "ß").
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lfm2::tokenizer {

// Translates an Oniguruma pattern into PCRE2 syntax (see the rules above).
StatusOr<std::string> TranslateOnigurumaPattern(std::string_view pattern);

// A compiled pattern. Thread-safe: matching keeps its scratch in thread-local storage.
class Regex {
 public:
  struct Match {
    size_t start;
    size_t end;
  };

  // Compiles an Oniguruma pattern (via TranslateOnigurumaPattern).
  static StatusOr<Regex> FromOniguruma(std::string_view pattern);
  // A pattern matching `text` literally (HF's SplitPattern::String).
  static StatusOr<Regex> FromLiteral(std::string_view text);

  // Iteration state for FindNext; start with a default-constructed one.
  struct FindState {
    size_t last_end = 0;
    bool skip_next_empty = false;
  };

  // Finds the next match in `text` (valid UTF-8) with rust-onig's find_iter rules: each search
  // starts where the previous match ended; an empty match moves the start on by one character;
  // an empty match found by the first search after a non-empty match is dropped. A matching error
  // (e.g. the backtracking limit) ends the iteration, as it does in rust-onig. Returns false when
  // there are no more matches.
  bool FindNext(std::string_view text, FindState* state, Match* match) const;

  // Appends every match (FindNext until false) to `matches`.
  void FindAll(std::string_view text, std::vector<Match>* matches) const;

  const std::string& pcre2_pattern() const { return pcre2_pattern_; }

 private:
  struct Code;
  static StatusOr<Regex> Compile(std::string pcre2_pattern, std::string_view source);

  std::shared_ptr<const Code> code_;
  std::string pcre2_pattern_;
};

}  // namespace lfm2::tokenizer
