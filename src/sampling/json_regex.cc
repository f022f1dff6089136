// sampling/json_regex.cc - a recursive-descent parser for the JSON-schema regex subset, compiling
// straight into a Thompson code point NFA; the formats are written as such regexes.
#include "sampling/json_regex.h"

#include <map>

namespace lfm2::json_grammar {
namespace {

constexpr int64_t kMaxRepeat = 1000;
constexpr int64_t kUnbounded = -1;

CodepointSet Digits() { return CodepointSet::Range('0', '9'); }

CodepointSet WordChars() {
  CodepointSet set = CodepointSet::Range('a', 'z');
  set.Add('A', 'Z');
  set.Add('0', '9');
  set.Add('_', '_');
  return set;
}

CodepointSet Spaces() {
  CodepointSet set = CodepointSet::Range('\t', '\r');
  set.Add(' ', ' ');
  set.Add(0xA0, 0xA0);
  set.Add(0x1680, 0x1680);
  set.Add(0x2000, 0x200A);
  set.Add(0x2028, 0x2029);
  set.Add(0x202F, 0x202F);
  set.Add(0x205F, 0x205F);
  set.Add(0x3000, 0x3000);
  set.Add(0xFEFF, 0xFEFF);
  return set;
}

CodepointSet Dot() {
  CodepointSet line_ends = CodepointSet::Single('\n');
  line_ends.Add('\r', '\r');
  line_ends.Add(0x2028, 0x2029);
  return CodepointSet::All().Minus(line_ends);
}

int HexValue(uint32_t c) {
  if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<int>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<int>(c - 'A' + 10);
  return -1;
}

class RegexCompiler {
 public:
  RegexCompiler(std::string_view pattern, CharNfa& nfa) : pattern_(pattern), nfa_(nfa) {}

  Status Compile() {
    if (!DecodeUtf8(pattern_, &text_)) return Error("is not valid UTF-8");
    LFM2_ASSIGN_OR_RETURN(Fragment f, Alternation(/*top=*/true));
    if (pos_ < text_.size()) return Error("unbalanced ')'");
    if (nfa_.num_states() > kMaxRegexStates) return Error("compiles to too many states");
    nfa_.start = f.start;
    nfa_.final = f.end;
    return Status::Ok();
  }

 private:
  template <typename... Args>
  Status Error(const Args&... args) {
    return UnsupportedError("pattern \"", pattern_, "\" ", args...);
  }
  Status Unsupported(std::string_view what) {
    return UnsupportedError("pattern \"", pattern_, "\": unsupported regex feature ", what,
                            " at character ", pos_);
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  uint32_t Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : 0xFFFFFFFF;
  }

  Fragment Set(const CodepointSet& set) {
    Fragment f;
    f.first = nfa_.num_states();
    f.start = nfa_.AddState();
    f.end = nfa_.AddState();
    nfa_.AddEdge(f.start, set, f.end);
    f.limit = nfa_.num_states();
    return f;
  }

  Fragment Empty() {
    Fragment f;
    f.first = nfa_.num_states();
    f.start = nfa_.AddState();
    f.end = nfa_.AddState();
    nfa_.AddEpsilon(f.start, f.end);
    f.limit = nfa_.num_states();
    return f;
  }

  Fragment AnyStar() {
    Fragment f = Set(CodepointSet::All());
    nfa_.AddEpsilon(f.end, f.start);
    nfa_.AddEpsilon(f.start, f.end);
    return f;
  }

  // Joins fragments allocated in order (first..limit spans them all).
  Fragment Join(const std::vector<Fragment>& parts) {
    for (size_t i = 0; i + 1 < parts.size(); ++i) nfa_.AddEpsilon(parts[i].end, parts[i + 1].start);
    return {parts.front().start, parts.back().end, parts.front().first, nfa_.num_states()};
  }

  StatusOr<Fragment> Alternation(bool top) {
    const int first = nfa_.num_states();
    std::vector<Fragment> alternatives;
    while (true) {
      LFM2_ASSIGN_OR_RETURN(Fragment f, Concatenation(top));
      alternatives.push_back(f);
      if (Peek() != '|') break;
      ++pos_;
    }
    if (alternatives.size() == 1) return alternatives[0];
    Fragment f;
    f.first = first;
    f.start = nfa_.AddState();
    f.end = nfa_.AddState();
    for (const Fragment& a : alternatives) {
      nfa_.AddEpsilon(f.start, a.start);
      nfa_.AddEpsilon(a.end, f.end);
    }
    f.limit = nfa_.num_states();
    return f;
  }

