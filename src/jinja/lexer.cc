// jinja/lexer.cc - jinja2's lexer rules re-implemented by hand (see lexer.h).
#include "jinja/lexer.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "jinja/text.h"

namespace lfm2::jinja {
namespace {

bool IsDecimal(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool IsNameChar(char c) { return IsNameStart(c) || IsDecimal(c); }

// Python `\s` on one code point at text[pos]; sets *next past it.
bool SpaceAt(std::string_view text, size_t pos, size_t* next) {
  if (pos >= text.size()) return false;
  *next = pos;
  return IsPySpace(NextCodePoint(text, next));
}

size_t SkipSpaces(std::string_view text, size_t pos) {
  size_t next;
  while (SpaceAt(text, pos, &next)) pos = next;
  return pos;
}

// Python str.rstrip() (Unicode whitespace).
std::string_view RStrip(std::string_view text) {
  const std::vector<size_t> offsets = CodePointOffsets(text);
  size_t end = offsets.size() - 1;
  while (end > 0) {
    size_t pos = offsets[end - 1];
    if (!IsPySpace(NextCodePoint(text, &pos))) break;
    --end;
  }
  return text.substr(0, offsets[end]);
}

// jinja2's lstrip_blocks rule for the text before a block/comment tag.
std::string_view LStripBlock(std::string_view text, bool line_starting) {
  const size_t newline = text.rfind('\n');
  const size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
  if (line_start == 0 && !line_starting) return text;
  if (line_start >= text.size()) return text;  // `\s+` needs at least one character
  size_t pos = line_start;
  while (pos < text.size()) {
    size_t next;
    if (!SpaceAt(text, pos, &next)) return text;
    pos = next;
  }
  return text.substr(0, line_start);
}

// Length of a digit run with single '_' separators ("(\d+_)*\d+"); 0 if none.
size_t DigitRun(std::string_view s, size_t pos) {
  size_t i = pos;
  if (i >= s.size() || !IsDecimal(s[i])) return 0;
  while (true) {
    while (i < s.size() && IsDecimal(s[i])) ++i;
    if (i + 1 < s.size() && s[i] == '_' && IsDecimal(s[i + 1])) {
      ++i;
      continue;
    }
    return i - pos;
  }
}

// jinja2's float_re at pos; returns the match length or 0.
size_t MatchFloat(std::string_view s, size_t pos) {
  if (pos > 0 && s[pos - 1] == '.') return 0;
  const size_t integer = DigitRun(s, pos);
  if (integer == 0) return 0;
  size_t i = pos + integer;
  size_t fraction = 0;
  if (i < s.size() && s[i] == '.') fraction = DigitRun(s, i + 1);
  size_t after_fraction = fraction > 0 ? i + 1 + fraction : i;
  if (after_fraction < s.size() && (s[after_fraction] == 'e' || s[after_fraction] == 'E')) {
    size_t j = after_fraction + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    const size_t exponent = DigitRun(s, j);
    if (exponent > 0) return j + exponent - pos;
  }
  return fraction > 0 ? after_fraction - pos : 0;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// jinja2's integer_re at pos: match length or 0; *value gets the number, *overflow if > 2^127.
size_t MatchInteger(std::string_view s, size_t pos, Int* value, bool* overflow) {
  *value = 0;
  *overflow = false;
  auto accumulate = [&](int digit, int base) {
    if (*value > (std::numeric_limits<Int>::max() - digit) / base) *overflow = true;
    if (!*overflow) *value = *value * base + digit;
  };
  if (s[pos] == '0' && pos + 1 < s.size()) {
    const char prefix = static_cast<char>(s[pos + 1] | 32);
    const int base = prefix == 'b' ? 2 : prefix == 'o' ? 8 : prefix == 'x' ? 16 : 0;
    if (base != 0) {
      size_t i = pos + 2;
      size_t digits = 0;
      while (i < s.size()) {
        size_t j = i;
        if (s[j] == '_') ++j;
        if (j >= s.size()) break;
        const int digit = HexValue(s[j]);
        if (digit < 0 || digit >= base) break;
        accumulate(digit, base);
        i = j + 1;
        ++digits;
      }
      if (digits > 0) return i - pos;
      *value = 0;
      *overflow = false;
    }
  }
  if (!IsDecimal(s[pos])) return 0;
  if (s[pos] == '0') {
    size_t i = pos + 1;
    while (i < s.size()) {
      size_t j = i;
      if (s[j] == '_') ++j;
      if (j >= s.size() || s[j] != '0') break;
      i = j + 1;
    }
    return i - pos;
  }
  size_t i = pos;
  accumulate(s[i] - '0', 10);
  ++i;
  while (i < s.size()) {
    size_t j = i;
    if (s[j] == '_') ++j;
    if (j >= s.size() || !IsDecimal(s[j])) break;
    accumulate(s[j] - '0', 10);
    i = j + 1;
  }
  return i - pos;
}

// Python's unicode-escape decoding of a string literal body.
void Unescape(std::string_view body, std::string* out) {
  size_t i = 0;
  while (i < body.size()) {
    const char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out->push_back(c);
      ++i;
      continue;
    }
    const char e = body[i + 1];
    i += 2;
    switch (e) {
      case '\n': break;  // line continuation
      case '\\': out->push_back('\\'); break;
      case '\'': out->push_back('\''); break;
      case '"': out->push_back('"'); break;
      case 'a': out->push_back('\a'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'v': out->push_back('\v'); break;
      case 'x':
      case 'u':
      case 'U': {
        const int digits = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
        uint32_t code = 0;
        int taken = 0;
        while (taken < digits && i + taken < body.size() && HexValue(body[i + taken]) >= 0) {
          code = code * 16 + HexValue(body[i + taken]);
          ++taken;
        }
        if (taken < digits || code > 0x10FFFF) {
          // Python raises; keep the text so no input fails (the parser reports nothing).
          out->push_back('\\');
          out->push_back(e);
        } else {
          AppendUtf8(code, out);
          i += taken;
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t code = e - '0';
          for (int k = 0; k < 2 && i < body.size() && body[i] >= '0' && body[i] <= '7'; ++k) {
            code = code * 8 + (body[i++] - '0');
          }
          AppendUtf8(code, out);
        } else {
          out->push_back('\\');
          out->push_back(e);
        }
    }
  }
}

constexpr std::string_view kTwoCharOperators[] = {"//", "**", "==", "!=", ">=", "<="};
constexpr std::string_view kOneCharOperators = "+-/*%~[](){}><=.:|,;";

class Lexer {
 public:
  explicit Lexer(const SourceMap& map) : map_(map), s_(map.source()) {}

  StatusOr<std::vector<Token>> Run() {
    size_t pos = 0;
    while (pos < s_.size()) {
      const size_t tag = FindTag(pos);
      if (tag == std::string_view::npos) {
        EmitText(s_.substr(pos), pos);
        break;
      }
      std::string_view text = s_.substr(pos, tag - pos);
      const char kind = s_[tag + 1];  // '{', '%' or '#'
      size_t raw_end = 0;
      const bool raw = kind == '%' && MatchRawBegin(tag, &raw_end);
      const char sign = (tag + 2 < s_.size() && (s_[tag + 2] == '-' || s_[tag + 2] == '+'))
                            ? s_[tag + 2] : 0;
      if (sign == '-') {
        text = RStrip(text);
      } else if (sign != '+' && kind != '{') {
        text = LStripBlock(text, line_starting_);
      }
      EmitText(text, pos);
      line_starting_ = false;
      const size_t body = tag + 2 + (sign ? 1 : 0);
      if (raw) {
        line_starting_ = s_[raw_end - 1] == '\n';
        LFM2_ASSIGN_OR_RETURN(pos, LexRaw(tag, raw_end));
      } else if (kind == '#') {
        LFM2_ASSIGN_OR_RETURN(pos, LexComment(tag, body));
      } else {
        LFM2_ASSIGN_OR_RETURN(pos, LexTag(kind == '%', tag, body));
      }
    }
    tokens_.push_back(Token{TokenType::kEof, "", 0, 0.0, static_cast<uint32_t>(s_.size())});
    return std::move(tokens_);
  }

 private:
  Status Error(size_t offset, const std::string& message) const {
    return InvalidArgumentError(map_.Where(static_cast<uint32_t>(offset)), ": ", message);
  }

  void Emit(TokenType type, std::string text, size_t offset) {
    tokens_.push_back(Token{type, std::move(text), 0, 0.0, static_cast<uint32_t>(offset)});
  }

  void EmitText(std::string_view text, size_t offset) {
    if (!text.empty()) Emit(TokenType::kText, std::string(text), offset);
  }

  size_t FindTag(size_t pos) const {
    for (size_t i = s_.find('{', pos); i != std::string_view::npos; i = s_.find('{', i + 1)) {
      if (i + 1 < s_.size() && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string_view::npos;
  }

  // `{%(-|+|)\s*raw\s*(-%}\s*|%})` at tag; *end is past the match.
  bool MatchRawBegin(size_t tag, size_t* end) const {
    size_t i = tag + 2;
    if (i < s_.size() && (s_[i] == '-' || s_[i] == '+')) ++i;
    i = SkipSpaces(s_, i);
    if (s_.substr(i, 3) != "raw") return false;
    i = SkipSpaces(s_, i + 3);
    if (s_.substr(i, 3) == "-%}") {
      *end = SkipSpaces(s_, i + 3);
      return true;
    }
    if (s_.substr(i, 2) == "%}") {
      *end = i + 2;
      return true;
    }
    return false;
  }

  StatusOr<size_t> LexRaw(size_t tag, size_t start) {
    for (size_t i = s_.find("{%", start); i != std::string_view::npos; i = s_.find("{%", i + 1)) {
      size_t j = i + 2;
      char sign = 0;
      if (j < s_.size() && (s_[j] == '-' || s_[j] == '+')) sign = s_[j++];
      j = SkipSpaces(s_, j);
      if (s_.substr(j, 6) != "endraw") continue;
      j = SkipSpaces(s_, j + 6);
      size_t end;
      if (s_.substr(j, 3) == "+%}") {
        end = j + 3;
      } else if (s_.substr(j, 3) == "-%}") {
        end = SkipSpaces(s_, j + 3);
      } else if (s_.substr(j, 2) == "%}") {
        end = j + 2;
        if (end < s_.size() && s_[end] == '\n') ++end;
      } else {
        continue;
      }
      std::string_view text = s_.substr(start, i - start);
      if (sign == '-') {
        text = RStrip(text);
      } else if (sign != '+') {
        text = LStripBlock(text, line_starting_);
      }
      EmitText(text, start);
      line_starting_ = s_[end - 1] == '\n';
      return end;
    }
    return Error(tag, "missing end of raw directive ({% endraw %})");
  }

  StatusOr<size_t> LexComment(size_t tag, size_t start) {
    for (size_t i = start; i + 1 < s_.size(); ++i) {
      size_t end = 0;
      if (s_[i] == '+' && s_.substr(i + 1, 2) == "#}") {
        end = i + 3;
      } else if (s_[i] == '-' && s_.substr(i + 1, 2) == "#}") {
        end = SkipSpaces(s_, i + 3);
      } else if (s_.substr(i, 2) == "#}") {
        end = i + 2;
        if (end < s_.size() && s_[end] == '\n') ++end;
      } else {
        continue;
      }
      line_starting_ = s_[end - 1] == '\n';
      return end;
    }
    return Error(tag, "missing end of comment tag (#})");
  }

  // Matches the end of the current tag at pos; returns its length (0 if none).
  size_t MatchTagEnd(bool block, size_t pos) const {
    if (block) {
      if (s_.substr(pos, 3) == "+%}") return 3;
      if (s_.substr(pos, 3) == "-%}") return SkipSpaces(s_, pos + 3) - pos;
      if (s_.substr(pos, 2) == "%}") {
        return (pos + 2 < s_.size() && s_[pos + 2] == '\n') ? 3 : 2;
      }
      return 0;
    }
    if (s_.substr(pos, 3) == "-}}") return SkipSpaces(s_, pos + 3) - pos;
    if (s_.substr(pos, 2) == "}}") return 2;
    return 0;
  }

  StatusOr<size_t> LexTag(bool block, size_t tag, size_t pos) {
    Emit(block ? TokenType::kBlockBegin : TokenType::kVariableBegin, "", tag);
    std::vector<char> brackets;
    while (pos < s_.size()) {
      if (brackets.empty()) {
        const size_t end = MatchTagEnd(block, pos);
        if (end > 0) {
          Emit(block ? TokenType::kBlockEnd : TokenType::kVariableEnd, "", pos);
          line_starting_ = s_[pos + end - 1] == '\n';
          return pos + end;
        }
      }
      size_t next;
      if (SpaceAt(s_, pos, &next)) {
        pos = SkipSpaces(s_, pos);
        continue;
      }
      const char c = s_[pos];
      if (const size_t length = MatchFloat(s_, pos); length > 0) {
        std::string digits;
        for (char d : s_.substr(pos, length)) {
          if (d != '_') digits.push_back(d);
        }
        Token token{TokenType::kFloat, digits, 0, std::strtod(digits.c_str(), nullptr),
                    static_cast<uint32_t>(pos)};
        tokens_.push_back(std::move(token));
        pos += length;
        continue;
      }
      if (IsDecimal(c)) {
        Int value;
        bool overflow;
        const size_t length = MatchInteger(s_, pos, &value, &overflow);
        if (overflow) return Error(pos, "integer literal too large");
        Token token{TokenType::kInteger, std::string(s_.substr(pos, length)), value, 0.0,
                    static_cast<uint32_t>(pos)};
        tokens_.push_back(std::move(token));
        pos += length;
        continue;
      }
      if (IsNameStart(c)) {
        size_t end = pos;
        while (end < s_.size() && IsNameChar(s_[end])) ++end;
        Emit(TokenType::kName, std::string(s_.substr(pos, end - pos)), pos);
        pos = end;
        continue;
      }
      if (c == '"' || c == '\'') {
        size_t i = pos + 1;
        while (i < s_.size() && s_[i] != c) i += (s_[i] == '\\') ? 2 : 1;
        if (i >= s_.size()) return Error(pos, "unterminated string literal");
        std::string value;
        Unescape(s_.substr(pos + 1, i - pos - 1), &value);
        Emit(TokenType::kString, std::move(value), pos);
        pos = i + 1;
        continue;
      }
      std::string_view op;
      for (std::string_view candidate : kTwoCharOperators) {
        if (s_.substr(pos, 2) == candidate) op = candidate;
      }
      if (op.empty() && kOneCharOperators.find(c) != std::string_view::npos) op = s_.substr(pos, 1);
      if (op.empty()) {
        size_t after = pos;
        std::string shown;
        AppendCodePoint(NextCodePoint(s_, &after), &shown);
        return Error(pos, "unexpected character '" + shown + "'");
      }
      if (op == "(" || op == "[" || op == "{") {
        brackets.push_back(op == "(" ? ')' : (op == "[" ? ']' : '}'));
      } else if (op == ")" || op == "]" || op == "}") {
        if (brackets.empty()) return Error(pos, StrCat("unexpected '", op, "'"));
        if (brackets.back() != op[0]) {
          return Error(pos, StrCat("unexpected '", op, "', expected '", brackets.back(), "'"));
        }
        brackets.pop_back();
      }
      Emit(TokenType::kOperator, std::string(op), pos);
      pos += op.size();
    }
    return pos;  // end of input inside a tag: the parser reports it
  }

  const SourceMap& map_;
  std::string_view s_;
  std::vector<Token> tokens_;
  bool line_starting_ = true;
};

}  // namespace

SourceMap::SourceMap(std::string name, std::string source)
    : name_(std::move(name)), source_(std::move(source)) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < source_.size(); ++i) {
    if (source_[i] == '\n') line_starts_.push_back(static_cast<uint32_t>(i + 1));
  }
}

std::string SourceMap::Where(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(source_.size()));
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const size_t line = static_cast<size_t>(it - line_starts_.begin());
  const uint32_t start = line_starts_[line - 1];
  const size_t column =
      CodePointCount(std::string_view(source_).substr(start, offset - start)) + 1;
  return StrCat(name_, ":", line, ":", column);
}

std::string NormalizeTemplateSource(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

StatusOr<std::vector<Token>> Tokenize(const SourceMap& source) { return Lexer(source).Run(); }

}  // namespace lfm2::jinja
