// sampling/json_grammar.cc - code point sets, the code point and byte NFAs, and UTF-8 / JSON
// string emission. Determinization into JsonGrammar's tables is in json_dfa.cc.
#include "sampling/json_grammar.h"

#include <algorithm>
#include <deque>
#include <unordered_map>

namespace lfm2::json_grammar {

// ---------------------------------------------------------------------------------------------
// CodepointSet

CodepointSet CodepointSet::Range(uint32_t lo, uint32_t hi) {
  CodepointSet set;
  set.Add(lo, hi);
  return set;
}

void CodepointSet::Add(uint32_t lo, uint32_t hi) {
  hi = std::min(hi, kMaxCodepoint);
  if (lo > hi) return;
  std::vector<std::pair<uint32_t, uint32_t>> out;
  out.reserve(ranges_.size() + 1);
  bool placed = false;
  for (const auto& range : ranges_) {
    if (range.second + 1 < lo) {
      out.push_back(range);
    } else if (hi + 1 < range.first) {
      if (!placed) out.emplace_back(lo, hi), placed = true;
      out.push_back(range);
    } else {
      lo = std::min(lo, range.first);
      hi = std::max(hi, range.second);
    }
  }
  if (!placed) out.emplace_back(lo, hi);
  ranges_ = std::move(out);
}

void CodepointSet::Add(const CodepointSet& other) {
  for (const auto& range : other.ranges_) Add(range.first, range.second);
}

CodepointSet CodepointSet::Complement() const {
  CodepointSet out;
  uint32_t next = 0;
  for (const auto& range : ranges_) {
    if (range.first > next) out.ranges_.emplace_back(next, range.first - 1);
    next = range.second + 1;
  }
  if (next <= kMaxCodepoint) out.ranges_.emplace_back(next, kMaxCodepoint);
  return out;
}

CodepointSet CodepointSet::Intersect(const CodepointSet& other) const {
  CodepointSet out;
  size_t i = 0, j = 0;
  while (i < ranges_.size() && j < other.ranges_.size()) {
    const uint32_t lo = std::max(ranges_[i].first, other.ranges_[j].first);
    const uint32_t hi = std::min(ranges_[i].second, other.ranges_[j].second);
    if (lo <= hi) out.ranges_.emplace_back(lo, hi);
    if (ranges_[i].second < other.ranges_[j].second) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

CodepointSet CodepointSet::Minus(const CodepointSet& other) const {
  return Intersect(other.Complement());
}

bool CodepointSet::Contains(uint32_t c) const {
  for (const auto& range : ranges_) {
    if (c < range.first) return false;
    if (c <= range.second) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// CharNfa

int CharNfa::AddState() {
  edges_.emplace_back();
  epsilons_.emplace_back();
  return static_cast<int>(edges_.size()) - 1;
}

void CharNfa::AddEdge(int from, const CodepointSet& set, int to) {
  if (set.empty()) return;
  sets_.push_back(set);
  edges_[from].push_back({static_cast<int>(sets_.size()) - 1, to});
}

void CharNfa::AddEpsilon(int from, int to) { epsilons_[from].push_back(to); }

Fragment CharNfa::Copy(const Fragment& fragment) {
  const int offset = num_states() - fragment.first;
  for (int s = fragment.first; s < fragment.limit; ++s) AddState();
  for (int s = fragment.first; s < fragment.limit; ++s) {
    for (const Edge& edge : edges_[s]) {
      LFM2_DCHECK(edge.to >= fragment.first && edge.to < fragment.limit);
      edges_[s + offset].push_back({edge.set, edge.to + offset});
    }
    for (int to : epsilons_[s]) epsilons_[s + offset].push_back(to + offset);
  }
  return {fragment.start + offset, fragment.end + offset, fragment.first + offset,
          fragment.limit + offset};
}

// ---------------------------------------------------------------------------------------------
// ByteNfa

int ByteNfa::AddState() {
  if (static_cast<int64_t>(nodes_.size()) >= max_states_) {
    over_budget_ = true;
    if (!nodes_.empty()) return 0;
  }
  nodes_.emplace_back();
  return static_cast<int>(nodes_.size()) - 1;
}

void ByteNfa::AddBytes(int from, uint8_t lo, uint8_t hi, int to) {
  if (over_budget_) return;
  nodes_[from].bytes.push_back({lo, hi, to});
}

void ByteNfa::AddEpsilon(int from, int to) {
  if (over_budget_ || from == to) return;
  nodes_[from].epsilons.push_back(to);
}

void ByteNfa::AddCall(int from, int rule, int to) {
  if (over_budget_) return;
  nodes_[from].calls.push_back({rule, to});
}

Fragment ByteNfa::Literal(std::string_view bytes) {
  Fragment f;
  f.first = num_states();
  f.start = AddState();
  int current = f.start;
  for (char c : bytes) {
    const int next = AddState();
    AddBytes(current, static_cast<uint8_t>(c), static_cast<uint8_t>(c), next);
    current = next;
  }
  f.end = current;
  if (bytes.empty()) {
    f.end = AddState();
    AddEpsilon(f.start, f.end);
  }
  f.limit = num_states();
  return f;
}

Fragment ByteNfa::Nothing() {
  Fragment f;
  f.first = num_states();
  f.start = AddState();
  f.end = AddState();
  f.limit = num_states();
  return f;
}

Fragment ByteNfa::Copy(const Fragment& fragment) {
  const int count = fragment.limit - fragment.first;
  if (over_budget_ || static_cast<int64_t>(nodes_.size()) + count > max_states_) {
    over_budget_ = true;
    return Nothing();
  }
  const int offset = num_states() - fragment.first;
  for (int i = 0; i < count; ++i) nodes_.emplace_back();
  for (int s = fragment.first; s < fragment.limit; ++s) {
    Node& copy = nodes_[s + offset];
    const Node& node = nodes_[s];
    for (const ByteEdge& e : node.bytes) copy.bytes.push_back({e.lo, e.hi, e.to + offset});
    for (int to : node.epsilons) copy.epsilons.push_back(to + offset);
    for (const CallEdge& e : node.calls) copy.calls.push_back({e.rule, e.to + offset});
  }
  return {fragment.start + offset, fragment.end + offset, fragment.first + offset,
          fragment.limit + offset};
}

Fragment ByteNfa::Sequence(const std::vector<Fragment>& parts) {
  if (parts.empty()) return Literal("");
  Fragment f;
  f.first = parts.front().first;
  for (size_t i = 0; i + 1 < parts.size(); ++i) AddEpsilon(parts[i].end, parts[i + 1].start);
  f.start = parts.front().start;
  f.end = parts.back().end;
  f.limit = num_states();
  return f;
}

Fragment ByteNfa::Alternatives(const std::vector<Fragment>& parts) {
  if (parts.empty()) return Nothing();
  Fragment f;
  f.first = parts.front().first;
  f.start = AddState();
  f.end = AddState();
  for (const Fragment& part : parts) {
    AddEpsilon(f.start, part.start);
    AddEpsilon(part.end, f.end);
  }
  f.limit = num_states();
  return f;
}

Fragment ByteNfa::Optional(const Fragment& part) {
  Fragment f = Alternatives({part});
  AddEpsilon(f.start, f.end);
  return f;
}

int ByteNfa::AddRule(std::string name) {
  rules_.push_back({std::move(name), -1, -1});
  return static_cast<int>(rules_.size()) - 1;
}

void ByteNfa::SetRuleBody(int rule, const Fragment& body) {
  rules_[rule].start = body.start;
  rules_[rule].end = body.end;
}

// ---------------------------------------------------------------------------------------------
// UTF-8 and JSON strings

namespace {

using ByteRanges = std::vector<std::pair<uint8_t, uint8_t>>;

int Utf8Length(uint32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

void EncodeUtf8(uint32_t c, uint8_t* out) {
  switch (Utf8Length(c)) {
    case 1: out[0] = static_cast<uint8_t>(c); break;
    case 2:
      out[0] = static_cast<uint8_t>(0xC0 | (c >> 6));
      out[1] = static_cast<uint8_t>(0x80 | (c & 0x3F));
      break;
    case 3:
      out[0] = static_cast<uint8_t>(0xE0 | (c >> 12));
      out[1] = static_cast<uint8_t>(0x80 | ((c >> 6) & 0x3F));
      out[2] = static_cast<uint8_t>(0x80 | (c & 0x3F));
      break;
    default:
      out[0] = static_cast<uint8_t>(0xF0 | (c >> 18));
      out[1] = static_cast<uint8_t>(0x80 | ((c >> 12) & 0x3F));
      out[2] = static_cast<uint8_t>(0x80 | ((c >> 6) & 0x3F));
      out[3] = static_cast<uint8_t>(0x80 | (c & 0x3F));
  }
}

// Splits [lo, hi] into ranges whose UTF-8 encodings are products of byte ranges.
void Utf8Sequences(uint32_t lo, uint32_t hi, std::vector<ByteRanges>& out) {
  if (lo > hi) return;
  if (lo <= 0xDFFF && hi >= 0xD800) {  // surrogates have no UTF-8 encoding
    if (lo < 0xD800) Utf8Sequences(lo, 0xD7FF, out);
    if (hi > 0xDFFF) Utf8Sequences(0xE000, hi, out);
    return;
  }
  for (uint32_t max : {0x7Fu, 0x7FFu, 0xFFFFu}) {
    if (lo <= max && hi > max) {
      Utf8Sequences(lo, max, out);
      Utf8Sequences(max + 1, hi, out);
      return;
    }
  }
  const int n = Utf8Length(lo);
  for (int i = 1; i < n; ++i) {
    const uint32_t mask = (1u << (6 * i)) - 1;
    if ((lo & ~mask) != (hi & ~mask)) {
      if ((lo & mask) != 0) {
        Utf8Sequences(lo, lo | mask, out);
        Utf8Sequences((lo | mask) + 1, hi, out);
        return;
      }
      if ((hi & mask) != mask) {
        Utf8Sequences(lo, (hi & ~mask) - 1, out);
        Utf8Sequences(hi & ~mask, hi, out);
        return;
      }
    }
  }
  uint8_t a[4], b[4];
  EncodeUtf8(lo, a);
  EncodeUtf8(hi, b);
  ByteRanges ranges;
  for (int i = 0; i < n; ++i) ranges.emplace_back(a[i], b[i]);
  out.push_back(std::move(ranges));
}

// Adds a path for `text` from `from` to `to`, sharing a cached first-byte state for escapes.
void AddPath(ByteNfa& nfa, int from, std::string_view text, int to) {
  int current = from;
  for (size_t i = 0; i < text.size(); ++i) {
    const int next = i + 1 == text.size() ? to : nfa.AddState();
    const auto byte = static_cast<uint8_t>(text[i]);
    nfa.AddBytes(current, byte, byte, next);
    current = next;
  }
}

void AddHexDigit(ByteNfa& nfa, int from, int to) {
  nfa.AddBytes(from, '0', '9', to);
  nfa.AddBytes(from, 'a', 'f', to);
  nfa.AddBytes(from, 'A', 'F', to);
}

// \uXXXX for every code point: a non-surrogate BMP unit, or a high + low surrogate pair. `after_u`
// is the state after "\u".
void AddUnicodeEscape(ByteNfa& nfa, int after_u, int to) {
  // Non-surrogates: first digit not d/D, or d/D followed by 0-7.
  const int x = nfa.AddState(), y = nfa.AddState(), z = nfa.AddState();
  nfa.AddBytes(after_u, '0', '9', x);
  nfa.AddBytes(after_u, 'a', 'c', x);
  nfa.AddBytes(after_u, 'e', 'f', x);
  nfa.AddBytes(after_u, 'A', 'C', x);
  nfa.AddBytes(after_u, 'E', 'F', x);
  AddHexDigit(nfa, x, y);
  AddHexDigit(nfa, y, z);
  AddHexDigit(nfa, z, to);
  const int d = nfa.AddState();
  nfa.AddBytes(after_u, 'd', 'd', d);
  nfa.AddBytes(after_u, 'D', 'D', d);
  const int d2 = nfa.AddState();
  nfa.AddBytes(d, '0', '7', d2);
  const int d3 = nfa.AddState();
  AddHexDigit(nfa, d2, d3);
  AddHexDigit(nfa, d3, to);
  // High surrogate d[89ab]XX, then \u d[c-f]XX.
  const int h2 = nfa.AddState(), h3 = nfa.AddState(), h4 = nfa.AddState();
  nfa.AddBytes(d, '8', '9', h2);
  nfa.AddBytes(d, 'a', 'b', h2);
  nfa.AddBytes(d, 'A', 'B', h2);
  AddHexDigit(nfa, h2, h3);
  AddHexDigit(nfa, h3, h4);
  // Low surrogate: \u d[c-f]XX.
  const int slash = nfa.AddState(), u = nfa.AddState(), l1 = nfa.AddState(), l2 = nfa.AddState(),
            l3 = nfa.AddState();
  nfa.AddBytes(h4, '\\', '\\', slash);
  nfa.AddBytes(slash, 'u', 'u', u);
  nfa.AddBytes(u, 'd', 'd', l1);
  nfa.AddBytes(u, 'D', 'D', l1);
  nfa.AddBytes(l1, 'c', 'f', l2);
  nfa.AddBytes(l1, 'C', 'F', l2);
  AddHexDigit(nfa, l2, l3);
  AddHexDigit(nfa, l3, to);
}

// The JSON spelling(s) of every code point in `set`, from `from` to `to`.
void AddJsonChars(ByteNfa& nfa, int from, int to, const CodepointSet& set, EscapeMode mode) {
  static const CodepointSet kNeedsEscape = [] {
    CodepointSet s = CodepointSet::Range(0, 0x1F);
    s.Add('"', '"');
    s.Add('\\', '\\');
    return s;
  }();
  AddUtf8(nfa, from, to, set.Minus(kNeedsEscape));
  const CodepointSet escaped = set.Intersect(kNeedsEscape);
  const bool all = mode == EscapeMode::kAll && set.ranges().size() == 1 &&
                   set.ranges()[0] == std::make_pair(0u, kMaxCodepoint);
  if (escaped.empty() && !all) return;
  const int backslash = nfa.AddState();
  nfa.AddBytes(from, '\\', '\\', backslash);
  int after_u = -1;
  auto unicode_prefix = [&] {
    if (after_u < 0) {
      after_u = nfa.AddState();
      nfa.AddBytes(backslash, 'u', 'u', after_u);
    }
    return after_u;
  };
  for (const auto& [lo, hi] : escaped.ranges()) {
    for (uint32_t c = lo; c <= hi; ++c) {
      char short_form = 0;
      switch (c) {
        case '"': short_form = '"'; break;
        case '\\': short_form = '\\'; break;
        case '\b': short_form = 'b'; break;
        case '\f': short_form = 'f'; break;
        case '\n': short_form = 'n'; break;
        case '\r': short_form = 'r'; break;
        case '\t': short_form = 't'; break;
        default: break;
      }
      if (short_form != 0) {
        nfa.AddBytes(backslash, static_cast<uint8_t>(short_form), static_cast<uint8_t>(short_form),
                     to);
      } else if (!all) {
        static const char kHex[] = "0123456789abcdef";
        const char digits[4] = {'0', '0', kHex[(c >> 4) & 0xF], kHex[c & 0xF]};
        AddPath(nfa, unicode_prefix(), std::string_view(digits, 4), to);
      }
    }
  }
  if (all) {
    nfa.AddBytes(backslash, '/', '/', to);
    AddUnicodeEscape(nfa, unicode_prefix(), to);
  }
}

}  // namespace

std::vector<std::vector<std::pair<uint8_t, uint8_t>>> Utf8ByteRanges(const CodepointSet& set) {
  std::vector<ByteRanges> sequences;
  for (const auto& [lo, hi] : set.ranges()) Utf8Sequences(lo, hi, sequences);
  return sequences;
}

void AddUtf8(ByteNfa& nfa, int from, int to, const CodepointSet& set) {
  std::vector<ByteRanges> sequences;
  for (const auto& [lo, hi] : set.ranges()) Utf8Sequences(lo, hi, sequences);
  // Shared tails: tails[k] reaches `to` after k continuation bytes (0x80-0xBF).
  std::vector<int> tails = {to};
  auto tail = [&](size_t k) {
    while (tails.size() <= k) {
      const int state = nfa.AddState();
      nfa.AddBytes(state, 0x80, 0xBF, tails.back());
      tails.push_back(state);
    }
    return tails[k];
  };
  for (const ByteRanges& ranges : sequences) {
    int current = from;
    for (size_t i = 0; i < ranges.size(); ++i) {
      const bool rest_free = std::all_of(ranges.begin() + i + 1, ranges.end(), [](const auto& r) {
        return r.first == 0x80 && r.second == 0xBF;
      });
      if (rest_free) {
        nfa.AddBytes(current, ranges[i].first, ranges[i].second, tail(ranges.size() - 1 - i));
        break;
      }
      const int next = nfa.AddState();
      nfa.AddBytes(current, ranges[i].first, ranges[i].second, next);
      current = next;
    }
  }
}

Fragment EmitJsonString(ByteNfa& nfa, const CharNfa& chars, int64_t min_length,
                        int64_t max_length, EscapeMode mode) {
  const int64_t cap = max_length >= 0 ? max_length : min_length;
  const int64_t width = cap + 1;
  Fragment f;
  f.first = nfa.num_states();
  const int64_t product = static_cast<int64_t>(chars.num_states()) * width;
  if (product > (int64_t{1} << 26)) {  // far beyond any budget: let the caller report it
    nfa.MarkOverBudget();
    return nfa.Nothing();
  }
  std::unordered_map<int64_t, int> ids;
  std::deque<std::pair<int, int64_t>> queue;
  auto id = [&](int q, int64_t count) {
    const int64_t key = q * width + count;
    auto it = ids.find(key);
    if (it != ids.end()) return it->second;
    const int state = nfa.AddState();
    ids.emplace(key, state);
    queue.emplace_back(q, count);
    return state;
  };
  f.start = id(chars.start, 0);
  f.end = nfa.AddState();
  while (!queue.empty() && !nfa.over_budget()) {
    const auto [q, count] = queue.front();
    queue.pop_front();
    const int from = ids.at(q * width + count);
    for (int to : chars.epsilons(q)) nfa.AddEpsilon(from, id(to, count));
    for (const CharNfa::Edge& edge : chars.edges(q)) {
      int64_t next = count + 1;
      if (max_length >= 0 && next > max_length) continue;
      next = std::min(next, cap);
      AddJsonChars(nfa, from, id(edge.to, next), chars.set(edge.set), mode);
    }
    if (q == chars.final && count >= min_length) nfa.AddEpsilon(from, f.end);
  }
  f.limit = nfa.num_states();
  return f;
}

}  // namespace lfm2::json_grammar
