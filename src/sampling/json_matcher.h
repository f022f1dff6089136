// sampling/json_matcher.h - runs a JsonGrammar as a pushdown automaton over token bytes: the
// state is a small set of configurations (DFA state, call stack), stacks are hash-consed in an
// arena so equal stacks have equal ids. Masking walks the vocabulary trie from the current set,
// pruning a subtree at the first byte the configuration rejects and accepting a whole subtree
// at once when it is plain string content the state can read. Configurations evolve
// independently, so a set's mask is the union of per-configuration masks; a small cache keyed by
// configuration makes repeated states (e.g. inside a long free-text string) nearly free.
//
// Invariant: every configuration can still reach the end of the document within the stack-depth
// limit (JsonGrammar::need), so any allowed token leaves a completable prefix - there are no dead
// ends as long as the vocabulary has the single-byte tokens the document needs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sampling/json_grammar.h"
#include "sampling/json_vocabulary.h"

namespace lfm2::json_grammar {

class GrammarMatcher {
 public:
  GrammarMatcher(std::shared_ptr<const JsonGrammar> grammar,
                 std::shared_ptr<const TokenVocabulary> vocab);

  // Back to the empty text.
  void Reset();

  // Bit i (bits[i / 64] >> i % 64) is set when token i may come next. Stop ids are set exactly
  // when the text so far is a complete document. Valid until the next Accept / Reset.
  const std::vector<uint64_t>& Allowed();

  // Advances by the token's bytes (a stop id: only checks completeness). False, state unchanged,
  // when the token is not allowed.
  bool Accept(int32_t token);
  // Advances by raw bytes; false, state unchanged, when they leave the language.
  bool AcceptBytes(std::string_view bytes);

  // The text so far is a whole document.
  bool complete() const;
  // Some more bytes may follow.
  bool can_continue() const;

  // The shortest byte string that completes the document from here ("" when complete), by
  // breadth-first search over configuration sets; nullopt when none is found within
  // `max_states` explored sets. For tests and for closing a truncated document.
  std::optional<std::string> ShortestCompletion(size_t max_states = 100000);

  // For benchmarks: turn the mask cache off to time the raw trie walk.
  void set_cache_enabled(bool enabled) { cache_enabled_ = enabled; }

  // Configuration-set size cap; extra (ambiguous) configurations are dropped, which only narrows
  // what can be generated and never admits invalid text.
  static constexpr size_t kMaxConfigs = 64;

 private:
  using Config = uint64_t;  // state << 32 | stack; 0 = the whole document was matched
  static constexpr Config kAccept = 0;
  struct StackNode {
    uint32_t on_return;
    uint32_t parent;
    int depth;
  };
  // The configurations after the prefix of the trie node at each depth: one (state, stack) pair
  // in the fast arrays when single_[d], else the set sets_[d].
  struct Levels {
    std::vector<uint8_t> single;
    std::vector<uint32_t> state, stack;
    std::vector<int> budget;  // max depth - stack depth, when single
    std::vector<std::vector<Config>> sets;
  };
  struct CacheEntry {
    Config key = kAccept;
    std::vector<uint64_t> bits;
    uint64_t last_used = 0;
  };

  uint32_t Push(uint32_t on_return, uint32_t parent);
  void Closure(uint32_t state, uint32_t stack, std::vector<Config>* out);
  void Step(const std::vector<Config>& from, uint8_t byte, std::vector<Config>* out);
  void SetLevel(size_t depth);
  void Walk(Config start, std::vector<uint64_t>* bits);
  // The tokens one configuration can read (cached).
  const std::vector<uint64_t>& MaskOf(Config config);
  void CompactStacks();

  std::shared_ptr<const JsonGrammar> grammar_;
  std::shared_ptr<const TokenVocabulary> vocab_;
  const JsonGrammar& g_;
  std::vector<StackNode> stacks_;  // [0] = empty stack
  std::unordered_map<uint64_t, uint32_t> stack_ids_;
  std::vector<Config> configs_;  // current set, sorted
  std::vector<uint64_t> allowed_;
  bool allowed_valid_ = false;
  Levels levels_;
  std::vector<Config> scratch_, scratch2_;
  std::vector<uint64_t> walk_bits_;  // MaskOf's result when the cache is off
  std::vector<CacheEntry> cache_;
  uint64_t cache_clock_ = 0;
  bool cache_enabled_ = true;
};

}  // namespace lfm2::json_grammar
