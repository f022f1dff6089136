// jinja/format.cc - Python string formatting for templates: printf-style `fmt % args`
// (and the `format` filter) and str.format() with format specs ([[fill]align][sign][#][0]
// [width][.precision][type]), matching CPython's output for str, int and float arguments.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "jinja/interpreter.h"
#include "jinja/operators.h"
#include "jinja/text.h"

namespace lfm2::jinja {
namespace {

Status TypeError(const std::string& message) { return InvalidArgumentError("TypeError: ", message); }

StatusOr<int64_t> RequireInt(const Value& value, const char* what) {
  if (!(value.is_int() || value.is_bool())) {
    return TypeError(StrCat(what, ": an integer is required, not ", TypeName(value)));
  }
  return ClampToInt64(value.AsInteger());
}

// ---- formatting ----

struct FormatSpec {
  std::string fill = " ";
  char align = 0;  // '<', '>', '^', '='
  char sign = '-';
  bool alternate = false;
  bool zero = false;
  int64_t width = -1;
  int64_t precision = -1;
  char type = 0;
};

std::string ApplyPadding(std::string sign_and_prefix, std::string body, const FormatSpec& spec,
                         char default_align) {
  const char align = spec.align ? spec.align : (spec.zero ? '=' : default_align);
  const std::string fill = spec.zero ? "0" : spec.fill;
  const int64_t length =
      static_cast<int64_t>(CodePointCount(sign_and_prefix) + CodePointCount(body));
  const int64_t width = std::min<int64_t>(spec.width, 1 << 20);
  if (width <= length) return sign_and_prefix + body;
  const int64_t pad = width - length;
  std::string padding;
  auto repeat = [&](int64_t n) {
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += fill;
    return out;
  };
  switch (align) {
    case '<': return sign_and_prefix + body + repeat(pad);
    case '^': return repeat(pad / 2) + sign_and_prefix + body + repeat(pad - pad / 2);
    case '=': return sign_and_prefix + repeat(pad) + body;
    default: return repeat(pad) + sign_and_prefix + body;
  }
}

std::string IntegerDigits(Int value, char type) {
  unsigned __int128 magnitude = value < 0 ? -static_cast<unsigned __int128>(value)
                                          : static_cast<unsigned __int128>(value);
  const int base = (type == 'x' || type == 'X') ? 16 : (type == 'o' ? 8 : (type == 'b' ? 2 : 10));
  const char* digits = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  do {
    out.push_back(digits[static_cast<int>(magnitude % base)]);
    magnitude /= base;
  } while (magnitude > 0);
  std::reverse(out.begin(), out.end());
  return out;
}

StatusOr<std::string> FormatValue(const Value& value, const FormatSpec& spec, bool percent) {
  char type = spec.type;
  if (type == 's' || (type == 0 && !value.is_number())) {
    if (!percent && !value.is_string() && (spec.width >= 0 || spec.precision >= 0 || type)) {
      if (!value.is_string()) {
        return TypeError("unsupported format string passed to " + TypeName(value) + ".__format__");
      }
    }
    std::string text = Str(value);
    if (spec.precision >= 0) {
      const std::vector<size_t> offsets = CodePointOffsets(text);
      if (static_cast<size_t>(spec.precision) + 1 < offsets.size()) text.resize(offsets[spec.precision]);
    }
    return ApplyPadding("", text, spec, percent ? '>' : '<');
  }
  if (type == 'r' || type == 'a') return ApplyPadding("", Repr(value), spec, '>');
  if (!value.is_number()) {
    return TypeError(StrCat("%", type, " format: a real number is required, not ", TypeName(value)));
  }
  if (type == 'c') {
    std::string out;
    AppendUtf8(static_cast<uint32_t>(ClampToInt64(value.AsInteger()) & 0x1FFFFF), &out);
    return ApplyPadding("", out, spec, '>');
  }
  const bool integer_type = type == 'd' || type == 'i' || type == 'u' || type == 'x' ||
                            type == 'X' || type == 'o' || type == 'b' ||
                            (type == 0 && !value.is_float());
  if (integer_type) {
    if (value.is_float() && type != 'd' && type != 'i' && type != 'u') {
      return TypeError(StrCat("%", type, " format: an integer is required, not float"));
    }
    Int number;
    if (value.is_float()) {
      const double d = value.number();
      if (!std::isfinite(d)) return InvalidArgumentError("ValueError: cannot convert float to integer");
      if (std::fabs(d) >= 1.7e38) return OutOfRangeError("OverflowError: float too large to format");
      number = static_cast<Int>(d);
    } else {
      number = value.AsInteger();
    }
    std::string prefix = number < 0 ? "-" : (spec.sign == '+' ? "+" : (spec.sign == ' ' ? " " : ""));
    if (spec.alternate && (type == 'x' || type == 'X' || type == 'o' || type == 'b')) {
      prefix.push_back('0');
      prefix.push_back(type);
    }
    return ApplyPadding(prefix, IntegerDigits(number, type ? type : 'd'), spec, '>');
  }
  // Floating point.
  const double d = value.AsDouble();
  if (type == 0) {
    if (spec.precision < 0) {
      const std::string text = FormatFloat(std::fabs(d));
      const std::string sign = std::signbit(d) && !std::isnan(d) ? "-" : (spec.sign == '+' ? "+" : "");
      return ApplyPadding(sign, text, spec, '>');
    }
    type = 'g';
  }
  const bool percent_type = type == '%';
  const double shown = percent_type ? d * 100.0 : d;
  const char c_type = percent_type ? 'f' : type;
  if (std::string("eEfFgG").find(c_type) == std::string::npos) {
    return InvalidArgumentError("ValueError: unsupported format character '", type, "'");
  }
  const int precision = static_cast<int>(std::min<int64_t>(spec.precision < 0 ? 6 : spec.precision, 300));
  char buffer[512];
  const std::string format = StrCat("%", spec.alternate ? "#" : "", ".*", c_type);
  std::snprintf(buffer, sizeof(buffer), format.c_str(), precision, std::fabs(shown));
  std::string body = buffer;
  if (percent_type) body += "%";
  const std::string sign = std::signbit(shown) && !std::isnan(shown) ? "-" : (spec.sign == '+' ? "+" : (spec.sign == ' ' ? " " : ""));
  return ApplyPadding(sign, body, spec, '>');
}

}  // namespace

StatusOr<std::string> PercentFormat(Interpreter& interpreter, std::string_view format,
                                    const Value& args) {
  std::vector<Value> positional;
  const Value* mapping = nullptr;
  if (args.is_tuple()) {
    positional = args.list().items;
  } else {
    if (args.is_dict()) mapping = &args;
    positional.push_back(args);
  }
  size_t next = 0;
  bool used_mapping = false;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    if (++i >= format.size()) return InvalidArgumentError("ValueError: incomplete format");
    std::optional<Value> key_value;
    if (format[i] == '(') {
      const size_t close = format.find(')', i);
      if (close == std::string_view::npos) return InvalidArgumentError("ValueError: incomplete format key");
      if (mapping == nullptr) return TypeError("format requires a mapping");
      const Value* found = mapping->dict().FindString(format.substr(i + 1, close - i - 1));
      if (found == nullptr) {
        return InvalidArgumentError("KeyError: '", format.substr(i + 1, close - i - 1), "'");
      }
      key_value = *found;
      used_mapping = true;
      i = close + 1;
    }
    FormatSpec spec;
    spec.align = '>';
    for (; i < format.size() && std::string_view("-+ #0").find(format[i]) != std::string_view::npos; ++i) {
      if (format[i] == '-') spec.align = '<';
      if (format[i] == '+') spec.sign = '+';
      if (format[i] == ' ' && spec.sign != '+') spec.sign = ' ';
      if (format[i] == '#') spec.alternate = true;
      if (format[i] == '0') spec.zero = true;
    }
    auto number = [&](int64_t* target) -> Status {
      if (i < format.size() && format[i] == '*') {
        ++i;
        if (next >= positional.size()) return TypeError("not enough arguments for format string");
        LFM2_ASSIGN_OR_RETURN(*target, RequireInt(positional[next++], "* wants int"));
        return Status::Ok();
      }
      int64_t n = -1;
      while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
        n = std::min<int64_t>((n < 0 ? 0 : n) * 10 + (format[i++] - '0'), 1 << 20);
      }
      *target = n;
      return Status::Ok();
    };
    LFM2_RETURN_IF_ERROR(number(&spec.width));
    if (i < format.size() && format[i] == '.') {
      ++i;
      LFM2_RETURN_IF_ERROR(number(&spec.precision));
      if (spec.precision < 0) spec.precision = 0;
    }
    while (i < format.size() && (format[i] == 'l' || format[i] == 'h' || format[i] == 'L')) ++i;
    if (i >= format.size()) return InvalidArgumentError("ValueError: incomplete format");
    const char type = format[i];
    if (type == '%') {
      out.push_back('%');
      continue;
    }
    if (std::string_view("sradiuxXoeEfFgGc").find(type) == std::string_view::npos) {
      return InvalidArgumentError("ValueError: unsupported format character '", type, "'");
    }
    if (spec.zero && spec.align == '<') spec.zero = false;
    if (spec.zero) spec.align = '=';
    spec.type = type;
    Value argument;
    if (key_value) {
      argument = *key_value;
    } else {
      if (next >= positional.size()) return TypeError("not enough arguments for format string");
      argument = positional[next++];
    }
    LFM2_ASSIGN_OR_RETURN(std::string piece, FormatValue(argument, spec, true));
    out += piece;
    LFM2_RETURN_IF_ERROR(interpreter.CheckStringSize(out.size()));
  }
  if (!used_mapping && next < positional.size() && !(mapping != nullptr && next == 0)) {
    return TypeError("not all arguments converted during string formatting");
  }
  return out;
}