  StatusOr<Fragment> Concatenation(bool top) {
    std::vector<Fragment> parts;
    bool anchored_start = false, anchored_end = false;
    if (Peek() == '^') {
      if (!top) return Unsupported("'^' inside a group");
      anchored_start = true;
      ++pos_;
    }
    if (top && !anchored_start) parts.push_back(AnyStar());
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      if (Peek() == '$') {
        ++pos_;
        if (!top || (!AtEnd() && Peek() != '|')) return Unsupported("'$' before the end");
        anchored_end = true;
        break;
      }
      if (Peek() == '^') return Unsupported("'^' after the start");
      LFM2_ASSIGN_OR_RETURN(Fragment f, Repetition());
      parts.push_back(f);
      if (nfa_.num_states() > kMaxRegexStates) return Error("compiles to too many states");
    }
    if (top && !anchored_end) parts.push_back(AnyStar());
    if (parts.empty()) parts.push_back(Empty());
    return Join(parts);
  }

  // Parses "{n}", "{n,}", "{n,m}" at pos_; false (pos_ unchanged) if it is not a quantifier.
  bool CountQuantifier(int64_t* min, int64_t* max) {
    size_t p = pos_ + 1;
    auto number = [&](int64_t* value) {
      const size_t begin = p;
      *value = 0;
      while (p < text_.size() && text_[p] >= '0' && text_[p] <= '9') {
        *value = std::min<int64_t>(*value * 10 + (text_[p] - '0'), 1000000);
        ++p;
      }
      return p > begin;
    };
    if (!number(min)) return false;
    *max = *min;
    if (p < text_.size() && text_[p] == ',') {
      ++p;
      if (!number(max)) *max = kUnbounded;
    }
    if (p >= text_.size() || text_[p] != '}') return false;
    pos_ = p + 1;
    return true;
  }

  StatusOr<Fragment> Repetition() {
    LFM2_ASSIGN_OR_RETURN(Fragment atom, Atom());
    while (!AtEnd()) {
      int64_t min = 0, max = 0;
      const uint32_t c = Peek();
      if (c == '*') {
        min = 0, max = kUnbounded, ++pos_;
      } else if (c == '+') {
        min = 1, max = kUnbounded, ++pos_;
      } else if (c == '?') {
        min = 0, max = 1, ++pos_;
      } else if (c == '{' && CountQuantifier(&min, &max)) {
        if (max != kUnbounded && max < min) return Unsupported("{n,m} with m < n");
        if (min > kMaxRepeat || max > kMaxRepeat) return Unsupported("repeat count above 1000");
      } else {
        break;
      }
      if (Peek() == '?') ++pos_;  // lazy: same language
      if (Peek() == '+') return Unsupported("possessive quantifier");
      LFM2_ASSIGN_OR_RETURN(atom, Repeat(atom, min, max));
    }
    return atom;
  }

  StatusOr<Fragment> Repeat(const Fragment& atom, int64_t min, int64_t max) {
    const int64_t copies = max == kUnbounded ? std::max<int64_t>(min, 1) : max;
    if (copies == 0) return Empty();
    const int64_t size = atom.limit - atom.first;
    if (nfa_.num_states() + size * (copies - 1) > kMaxRegexStates) {
      return Error("compiles to too many states (nested or large repeat counts)");
    }
    std::vector<Fragment> parts = {atom};
    for (int64_t i = 1; i < copies; ++i) parts.push_back(nfa_.Copy(atom));
    for (size_t i = 0; i + 1 < parts.size(); ++i) nfa_.AddEpsilon(parts[i].end, parts[i + 1].start);
    Fragment f;
    f.first = atom.first;
    f.start = nfa_.AddState();
    f.end = nfa_.AddState();
    nfa_.AddEpsilon(f.start, parts[0].start);
    nfa_.AddEpsilon(parts.back().end, f.end);
    for (int64_t i = min; i < copies; ++i) {  // stopping after i copies
      nfa_.AddEpsilon(i == 0 ? f.start : parts[i - 1].end, f.end);
    }
    if (max == kUnbounded) {
      nfa_.AddEpsilon(parts.back().end, parts.back().start);
      if (min == 0) nfa_.AddEpsilon(f.start, f.end);
    }
    f.limit = nfa_.num_states();
    return f;
  }

