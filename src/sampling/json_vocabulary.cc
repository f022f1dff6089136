// sampling/json_vocabulary.cc - TokenVocabulary: token bytes, stop ids and the preorder trie.
#include "sampling/json_vocabulary.h"

#include <algorithm>
#include <numeric>

namespace lfm2 {
namespace {

// A strict UTF-8 recognizer for JSON string content (no controls, '"' or '\\'): 0 = on a
// character boundary, 1..3 = that many continuation bytes due, 4..7 = the restricted second
// byte after E0 / ED / F0 / F4, -1 = not string content.
int ContentStep(int state, uint8_t b) {
  const bool continuation = b >= 0x80 && b <= 0xBF;
  switch (state) {
    case 0:
      if (b < 0x20 || b == '"' || b == '\\') return -1;
      if (b < 0x80) return 0;
      if (b >= 0xC2 && b <= 0xDF) return 1;
      if (b == 0xE0) return 4;
      if (b == 0xED) return 5;
      if (b >= 0xE1 && b <= 0xEF) return 2;
      if (b == 0xF0) return 6;
      if (b >= 0xF1 && b <= 0xF3) return 3;
      if (b == 0xF4) return 7;
      return -1;
    case 1: return continuation ? 0 : -1;
    case 2: return continuation ? 1 : -1;
    case 3: return continuation ? 2 : -1;
    case 4: return b >= 0xA0 && b <= 0xBF ? 1 : -1;
    case 5: return b >= 0x80 && b <= 0x9F ? 1 : -1;
    case 6: return b >= 0x90 && b <= 0xBF ? 2 : -1;
    case 7: return b >= 0x80 && b <= 0x8F ? 2 : -1;
    default: return -1;
  }
}

// Sets TrieNode::free_chars from each node's content state and character count.
void ComputeFreeChars(TokenVocabulary::Trie& trie, const std::vector<uint32_t>& parent) {
  const size_t n = trie.size();
  std::vector<int8_t> content(n);   // ContentStep state after the node's path
  std::vector<uint32_t> chars(n);   // characters started along the path
  std::vector<uint8_t> clean(n);    // whole subtree is string content
  std::vector<uint32_t> max_chars(n);
  for (size_t k = 0; k < n; ++k) {
    const bool root = trie.nodes[k].depth == 1;
    const int before = root ? 0 : content[parent[k]];
    const uint32_t chars_before = root ? 0 : chars[parent[k]];
    content[k] = static_cast<int8_t>(before < 0 ? -1 : ContentStep(before, trie.nodes[k].byte));
    chars[k] = chars_before + (before == 0 ? 1 : 0);
    clean[k] = content[k] >= 0;
    max_chars[k] = chars[k];
  }
  for (size_t k = n; k-- > 0;) {
    if (trie.nodes[k].depth == 1) continue;
    clean[parent[k]] &= clean[k];
    max_chars[parent[k]] = std::max(max_chars[parent[k]], max_chars[k]);
  }
  for (size_t k = 0; k < n; ++k) {
    const bool root = trie.nodes[k].depth == 1;
    const bool at_boundary = root || content[parent[k]] == 0;
    const uint32_t added = max_chars[k] - (root ? 0 : chars[parent[k]]);
    trie.nodes[k].free_chars =
        clean[k] && at_boundary ? static_cast<uint8_t>(std::min<uint32_t>(added, 255)) : 0;
  }
}

}  // namespace

std::shared_ptr<const TokenVocabulary> TokenVocabulary::Create(std::vector<std::string> token_bytes,
                                                               std::vector<int32_t> stop_ids) {
  std::shared_ptr<TokenVocabulary> vocab(new TokenVocabulary());
  vocab->token_bytes_ = std::move(token_bytes);
  std::sort(stop_ids.begin(), stop_ids.end());
  stop_ids.erase(std::unique(stop_ids.begin(), stop_ids.end()), stop_ids.end());
  vocab->stop_ids_ = std::move(stop_ids);

  const auto& bytes = vocab->token_bytes_;
  std::vector<int32_t> order;
  for (int32_t id = 0; id < vocab->size(); ++id) {
    if (!bytes[id].empty() && bytes[id].size() <= kMaxTokenBytes && !vocab->IsStop(id)) {
      order.push_back(id);
    }
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return bytes[a] < bytes[b] || (bytes[a] == bytes[b] && a < b);
  });

  Trie& trie = vocab->trie_;
  std::vector<uint32_t> path;  // node index per depth - 1
  std::vector<uint32_t> parent;
  std::string_view previous;
  for (int32_t id : order) {
    const std::string_view word = bytes[id];
    size_t common = 0;
    while (common < word.size() && common < previous.size() && word[common] == previous[common]) {
      ++common;
    }
    while (path.size() > common) {
      trie.nodes[path.back()].end = static_cast<uint32_t>(trie.size());
      path.pop_back();
    }
    for (size_t i = common; i < word.size(); ++i) {
      parent.push_back(path.empty() ? 0 : path.back());
      path.push_back(static_cast<uint32_t>(trie.size()));
      trie.nodes.push_back({0, static_cast<uint16_t>(i + 1), static_cast<uint8_t>(word[i]), 0, 0});
      trie.token_begin.push_back(static_cast<uint32_t>(trie.tokens.size()));
    }
    trie.nodes.back().has_tokens = 1;
    trie.tokens.push_back(id);
    trie.max_depth = std::max<uint16_t>(trie.max_depth, static_cast<uint16_t>(word.size()));
    previous = word;
  }
  while (!path.empty()) {
    trie.nodes[path.back()].end = static_cast<uint32_t>(trie.size());
    path.pop_back();
  }
  trie.token_begin.push_back(static_cast<uint32_t>(trie.tokens.size()));
  ComputeFreeChars(trie, parent);
  return vocab;
}

bool TokenVocabulary::IsStop(int32_t id) const {
  return std::binary_search(stop_ids_.begin(), stop_ids_.end(), id);
}

}  // namespace lfm2
