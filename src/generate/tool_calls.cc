// generate/tool_calls.cc - a recursive-descent Python-literal parser for LFM2 tool-call sections,
// the JSON form, and the whole-text / streaming splitters.
#include "generate/tool_calls.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "tokenizer/unicode_util.h"

namespace lfm2 {
namespace {

constexpr uint32_t kReplacement = 0xFFFD;

using tokenizer::AppendUtf8;

bool IsIdentifierStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;  // Unicode identifiers, approximately
}
bool IsIdentifierChar(char c) { return IsIdentifierStart(c) || (c >= '0' && c <= '9'); }

int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

// A JSON-form call object: {"name", "arguments" | "parameters"} or {"type", "function": {...}}.
StatusOr<ToolCall> CallFromObject(const Json& object) {
  if (!object.is_object()) return InvalidArgumentError("tool call: expected an object, got ", JsonTypeName(object));
  const Json* body = &object;
  if (const Json* function = FindMember(object, "function"); function != nullptr && function->is_object()) {
    body = function;
  }
  const Json* name = FindMember(*body, "name");
  if (name == nullptr || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return InvalidArgumentError("tool call: missing \"name\"");
  }
  ToolCall call;
  call.name = name->get<std::string>();
  const Json* arguments = FindMember(*body, "arguments");
  if (arguments == nullptr) arguments = FindMember(*body, "parameters");
  if (arguments == nullptr || arguments->is_null()) return call;
  if (arguments->is_string()) {
    auto parsed = ParseJson(arguments->get_ref<const std::string&>(), "tool call arguments");
    if (!parsed.ok()) return parsed.status();
    if (!parsed->is_object()) return InvalidArgumentError("tool call: arguments must be an object");
    call.arguments = std::move(parsed).value();
  } else if (arguments->is_object()) {
    call.arguments = *arguments;
  } else {
    return InvalidArgumentError("tool call: arguments must be an object, got ", JsonTypeName(*arguments));
  }
  return call;
}

// A JSON value as a dict key, as Python's json.dumps writes non-string keys.
StatusOr<std::string> KeyString(const Json& key) {
  switch (key.type()) {
    case Json::value_t::string: return key.get<std::string>();
    case Json::value_t::boolean: return std::string(key.get<bool>() ? "true" : "false");
    case Json::value_t::null: return std::string("null");
    case Json::value_t::number_integer: return std::to_string(key.get<int64_t>());
    case Json::value_t::number_unsigned: return std::to_string(key.get<uint64_t>());
    case Json::value_t::number_float: {
      char buffer[64];
      const double d = key.get<double>();
      auto result = std::to_chars(buffer, buffer + sizeof(buffer), d);
      std::string text(buffer, result.ptr);
      if (text.find_first_of(".en") == std::string::npos) text += ".0";  // Python's repr
      return text;
    }
    default: return InvalidArgumentError("tool call: unhashable dict key (", JsonTypeName(key), ")");
  }
}

class PythonParser {
 public:
  PythonParser(std::string_view text, const ToolCallParseOptions& options)
      : text_(text), options_(options) {}

  StatusOr<std::vector<ToolCall>> Calls() {
    std::vector<ToolCall> calls;
    SkipSpace();
    const bool bracketed = Peek() == '[';
    if (bracketed) ++pos_;
    while (true) {
      SkipSpace();
      if (bracketed && Peek() == ']') break;
      if (AtEnd()) break;
      if (Peek() == '{') {  // a dict in a Python list: the JSON form written as Python
        LFM2_ASSIGN_OR_RETURN(Json dict, Value(1));
        LFM2_ASSIGN_OR_RETURN(ToolCall call, CallFromObject(dict));
        calls.push_back(std::move(call));
      } else {
        LFM2_ASSIGN_OR_RETURN(ToolCall call, Call());
        calls.push_back(std::move(call));
      }
      SkipSpace();
      if (!Consume(',')) break;
    }
    if (bracketed && !Consume(']')) return Error("expected ',' or ']'");
    SkipSpace();
    if (!AtEnd()) return Error("unexpected text after the calls");
    if (calls.empty()) return Error("no calls");
    return calls;
  }

