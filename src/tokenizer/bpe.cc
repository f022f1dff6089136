// tokenizer/bpe.cc - BPE model: loading/validation, HF's merge loop, word cache (see bpe.h).
#include "tokenizer/bpe.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "tokenizer/byte_level.h"
#include "tokenizer/unicode_util.h"

namespace lfm2::tokenizer {

// (left id, right id) -> (rank, merged id); open addressing, later duplicates overwrite earlier
// ones exactly like HF's HashMap collect does.
struct BpeModel::MergeTable {
  struct Slot {
    uint64_t key = kEmpty;
    uint32_t rank = 0;
    int32_t new_id = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  std::vector<Slot> slots;
  size_t mask = 0;

  static uint64_t Key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  static size_t Hash(uint64_t key) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return static_cast<size_t>(key);
  }
  void Reserve(size_t count) {
    size_t capacity = 16;
    while (capacity < 2 * count + 16) capacity *= 2;
    slots.assign(capacity, Slot{});
    mask = capacity - 1;
  }
  void Insert(int32_t left, int32_t right, uint32_t rank, int32_t new_id) {
    const uint64_t key = Key(left, right);
    for (size_t i = Hash(key) & mask;; i = (i + 1) & mask) {
      if (slots[i].key == kEmpty || slots[i].key == key) {
        slots[i] = Slot{key, rank, new_id};
        return;
      }
    }
  }
  const Slot* Find(int32_t left, int32_t right) const {
    const uint64_t key = Key(left, right);
    for (size_t i = Hash(key) & mask;; i = (i + 1) & mask) {
      if (slots[i].key == key) return &slots[i];
      if (slots[i].key == kEmpty) return nullptr;
    }
  }
};

// Pre-token -> ids, one table per piece kind (raw bytes to be byte-mapped, or plain text): open
// addressing over (hash, arena offset) slots, each key's bytes followed by its ids in one arena,
// so a hit costs about two cache misses. Emptied when full (bounded memory, adapts to new text).
struct BpeModel::Cache {
  static constexpr size_t kSlots = size_t{1} << 17;  // power of two
  static constexpr size_t kMaxEntries = kSlots / 2;  // load factor <= 1/2
  static constexpr size_t kMaxArenaBytes = size_t{8} << 20;
  static constexpr size_t kMaxKeyLength = 256;  // longer pieces are not cached (as HF)

  struct Slot {
    uint64_t hash = 0;  // 0 = empty
    uint32_t offset = 0;
    uint16_t key_length = 0;
    uint16_t id_count = 0;
  };
  struct Table {
    std::vector<Slot> slots;  // allocated on first insert
    std::string arena;
    size_t entries = 0;
  };

  std::mutex mutex;
  Table tables[2];

  static uint64_t Hash(std::string_view key) {
    uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, then a final mix
    for (char c : key) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h | 1;  // never 0
  }

  // Appends the cached ids of `key` to `ids` and returns true on a hit.
  bool Find(int kind, std::string_view key, uint64_t hash, std::vector<int32_t>* ids) {
    const Table& table = tables[kind];
    if (table.slots.empty()) return false;
    for (size_t i = hash & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      const Slot& slot = table.slots[i];
      if (slot.hash == 0) return false;
      if (slot.hash != hash || slot.key_length != key.size()) continue;
      const char* stored = table.arena.data() + slot.offset;
      if (std::memcmp(stored, key.data(), key.size()) != 0) continue;
      const size_t first = ids->size();
      ids->resize(first + slot.id_count);
      std::memcpy(ids->data() + first, stored + key.size(), slot.id_count * sizeof(int32_t));
      return true;
    }
  }

