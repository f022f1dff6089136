// tokenizer/unicode_regex_translate.cc - Oniguruma (Ruby syntax) -> PCRE2 pattern translation
// with Oniguruma's Unicode semantics (see unicode_regex.h for the rules).
#include <cctype>
#include <cstdio>
#include <optional>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/unicode_regex.h"
#include "tokenizer/unicode_util.h"

namespace lfm2::tokenizer {
namespace {

// Items of Oniguruma's Unicode \w for use inside [...]: Alphabetic | M | Nd | Pc, plus the
// Latin-1 digits-like No characters (superscripts 1-3, vulgar fractions) its ISO-8859-1 ctype
// table marks as word characters. (Its documentation says L | M | N | Pc; this set is what it does,
// checked character by character against HF tokenizers.)
#define LFM2_ONIG_WORD_ITEMS \
  "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}"
constexpr char kWordItems[] = LFM2_ONIG_WORD_ITEMS;
constexpr char kHexDigitItems[] = "0-9A-Fa-f";

std::string HexEscape(uint32_t code_point) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "\\x{%X}", code_point);
  return buffer;
}

// A literal character as PCRE2 text, safe both inside and outside a class.
std::string LiteralText(uint32_t code_point) {
  if (code_point < 0x80 && std::isalnum(static_cast<int>(code_point))) {
    return std::string(1, static_cast<char>(code_point));
  }
  return HexEscape(code_point);
}

// Lower case, without spaces, underscores and hyphens: Oniguruma's loose property-name matching.
std::string LooseName(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ' ' || c == '_' || c == '-') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

// General-category long names (PCRE2 10.42 knows only the short ones).
struct CategoryName {
  const char* loose;
  const char* short_name;
};
// clang-format off
constexpr CategoryName kCategoryNames[] = {
    {"letter", "L"}, {"casedletter", "L&"}, {"uppercaseletter", "Lu"}, {"lowercaseletter", "Ll"},
    {"titlecaseletter", "Lt"}, {"modifierletter", "Lm"}, {"otherletter", "Lo"}, {"mark", "M"},
    {"combiningmark", "M"}, {"nonspacingmark", "Mn"}, {"spacingmark", "Mc"},
    {"enclosingmark", "Me"}, {"number", "N"}, {"decimalnumber", "Nd"}, {"letternumber", "Nl"},
    {"othernumber", "No"}, {"punctuation", "P"}, {"connectorpunctuation", "Pc"},
    {"dashpunctuation", "Pd"}, {"openpunctuation", "Ps"}, {"closepunctuation", "Pe"},
    {"initialpunctuation", "Pi"}, {"finalpunctuation", "Pf"}, {"otherpunctuation", "Po"},
    {"symbol", "S"}, {"mathsymbol", "Sm"}, {"currencysymbol", "Sc"}, {"modifiersymbol", "Sk"},
    {"othersymbol", "So"}, {"separator", "Z"}, {"spaceseparator", "Zs"}, {"lineseparator", "Zl"},
    {"paragraphseparator", "Zp"}, {"other", "C"}, {"control", "Cc"}, {"format", "Cf"},
    {"surrogate", "Cs"}, {"privateuse", "Co"}, {"unassigned", "Cn"}, {"space", "White_Space"},
    {"whitespace", "White_Space"}, {"digit", "Nd"},
};
// clang-format on

// A set of characters: either exactly one PCRE2 property (so it can be negated inside a class
// as \P{..}) or a list of class items.
struct CharSet {
  std::string property;  // non-empty: the set is \p{property}
  std::string items;     // otherwise: class items
  bool negated = false;

  std::string AsClassItems() const {  // caller checks CanBeClassItem()
    if (!property.empty()) return StrCat(negated ? "\\P{" : "\\p{", property, "}");
    return items;
  }
  bool CanBeClassItem() const { return !negated || !property.empty(); }
  std::string AsAtom() const {
    if (!property.empty()) return AsClassItems();
    return StrCat(negated ? "[^" : "[", items, "]");
  }
};