namespace {

StatusOr<FormatSpec> ParseFormatSpec(std::string_view text) {
  FormatSpec spec;
  size_t i = 0;
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (text.size() >= 2 && is_align(text[1])) {
    spec.fill = std::string(1, text[0]);
    spec.align = text[1];
    i = 2;
  } else if (!text.empty() && is_align(text[0])) {
    spec.align = text[0];
    i = 1;
  }
  if (i < text.size() && (text[i] == '+' || text[i] == '-' || text[i] == ' ')) spec.sign = text[i++];
  if (i < text.size() && text[i] == '#') spec.alternate = true, ++i;
  if (i < text.size() && text[i] == '0') spec.zero = true, ++i;
  int64_t width = -1;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    width = std::min<int64_t>((width < 0 ? 0 : width) * 10 + (text[i++] - '0'), 1 << 20);
  }
  spec.width = width;
  if (i < text.size() && text[i] == '.') {
    ++i;
    int64_t precision = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      precision = std::min<int64_t>(precision * 10 + (text[i++] - '0'), 1 << 20);
    }
    spec.precision = precision;
  }
  if (i < text.size()) spec.type = text[i++];
  if (i != text.size()) return InvalidArgumentError("ValueError: Invalid format specifier");
  return spec;
}

}  // namespace