  void Insert(int kind, std::string_view key, uint64_t hash, const int32_t* ids, size_t count) {
    if (count > UINT16_MAX) return;
    Table& table = tables[kind];
    const size_t bytes = key.size() + count * sizeof(int32_t);
    if (table.entries >= kMaxEntries || table.arena.size() + bytes > kMaxArenaBytes) {
      table.slots.assign(kSlots, Slot{});
      table.arena.clear();
      table.entries = 0;
    }
    if (table.slots.empty()) table.slots.assign(kSlots, Slot{});
    size_t i = hash & (kSlots - 1);
    while (table.slots[i].hash != 0) {
      const Slot& slot = table.slots[i];
      if (slot.hash == hash && slot.key_length == key.size() &&
          std::memcmp(table.arena.data() + slot.offset, key.data(), key.size()) == 0) {
        return;  // another thread inserted it meanwhile
      }
      i = (i + 1) & (kSlots - 1);
    }
    const size_t offset = table.arena.size();
    table.arena.append(key);
    table.arena.append(reinterpret_cast<const char*>(ids), count * sizeof(int32_t));
    table.slots[i] = Slot{hash, static_cast<uint32_t>(offset), static_cast<uint16_t>(key.size()),
                          static_cast<uint16_t>(count)};
    ++table.entries;
  }
};

namespace {

// Reads one id value: an integer in [0, kMaxId].
StatusOr<int32_t> ReadId(const Json& value, std::string_view where) {
  if (!value.is_number_integer()) {
    return InvalidArgumentError(where, ": expected an integer id, got ", JsonTypeName(value));
  }
  if (value.is_number_unsigned()
          ? value.get<uint64_t>() > static_cast<uint64_t>(BpeModel::kMaxId)
          : (value.get<int64_t>() < 0 || value.get<int64_t>() > BpeModel::kMaxId)) {
    return InvalidArgumentError(where, ": id ", DumpJson(value), " out of range [0, ",
                                BpeModel::kMaxId, "]");
  }
  return static_cast<int32_t>(value.get<int64_t>());
}

std::string Quoted(std::string_view text) { return DumpJson(Json(std::string(text))); }

}  // namespace

BpeModel::BpeModel() : merges_(std::make_unique<MergeTable>()), cache_(std::make_unique<Cache>()) {
  std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
}
BpeModel::BpeModel(BpeModel&&) noexcept = default;
BpeModel& BpeModel::operator=(BpeModel&&) noexcept = default;
BpeModel::~BpeModel() = default;

StatusOr<BpeModel> BpeModel::FromJson(const Json& model, std::string_view where) {
  if (!model.is_object()) {
    return InvalidArgumentError(where, ": expected an object, got ", JsonTypeName(model));
  }
  LFM2_ASSIGN_OR_RETURN(std::string type, FindString(model, "type", "BPE", where));
  if (type != "BPE") {
    return UnsupportedError(where, ": unsupported model type \"", type,
                            "\" (only BPE is implemented)");
  }
  BpeModel bpe;

  // Options.
  if (const Json* dropout = FindMember(model, "dropout");
      dropout != nullptr && !dropout->is_null()) {
    if (!dropout->is_number()) return InvalidArgumentError(where, ".dropout: expected a number");
    const double p = dropout->get<double>();
    if (!(p >= 0.0 && p <= 1.0))
      return InvalidArgumentError(where, ".dropout: ", p, " not in [0, 1]");
    if (p > 0.0)
      return UnsupportedError(where, ".dropout: ", p, " (random BPE dropout) is unsupported");
  }
  LFM2_ASSIGN_OR_RETURN(bpe.continuing_subword_prefix_,
                        FindString(model, "continuing_subword_prefix", "", where));
  LFM2_ASSIGN_OR_RETURN(bpe.end_of_word_suffix_,
                        FindString(model, "end_of_word_suffix", "", where));
  LFM2_ASSIGN_OR_RETURN(bpe.fuse_unk_, FindBool(model, "fuse_unk", false, where));
  LFM2_ASSIGN_OR_RETURN(bpe.byte_fallback_, FindBool(model, "byte_fallback", false, where));
  LFM2_ASSIGN_OR_RETURN(bpe.ignore_merges_, FindBool(model, "ignore_merges", false, where));

  // Vocabulary.
  const Json* vocab = FindMember(model, "vocab");
  if (vocab == nullptr || !vocab->is_object()) {
    return InvalidArgumentError(where, ".vocab: missing or not an object");
  }
  const std::string vocab_where = StrCat(where, ".vocab");
  int32_t max_id = -1;
  bpe.vocab_.reserve(vocab->size());
  for (const auto& [token, value] : vocab->items()) {
    LFM2_ASSIGN_OR_RETURN(int32_t id, ReadId(value, StrCat(vocab_where, "[", Quoted(token), "]")));
    bpe.vocab_.emplace(token, id);
    max_id = std::max(max_id, id);
  }
  bpe.id_to_token_.assign(static_cast<size_t>(max_id + 1), std::string());
  bpe.has_token_.assign(static_cast<size_t>(max_id + 1), false);
  for (const auto& [token, id] : bpe.vocab_) {
    if (bpe.has_token_[id]) {
      return InvalidArgumentError(vocab_where, ": id ", id, " is used by both ",
                                  Quoted(bpe.id_to_token_[id]), " and ", Quoted(token));
    }
    bpe.has_token_[id] = true;
    bpe.id_to_token_[id] = token;
  }

  if (const Json* unk = FindMember(model, "unk_token"); unk != nullptr && !unk->is_null()) {
    if (!unk->is_string()) return InvalidArgumentError(where, ".unk_token: expected a string");
    auto it = bpe.vocab_.find(unk->get<std::string>());
    if (it == bpe.vocab_.end()) {
      return InvalidArgumentError(where, ".unk_token ", DumpJson(*unk), " is not in the vocab");
    }
    bpe.unk_id_ = it->second;
  }

  // Merges: [["a", "b"], ...] (tokenizers >= 0.20) or ["a b", ...] (older files).
  const Json* merges = FindMember(model, "merges");
  if (merges == nullptr || !merges->is_array()) {
    return InvalidArgumentError(where, ".merges: missing or not an array");
  }
  const bool pair_format = merges->empty() || (*merges)[0].is_array();
  bpe.merges_->Reserve(merges->size());
  const size_t prefix_length = bpe.continuing_subword_prefix_.size();
  uint32_t rank = 0;
  for (size_t i = 0; i < merges->size(); ++i) {
    const Json& merge = (*merges)[i];
    const std::string merge_where = StrCat(where, ".merges[", i, "]");
    std::string left, right;
    if (pair_format) {
      if (!merge.is_array() || merge.size() != 2 || !merge[0].is_string() ||
          !merge[1].is_string()) {
        return InvalidArgumentError(merge_where,
                                    ": expected a pair of strings like every merge, got ",
                                    DumpJson(merge).substr(0, 80));
      }
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      if (!merge.is_string()) {
        return InvalidArgumentError(merge_where,
                                    ": expected a \"left right\" string like every merge");
      }
      const std::string line = merge.get<std::string>();
      if (line.rfind("#version", 0) == 0) continue;  // merges.txt header, not a merge
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        return InvalidArgumentError(merge_where, ": ", Quoted(line),
                                    " is not two tokens separated by one space");
      }
      left = line.substr(0, space);
      right = line.substr(space + 1);
    }
    auto left_it = bpe.vocab_.find(left);
    if (left_it == bpe.vocab_.end()) {
      return InvalidArgumentError(merge_where, ": token ", Quoted(left), " is not in the vocab");
    }
    auto right_it = bpe.vocab_.find(right);
    if (right_it == bpe.vocab_.end()) {
      return InvalidArgumentError(merge_where, ": token ", Quoted(right), " is not in the vocab");
    }
    if (right.size() < prefix_length) {
      return InvalidArgumentError(merge_where, ": token ", Quoted(right),
                                  " is shorter than continuing_subword_prefix");
    }
    const std::string merged = left + right.substr(prefix_length);
    auto merged_it = bpe.vocab_.find(merged);
    if (merged_it == bpe.vocab_.end()) {
      return InvalidArgumentError(merge_where, ": merged token ", Quoted(merged),
                                  " is not in the vocab");
    }
    bpe.merges_->Insert(left_it->second, right_it->second, rank++, merged_it->second);
  }