  StatusOr<Fragment> Atom() {
    const uint32_t c = Peek();
    switch (c) {
      case '(': {
        ++pos_;
        if (Peek() == '?') {
          if (Peek(1) == ':') {
            pos_ += 2;
          } else if (Peek(1) == '<' && Peek(2) != '=' && Peek(2) != '!') {
            pos_ += 2;
            while (!AtEnd() && Peek() != '>') ++pos_;
            if (AtEnd()) return Unsupported("unterminated group name");
            ++pos_;
          } else {
            return Unsupported("'(?' group (lookaround or flags)");
          }
        }
        if (++group_depth_ > kMaxGroupDepth) return Unsupported("groups nested deeper than 64");
        LFM2_ASSIGN_OR_RETURN(Fragment f, Alternation(/*top=*/false));
        --group_depth_;
        if (Peek() != ')') return Error("has an unterminated group");
        ++pos_;
        return f;
      }
      case '[': {
        ++pos_;
        LFM2_ASSIGN_OR_RETURN(CodepointSet set, Class());
        return Set(set);
      }
      case '.':
        ++pos_;
        return Set(Dot());
      case '\\': {
        ++pos_;
        LFM2_ASSIGN_OR_RETURN(CodepointSet set, Escape(/*in_class=*/false));
        return Set(set);
      }
      case '*':
      case '+':
      case '?':
        return Unsupported("quantifier with nothing to repeat");
      default:
        ++pos_;
        return Set(CodepointSet::Single(c));
    }
  }

  // After '[': the class up to and including ']'.
  StatusOr<CodepointSet> Class() {
    bool negate = false;
    if (Peek() == '^') negate = true, ++pos_;
    CodepointSet set;
    bool first = true;
    while (true) {
      if (AtEnd()) return Error("has an unterminated character class");
      uint32_t c = Peek();
      if (c == ']') {
        ++pos_;
        break;
      }
      (void)first;
      first = false;
      CodepointSet item;
      bool single = true;
      uint32_t lo = c;
      if (c == '\\') {
        ++pos_;
        LFM2_ASSIGN_OR_RETURN(item, Escape(/*in_class=*/true));
        single = item.ranges().size() == 1 && item.ranges()[0].first == item.ranges()[0].second;
        if (single) lo = item.ranges()[0].first;
      } else {
        ++pos_;
        item = CodepointSet::Single(c);
      }
      if (single && Peek() == '-' && Peek(1) != ']' && pos_ + 1 < text_.size()) {
        ++pos_;
        uint32_t hi = Peek();
        if (hi == '\\') {
          ++pos_;
          LFM2_ASSIGN_OR_RETURN(CodepointSet end, Escape(/*in_class=*/true));
          if (end.ranges().size() != 1 || end.ranges()[0].first != end.ranges()[0].second) {
            return Unsupported("class escape as a range end");
          }
          hi = end.ranges()[0].first;
        } else {
          ++pos_;
        }
        if (hi < lo) return Error("has a character range out of order");
        item = CodepointSet::Range(lo, hi);
      }
      set.Add(item);
    }
    return negate ? set.Complement() : set;
  }

  // After '\\'.
  StatusOr<CodepointSet> Escape(bool in_class) {
    if (AtEnd()) return Error("ends with a backslash");
    const uint32_t c = Peek();
    ++pos_;
    switch (c) {
      case 'd': return Digits();
      case 'D': return Digits().Complement();
      case 'w': return WordChars();
      case 'W': return WordChars().Complement();
      case 's': return Spaces();
      case 'S': return Spaces().Complement();
      case 't': return CodepointSet::Single('\t');
      case 'n': return CodepointSet::Single('\n');
      case 'r': return CodepointSet::Single('\r');
      case 'f': return CodepointSet::Single('\f');
      case 'v': return CodepointSet::Single('\v');
      case '0':
        if (Peek() >= '0' && Peek() <= '9') return Unsupported("octal escape");
        return CodepointSet::Single(0);
      case 'b':
        if (in_class) return CodepointSet::Single('\b');
        return Unsupported("word boundary \\b");
      case 'B': return Unsupported("word boundary \\B");
      case 'c': {
        const uint32_t letter = Peek();
        if (!((letter >= 'a' && letter <= 'z') || (letter >= 'A' && letter <= 'Z'))) {
          return Unsupported("\\c without a letter");
        }
        ++pos_;
        return CodepointSet::Single(letter % 32);
      }
      case 'x':
      case 'u': {
        if (c == 'u' && Peek() == '{') return Unsupported("\\u{...}");
        const int digits = c == 'x' ? 2 : 4;
        uint32_t value = 0;
        for (int i = 0; i < digits; ++i) {
          const int h = HexValue(Peek());
          if (h < 0) return Unsupported("malformed \\x or \\u escape");
          value = value * 16 + static_cast<uint32_t>(h);
          ++pos_;
        }
        if (value >= 0xD800 && value <= 0xDFFF) return Unsupported("surrogate escape");
        return CodepointSet::Single(value);
      }
      case 'p':
      case 'P':
        return Unsupported("Unicode property escape");
      case 'k':
        return Unsupported("named backreference");
      default:
        if (c >= '1' && c <= '9') return Unsupported("backreference");
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
          return Unsupported(std::string("unknown escape \\") + static_cast<char>(c));
        }
        return CodepointSet::Single(c);  // escaped punctuation or any other character
    }
  }