StatusOr<Value> StrFormat(Interpreter& interpreter, const std::string& format,
                          CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}') ++i;
      out.push_back('}');
      continue;
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    const size_t close = format.find('}', i);
    if (close == std::string::npos) return InvalidArgumentError("ValueError: Single '{' encountered in format string");
    std::string field = format.substr(i + 1, close - i - 1);
    i = close;
    std::string spec_text;
    char conversion = 0;
    if (size_t colon = field.find(':'); colon != std::string::npos) {
      spec_text = field.substr(colon + 1);
      field.resize(colon);
    }
    if (size_t bang = field.find('!'); bang != std::string::npos) {
      conversion = bang + 1 < field.size() ? field[bang + 1] : 0;
      field.resize(bang);
    }
    size_t name_end = field.find_first_of(".[");
    const std::string name = field.substr(0, name_end);
    Value value;
    if (name.empty() || std::all_of(name.begin(), name.end(), ::isdigit)) {
      const size_t index = name.empty() ? auto_index++ : std::stoul(name.substr(0, 9));
      if (index >= args.positional.size()) {
        return InvalidArgumentError("IndexError: Replacement index ", index, " out of range");
      }
      value = args.positional[index];
    } else {
      auto it = std::find_if(args.keyword.begin(), args.keyword.end(),
                             [&](const auto& kw) { return kw.first == name; });
      if (it == args.keyword.end()) return InvalidArgumentError("KeyError: '", name, "'");
      value = it->second;
    }
    while (name_end != std::string::npos && name_end < field.size()) {
      if (field[name_end] == '.') {
        const size_t end = field.find_first_of(".[", name_end + 1);
        LFM2_ASSIGN_OR_RETURN(value, interpreter.GetAttribute(value, field.substr(name_end + 1, end - name_end - 1)));
        name_end = end;
      } else {
        const size_t end = field.find(']', name_end);
        if (end == std::string::npos) return InvalidArgumentError("ValueError: Missing ']' in format string");
        const std::string key = field.substr(name_end + 1, end - name_end - 1);
        Value key_value = Value::String(key);
        if (!key.empty() && std::all_of(key.begin(), key.end(), ::isdigit)) {
          key_value = Value::Integer(std::stoll(key.substr(0, 18)));
        }
        LFM2_ASSIGN_OR_RETURN(value, interpreter.GetItem(value, key_value));
        name_end = end + 1;
      }
    }
    if (conversion == 'r' || conversion == 'a') value = Value::String(Repr(value));
    if (conversion == 's') value = Value::String(Str(value));
    LFM2_ASSIGN_OR_RETURN(FormatSpec spec, ParseFormatSpec(spec_text));
    if (spec_text.empty()) {
      out += Str(value);
    } else {
      if (value.is_bool() && spec.type == 0) value = Value::Integer(value.AsInteger());
      LFM2_ASSIGN_OR_RETURN(std::string piece, FormatValue(value, spec, false));
      out += piece;
    }
    LFM2_RETURN_IF_ERROR(interpreter.CheckStringSize(out.size()));
  }
  return Value::String(std::move(out));
}


}  // namespace lfm2::jinja