  // Byte-level fast path: every byte's character must be a vocab entry and no affixes in play.
  for (int b = 0; b < 256; ++b) {
    auto it = bpe.vocab_.find(ByteLevelChar(static_cast<uint8_t>(b)));
    bpe.byte_ids_[b] = it == bpe.vocab_.end() ? -1 : it->second;
    if (it == bpe.vocab_.end()) bpe.byte_path_ = false;
  }
  if (!bpe.continuing_subword_prefix_.empty() || !bpe.end_of_word_suffix_.empty()) {
    bpe.byte_path_ = false;
  }
  return bpe;
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || id >= id_limit() || !has_token_[id]) return nullptr;
  return &id_to_token_[id];
}

void BpeModel::CharSymbols(std::string_view text, std::vector<Symbol>* symbols) const {
  auto add = [&](int32_t id, int32_t length) {
    const int32_t index = static_cast<int32_t>(symbols->size());
    if (!symbols->empty()) symbols->back().next = index;
    symbols->push_back(Symbol{id, index - 1, -1, length});
  };
  int32_t pending_unk_length = 0;  // > 0: an unk token of this byte length is pending
  std::string buffer;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const size_t length =
        std::min(Utf8CharLength(static_cast<unsigned char>(text[pos])), text.size() - pos);
    pos += length;
    std::string_view symbol = text.substr(start, length);
    const bool add_prefix = start != 0 && !continuing_subword_prefix_.empty();
    const bool add_suffix = pos >= text.size() && !end_of_word_suffix_.empty();
    if (add_prefix || add_suffix) {
      buffer.clear();
      if (add_prefix) buffer += continuing_subword_prefix_;
      buffer += symbol;
      if (add_suffix) buffer += end_of_word_suffix_;
      symbol = buffer;
    }
    if (auto it = vocab_.find(symbol); it != vocab_.end()) {
      if (pending_unk_length > 0) {
        add(*unk_id_, pending_unk_length);
        pending_unk_length = 0;
      }
      add(it->second, static_cast<int32_t>(length));
      continue;
    }
    if (byte_fallback_) {
      std::vector<int32_t> byte_tokens;
      for (char c : symbol) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", static_cast<unsigned char>(c));
        auto it = vocab_.find(std::string_view(name));
        if (it == vocab_.end()) break;
        byte_tokens.push_back(it->second);
      }
      if (byte_tokens.size() == symbol.size()) {  // as HF: a pending unk is not flushed here
        for (int32_t id : byte_tokens) add(id, 1);
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk_length > 0 && fuse_unk_) {
        pending_unk_length += static_cast<int32_t>(length);
      } else {
        if (pending_unk_length > 0) add(*unk_id_, pending_unk_length);
        pending_unk_length = static_cast<int32_t>(length);
      }
    }
    // Without unk_token the character is dropped, as HF does.
  }
  if (pending_unk_length > 0) add(*unk_id_, pending_unk_length);
}

