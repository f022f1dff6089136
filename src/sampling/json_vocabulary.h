// sampling/json_vocabulary.h - the vocabulary as constrained decoding sees it: the bytes each
// token adds to the text (plain data, so sampling/ needs no Tokenizer) and the stop ids, plus a
// byte trie over all tokens in preorder, built once per vocabulary and shared by every request.
// Masking walks the trie and skips whole subtrees once a prefix is rejected.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lfm2 {

class TokenVocabulary {
 public:
  // `token_bytes[id]` are the bytes token `id` contributes to the text (for byte-level BPE: the
  // ByteLevel-decoded token). Empty entries (special tokens, unused ids) are never allowed inside
  // a constrained value. `stop_ids` end generation: allowed exactly when the value is complete.
  // Cost: sorting the tokens, O(total bytes log n); about 60 ms for 65k tokens.
  static std::shared_ptr<const TokenVocabulary> Create(std::vector<std::string> token_bytes,
                                                       std::vector<int32_t> stop_ids);

  int32_t size() const { return static_cast<int32_t>(token_bytes_.size()); }
  std::string_view bytes(int32_t id) const {
    return id >= 0 && id < size() ? std::string_view(token_bytes_[id]) : std::string_view();
  }
  bool IsStop(int32_t id) const;
  const std::vector<int32_t>& stop_ids() const { return stop_ids_; }

  // Trie nodes in preorder (the root is implicit). Node k adds `byte` at `depth` (1 = first byte
  // of a token); its subtree is [k, end); when has_tokens, the tokens whose bytes end exactly
  // there are tokens[token_begin[k] .. token_begin[k + 1]).
  // free_chars: when non-zero, every token in the subtree continues the path to this node's
  // parent (which ends on a character boundary) with well-formed UTF-8 string content - code
  // points >= U+0020 other than '"' and '\\' - adding at most free_chars characters (a partial
  // character at the end counts as one). A matcher state that can read that many arbitrary
  // characters (JsonGrammar::free_chars) accepts the whole subtree without walking it.
  struct TrieNode {
    uint32_t end;
    uint16_t depth;
    uint8_t byte;
    uint8_t has_tokens;
    uint8_t free_chars;
  };
  struct Trie {
    std::vector<TrieNode> nodes;
    std::vector<uint32_t> token_begin;  // size = nodes + 1
    std::vector<int32_t> tokens;
    uint16_t max_depth = 0;
    size_t size() const { return nodes.size(); }
  };
  const Trie& trie() const { return trie_; }

  // Tokens longer than this are never allowed (the trie's depth is 16-bit).
  static constexpr size_t kMaxTokenBytes = 4096;

 private:
  TokenVocabulary() = default;
  std::vector<std::string> token_bytes_;
  std::vector<int32_t> stop_ids_;  // sorted, unique
  Trie trie_;
};

}  // namespace lfm2
