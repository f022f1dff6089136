// tokenizer/bpe.h - the BPE model of tokenizer.json ("model": {"type": "BPE", ...}): vocabulary,
// merge ranks and HF's merge loop (models/bpe/word.rs), plus a word cache keyed by pre-token.
// Sits after the pre-tokenizer in the flow: text -> added tokens -> pre-tokenizer -> BPE -> ids.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "io/json.h"

namespace lfm2::tokenizer {

// Hash for heterogeneous std::string / std::string_view lookups.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // Ids above this are refused (they would size per-id tables; LFM2 uses 64,400).
  static constexpr int64_t kMaxId = (int64_t{1} << 24) - 1;

  // Parses and validates the "model" object. `where` names it in errors ("tokenizer.json: model").
  // Errors: type other than BPE, vocab ids negative / above kMaxId / shared by two entries,
  // merges in neither format or naming tokens (or a merged result) missing from the vocab,
  // dropout > 0 (non-deterministic), unk_token missing from the vocab.
  static StatusOr<BpeModel> FromJson(const Json& model, std::string_view where);

  BpeModel(BpeModel&&) noexcept;
  BpeModel& operator=(BpeModel&&) noexcept;
  ~BpeModel();

  // Appends the ids of one pre-token. With `byte_mapped` the piece holds raw bytes that stand for
  // their ByteLevel characters (the mapping is applied on the fly); otherwise its characters are
  // the symbols. Thread-safe. Characters with no vocab entry are handled as HF does (byte
  // fallback, then unk_token, else dropped).
  void Tokenize(std::string_view piece, bool byte_mapped, std::vector<int32_t>* ids) const;

  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The vocab string of `id`, or nullptr when no vocab entry has that id.
  const std::string* IdToToken(int32_t id) const;
  // Number of vocab entries (HF's get_vocab_size for BPE; added tokens get ids from here on).
  size_t entry_count() const { return vocab_.size(); }
  // 1 + the largest vocab id.
  int32_t id_limit() const { return static_cast<int32_t>(id_to_token_.size()); }

 private:
  struct MergeTable;
  struct Cache;
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    int32_t length;  // 0 marks a symbol merged into its left neighbour
  };

  BpeModel();
  void MergeWord(std::vector<Symbol>* symbols) const;
  // HF merge_word's symbol construction over the characters of `text`.
  void CharSymbols(std::string_view text, std::vector<Symbol>* symbols) const;

  StringMap<int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_token_;
  std::unique_ptr<MergeTable> merges_;
  std::unique_ptr<Cache> cache_;
  int32_t byte_ids_[256];  // id of each byte's ByteLevel character, -1 if absent
  bool byte_path_ = true;  // byte-mapped pieces can use byte_ids_ directly
  std::optional<int32_t> unk_id_;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
};

}  // namespace lfm2::tokenizer