// Class items of a POSIX class name ([:name:] when `bracket`, else \p{Name}) with Oniguruma's
// Unicode meaning (checked per character against HF tokenizers); "" for known but unsupported
// names, nullopt for names that are not POSIX classes.
std::optional<std::string> PosixClassItems(const std::string& name, bool bracket) {
  if (name == "alnum") return "\\p{Alphabetic}\\p{Nd}";
  if (name == "alpha") return "\\p{Alphabetic}";
  if (name == "ascii") return "\\x{0}-\\x{7F}";
  if (name == "blank") return "\\p{Zs}\\x{9}";
  if (name == "cntrl") return "\\p{Cc}";
  if (name == "digit") return "\\p{Nd}";
  if (name == "lower") return "\\p{Lowercase}";
  if (name == "punct") return bracket ? "\\p{P}\\p{S}" : "\\p{P}";
  if (name == "space") return "\\p{White_Space}";
  if (name == "upper") return "\\p{Uppercase}";
  if (name == "xdigit") return std::string(kHexDigitItems);
  if (name == "word") return "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}";
  if (name == "graph" || name == "print") return "";
  return std::nullopt;
}

bool CompilesInPcre2(const std::string& pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  pcre2_code_free(code);
  return code != nullptr;
}

class Translator {
 public:
  explicit Translator(std::string_view pattern) : pattern_(pattern) {}

  StatusOr<std::string> Run() {
    while (pos_ < pattern_.size()) {
      const char c = pattern_[pos_];
      if (extended_ && std::isspace(static_cast<unsigned char>(c))) {
        ++pos_;
        continue;
      }
      if (extended_ && c == '#') {
        while (pos_ < pattern_.size() && pattern_[pos_] != '\n') ++pos_;
        continue;
      }
      switch (c) {
        case '\\':
          LFM2_RETURN_IF_ERROR(ParseEscape());
          break;
        case '[': {
          const size_t start = out_.size();
          LFM2_RETURN_IF_ERROR(ParseClass());
          SetAtom(start);
          break;
        }
        case '(':
          LFM2_RETURN_IF_ERROR(ParseGroupOpen());
          break;
        case ')':
          LFM2_RETURN_IF_ERROR(ParseGroupClose());
          break;
        case '|':
          out_ += '|';
          ++pos_;
          has_atom_ = false;
          break;
        case '.':
          EmitAtom(dotall_ ? "(?s:.)" : "[^\\n]");
          ++pos_;
          break;
        case '^':  // Ruby: beginning of line (not after a newline that ends the string)
          EmitAssertion("(?:\\A|(?<=\\n)(?!\\z))");
          ++pos_;
          break;
        case '$':  // Ruby: end of line
          EmitAssertion("(?=\\n|\\z)");
          ++pos_;
          break;
        case '*':
        case '+':
        case '?':
          LFM2_RETURN_IF_ERROR(ParseQuantifier());
          break;
        case '{':
          if (IntervalAt(pos_)) {
            LFM2_RETURN_IF_ERROR(ParseQuantifier());
          } else {
            EmitAtom(LiteralText('{'));
            ++pos_;
          }
          break;
        default: {
          const uint32_t code_point = DecodeUtf8(pattern_, &pos_);
          EmitAtom(LiteralText(code_point));
          break;
        }
      }
    }
    if (!frames_.empty()) return Error("missing ')'");
    return out_;
  }

 private:
  struct Frame {
    size_t start;   // offset of the group in out_
    bool extended;  // options to restore at ')'
    bool dotall;
    bool lookaround;  // not quantifiable
  };

  Status Error(std::string_view what) const {
    return InvalidArgumentError("regex /", pattern_, "/: ", what, " (at offset ", pos_, ")");
  }

  char Peek(size_t k = 0) const { return pos_ + k < pattern_.size() ? pattern_[pos_ + k] : '\0'; }

  void SetAtom(size_t start, bool quantifiable = true) {
    has_atom_ = true;
    atom_start_ = start;
    atom_quantified_ = false;
    atom_quantifiable_ = quantifiable;
  }
  void EmitAtom(std::string_view text) {
    SetAtom(out_.size());
    out_ += text;
  }
  void EmitAssertion(std::string_view text) {
    SetAtom(out_.size(), /*quantifiable=*/false);
    out_ += text;
  }

  // Whether a valid interval quantifier ({n}, {n,}, {n,m}, {,m}) starts at `at`.
  bool IntervalAt(size_t at) const {
    size_t i = at + 1;
    size_t digits_before = 0, digits_after = 0;
    while (i < pattern_.size() && std::isdigit(static_cast<unsigned char>(pattern_[i]))) {
      ++i;
      ++digits_before;
    }
    bool comma = false;
    if (i < pattern_.size() && pattern_[i] == ',') {
      comma = true;
      ++i;
      while (i < pattern_.size() && std::isdigit(static_cast<unsigned char>(pattern_[i]))) {
        ++i;
        ++digits_after;
      }
    }
    if (i >= pattern_.size() || pattern_[i] != '}') return false;
    if (digits_before == 0 && digits_after == 0) return false;
    return comma || digits_before > 0;
  }

