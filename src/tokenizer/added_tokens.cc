// tokenizer/added_tokens.cc - HF AddedVocabulary: id assignment and the two-pass, leftmost-longest
// carving of added tokens (see added_tokens.h).
#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <map>

#include "tokenizer/unicode_regex.h"
#include "tokenizer/unicode_util.h"

namespace lfm2::tokenizer {
namespace {

// Rust regex's Unicode \s (White_Space), used by HF's lstrip / rstrip.
bool IsWhiteSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

// Rust regex's Unicode \w (Alphabetic | M | Nd | Pc | Join_Control), used by single_word.
bool IsWordCharacter(std::string_view character) {
  static const Regex* word = [] {
    auto regex = Regex::FromOniguruma("[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]");
    LFM2_CHECK_MSG(regex.ok(), "word-character regex must compile");
    return new Regex(std::move(regex).value());
  }();
  std::vector<Regex::Match> matches;
  word->FindAll(character, &matches);
  return !matches.empty();
}

std::string_view LastCharacter(std::string_view text) {
  size_t start = text.size();
  while (start > 0) {
    --start;
    if ((static_cast<unsigned char>(text[start]) & 0xC0) != 0x80) break;
  }
  return text.substr(start);
}

std::string_view FirstCharacter(std::string_view text) {
  if (text.empty()) return text;
  return text.substr(0, std::min(text.size(), Utf8CharLength(static_cast<unsigned char>(text[0]))));
}

// \w$ and ^\w.
bool EndsWithWord(std::string_view text) {
  return !text.empty() && IsWordCharacter(LastCharacter(text));
}
bool StartsWithWord(std::string_view text) {
  return !text.empty() && IsWordCharacter(FirstCharacter(text));
}

// Start of the trailing white-space run (\s*$ leftmost match).
size_t SpaceLeftmostAtEnd(std::string_view text) {
  size_t start = text.size();
  while (start > 0) {
    const std::string_view last = LastCharacter(text.substr(0, start));
    size_t pos = 0;
    if (!IsWhiteSpace(DecodeUtf8(last, &pos))) break;
    start -= last.size();
  }
  return start;
}

// End of the leading white-space run (^\s* match).
size_t SpaceRightmostAtStart(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t next = pos;
    if (!IsWhiteSpace(DecodeUtf8(text, &next))) break;
    pos = next;
  }
  return pos;
}

}  // namespace

void AddedVocabulary::Trie::Insert(std::string_view content, int32_t token) {
  if (nodes.empty()) nodes.emplace_back();
  int32_t node = 0;
  for (char c : content) {
    const unsigned char byte = static_cast<unsigned char>(c);
    auto& children = nodes[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), byte,
                               [](const auto& child, unsigned char b) { return child.first < b; });
    if (it != children.end() && it->first == byte) {
      node = it->second;
      continue;
    }
    const int32_t child = static_cast<int32_t>(nodes.size());
    children.insert(it, {byte, child});  // invalidates `children` only after use
    nodes.emplace_back();
    node = child;
  }
  nodes[node].token = token;
  first_byte[static_cast<unsigned char>(content[0])] = true;
}

int32_t AddedVocabulary::Trie::LongestAt(std::string_view text, size_t pos, size_t* length) const {
  int32_t node = 0;
  int32_t found = -1;
  for (size_t i = pos; i < text.size(); ++i) {
    const unsigned char byte = static_cast<unsigned char>(text[i]);
    const auto& children = nodes[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), byte,
                               [](const auto& child, unsigned char b) { return child.first < b; });
    if (it == children.end() || it->first != byte) break;
    node = it->second;
    if (nodes[node].token >= 0) {
      found = nodes[node].token;
      *length = i + 1 - pos;
    }
  }
  return found;
}