void BpeModel::MergeWord(std::vector<Symbol>* symbols_ptr) const {
  std::vector<Symbol>& symbols = *symbols_ptr;
  struct Entry {
    uint32_t rank;
    int32_t pos;
    int32_t new_id;
  };
  // std heap functions build a max-heap; "less" = lower priority = higher rank, then later pos.
  const auto lower_priority = [](const Entry& a, const Entry& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  thread_local std::vector<Entry> heap;
  heap.clear();
  const int32_t count = static_cast<int32_t>(symbols.size());
  for (int32_t i = 0; i + 1 < count; ++i) {
    if (const MergeTable::Slot* m = merges_->Find(symbols[i].id, symbols[i + 1].id)) {
      heap.push_back(Entry{m->rank, i, m->new_id});
    }
  }
  std::make_heap(heap.begin(), heap.end(), lower_priority);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), lower_priority);
    const Entry top = heap.back();
    heap.pop_back();
    Symbol& current = symbols[top.pos];
    if (current.length == 0 || current.next == -1) continue;
    const int32_t next_pos = current.next;
    const Symbol right = symbols[next_pos];
    // Skip stale entries: HF compares the merged id, not the rank.
    const MergeTable::Slot* check = merges_->Find(current.id, right.id);
    if (check == nullptr || check->new_id != top.new_id) continue;
    current.id = top.new_id;
    current.length += right.length;
    current.next = right.next;
    symbols[next_pos].length = 0;
    if (right.next > -1 && right.next < count) symbols[right.next].prev = top.pos;
    if (current.prev >= 0) {
      if (const MergeTable::Slot* m = merges_->Find(symbols[current.prev].id, current.id)) {
        heap.push_back(Entry{m->rank, current.prev, m->new_id});
        std::push_heap(heap.begin(), heap.end(), lower_priority);
      }
    }
    if (current.next >= 0 && current.next < count) {
      if (const MergeTable::Slot* m = merges_->Find(current.id, symbols[current.next].id)) {
        heap.push_back(Entry{m->rank, top.pos, m->new_id});
        std::push_heap(heap.begin(), heap.end(), lower_priority);
      }
    }
  }
}

void BpeModel::Tokenize(std::string_view piece, bool byte_mapped, std::vector<int32_t>* ids) const {
  if (piece.empty()) return;
  std::string mapped;
  const auto symbol_text = [&]() -> std::string_view {
    if (!byte_mapped) return piece;
    if (mapped.empty()) AppendByteLevel(piece, &mapped);
    return mapped;
  };
  if (ignore_merges_) {
    if (auto it = vocab_.find(symbol_text()); it != vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  Cache& cache = *cache_;
  const int kind = byte_mapped ? 1 : 0;
  const bool cacheable = piece.size() <= Cache::kMaxKeyLength;
  const uint64_t hash = cacheable ? Cache::Hash(piece) : 0;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache.mutex);
    if (cache.Find(kind, piece, hash, ids)) return;
  }
  thread_local std::vector<Symbol> symbols;
  symbols.clear();
  if (byte_mapped && byte_path_) {
    const int32_t count = static_cast<int32_t>(piece.size());
    for (int32_t i = 0; i < count; ++i) {
      symbols.push_back(
          Symbol{byte_ids_[static_cast<uint8_t>(piece[i])], i - 1, i + 1 < count ? i + 1 : -1, 1});
    }
  } else {
    CharSymbols(symbol_text(), &symbols);
  }
  MergeWord(&symbols);
  const size_t first = ids->size();
  for (const Symbol& symbol : symbols) {
    if (symbol.length != 0) ids->push_back(symbol.id);
  }
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache.mutex);
    cache.Insert(kind, piece, hash, ids->data() + first, ids->size() - first);
  }
}

}  // namespace lfm2::tokenizer