  StatusOr<int> ReadNumber() {
    int64_t value = 0;
    while (std::isdigit(static_cast<unsigned char>(Peek()))) {
      value = value * 10 + (Peek() - '0');
      if (value > 65535) return Error("repeat count too large (PCRE2 limit 65535)");
      ++pos_;
    }
    return static_cast<int>(value);
  }

  Status ParseQuantifier() {
    std::string quantifier;
    bool interval = false, fixed = false;
    if (Peek() == '{') {
      interval = true;
      ++pos_;
      std::optional<int> low, high;
      if (Peek() != ',') {
        LFM2_ASSIGN_OR_RETURN(low, ReadNumber());
      }
      if (Peek() == ',') {
        ++pos_;
        if (Peek() != '}') {
          LFM2_ASSIGN_OR_RETURN(high, ReadNumber());
        }
        if (low && high && *high < *low) return Error("interval upper bound below lower bound");
        quantifier = StrCat("{", low ? *low : 0, ",", high ? std::to_string(*high) : "", "}");
      } else {
        fixed = true;
        quantifier = StrCat("{", *low, "}");
      }
      ++pos_;  // '}'
    } else {
      quantifier = std::string(1, Peek());
      ++pos_;
    }
    if (!has_atom_) return Error("target of repeat operator is not specified");
    if (!atom_quantifiable_) return Error("target of repeat operator is invalid");
    if (atom_quantified_) {  // Ruby: a quantifier on a quantified atom repeats the whole thing
      out_.insert(atom_start_, "(?:");
      out_ += ')';
    }
    out_ += quantifier;
    if (Peek() == '?' && !fixed) {  // reluctant; Ruby's {n}? is (?:x{n})? instead
      out_ += '?';
      ++pos_;
    } else if (Peek() == '+' && !interval) {  // possessive; Ruby's {n,m}+ is (?:x{n,m})+
      out_ += '+';
      ++pos_;
    }
    atom_quantified_ = true;
    return Status::Ok();
  }

  Status ParseGroupOpen() {
    ++pos_;  // '('
    const Frame frame{out_.size(), extended_, dotall_, false};
    if (Peek() != '?') {
      frames_.push_back(frame);
      out_ += "(?:";  // captures are never read: make every group non-capturing
      return Status::Ok();
    }
    ++pos_;
    const char kind = Peek();
    auto open = [&](std::string_view text, bool lookaround, size_t skip) {
      Frame f = frame;
      f.lookaround = lookaround;
      frames_.push_back(f);
      out_ += text;
      pos_ += skip;
    };
    switch (kind) {
      case '#':
        while (pos_ < pattern_.size() && pattern_[pos_] != ')') ++pos_;
        if (pos_ >= pattern_.size()) return Error("unterminated (?#...) comment");
        ++pos_;
        return Status::Ok();
      case ':':
        open("(?:", false, 1);
        return Status::Ok();
      case '=':
        open("(?=", true, 1);
        return Status::Ok();
      case '!':
        open("(?!", true, 1);
        return Status::Ok();
      case '>':
        open("(?>", false, 1);
        return Status::Ok();
      case '<':
        if (Peek(1) == '=' || Peek(1) == '!') {
          open(Peek(1) == '=' ? "(?<=" : "(?<!", true, 2);
          return Status::Ok();
        }
        return ParseNamedGroup('>', frame);
      case '\'':
        return ParseNamedGroup('\'', frame);
      case 'P':
        if (Peek(1) == '<') {
          ++pos_;
          return ParseNamedGroup('>', frame);
        }
        break;
      default:
        if (kind == 'i' || kind == 'm' || kind == 'x' || kind == '-') return ParseOptions(frame);
        break;
    }
    return Error(StrCat("unsupported group construct \"(?", std::string(1, kind), "\""));
  }

  Status ParseNamedGroup(char terminator, const Frame& frame) {
    ++pos_;  // '<' or '\''
    const size_t name_start = pos_;
    while (pos_ < pattern_.size() && pattern_[pos_] != terminator) {
      const unsigned char c = static_cast<unsigned char>(pattern_[pos_]);
      if (!std::isalnum(c) && c != '_') return Error("invalid group name");
      ++pos_;
    }
    if (pos_ >= pattern_.size() || pos_ == name_start) return Error("invalid group name");
    ++pos_;
    frames_.push_back(frame);
    out_ += "(?:";
    return Status::Ok();
  }