StatusOr<AddedVocabulary> AddedVocabulary::FromJson(const Json* added_tokens, const BpeModel& model,
                                                    std::string_view where) {
  AddedVocabulary vocabulary;
  if (added_tokens == nullptr || added_tokens->is_null()) return vocabulary;
  if (!added_tokens->is_array()) {
    return InvalidArgumentError(where, ": expected an array, got ", JsonTypeName(*added_tokens));
  }
  std::map<int32_t, AddedToken> by_id;  // HF added_tokens_map_r
  int64_t next_id = static_cast<int64_t>(model.entry_count());
  for (size_t i = 0; i < added_tokens->size(); ++i) {
    const Json& entry = (*added_tokens)[i];
    const std::string entry_where = StrCat(where, "[", i, "]");
    if (!entry.is_object()) return InvalidArgumentError(entry_where, ": expected an object");
    AddedToken token;
    LFM2_ASSIGN_OR_RETURN(token.content, GetString(entry, "content", entry_where));
    LFM2_ASSIGN_OR_RETURN(int64_t file_id, GetInt(entry, "id", entry_where));
    if (file_id < 0 || file_id > BpeModel::kMaxId) {
      return InvalidArgumentError(entry_where, ": id ", file_id, " out of range [0, ",
                                  BpeModel::kMaxId, "]");
    }
    LFM2_ASSIGN_OR_RETURN(token.special, FindBool(entry, "special", false, entry_where));
    LFM2_ASSIGN_OR_RETURN(token.single_word, FindBool(entry, "single_word", false, entry_where));
    LFM2_ASSIGN_OR_RETURN(token.lstrip, FindBool(entry, "lstrip", false, entry_where));
    LFM2_ASSIGN_OR_RETURN(token.rstrip, FindBool(entry, "rstrip", false, entry_where));
    LFM2_ASSIGN_OR_RETURN(token.normalized,
                          FindBool(entry, "normalized", !token.special, entry_where));
    if (token.content.empty()) continue;
    if (!IsValidUtf8(token.content))
      return InvalidArgumentError(entry_where, ": content is not UTF-8");
    int64_t id;
    if (auto it = vocabulary.id_by_content_.find(token.content);
        it != vocabulary.id_by_content_.end()) {
      id = it->second;
    } else if (auto vocab_id = model.TokenToId(token.content)) {
      id = *vocab_id;
    } else {
      id = next_id++;
      if (id > BpeModel::kMaxId)
        return InvalidArgumentError(entry_where, ": too many added tokens");
    }
    token.id = static_cast<int32_t>(id);
    vocabulary.id_by_content_[token.content] = token.id;
    if (token.special) vocabulary.special_contents_.insert(token.content);
    by_id[token.id] = std::move(token);
  }
  for (auto& [id, token] : by_id) {
    token.special = vocabulary.special_contents_.count(token.content) > 0;
    const int32_t index = static_cast<int32_t>(vocabulary.tokens_.size());
    vocabulary.index_by_id_[id] = index;
    (token.normalized ? vocabulary.normalized_ : vocabulary.non_normalized_)
        .Insert(token.content, index);
    vocabulary.id_limit_ = std::max(vocabulary.id_limit_, id + 1);
    vocabulary.tokens_.push_back(std::move(token));
  }
  return vocabulary;
}

const AddedToken* AddedVocabulary::FindById(int32_t id) const {
  auto it = index_by_id_.find(id);
  return it == index_by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedVocabulary::FindByContent(std::string_view content) const {
  auto it = id_by_content_.find(content);
  if (it == id_by_content_.end()) return std::nullopt;
  return it->second;
}

namespace {

// Whether [begin, end) overlaps one of the sorted, disjoint `ranges`.
bool OverlapsAny(std::span<const std::pair<size_t, size_t>> ranges, size_t begin, size_t end) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), begin,
                             [](size_t at, const std::pair<size_t, size_t>& r) { return at < r.second; });
  return it != ranges.end() && it->first < end;
}

}  // namespace

void AddedVocabulary::FindMatches(std::string_view sentence, const Trie& trie, bool parse_special,
                                  std::span<const std::pair<size_t, size_t>> plain_ranges, size_t base,
                                  std::vector<Match>* matches) const {
  matches->clear();
  if (trie.empty()) {
    matches->push_back({-1, 0, sentence.size()});
    return;
  }
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < sentence.size()) {
    if (!trie.first_byte[static_cast<unsigned char>(sentence[pos])]) {
      ++pos;
      continue;
    }
    size_t length = 0;
    const int32_t index = trie.LongestAt(sentence, pos, &length);
    if (index < 0) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = pos + length;
    pos = stop;  // the automaton resumes after the raw match, whatever the strip flags do
    const AddedToken& token = tokens_[index];
    if (token.special && (!parse_special || OverlapsAny(plain_ranges, base + start, base + stop))) continue;
    if (token.single_word) {
      const bool start_space = start == 0 || !EndsWithWord(sentence.substr(0, start));
      const bool stop_space = stop == sentence.size() || !StartsWithWord(sentence.substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (token.lstrip) start = std::max(SpaceLeftmostAtEnd(sentence.substr(0, start)), start_offset);
    if (token.rstrip) stop += SpaceRightmostAtStart(sentence.substr(stop));
    if (start_offset < start) matches->push_back({-1, start_offset, start});
    matches->push_back({token.id, start, stop});
    start_offset = stop;
  }
  if (start_offset != sentence.size()) matches->push_back({-1, start_offset, sentence.size()});
}

void AddedVocabulary::Split(std::string_view text, bool parse_special, std::vector<Piece>* pieces,
                            std::span<const std::pair<size_t, size_t>> plain_ranges) const {
  std::vector<Match> first_pass, second_pass;
  FindMatches(text, non_normalized_, parse_special, plain_ranges, 0, &first_pass);
  for (const Match& match : first_pass) {
    const std::string_view piece = text.substr(match.start, match.end - match.start);
    if (piece.empty()) continue;
    if (match.id >= 0) {
      pieces->push_back({piece, match.id});
      continue;
    }
    // No normalizer: the normalized-token pass sees the piece as it is.
    FindMatches(piece, normalized_, parse_special, plain_ranges, match.start, &second_pass);
    for (const Match& inner : second_pass) {
      const std::string_view sub = piece.substr(inner.start, inner.end - inner.start);
      if (!sub.empty()) pieces->push_back({sub, inner.id});
    }
  }
}

}  // namespace lfm2::tokenizer