  static constexpr int kMaxGroupDepth = 64;
  std::string_view pattern_;
  CharNfa& nfa_;
  std::vector<uint32_t> text_;
  size_t pos_ = 0;
  int group_depth_ = 0;
};

// Formats as anchored patterns over the subset above.
const std::map<std::string, std::string, std::less<>>& FormatPatterns() {
  static const auto* formats = [] {
    const std::string day31 = "(0[1-9]|[12][0-9]|3[01])";
    const std::string day30 = "(0[1-9]|[12][0-9]|30)";
    const std::string day28 = "(0[1-9]|1[0-9]|2[0-8])";
    const std::string date = "[0-9]{4}-((0[13578]|1[02])-" + day31 + "|(0[469]|11)-" + day30 +
                             "|02-" + day28 + ")";
    const std::string time =
        "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";
    const std::string label = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    const std::string octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    const std::string atom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
    return new std::map<std::string, std::string, std::less<>>{
        {"date", "^" + date + "$"},
        {"time", "^" + time + "$"},
        {"date-time", "^" + date + "T" + time + "$"},
        {"uuid", "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
        {"email", "^" + atom + "(\\." + atom + "){0,4}@(" + label + "\\.){1,3}[A-Za-z]{2,24}$"},
        {"ipv4", "^" + octet + "(\\." + octet + "){3}$"},
        {"hostname", "^" + label + "(\\." + label + "){0,2}$"},
    };
  }();
  return *formats;
}

}  // namespace

bool DecodeUtf8(std::string_view text, std::vector<uint32_t>* out) {
  out->clear();
  size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<uint8_t>(text[i]);
    int n = 0;
    uint32_t c = 0;
    if (b0 < 0x80) {
      n = 1, c = b0;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      n = 2, c = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      n = 3, c = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      n = 4, c = b0 & 0x07;
    } else {
      return false;
    }
    if (i + n > text.size()) return false;
    for (int k = 1; k < n; ++k) {
      const auto b = static_cast<uint8_t>(text[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      c = (c << 6) | (b & 0x3F);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > kMaxCodepoint)) ||
        (c >= 0xD800 && c <= 0xDFFF)) {
      return false;
    }
    out->push_back(c);
    i += n;
  }
  return true;
}

StatusOr<CharNfa> CompileRegex(std::string_view pattern) {
  CharNfa nfa;
  RegexCompiler compiler(pattern, nfa);
  LFM2_RETURN_IF_ERROR(compiler.Compile());
  return nfa;
}

StatusOr<CharNfa> CompileFormat(std::string_view format) {
  const auto& formats = FormatPatterns();
  auto it = formats.find(format);
  if (it == formats.end()) return NotFoundError("format \"", format, "\"");
  return CompileRegex(it->second);
}

CharNfa AnyString() {
  CharNfa nfa;
  nfa.start = nfa.final = nfa.AddState();
  nfa.AddEdge(nfa.start, CodepointSet::All(), nfa.start);
  return nfa;
}

CharNfa AnyStringExcept(const std::vector<std::string>& excluded) {
  // A trie of the excluded words; leaving it leads to `free` (anything goes).
  CharNfa nfa;
  struct Node {
    std::map<uint32_t, int> children;
    bool word_end = false;
  };
  std::vector<Node> trie(1);
  std::vector<uint32_t> chars;
  for (const std::string& word : excluded) {
    if (!DecodeUtf8(word, &chars)) continue;  // never produced: keys are emitted as valid UTF-8
    int node = 0;
    for (uint32_t c : chars) {
      auto it = trie[node].children.find(c);
      if (it == trie[node].children.end()) {
        trie.emplace_back();
        it = trie[node].children.emplace(c, static_cast<int>(trie.size()) - 1).first;
      }
      node = it->second;
    }
    trie[node].word_end = true;
  }
  for (size_t i = 0; i < trie.size(); ++i) nfa.AddState();
  const int free = nfa.AddState();
  nfa.final = nfa.AddState();
  nfa.start = 0;
  nfa.AddEdge(free, CodepointSet::All(), free);
  nfa.AddEpsilon(free, nfa.final);
  for (size_t i = 0; i < trie.size(); ++i) {
    CodepointSet used;
    for (const auto& [c, child] : trie[i].children) {
      nfa.AddEdge(static_cast<int>(i), CodepointSet::Single(c), child);
      used.Add(c, c);
    }
    nfa.AddEdge(static_cast<int>(i), used.Complement(), free);
    if (!trie[i].word_end) nfa.AddEpsilon(static_cast<int>(i), nfa.final);
  }
  return nfa;
}

}  // namespace lfm2::json_grammar