  Status ParseOptions(const Frame& frame) {
    bool on = true;
    std::optional<bool> ignore_case, dotall, extended;
    while (pos_ < pattern_.size() && pattern_[pos_] != ':' && pattern_[pos_] != ')') {
      switch (pattern_[pos_]) {
        case '-':
          on = false;
          break;
        case 'i':
          ignore_case = on;
          break;
        case 'm':
          dotall = on;
          break;
        case 'x':
          extended = on;
          break;
        default:
          return Error(StrCat("unsupported option letter '", std::string(1, pattern_[pos_]), "'"));
      }
      ++pos_;
    }
    if (pos_ >= pattern_.size()) return Error("unterminated option group");
    const bool isolated = pattern_[pos_] == ')';
    ++pos_;
    std::string pcre_options;
    if (ignore_case) pcre_options = *ignore_case ? "i" : "-i";
    if (isolated) {
      // Applies up to the end of the enclosing group (restored by its Frame).
      if (!pcre_options.empty()) out_ += StrCat("(?", pcre_options, ")");
      has_atom_ = false;
    } else {
      frames_.push_back(frame);
      out_ += StrCat("(?", pcre_options, ":");
    }
    if (dotall) dotall_ = *dotall;
    if (extended) extended_ = *extended;
    return Status::Ok();
  }

  Status ParseGroupClose() {
    if (frames_.empty()) return Error("unmatched ')'");
    const Frame frame = frames_.back();
    frames_.pop_back();
    ++pos_;
    out_ += ')';
    extended_ = frame.extended;
    dotall_ = frame.dotall;
    SetAtom(frame.start, /*quantifiable=*/!frame.lookaround);
    return Status::Ok();
  }

