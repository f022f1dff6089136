// tokenizer/added_tokens.h - tokenizer.json "added_tokens" (specials like <|im_start|> and plain
// added words), carved out of the raw text before the pre-tokenizer, exactly as HF's
// AddedVocabulary does: pass 1 finds the tokens with normalized=false in the whole text, pass 2
// the normalized=true ones in each leftover piece; each pass scans leftmost-longest without
// overlaps, honouring single_word / lstrip / rstrip.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "io/json.h"
#include "tokenizer/bpe.h"

namespace lfm2::tokenizer {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;  // content is in HF's special-token set
};

class AddedVocabulary {
 public:
  // One piece of the input: an added token (id >= 0) or text still to be pre-tokenized (id -1).
  struct Piece {
    std::string_view text;
    int32_t id;
  };

  // Parses the "added_tokens" array (null or missing = none). Ids are assigned like HF's
  // add_tokens: the vocab id when the content is a vocab entry (the file's "id" is then only
  // informational, as in HF), otherwise the next free id after the vocab (entry count, then +1 per
  // new token, in file order). Later entries with the same content replace the flags of earlier
  // ones; empty contents are ignored.
  static StatusOr<AddedVocabulary> FromJson(const Json* added_tokens, const BpeModel& model,
                                            std::string_view where);

  // Splits `text` (valid UTF-8) into pieces covering it in order; empty pieces are dropped. With
  // `parse_special` false, matches of special tokens are skipped (HF encode_special_tokens);
  // so are those overlapping one of `plain_ranges` (sorted, disjoint byte ranges of `text`).
  void Split(std::string_view text, bool parse_special, std::vector<Piece>* pieces,
             std::span<const std::pair<size_t, size_t>> plain_ranges = {}) const;

  const AddedToken* FindById(int32_t id) const;
  std::optional<int32_t> FindByContent(std::string_view content) const;
  bool IsSpecialContent(std::string_view content) const {
    return special_contents_.count(std::string(content)) > 0;
  }
  // 1 + the largest added-token id (0 when there are none).
  int32_t id_limit() const { return id_limit_; }
  bool empty() const { return tokens_.empty(); }

 private:
  // Byte trie over token contents for leftmost-longest matching.
  struct Trie {
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
      int32_t token = -1;                                       // index into tokens_
    };
    std::vector<Node> nodes;
    bool first_byte[256] = {};

    bool empty() const { return nodes.size() <= 1; }
    void Insert(std::string_view content, int32_t token);
    // Longest token starting at text[pos]: sets *length and returns its index, or -1.
    int32_t LongestAt(std::string_view text, size_t pos, size_t* length) const;
  };
  struct Match {
    int32_t id;  // -1: plain text
    size_t start;
    size_t end;
  };
  // HF find_matches over one trie. `sentence` starts at byte `base` of the text whose
  // `plain_ranges` are given.
  void FindMatches(std::string_view sentence, const Trie& trie, bool parse_special,
                   std::span<const std::pair<size_t, size_t>> plain_ranges, size_t base,
                   std::vector<Match>* matches) const;

  std::vector<AddedToken> tokens_;  // HF's added_tokens_map_r values (one per id), by id
  std::unordered_map<int32_t, int32_t> index_by_id_;
  StringMap<int32_t> id_by_content_;  // HF's added_tokens_map
  std::unordered_set<std::string> special_contents_;
  Trie non_normalized_;
  Trie normalized_;
  int32_t id_limit_ = 0;
};

}  // namespace lfm2::tokenizer
