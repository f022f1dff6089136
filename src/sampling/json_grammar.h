// sampling/json_grammar.h - the automaton behind JSON-schema constrained decoding. The schema
// compiler (json_schema.cc) builds a byte-level NFA made of *rules* (one per shared or recursive
// sub-schema, plus the generic JSON value) that may *call* each other; Determinize turns every
// rule into a DFA over byte classes and computes, per DFA state, how much call-stack depth is
// still needed to finish (so a depth-bounded matcher never walks into a dead end). The matcher
// (json_matcher.h) runs the result as a pushdown automaton over token bytes.
//
// Pieces, bottom-up:
//   CodepointSet  sets of Unicode scalar values (ranges)
//   CharNfa       an NFA over code points: what regexes, formats and key sets compile to
//   ByteNfa       the grammar NFA over bytes, with call edges between rules
//   EmitJsonString  CharNfa x length bounds -> JSON string body bytes (UTF-8, escapes)
//   JsonGrammar   the immutable determinized result, shareable across requests
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace lfm2::json_grammar {

inline constexpr uint32_t kMaxCodepoint = 0x10FFFF;

// A set of code points as sorted, disjoint, non-adjacent inclusive ranges.
class CodepointSet {
 public:
  CodepointSet() = default;
  static CodepointSet Range(uint32_t lo, uint32_t hi);
  static CodepointSet Single(uint32_t c) { return Range(c, c); }
  static CodepointSet All() { return Range(0, kMaxCodepoint); }

  void Add(uint32_t lo, uint32_t hi);
  void Add(const CodepointSet& other);
  CodepointSet Complement() const;
  CodepointSet Intersect(const CodepointSet& other) const;
  CodepointSet Minus(const CodepointSet& other) const;
  bool Contains(uint32_t c) const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<std::pair<uint32_t, uint32_t>>& ranges() const { return ranges_; }

 private:
  std::vector<std::pair<uint32_t, uint32_t>> ranges_;
};

// Thompson fragment: `start` and `end` states; the states it allocated are [first, limit), and no
// edge leaves that range, so a fragment can be copied (for counted repetition).
struct Fragment {
  int start = 0;
  int end = 0;
  int first = 0;
  int limit = 0;
};

// An NFA over code points with epsilon edges.
class CharNfa {
 public:
  struct Edge {
    int set;  // index into sets()
    int to;
  };
  int AddState();
  void AddEdge(int from, const CodepointSet& set, int to);
  void AddEpsilon(int from, int to);
  // A copy of `fragment` (fresh states).
  Fragment Copy(const Fragment& fragment);

  int num_states() const { return static_cast<int>(edges_.size()); }
  const std::vector<Edge>& edges(int state) const { return edges_[state]; }
  const std::vector<int>& epsilons(int state) const { return epsilons_[state]; }
  const CodepointSet& set(int index) const { return sets_[index]; }

  int start = 0;
  int final = 0;

 private:
  std::vector<std::vector<Edge>> edges_;
  std::vector<std::vector<int>> epsilons_;
  std::vector<CodepointSet> sets_;
};

struct GrammarLimits {
  int64_t max_nfa_states = 1 << 19;
  int64_t max_dfa_states = 1 << 17;
  // Call-stack depth the matcher allows (nesting of $ref calls and generic JSON containers).
  int max_stack_depth = 48;
};

// The grammar NFA over bytes. Rules are numbered; a call edge enters a rule at its start and
// continues at `to` once the rule reaches its end.
class ByteNfa {
 public:
  explicit ByteNfa(int64_t max_states) : max_states_(max_states) {}

  int AddState();
  void AddBytes(int from, uint8_t lo, uint8_t hi, int to);
  void AddEpsilon(int from, int to);
  void AddCall(int from, int rule, int to);
  // A fragment matching exactly `bytes`.
  Fragment Literal(std::string_view bytes);
  // A fragment matching nothing (start and end unconnected).
  Fragment Nothing();
  Fragment Copy(const Fragment& fragment);
  // Helpers building a fragment out of parts; they allocate the glue states.
  Fragment Sequence(const std::vector<Fragment>& parts);
  Fragment Alternatives(const std::vector<Fragment>& parts);
  Fragment Optional(const Fragment& part);

  // Rules: reserve an id, then set its body once built.
  int AddRule(std::string name);
  void SetRuleBody(int rule, const Fragment& body);
  int num_rules() const { return static_cast<int>(rules_.size()); }

  // False once more than max_states states were requested (the builder keeps going with state 0
  // so callers can check once at the end).
  bool over_budget() const { return over_budget_; }
  void MarkOverBudget() { over_budget_ = true; }
  int num_states() const { return static_cast<int>(nodes_.size()); }

 private:
  friend class Determinizer;
  struct ByteEdge {
    uint8_t lo, hi;
    int to;
  };
  struct CallEdge {
    int rule;
    int to;
  };
  struct Node {
    std::vector<ByteEdge> bytes;
    std::vector<int> epsilons;
    std::vector<CallEdge> calls;
  };
  struct Rule {
    std::string name;
    int start = -1;
    int end = -1;
  };
  std::vector<Node> nodes_;
  std::vector<Rule> rules_;
  int64_t max_states_;
  bool over_budget_ = false;
};

// The UTF-8 encodings of `set` (surrogates excluded) as sequences of byte ranges; each sequence
// is a product of ranges (e.g. [E1-EC][80-BF][80-BF]).
std::vector<std::vector<std::pair<uint8_t, uint8_t>>> Utf8ByteRanges(const CodepointSet& set);

// Appends UTF-8 byte paths for every code point of `set` (surrogates excluded) from `from` to `to`.
void AddUtf8(ByteNfa& nfa, int from, int to, const CodepointSet& set);

enum class EscapeMode {
  // Characters are written literally; only '"', '\' and controls are escaped (one spelling each:
  // \" \\ \b \f \n \r \t, else \u00XX). Every code point string has exactly one encoding, which
  // key-exclusion automata rely on.
  kMinimal,
  // Any JSON escape for any character (\/, \uXXXX incl. surrogate pairs) as well.
  kAll,
};

// The body of a JSON string (between the quotes) whose decoded code points are a word of `chars`
// with a length in [min_length, max_length] (max_length < 0: unbounded).
Fragment EmitJsonString(ByteNfa& nfa, const CharNfa& chars, int64_t min_length,
                        int64_t max_length, EscapeMode mode);

// The determinized grammar. DFA state 0 is dead; transitions are by byte class.
class JsonGrammar {
 public:
  enum Flag : uint8_t { kHasBytes = 1, kHasCalls = 2, kFinal = 4 };
  struct Call {
    uint32_t start;      // DFA start state of the called rule
    uint32_t on_return;  // DFA state to continue at in the caller
  };
  static constexpr uint8_t kUnreachableNeed = 255;
  // Set on a transition table entry whose target only reads bytes (no calls, not final) and needs
  // no more call-stack depth than the source: from a viable configuration the matcher's fast path
  // follows it without any further checks.
  static constexpr uint32_t kPlainBit = 0x80000000u;

  // Determinizes every rule reachable from `root`, trims states that cannot finish and checks
  // that no rule calls itself without consuming input.
  static StatusOr<std::shared_ptr<const JsonGrammar>> Build(const ByteNfa& nfa, int root,
                                                            const GrammarLimits& limits);

  uint32_t start() const { return start_; }
  int max_stack_depth() const { return max_stack_depth_; }
  uint32_t Next(uint32_t state, uint8_t byte) const {
    return next_[static_cast<size_t>(state) * num_classes_ + byte_class_[byte]] & ~kPlainBit;
  }
  uint8_t flags(uint32_t state) const { return flags_[state]; }
  // Extra call-stack depth needed to finish from `state` (kUnreachableNeed: never).
  uint8_t need(uint32_t state) const { return need_[state]; }
  std::span<const Call> calls(uint32_t state) const {
    return {calls_.data() + call_begin_[state], calls_.data() + call_begin_[state + 1]};
  }
  // How many arbitrary string-content characters (code points >= U+0020 other than '"' and '\\',
  // as UTF-8) `state` can read along kPlainBit transitions, partial last character included;
  // 255 = unbounded, 0 = not inside string content. Pairs with TrieNode::free_chars.
  uint8_t free_chars(uint32_t state) const { return free_chars_[state]; }
  size_t num_states() const { return flags_.size(); }
  int num_classes() const { return num_classes_; }
  // Bytes of the tables, for logs.
  size_t MemoryBytes() const;

  // Raw access for the matcher's inner loop; entries may carry kPlainBit.
  const uint32_t* next_table() const { return next_.data(); }
  const uint8_t* byte_class() const { return byte_class_; }

 private:
  friend class Determinizer;
  uint8_t byte_class_[256] = {};
  int num_classes_ = 1;
  uint32_t start_ = 0;
  int max_stack_depth_ = 0;
  std::vector<uint32_t> next_;   // [state * num_classes + class] -> state
  std::vector<uint8_t> flags_;
  std::vector<uint8_t> need_;
  std::vector<uint8_t> free_chars_;
  std::vector<uint32_t> call_begin_;  // [state, state + 1) into calls_
  std::vector<Call> calls_;
};

}  // namespace lfm2::json_grammar