 private:
  template <typename... Args>
  Status Error(const Args&... args) const {
    const size_t from = pos_ > 20 ? pos_ - 20 : 0;
    return InvalidArgumentError("tool call: ", args..., " at offset ", pos_, " (near \"",
                                text_.substr(from, std::min<size_t>(40, text_.size() - from)), "\")");
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }
  bool Consume(char c) {
    if (Peek() != c || AtEnd()) return false;
    ++pos_;
    return true;
  }

  // Whitespace, comments and backslash-newline continuations (all legal inside brackets).
  void SkipSpace() {
    while (!AtEnd()) {
      const char c = Peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
        ++pos_;
      } else if (c == '#') {
        while (!AtEnd() && Peek() != '\n') ++pos_;
      } else if (c == '\\' && (Peek(1) == '\n' || (Peek(1) == '\r' && Peek(2) == '\n'))) {
        pos_ += Peek(1) == '\n' ? 2 : 3;
      } else {
        break;
      }
    }
  }

  std::string_view Identifier() {
    const size_t start = pos_;
    if (!IsIdentifierStart(Peek())) return {};
    while (!AtEnd() && IsIdentifierChar(Peek())) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  StatusOr<ToolCall> Call() {
    ToolCall call;
    std::string_view part = Identifier();
    if (part.empty()) return Error("expected a function name");
    call.name = std::string(part);
    while (true) {
      SkipSpace();
      if (!Consume('.')) break;
      SkipSpace();
      part = Identifier();
      if (part.empty()) return Error("expected a name after '.'");
      call.name += '.';
      call.name += part;
    }
    if (!Consume('(')) return Error("expected '(' after ", call.name);
    std::vector<Json> positional;
    bool keywords_seen = false;
    while (true) {
      SkipSpace();
      if (Consume(')')) break;
      if (Peek() == '*') return Error("*args / **kwargs are not supported");
      // A keyword: identifier, optional space, '=' (not '==').
      const size_t mark = pos_;
      std::string_view keyword = Identifier();
      SkipSpace();
      if (!keyword.empty() && Peek() == '=' && Peek(1) != '=') {
        ++pos_;
        LFM2_ASSIGN_OR_RETURN(Json value, Value(1));
        const std::string key(keyword);
        if (call.arguments.contains(key)) return Error("keyword argument repeated: ", key);
        call.arguments[key] = std::move(value);
        keywords_seen = true;
      } else {
        pos_ = mark;
        if (keywords_seen) return Error("positional argument after keyword arguments");
        LFM2_ASSIGN_OR_RETURN(Json value, Value(1));
        positional.push_back(std::move(value));
      }
      SkipSpace();
      if (Consume(')')) break;
      if (!Consume(',')) return Error("expected ',' or ')' in the arguments of ", call.name);
    }
    if (!positional.empty()) LFM2_RETURN_IF_ERROR(NamePositional(positional, &call));
    return call;
  }

  Status NamePositional(std::vector<Json>& positional, ToolCall* call) {
    auto it = options_.parameter_names.find(call->name);
    if (it == options_.parameter_names.end()) {
      return InvalidArgumentError("tool call: ", call->name, " has positional arguments and its "
                                  "parameter names are unknown (OpenAI needs named arguments)");
    }
    const std::vector<std::string>& names = it->second;
    if (positional.size() > names.size()) {
      return InvalidArgumentError("tool call: ", call->name, " takes ", names.size(),
                                  " parameters, got ", positional.size(), " positional arguments");
    }
    Json ordered = Json::object();
    for (size_t i = 0; i < positional.size(); ++i) {
      if (call->arguments.contains(names[i])) {
        return InvalidArgumentError("tool call: ", call->name, " got multiple values for ", names[i]);
      }
      ordered[names[i]] = std::move(positional[i]);
    }
    for (auto m = call->arguments.begin(); m != call->arguments.end(); ++m) ordered[m.key()] = m.value();
    call->arguments = std::move(ordered);
    return Status::Ok();
  }

  StatusOr<Json> Value(int depth) {
    if (depth > options_.max_depth) return Error("nesting deeper than ", options_.max_depth);
    SkipSpace();
    const char c = Peek();
    if (AtEnd()) return Error("expected a value");
    if (c == '[') return Sequence(']', depth);
    if (c == '(') return Parenthesized(depth);
    if (c == '{') return Braces(depth);
    if (c == '-' || c == '+') {
      ++pos_;
      SkipSpace();
      if (!((Peek() >= '0' && Peek() <= '9') || Peek() == '.')) return Error("expected a number after '", c, "'");
      return Number(c == '-');
    }
    if ((c >= '0' && c <= '9') || (c == '.' && Peek(1) >= '0' && Peek(1) <= '9')) return Number(false);
    if (c == '"' || c == '\'' || StringPrefix() > 0) return Strings();
    const std::string_view name = Identifier();
    if (name == "True" || name == "true") return Json(true);
    if (name == "False" || name == "false") return Json(false);
    if (name == "None" || name == "null") return Json(nullptr);
    if (name.empty()) return Error("unexpected character '", c, "'");
    return Error("'", name, "' is not a literal");
  }

  // Items up to `close`, as a JSON array (lists, tuples, sets).
  StatusOr<Json> Sequence(char close, int depth) {
    ++pos_;
    Json out = Json::array();
    while (true) {
      SkipSpace();
      if (Consume(close)) return out;
      LFM2_ASSIGN_OR_RETURN(Json item, Value(depth + 1));
      out.push_back(std::move(item));
      SkipSpace();
      if (Consume(close)) return out;
      if (!Consume(',')) return Error("expected ',' or '", close, "'");
    }
  }

  // "()" empty tuple, "(x)" a parenthesized value, "(x,)" / "(x, y)" tuples.
  StatusOr<Json> Parenthesized(int depth) {
    const size_t open = pos_++;
    SkipSpace();
    if (Consume(')')) return Json::array();
    LFM2_ASSIGN_OR_RETURN(Json first, Value(depth + 1));
    SkipSpace();
    if (Consume(')')) return first;
    pos_ = open;
    return Sequence(')', depth);
  }

  // A dict, or a set (as an array).
  StatusOr<Json> Braces(int depth) {
    ++pos_;
    SkipSpace();
    Json out = Json::object();
    if (Consume('}')) return out;
    LFM2_ASSIGN_OR_RETURN(Json first, Value(depth + 1));
    SkipSpace();
    if (Peek() != ':') {  // a set
      Json items = Json::array({std::move(first)});
      while (true) {
        SkipSpace();
        if (Consume('}')) return items;
        if (!Consume(',')) return Error("expected ',' or '}' in a set");
        SkipSpace();
        if (Consume('}')) return items;
        LFM2_ASSIGN_OR_RETURN(Json item, Value(depth + 1));
        items.push_back(std::move(item));
      }
    }
    Json key = std::move(first);
    while (true) {
      SkipSpace();
      if (!Consume(':')) return Error("expected ':' in a dict");
      LFM2_ASSIGN_OR_RETURN(std::string name, KeyString(key));
      LFM2_ASSIGN_OR_RETURN(Json value, Value(depth + 1));
      out[name] = std::move(value);  // a repeated key keeps its place and takes the last value
      SkipSpace();
      if (Consume('}')) return out;
      if (!Consume(',')) return Error("expected ',' or '}' in a dict");
      SkipSpace();
      if (Consume('}')) return out;
      LFM2_ASSIGN_OR_RETURN(key, Value(depth + 1));
    }
  }

  // Length of a string prefix (r, u, rb, f, ...) directly followed by a quote, else 0.
  size_t StringPrefix() const {
    size_t n = 0;
    while (n < 2 && std::strchr("rRuUbBfF", Peek(n)) != nullptr && Peek(n) != '\0') ++n;
    return n > 0 && (Peek(n) == '"' || Peek(n) == '\'') ? n : 0;
  }

  // One or more adjacent string literals, concatenated.
  StatusOr<Json> Strings() {
    std::string out;
    uint32_t pending_high = 0;  // a high surrogate waiting for its low half
    do {
      LFM2_RETURN_IF_ERROR(StringLiteral(&out, &pending_high));
      SkipSpace();
    } while (Peek() == '"' || Peek() == '\'' || StringPrefix() > 0);
    if (pending_high != 0) AppendUtf8(kReplacement, &out);
    return Json(std::move(out));
  }

  void AppendCodepoint(uint32_t c, std::string* out, uint32_t* pending_high) {
    if (*pending_high != 0) {
      if (c >= 0xDC00 && c <= 0xDFFF) {
        AppendUtf8(0x10000 + ((*pending_high - 0xD800) << 10) + (c - 0xDC00), out);
        *pending_high = 0;
        return;
      }
      AppendUtf8(kReplacement, out);
      *pending_high = 0;
    }
    if (c >= 0xD800 && c <= 0xDBFF) {
      *pending_high = c;
    } else if (c >= 0xDC00 && c <= 0xDFFF) {
      AppendUtf8(kReplacement, out);
    } else {
      AppendUtf8(c, out);
    }
  }

  Status StringLiteral(std::string* out, uint32_t* pending_high) {
    bool raw = false;
    for (size_t n = StringPrefix(); n > 0; --n, ++pos_) {
      const char p = Peek();
      if (p == 'b' || p == 'B') return Error("bytes literals are not supported");
      if (p == 'f' || p == 'F') return Error("f-strings are not supported");
      if (p == 'r' || p == 'R') raw = true;
    }
    const char quote = Peek();
    const bool triple = Peek(1) == quote && Peek(2) == quote;
    pos_ += triple ? 3 : 1;
    while (true) {
      if (AtEnd()) return Error("unterminated string");
      const char c = Peek();
      if (c == quote && (!triple || (Peek(1) == quote && Peek(2) == quote))) {
        pos_ += triple ? 3 : 1;
        return Status::Ok();
      }
      if (c == '\n' && !triple) return Error("unterminated string (newline)");
      if (c != '\\') {
        if (*pending_high != 0) {  // a high surrogate not followed by a low one
          AppendUtf8(kReplacement, out);
          *pending_high = 0;
        }
        out->push_back(c);
        ++pos_;
        continue;
      }
      if (raw) {  // backslashes stay; an escaped quote does not end the string
        out->push_back('\\');
        ++pos_;
        if (!AtEnd()) out->push_back(Peek()), ++pos_;
        continue;
      }
      LFM2_RETURN_IF_ERROR(Escape(out, pending_high));
    }
  }

  Status Escape(std::string* out, uint32_t* pending_high) {
    ++pos_;  // the backslash
    if (AtEnd()) return Error("unterminated string");
    const char c = Peek();
    ++pos_;
    auto simple = [&](char value) {
      AppendCodepoint(static_cast<unsigned char>(value), out, pending_high);
      return Status::Ok();
    };
    switch (c) {
      case '\n': return Status::Ok();  // line continuation
      case '\r':
        if (Peek() == '\n') ++pos_;
        return Status::Ok();
      case '\\': return simple('\\');
      case '\'': return simple('\'');
      case '"': return simple('"');
      case 'a': return simple('\a');
      case 'b': return simple('\b');
      case 'f': return simple('\f');
      case 'n': return simple('\n');
      case 'r': return simple('\r');
      case 't': return simple('\t');
      case 'v': return simple('\v');
      case 'x':
      case 'u':
      case 'U': {
        const int digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        uint32_t value = 0;
        for (int i = 0; i < digits; ++i) {
          const int d = DigitValue(Peek());
          if (d >= 16) return Error("truncated \\", c, " escape");
          value = value * 16 + static_cast<uint32_t>(d);
          ++pos_;
        }
        if (value > 0x10FFFF) return Error("\\U escape beyond U+10FFFF");
        AppendCodepoint(value, out, pending_high);
        return Status::Ok();
      }
      case 'N': return Error("\\N{...} escapes are not supported");
      default:
        if (c >= '0' && c <= '7') {
          uint32_t value = static_cast<uint32_t>(c - '0');
          for (int i = 0; i < 2 && Peek() >= '0' && Peek() <= '7'; ++i) {
            value = value * 8 + static_cast<uint32_t>(Peek() - '0');
            ++pos_;
          }
          AppendCodepoint(value, out, pending_high);
          return Status::Ok();
        }
        AppendCodepoint('\\', out, pending_high);  // unknown escapes stay as written
        --pos_;
        return Status::Ok();
    }
  }

  // Digits of `base` with single underscores between them (appended without the underscores);
  // false if an underscore is leading, doubled or trailing.
  bool Digits(int base, std::string* out) {
    bool any = false, underscore = false;
    while (!AtEnd()) {
      const char c = Peek();
      if (c == '_') {
        if (!any || underscore) return false;
        underscore = true;
      } else if (DigitValue(c) < base) {
        out->push_back(c);
        any = true;
        underscore = false;
      } else {
        break;
      }
      ++pos_;
    }
    return !underscore;
  }

  StatusOr<Json> Number(bool negative) {
    if (Peek() == '0' && std::strchr("xXoObB", Peek(1)) != nullptr && Peek(1) != '\0') {
      const char kind = static_cast<char>(Peek(1) | 0x20);
      const int base = kind == 'x' ? 16 : kind == 'o' ? 8 : 2;
      pos_ += 2;
      if (Peek() == '_') ++pos_;
      std::string digits;
      if (!Digits(base, &digits) || digits.empty()) return Error("malformed number");
      if (IsIdentifierChar(Peek())) return Error("malformed number");
      return IntegerJson(digits, base, negative);
    }
    std::string text;
    bool is_float = false;
    if (!Digits(10, &text)) return Error("malformed number");
    if (Peek() == '.') {
      is_float = true;
      text.push_back('.');
      ++pos_;
      if (Peek() >= '0' && Peek() <= '9' && !Digits(10, &text)) return Error("malformed number");
    }
    if (Peek() == 'e' || Peek() == 'E') {
      is_float = true;
      text.push_back('e');
      ++pos_;
      if (Peek() == '+' || Peek() == '-') text.push_back(Peek()), ++pos_;
      const size_t before = text.size();
      if (!Digits(10, &text) || text.size() == before) return Error("malformed exponent");
    }
    if (Peek() == 'j' || Peek() == 'J') return Error("complex numbers are not supported");
    if (IsIdentifierChar(Peek())) return Error("malformed number");
    if (!is_float) {
      if (text.size() > 1 && text[0] == '0' && text.find_first_not_of('0') != std::string::npos) {
        return Error("leading zeros in a decimal integer");
      }
      return IntegerJson(text, 10, negative);
    }
    if (text[0] == '.') text.insert(text.begin(), '0');
    if (text.back() == '.') text.push_back('0');
    double value = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (result.ec == std::errc::result_out_of_range) {
      // Underflow is 0 in Python; overflow would be inf, which JSON cannot carry.
      const size_t e = text.find('e');
      if (e != std::string::npos && text[e + 1] == '-') return Json(negative ? -0.0 : 0.0);
      return Error("float literal out of range");
    }
    if (result.ec != std::errc() || !std::isfinite(value)) return Error("malformed number");
    return Json(negative ? -value : value);
  }

  StatusOr<Json> IntegerJson(const std::string& digits, int base, bool negative) {
    uint64_t value = 0;
    bool overflow = false;
    double approximate = 0;
    for (char c : digits) {
      const auto d = static_cast<uint64_t>(DigitValue(c));
      approximate = approximate * base + static_cast<double>(d);
      if (value > (std::numeric_limits<uint64_t>::max() - d) / static_cast<uint64_t>(base)) overflow = true;
      if (!overflow) value = value * static_cast<uint64_t>(base) + d;
    }
    if (overflow) {  // beyond 64 bits: JSON readers see a double anyway
      if (!std::isfinite(approximate)) return Error("integer literal too large");
      return Json(negative ? -approximate : approximate);
    }
    if (!negative) {
      if (value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Json(static_cast<int64_t>(value));
      return Json(value);
    }
    if (value <= uint64_t{1} << 63) return Json(static_cast<int64_t>(0 - value));
    return Json(-static_cast<double>(value));
  }

  std::string_view text_;
  const ToolCallParseOptions& options_;
  size_t pos_ = 0;
};

std::string_view Trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// Length of the longest suffix of `text` that is a proper prefix of `marker`.
size_t PartialMarker(std::string_view text, std::string_view marker) {
  for (size_t n = std::min(text.size(), marker.size() - 1); n > 0; --n) {
    if (text.substr(text.size() - n) == marker.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace

ToolCallParseOptions ToolCallOptionsFromTools(const Json& tools) {
  ToolCallParseOptions options;
  if (!tools.is_array()) return options;
  for (const Json& tool : tools) {
    if (!tool.is_object()) continue;
    const Json* function = FindMember(tool, "function");
    if (function == nullptr || !function->is_object()) function = &tool;
    const Json* name = FindMember(*function, "name");
    const Json* parameters = FindMember(*function, "parameters");
    if (name == nullptr || !name->is_string() || parameters == nullptr || !parameters->is_object()) continue;
    const Json* properties = FindMember(*parameters, "properties");
    if (properties == nullptr || !properties->is_object()) continue;
    std::vector<std::string>& names = options.parameter_names[name->get<std::string>()];
    for (auto it = properties->begin(); it != properties->end(); ++it) names.push_back(it.key());
  }
  return options;
}

StatusOr<std::vector<ToolCall>> ParseToolCalls(std::string_view text, const ToolCallParseOptions& options) {
  text = Trim(text);
  if (text.empty()) return InvalidArgumentError("tool call: empty section");
  // The JSON form: an object, or an array whose first element is an object.
  const std::string_view after_bracket = text[0] == '[' ? Trim(text.substr(1)) : std::string_view();
  if (text[0] == '{' || (!after_bracket.empty() && after_bracket[0] == '{')) {
    auto parsed = ParseJson(text, "tool call");
    if (parsed.ok()) {
      std::vector<ToolCall> calls;
      if (parsed->is_array()) {
        for (const Json& item : *parsed) {
          LFM2_ASSIGN_OR_RETURN(ToolCall call, CallFromObject(item));
          calls.push_back(std::move(call));
        }
      } else {
        LFM2_ASSIGN_OR_RETURN(ToolCall call, CallFromObject(*parsed));
        calls.push_back(std::move(call));
      }
      if (calls.empty()) return InvalidArgumentError("tool call: no calls");
      return calls;
    }
    // Not JSON (single quotes, True, ...): the Python parser reads dicts too.
  }
  PythonParser parser(text, options);
  return parser.Calls();
}

ToolCallStreamParser::ToolCallStreamParser(ToolCallParseOptions options)
    : options_(std::move(options)) {}

void ToolCallStreamParser::EmitContent(std::string_view text, std::vector<ToolCallEvent>* out) {
  if (text.empty()) return;
  if (!out->empty() && out->back().kind == ToolCallEvent::Kind::kContent) {
    out->back().content += text;
    return;
  }
  ToolCallEvent event;
  event.content = std::string(text);
  out->push_back(std::move(event));
}

std::vector<ToolCallEvent> ToolCallStreamParser::Feed(std::string_view text) {
  std::vector<ToolCallEvent> out;
  buffer_ += text;
  while (true) {
    if (!inside_) {
      const size_t start = buffer_.find(kToolCallStart);
      if (start == std::string::npos) {
        const size_t hold = PartialMarker(buffer_, kToolCallStart);
        EmitContent(std::string_view(buffer_).substr(0, buffer_.size() - hold), &out);
        buffer_.erase(0, buffer_.size() - hold);
        return out;
      }
      EmitContent(std::string_view(buffer_).substr(0, start), &out);
      buffer_.erase(0, start + kToolCallStart.size());
      inside_ = true;
      continue;
    }
    const size_t end = buffer_.find(kToolCallEnd);
    if (end == std::string::npos) {
      if (buffer_.size() > options_.max_section_bytes) {  // give up: pass it through as text
        EmitContent(kToolCallStart, &out);
        EmitContent(buffer_, &out);
        buffer_.clear();
        inside_ = false;
      }
      return out;
    }
    const std::string_view section = std::string_view(buffer_).substr(0, end);
    auto calls = ParseToolCalls(section, options_);
    if (calls.ok()) {
      for (ToolCall& call : *calls) {
        ToolCallEvent event;
        event.kind = ToolCallEvent::Kind::kToolCall;
        event.call = std::move(call);
        out.push_back(std::move(event));
      }
    } else {
      EmitContent(kToolCallStart, &out);
      EmitContent(section, &out);
      EmitContent(kToolCallEnd, &out);
    }
    buffer_.erase(0, end + kToolCallEnd.size());
    inside_ = false;
  }
}

std::vector<ToolCallEvent> ToolCallStreamParser::Finish() {
  std::vector<ToolCallEvent> out;
  if (inside_) EmitContent(kToolCallStart, &out);
  EmitContent(buffer_, &out);
  buffer_.clear();
  inside_ = false;
  return out;
}

ToolCallOutput SplitToolCalls(std::string_view text, const ToolCallParseOptions& options) {
  ToolCallStreamParser parser(options);
  std::vector<ToolCallEvent> events = parser.Feed(text);
  for (ToolCallEvent& event : parser.Finish()) events.push_back(std::move(event));
  ToolCallOutput output;
  for (ToolCallEvent& event : events) {
    if (event.kind == ToolCallEvent::Kind::kContent) {
      output.content += event.content;
    } else {
      output.tool_calls.push_back(std::move(event.call));
    }
  }
  return output;
}

}  // namespace lfm2
