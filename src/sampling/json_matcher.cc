// sampling/json_matcher.cc - the pushdown matcher and the trie walk that computes token masks.
#include "sampling/json_matcher.h"

#include <algorithm>
#include <map>

namespace lfm2::json_grammar {
namespace {

constexpr size_t kMaxStackNodes = 1 << 18;  // compact the arena beyond this (~15 MB)
constexpr size_t kCacheEntries = 32;

uint32_t StateOf(uint64_t config) { return static_cast<uint32_t>(config >> 32); }
uint32_t StackOf(uint64_t config) { return static_cast<uint32_t>(config); }
uint64_t MakeConfig(uint32_t state, uint32_t stack) {
  return (static_cast<uint64_t>(state) << 32) | stack;
}

void AddUnique(std::vector<uint64_t>* out, uint64_t config, size_t cap) {
  if (std::find(out->begin(), out->end(), config) != out->end()) return;
  if (out->size() < cap) out->push_back(config);
}

}  // namespace

GrammarMatcher::GrammarMatcher(std::shared_ptr<const JsonGrammar> grammar,
                               std::shared_ptr<const TokenVocabulary> vocab)
    : grammar_(std::move(grammar)), vocab_(std::move(vocab)), g_(*grammar_) {
  const size_t depths = static_cast<size_t>(vocab_->trie().max_depth) + 1;
  levels_.single.assign(depths, 0);
  levels_.state.assign(depths, 0);
  levels_.stack.assign(depths, 0);
  levels_.budget.assign(depths, 0);
  levels_.sets.resize(depths);
  Reset();
}

void GrammarMatcher::Reset() {
  stacks_.assign(1, StackNode{0, 0, 0});
  stack_ids_.clear();
  cache_.clear();
  configs_.clear();
  if (g_.need(g_.start()) <= g_.max_stack_depth()) Closure(g_.start(), 0, &configs_);
  std::sort(configs_.begin(), configs_.end());
  allowed_valid_ = false;
}

uint32_t GrammarMatcher::Push(uint32_t on_return, uint32_t parent) {
  const uint64_t key = MakeConfig(on_return, parent);
  auto it = stack_ids_.find(key);
  if (it != stack_ids_.end()) return it->second;
  const auto id = static_cast<uint32_t>(stacks_.size());
  stacks_.push_back({on_return, parent, stacks_[parent].depth + 1});
  stack_ids_.emplace(key, id);
  return id;
}

// Adds the configurations reachable from (state, stack) without reading a byte: the state itself
// if it reads bytes, the starts of the rules it calls, and - at a rule's end - the caller's
// continuation (or kAccept at the end of the document). Precondition: (state, stack) is viable.
void GrammarMatcher::Closure(uint32_t state, uint32_t stack, std::vector<Config>* out) {
  if (out->size() >= kMaxConfigs) return;
  const uint8_t flags = g_.flags(state);
  if (flags & JsonGrammar::kHasBytes) AddUnique(out, MakeConfig(state, stack), kMaxConfigs);
  if (flags & JsonGrammar::kHasCalls) {
    const int depth = stacks_[stack].depth;
    const int max_depth = g_.max_stack_depth();
    for (const JsonGrammar::Call& call : g_.calls(state)) {
      if (depth + 1 + g_.need(call.start) <= max_depth && depth + g_.need(call.on_return) <= max_depth) {
        Closure(call.start, Push(call.on_return, stack), out);
      }
    }
  }
  if (flags & JsonGrammar::kFinal) {
    if (stack == 0) {
      AddUnique(out, kAccept, kMaxConfigs);
    } else {
      const StackNode node = stacks_[stack];
      Closure(node.on_return, node.parent, out);
    }
  }
}

void GrammarMatcher::Step(const std::vector<Config>& from, uint8_t byte, std::vector<Config>* out) {
  out->clear();
  const int max_depth = g_.max_stack_depth();
  for (Config config : from) {
    if (config == kAccept) continue;
    const uint32_t stack = StackOf(config);
    const uint32_t next = g_.Next(StateOf(config), byte);
    if (next == 0 || stacks_[stack].depth + g_.need(next) > max_depth) continue;
    Closure(next, stack, out);
  }
}

// Classifies sets_[depth]: a single non-accepting configuration goes to the fast arrays.
void GrammarMatcher::SetLevel(size_t depth) {
  const std::vector<Config>& set = levels_.sets[depth];
  levels_.single[depth] = set.size() == 1 && set[0] != kAccept;
  if (levels_.single[depth]) {
    levels_.state[depth] = StateOf(set[0]);
    levels_.stack[depth] = StackOf(set[0]);
    levels_.budget[depth] = g_.max_stack_depth() - stacks_[levels_.stack[depth]].depth;
  }
}

// Marks every token whose bytes the current configurations can read, walking the trie in
// preorder and skipping a subtree as soon as its prefix is rejected. The inner loop handles the
// common case - one configuration, a transition to a plain state (kPlainBit) - with one table
// lookup per trie node; anything else (calls, rule ends, several configurations, need checks)
// goes through Closure / Step.
void GrammarMatcher::Walk(Config start, std::vector<uint64_t>* bits) {
  const TokenVocabulary::Trie& trie = vocab_->trie();
  const TokenVocabulary::TrieNode* nodes = trie.nodes.data();
  const uint32_t* next_table = g_.next_table();
  const uint8_t* byte_class = g_.byte_class();
  const size_t num_classes = static_cast<size_t>(g_.num_classes());
  uint8_t* single = levels_.single.data();
  uint32_t* state = levels_.state.data();
  uint32_t* stack = levels_.stack.data();
  int* budget = levels_.budget.data();
  uint64_t* out = bits->data();
  levels_.sets[0].assign(1, start);
  SetLevel(0);
  const size_t n = trie.size();
  size_t k = 0;
  while (k < n) {
    const TokenVocabulary::TrieNode node = nodes[k];
    const size_t d = node.depth;
    bool alive = true;
    if (single[d - 1] && node.free_chars != 0 && g_.free_chars(state[d - 1]) >= node.free_chars) {
      // Plain string content the state can read: every token of the subtree is allowed.
      for (uint32_t t = trie.token_begin[k]; t < trie.token_begin[node.end]; ++t) {
        const auto id = static_cast<uint32_t>(trie.tokens[t]);
        out[id >> 6] |= uint64_t{1} << (id & 63);
      }
      k = node.end;
      continue;
    }
    if (single[d - 1]) {
      const uint32_t entry = next_table[state[d - 1] * num_classes + byte_class[node.byte]];
      if (entry & JsonGrammar::kPlainBit) {
        single[d] = 1;
        state[d] = entry & ~JsonGrammar::kPlainBit;
        stack[d] = stack[d - 1];
        budget[d] = budget[d - 1];
      } else if (entry == 0 || g_.need(entry) > budget[d - 1]) {
        alive = false;
      } else {
        levels_.sets[d].clear();
        Closure(entry, stack[d - 1], &levels_.sets[d]);
        SetLevel(d);
      }
    } else {
      Step(levels_.sets[d - 1], node.byte, &levels_.sets[d]);
      alive = !levels_.sets[d].empty();
      if (alive) SetLevel(d);
    }
    if (!alive) {
      k = node.end;
      continue;
    }
    if (node.has_tokens) {
      for (uint32_t t = trie.token_begin[k]; t < trie.token_begin[k + 1]; ++t) {
        const auto id = static_cast<uint32_t>(trie.tokens[t]);
        out[id >> 6] |= uint64_t{1} << (id & 63);
      }
    }
    ++k;
  }
}

const std::vector<uint64_t>& GrammarMatcher::MaskOf(Config config) {
  const size_t words = (static_cast<size_t>(vocab_->size()) + 63) / 64;
  if (!cache_enabled_) {
    walk_bits_.assign(words, 0);
    Walk(config, &walk_bits_);
    return walk_bits_;
  }
  CacheEntry* entry = nullptr;
  for (CacheEntry& e : cache_) {
    if (e.key == config && !e.bits.empty()) entry = &e;
  }
  if (entry == nullptr) {
    if (cache_.size() < kCacheEntries) {
      cache_.emplace_back();
      entry = &cache_.back();
    } else {
      entry = &*std::min_element(cache_.begin(), cache_.end(), [](const auto& a, const auto& b) {
        return a.last_used < b.last_used;
      });
    }
    entry->key = config;
    entry->bits.assign(words, 0);
    Walk(config, &entry->bits);
  }
  entry->last_used = ++cache_clock_;
  return entry->bits;
}

const std::vector<uint64_t>& GrammarMatcher::Allowed() {
  if (allowed_valid_) return allowed_;
  const size_t words = (static_cast<size_t>(vocab_->size()) + 63) / 64;
  allowed_.assign(words, 0);
  for (Config config : configs_) {
    if (config == kAccept) continue;
    const std::vector<uint64_t>& bits = MaskOf(config);
    for (size_t w = 0; w < words; ++w) allowed_[w] |= bits[w];
  }
  const bool done = complete();
  for (int32_t id : vocab_->stop_ids()) {
    if (id < 0 || id >= vocab_->size()) continue;
    const uint64_t bit = uint64_t{1} << (id & 63);
    if (done) {
      allowed_[id >> 6] |= bit;
    } else {
      allowed_[id >> 6] &= ~bit;
    }
  }
  allowed_valid_ = true;
  return allowed_;
}

bool GrammarMatcher::AcceptBytes(std::string_view bytes) {
  if (bytes.empty()) return true;
  scratch_ = configs_;
  for (char c : bytes) {
    Step(scratch_, static_cast<uint8_t>(c), &scratch2_);
    if (scratch2_.empty()) return false;
    std::swap(scratch_, scratch2_);
  }
  configs_ = scratch_;
  std::sort(configs_.begin(), configs_.end());
  allowed_valid_ = false;
  if (stacks_.size() > kMaxStackNodes) CompactStacks();
  return true;
}

bool GrammarMatcher::Accept(int32_t token) {
  if (vocab_->IsStop(token)) return complete();
  const std::string_view bytes = vocab_->bytes(token);
  if (bytes.empty() || bytes.size() > TokenVocabulary::kMaxTokenBytes) return false;
  return AcceptBytes(bytes);
}

bool GrammarMatcher::complete() const {
  return !configs_.empty() && configs_.front() == kAccept;
}

bool GrammarMatcher::can_continue() const {
  return !configs_.empty() && configs_.back() != kAccept;
}

std::optional<std::string> GrammarMatcher::ShortestCompletion(size_t max_states) {
  if (complete()) return std::string();
  struct Node {
    std::vector<Config> set;
    size_t parent;
    uint8_t byte;
  };
  std::vector<Node> nodes = {{configs_, 0, 0}};
  std::map<std::vector<Config>, size_t> seen = {{configs_, 0}};
  std::vector<Config> next;
  for (size_t i = 0; i < nodes.size() && nodes.size() < max_states; ++i) {
    for (int byte = 0; byte < 256; ++byte) {
      Step(nodes[i].set, static_cast<uint8_t>(byte), &next);
      if (next.empty()) continue;
      std::sort(next.begin(), next.end());
      if (!seen.emplace(next, nodes.size()).second) continue;
      nodes.push_back({next, i, static_cast<uint8_t>(byte)});
      if (next.front() == kAccept) {
        std::string out;
        for (size_t k = nodes.size() - 1; k != 0; k = nodes[k].parent) {
          out.push_back(static_cast<char>(nodes[k].byte));
        }
        return std::string(out.rbegin(), out.rend());
      }
    }
  }
  return std::nullopt;
}

// Rebuilds the stack arena with only the stacks the current configurations use.
void GrammarMatcher::CompactStacks() {
  std::vector<StackNode> old = std::move(stacks_);
  stacks_.assign(1, StackNode{0, 0, 0});
  stack_ids_.clear();
  cache_.clear();
  std::unordered_map<uint32_t, uint32_t> remap = {{0, 0}};
  auto reintern = [&](auto&& self, uint32_t id) -> uint32_t {
    auto it = remap.find(id);
    if (it != remap.end()) return it->second;
    const uint32_t parent = self(self, old[id].parent);
    const uint32_t fresh = Push(old[id].on_return, parent);
    remap.emplace(id, fresh);
    return fresh;
  };
  for (Config& config : configs_) {
    if (config != kAccept) config = MakeConfig(StateOf(config), reintern(reintern, StackOf(config)));
  }
  std::sort(configs_.begin(), configs_.end());
}

}  // namespace lfm2::json_grammar