  StatusOr<uint32_t> ReadHex(size_t min_digits, size_t max_digits) {
    uint32_t value = 0;
    size_t digits = 0;
    while (digits < max_digits && std::isxdigit(static_cast<unsigned char>(Peek()))) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(Peek())));
      value = value * 16 + static_cast<uint32_t>(c <= '9' ? c - '0' : c - 'a' + 10);
      ++digits;
      ++pos_;
    }
    if (digits < min_digits) return Error("invalid hexadecimal escape");
    return value;
  }

  StatusOr<uint32_t> CheckedCodePoint(uint64_t value) {
    if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
      return Error("escape is not a Unicode scalar value");
    }
    return static_cast<uint32_t>(value);
  }

  // Parses a property name after \p / \P (pos_ at '{').
  StatusOr<CharSet> ParseProperty(bool negated) {
    if (Peek() != '{') return Error("\\p must be followed by {name}");
    ++pos_;
    if (Peek() == '^') {
      negated = !negated;
      ++pos_;
    }
    const size_t start = pos_;
    while (pos_ < pattern_.size() && pattern_[pos_] != '}') {
      const unsigned char c = static_cast<unsigned char>(pattern_[pos_]);
      if (!std::isalnum(c) && c != '_' && c != ' ' && c != '-' && c != '&') {
        return Error("invalid property name");
      }
      ++pos_;
    }
    if (pos_ >= pattern_.size()) return Error("unterminated \\p{...}");
    const std::string name(pattern_.substr(start, pos_ - start));
    ++pos_;
    const std::string loose = LooseName(name);
    CharSet set;
    set.negated = negated;
    if (loose == "word") {
      set.items = kWordItems;
    } else if (loose == "xdigit") {
      set.items = kHexDigitItems;
    } else if (loose == "ascii") {
      set.items = "\\x{0}-\\x{7F}";
    } else if (loose == "any") {
      set.items = "\\x{0}-\\x{10FFFF}";
    } else if (std::optional<std::string> posix = PosixClassItems(loose, /*bracket=*/false)) {
      if (posix->empty()) return Error(StrCat("unsupported POSIX-style property \\p{", name, "}"));
      set.items = *posix;
    } else {
      set.property = name;
      bool category_name = false;
      for (const CategoryName& category : kCategoryNames) {
        if (loose == category.loose) {
          set.property = category.short_name;
          category_name = true;
        }
      }
      // PCRE2's \p{Han} means Script_Extensions; Oniguruma's means Script: ask for sc: when the
      // name is a script.
      if (!category_name && CompilesInPcre2(StrCat("\\p{sc:", name, "}"))) {
        set.property = StrCat("sc:", name);
      }
    }
    return set;
  }

  // Parses the escape at pos_ (a backslash). Sets *set for class escapes, else *code_point.
  Status ParseEscapeBody(bool in_class, std::optional<CharSet>* set, uint32_t* code_point) {
    ++pos_;  // '\\'
    if (pos_ >= pattern_.size()) return Error("trailing backslash");
    const char c = pattern_[pos_];
    auto simple = [&](uint32_t value) {
      *code_point = value;
      ++pos_;
      return Status::Ok();
    };
    auto class_set = [&](CharSet value) {
      *set = std::move(value);
      ++pos_;
      return Status::Ok();
    };
    switch (c) {
      case 't':
        return simple(0x09);
      case 'n':
        return simple(0x0A);
      case 'r':
        return simple(0x0D);
      case 'f':
        return simple(0x0C);
      case 'v':
        return simple(0x0B);
      case 'a':
        return simple(0x07);
      case 'e':
        return simple(0x1B);
      case 'b':
        if (in_class) return simple(0x08);
        break;
      case 'x': {
        ++pos_;
        if (Peek() == '{') {
          ++pos_;
          LFM2_ASSIGN_OR_RETURN(uint32_t value, ReadHex(1, 8));
          if (Peek() != '}') return Error("unterminated \\x{...}");
          ++pos_;
          LFM2_ASSIGN_OR_RETURN(*code_point, CheckedCodePoint(value));
          return Status::Ok();
        }
        LFM2_ASSIGN_OR_RETURN(uint32_t value, ReadHex(1, 2));
        if (value >= 0x80) return Error("\\xHH escapes of non-ASCII bytes are unsupported");
        *code_point = value;
        return Status::Ok();
      }
      case 'u': {
        ++pos_;
        LFM2_ASSIGN_OR_RETURN(uint32_t value, ReadHex(4, 4));
        LFM2_ASSIGN_OR_RETURN(*code_point, CheckedCodePoint(value));
        return Status::Ok();
      }
      case 'o':
      case '0': {
        ++pos_;
        const bool braced = c == 'o';
        if (braced && Peek() != '{') return Error("\\o must be followed by {octal}");
        if (braced) ++pos_;
        uint64_t value = 0;
        size_t digits = 0;
        while (Peek() >= '0' && Peek() <= '7' && (braced ? digits < 11 : digits < 2)) {
          value = value * 8 + static_cast<uint64_t>(Peek() - '0');
          ++digits;
          ++pos_;
        }
        if (braced) {
          if (digits == 0 || Peek() != '}') return Error("invalid \\o{...}");
          ++pos_;
        }
        LFM2_ASSIGN_OR_RETURN(*code_point, CheckedCodePoint(value));
        return Status::Ok();
      }
      case 'd':
        return class_set(CharSet{"Nd", "", false});
      case 'D':
        return class_set(CharSet{"Nd", "", true});
      case 's':
        return class_set(CharSet{"White_Space", "", false});
      case 'S':
        return class_set(CharSet{"White_Space", "", true});
      case 'w':
        return class_set(CharSet{"", kWordItems, false});
      case 'W':
        return class_set(CharSet{"", kWordItems, true});
      case 'h':
        return class_set(CharSet{"", kHexDigitItems, false});
      case 'H':
        return class_set(CharSet{"", kHexDigitItems, true});
      case 'p':
      case 'P': {
        ++pos_;
        LFM2_ASSIGN_OR_RETURN(CharSet value, ParseProperty(c == 'P'));
        *set = std::move(value);
        return Status::Ok();
      }
      default:
        break;
    }
    if (std::isalnum(static_cast<unsigned char>(c))) {
      if (c >= '1' && c <= '9') return Error("back-references are unsupported");
      return Error(
          StrCat("unsupported escape \\", std::string(1, c), in_class ? " in a class" : ""));
    }
    *code_point = DecodeUtf8(pattern_, &pos_);  // escaped punctuation or any other character
    return Status::Ok();
  }

  Status ParseEscape() {
    const char c = Peek(1);
    const char* assertion = nullptr;
    const char* atom = nullptr;
    switch (c) {
      case 'A':
        assertion = "\\A";
        break;
      case 'z':
        assertion = "\\z";
        break;
      case 'Z':
        assertion = "\\Z";
        break;
      case 'G':
        assertion = "\\G";
        break;
      case 'b':
        assertion = "(?:(?<=[" LFM2_ONIG_WORD_ITEMS "])(?![" LFM2_ONIG_WORD_ITEMS
                    "])|"
                    "(?<![" LFM2_ONIG_WORD_ITEMS "])(?=[" LFM2_ONIG_WORD_ITEMS "]))";
        break;
      case 'B':
        assertion = "(?:(?<=[" LFM2_ONIG_WORD_ITEMS "])(?=[" LFM2_ONIG_WORD_ITEMS
                    "])|"
                    "(?<![" LFM2_ONIG_WORD_ITEMS "])(?![" LFM2_ONIG_WORD_ITEMS "]))";
        break;
      case 'R':
        atom = "(?>\\r\\n|[\\n\\x{B}\\x{C}\\r\\x{85}\\x{2028}\\x{2029}])";
        break;
      case 'N':
        atom = "[^\\n]";
        break;
      case 'O':
        atom = "(?s:.)";
        break;
      default:
        break;
    }
    if (assertion != nullptr || atom != nullptr) {
      pos_ += 2;
      if (assertion != nullptr) EmitAssertion(assertion);
      if (atom != nullptr) EmitAtom(atom);
      return Status::Ok();
    }
    std::optional<CharSet> set;
    uint32_t code_point = 0;
    LFM2_RETURN_IF_ERROR(ParseEscapeBody(/*in_class=*/false, &set, &code_point));
    EmitAtom(set ? set->AsAtom() : LiteralText(code_point));
    return Status::Ok();
  }

  // One class element: a character or a set.
  Status ParseClassElement(std::optional<CharSet>* set, uint32_t* code_point) {
    if (Peek() == '\\') return ParseEscapeBody(/*in_class=*/true, set, code_point);
    *code_point = DecodeUtf8(pattern_, &pos_);
    return Status::Ok();
  }

  StatusOr<std::string> PosixBracket() {
    pos_ += 2;  // "[:"
    if (Peek() == '^') return Error("negated POSIX brackets are unsupported");
    const size_t end = pattern_.find(":]", pos_);
    if (end == std::string_view::npos) return Error("unterminated POSIX bracket");
    const std::string name(pattern_.substr(pos_, end - pos_));
    pos_ = end + 2;
    if (std::optional<std::string> items = PosixClassItems(name, /*bracket=*/true);
        items && !items->empty()) {
      return *items;
    }
    return Error(StrCat("unsupported POSIX bracket [:", name, ":]"));
  }

  Status ParseClass() {
    ++pos_;  // '['
    std::string body;
    bool negate = false;
    if (Peek() == '^') {
      negate = true;
      ++pos_;
    }
    bool first = true;
    while (true) {
      if (pos_ >= pattern_.size()) return Error("premature end of character class");
      const char c = pattern_[pos_];
      if (c == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      if (c == '[') {
        if (Peek(1) != ':') return Error("nested character classes are unsupported");
        LFM2_ASSIGN_OR_RETURN(std::string items, PosixBracket());
        body += items;
        continue;
      }
      if (c == '&' && Peek(1) == '&') return Error("class intersection (&&) is unsupported");
      std::optional<CharSet> set;
      uint32_t low = 0;
      LFM2_RETURN_IF_ERROR(ParseClassElement(&set, &low));
      if (set) {
        if (!set->CanBeClassItem()) return Error("this negated set cannot be used inside [...]");
        body += set->AsClassItems();
        continue;
      }
      if (Peek() == '-' && pos_ + 1 < pattern_.size() && Peek(1) != ']') {
        ++pos_;
        std::optional<CharSet> high_set;
        uint32_t high = 0;
        LFM2_RETURN_IF_ERROR(ParseClassElement(&high_set, &high));
        if (high_set) return Error("a character range cannot end in a character set");
        if (high < low) return Error("empty range in character class");
        body += StrCat(HexEscape(low), "-", HexEscape(high));
      } else {
        body += HexEscape(low);
      }
    }
    out_ += StrCat(negate ? "[^" : "[", body, "]");
    return Status::Ok();
  }

  std::string_view pattern_;
  size_t pos_ = 0;
  std::string out_;
  std::vector<Frame> frames_;
  bool extended_ = false;  // Ruby (?x)
  bool dotall_ = false;    // Ruby (?m)
  bool has_atom_ = false;
  size_t atom_start_ = 0;
  bool atom_quantified_ = false;
  bool atom_quantifiable_ = false;
};

}  // namespace

StatusOr<std::string> TranslateOnigurumaPattern(std::string_view pattern) {
  if (!IsValidUtf8(pattern)) return InvalidArgumentError("regex: pattern is not valid UTF-8");
  return Translator(pattern).Run();
}

}  // namespace lfm2::tokenizer
