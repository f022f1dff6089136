// jinja/filters.cc - jinja2's builtin filters and tests with their Python semantics
// (plus HF's tojson override: json.dumps(x, ensure_ascii=False, indent=None, separators=None,
// sort_keys=False) with the same positional order).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "jinja/interpreter.h"
#include "jinja/operators.h"
#include "jinja/text.h"

namespace lfm2::jinja {
namespace {

Status TypeError(const std::string& message) { return InvalidArgumentError("TypeError: ", message); }

std::string Text(const Value& value) { return value.is_string() ? value.string() : Str(value); }

Value LowerIfString(const Value& value) {
  return value.is_string() ? Value::String(Lower(value.string())) : value;
}

// jinja2's make_attrgetter: "a.b.0" walks items with environment.getitem.
StatusOr<Value> GetPath(Interpreter& interpreter, const Value& item, const Value& attribute) {
  if (attribute.is_none() || attribute.is_undefined()) return item;
  if (!attribute.is_string()) return interpreter.GetItem(item, attribute);
  Value current = item;
  const std::string dot = ".";
  for (const std::string& part : Split(attribute.string(), &dot, -1)) {
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    const Value key = digits ? Value::Integer(std::stoll(part.substr(0, 18))) : Value::String(part);
    LFM2_ASSIGN_OR_RETURN(current, interpreter.GetItem(current, key));
  }
  return current;
}

// Stable merge sort with a fallible comparator (std::sort needs a strict weak ordering, which
// mixed-type Python comparisons cannot promise).
Status MergeSort(std::vector<Value>& items, std::vector<Value>& keys, bool reverse) {
  const size_t n = items.size();
  std::vector<size_t> order(n), buffer(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  for (size_t width = 1; width < n; width *= 2) {
    for (size_t left = 0; left < n; left += 2 * width) {
      const size_t mid = std::min(left + width, n), right = std::min(left + 2 * width, n);
      size_t i = left, j = mid, k = left;
      while (i < mid && j < right) {
        // Take from the right run only when strictly before (keeps the sort stable).
        LFM2_ASSIGN_OR_RETURN(bool right_first, reverse ? Less(keys[order[i]], keys[order[j]])
                                                        : Less(keys[order[j]], keys[order[i]]));
        buffer[k++] = right_first ? order[j++] : order[i++];
      }
      while (i < mid) buffer[k++] = order[i++];
      while (j < right) buffer[k++] = order[j++];
    }
    std::swap(order, buffer);
  }
  std::vector<Value> sorted;
  sorted.reserve(n);
  for (size_t index : order) sorted.push_back(items[index]);
  items = std::move(sorted);
  return Status::Ok();
}

std::string HtmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Python int(text, base) for bases 2..36 and 0; nullopt on ValueError.
std::optional<Int> ParsePythonInt(const std::string& raw, int64_t base) {
  const std::string text = Strip(raw, nullptr, true, true);
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  if (base == 0 || base == 16 || base == 8 || base == 2) {
    if (i + 1 < text.size() && text[i] == '0') {
      const char p = static_cast<char>(text[i + 1] | 32);
      const int prefixed = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
      if (prefixed != 0 && (base == 0 || base == prefixed)) {
        base = prefixed;
        i += 2;
        if (i < text.size() && text[i] == '_') ++i;
      }
    }
    if (base == 0) base = 10;
  }
  if (base < 2 || base > 36 || i >= text.size()) return std::nullopt;
  Int value = 0;
  bool previous_digit = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '_' && previous_digit && i + 1 < text.size()) {
      previous_digit = false;
      continue;
    }
    int digit = (c >= '0' && c <= '9') ? c - '0' : ((c | 32) >= 'a' && (c | 32) <= 'z') ? (c | 32) - 'a' + 10 : 99;
    if (digit >= base) return std::nullopt;
    if (__builtin_mul_overflow(value, static_cast<Int>(base), &value) ||
        __builtin_add_overflow(value, static_cast<Int>(digit), &value)) {
      return std::nullopt;
    }
    previous_digit = true;
  }
  if (!previous_digit) return std::nullopt;
  return negative ? -value : value;
}

// Python float(text); nullopt on ValueError.
std::optional<double> ParsePythonFloat(const std::string& raw) {
  std::string text;
  for (char c : Strip(raw, nullptr, true, true)) {
    if (c != '_') text.push_back(c);
  }
  if (text.empty()) return std::nullopt;
  std::string lower = Lower(text);
  const bool negative = lower[0] == '-';
  const std::string body = (lower[0] == '-' || lower[0] == '+') ? lower.substr(1) : lower;
  if (body == "inf" || body == "infinity") return negative ? -INFINITY : INFINITY;
  if (body == "nan") return NAN;
  for (char c : body) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == '+' || c == '-')) {
      return std::nullopt;
    }
  }
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return value;
}

StatusOr<Value> RoundFloat(double value, int64_t precision) {
  if (!std::isfinite(value)) return Value::Float(value);
  precision = std::clamp<int64_t>(precision, -400, 400);
  if (precision < 0) {
    const double factor = std::pow(10.0, static_cast<double>(-precision));
    return Value::Float(std::nearbyint(value / factor) * factor);
  }
  char buffer[800];
  std::snprintf(buffer, sizeof(buffer), "%.*f", static_cast<int>(precision), value);
  return Value::Float(std::strtod(buffer, nullptr));
}

// ---- filters ----

#define LFM2_FILTER(name) StatusOr<Value> name(Interpreter& interp, const Value& value, CallArgs& args)

LFM2_FILTER(FilterToJson) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"}));
  JsonOptions options;
  options.ensure_ascii = a[0] && Truthy(*a[0]);
  if (a[1] && !a[1]->is_none()) {
    options.has_indent = true;
    options.item_separator = ",";
    if (a[1]->is_string()) {
      options.indent = a[1]->string();
    } else if (a[1]->is_int() || a[1]->is_bool()) {
      options.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(ClampToInt64(a[1]->AsInteger()), 0, 1024)), ' ');
    } else {
      return TypeError("can't multiply sequence by non-int of type '" + TypeName(*a[1]) + "'");
    }
  }
  if (a[2] && !a[2]->is_none()) {
    LFM2_ASSIGN_OR_RETURN(std::vector<Value> parts, Iterate(*a[2]));
    if (parts.size() != 2 || !parts[0].is_string() || !parts[1].is_string()) {
      return InvalidArgumentError("ValueError: separators must be a pair of strings");
    }
    options.item_separator = parts[0].string();
    options.key_separator = parts[1].string();
  }
  options.sort_keys = a[3] && Truthy(*a[3]);
  LFM2_ASSIGN_OR_RETURN(std::string json, ToJson(value, options));
  LFM2_RETURN_IF_ERROR(interp.CheckStringSize(json.size()));
  return Value::String(std::move(json));
}

LFM2_FILTER(FilterString) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("string", args, {}));
  return value.is_string() ? value : Value::String(Str(value));
}

LFM2_FILTER(FilterTrim) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("trim", args, {"chars"}));
  std::optional<std::string> chars;
  if (a[0] && !a[0]->is_none()) chars = Text(*a[0]);
  return Value::String(Strip(Text(value), chars ? &*chars : nullptr, true, true));
}

LFM2_FILTER(FilterLength) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("length", args, {}));
  LFM2_ASSIGN_OR_RETURN(Int length, Length(value));
  return Value::Integer(length);
}

LFM2_FILTER(FilterItems) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("items", args, {}));
  if (value.is_undefined()) return Value::List({});
  if (!value.is_dict()) return TypeError("Can only get item pairs from a mapping.");
  std::vector<Value> items;
  for (const auto& [key, item] : value.dict().entries()) items.push_back(Value::Tuple({key, item}));
  return Value::List(std::move(items));
}

LFM2_FILTER(FilterList) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("list", args, {}));
  LFM2_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
  return Value::List(std::move(items));
}

LFM2_FILTER(FilterJoin) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("join", args, {"d", "attribute"}));
  LFM2_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
  const std::string separator = a[0] ? Text(*a[0]) : "";
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    Value item = items[i];
    if (a[1]) {
      LFM2_ASSIGN_OR_RETURN(item, GetPath(interp, item, *a[1]));
    }
    if (i > 0) out += separator;
    out += Text(item);
    LFM2_RETURN_IF_ERROR(interp.CheckStringSize(out.size()));
  }
  return Value::String(std::move(out));
}

LFM2_FILTER(FilterFirst) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("first", args, {}));
  LFM2_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
  if (items.empty()) return Value::Undefined("No first item, sequence was empty.");
  return items.front();
}

LFM2_FILTER(FilterLast) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("last", args, {}));
  LFM2_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
  if (items.empty()) return Value::Undefined("No last item, sequence was empty.");
  return items.back();
}

LFM2_FILTER(FilterLower) { return Value::String(Lower(Text(value))); }
LFM2_FILTER(FilterUpper) { return Value::String(Upper(Text(value))); }
LFM2_FILTER(FilterCapitalize) { return Value::String(Capitalize(Text(value))); }

// jinja2's own title(): words start after runs of '-', whitespace, '(', '{', '[' or '<'.
LFM2_FILTER(FilterTitle) {
  const std::string text = Text(value);
  std::string out;
  bool word_start = true;
  for (size_t pos = 0; pos < text.size();) {
    const uint32_t c = NextCodePoint(text, &pos);
    const bool separator = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || IsPySpace(c);
    AppendCodePoint(separator ? c : (word_start ? ToUpper(c) : ToLower(c)), &out);
    word_start = separator;
  }
  return Value::String(std::move(out));
}

LFM2_FILTER(FilterReplace) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("replace", args, {"old", "new", "count"}));
  if (!a[0] || !a[1]) return TypeError("replace() missing required arguments");
  int64_t count = -1;
  if (a[2] && !a[2]->is_none()) {
    if (!a[2]->is_int() && !a[2]->is_bool()) return TypeError("'" + TypeName(*a[2]) + "' object cannot be interpreted as an integer");
    count = ClampToInt64(a[2]->AsInteger());
  }
  std::string out;
  if (!Replace(Text(value), Text(*a[0]), Text(*a[1]), count, interp.options().max_output_bytes, &out)) {
    return ResourceExhaustedError("replace result exceeds the string size limit");
  }
  LFM2_RETURN_IF_ERROR(interp.CheckStringSize(out.size()));
  return Value::String(std::move(out));
}

LFM2_FILTER(FilterDefault) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("default", args, {"default_value", "boolean"}));
  const bool boolean = a[1] && Truthy(*a[1]);
  if (value.is_undefined() || (boolean && !Truthy(value))) return a[0].value_or(Value::String(""));
  return value;
}

LFM2_FILTER(FilterInt) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("int", args, {"default", "base"}));
  const Value fallback = a[0].value_or(Value::Integer(0));
  int64_t base = 10;
  if (a[1]) {
    if (!a[1]->is_int()) return TypeError("int() base must be an integer");
    base = ClampToInt64(a[1]->AsInteger());
  }
  if (value.is_int() || value.is_bool()) return Value::Integer(value.AsInteger());
  if (value.is_float()) {
    const double d = value.number();
    if (!std::isfinite(d) || std::fabs(d) >= 1.7e38) return fallback;
    return Value::Integer(static_cast<Int>(d));
  }
  if (value.is_string()) {
    if (std::optional<Int> parsed = ParsePythonInt(value.string(), base)) return Value::Integer(*parsed);
    if (std::optional<double> d = ParsePythonFloat(value.string())) {
      if (std::isfinite(*d) && std::fabs(*d) < 1.7e38) return Value::Integer(static_cast<Int>(*d));
    }
  }
  return fallback;
}

LFM2_FILTER(FilterFloat) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("float", args, {"default"}));
  if (value.is_number()) return Value::Float(value.AsDouble());
  if (value.is_string()) {
    if (std::optional<double> d = ParsePythonFloat(value.string())) return Value::Float(*d);
  }
  return a[0].value_or(Value::Float(0.0));
}

LFM2_FILTER(FilterAbs) {
  if (value.is_float()) return Value::Float(std::fabs(value.number()));
  if (value.is_int() || value.is_bool()) return UnaryOp(value.AsInteger() < 0 ? "-" : "+", value);
  return TypeError("bad operand type for abs(): '" + TypeName(value) + "'");
}

LFM2_FILTER(FilterRound) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("round", args, {"precision", "method"}));
  int64_t precision = 0;
  if (a[0]) {
    if (!a[0]->is_int() && !a[0]->is_bool()) return TypeError("precision must be an integer");
    precision = ClampToInt64(a[0]->AsInteger());
  }
  const std::string method = a[1] ? Text(*a[1]) : "common";
  if (method != "common" && method != "ceil" && method != "floor") {
    return InvalidArgumentError("FilterArgumentError: method must be common, ceil or floor");
  }
  if (!value.is_number()) return TypeError("type " + TypeName(value) + " doesn't define __round__ method");
  if (method == "common") {
    if (!value.is_float() && precision >= 0) return Value::Integer(value.AsInteger());
    return RoundFloat(value.AsDouble(), precision);
  }
  const double factor = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -308, 308)));
  const double scaled = value.AsDouble() * factor;
  return Value::Float((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / factor);
}

LFM2_FILTER(FilterSum) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("sum", args, {"attribute", "start"}));
  LFM2_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
  Value total = a[1].value_or(Value::Integer(0));
  for (const Value& item : items) {
    Value term = item;
    if (a[0]) {
      LFM2_ASSIGN_OR_RETURN(term, GetPath(interp, item, *a[0]));
    }
    LFM2_ASSIGN_OR_RETURN(total, BinaryOp(interp, "+", total, term));
  }
  return total;
}

StatusOr<Value> MinMax(Interpreter& interp, const Value& value, CallArgs& args, bool max) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(max ? "max" : "min", args, {"case_sensitive", "attribute"}));
  LFM2_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
  if (items.empty()) return Value::Undefined("No aggregated item, sequence was empty.");
  const bool case_sensitive = a[0] && Truthy(*a[0]);
  auto key = [&](const Value& item) -> StatusOr<Value> {
    Value k = item;
    if (a[1]) {
      LFM2_ASSIGN_OR_RETURN(k, GetPath(interp, item, *a[1]));
    }
    return case_sensitive ? k : LowerIfString(k);
  };
  size_t best = 0;
  LFM2_ASSIGN_OR_RETURN(Value best_key, key(items[0]));
  for (size_t i = 1; i < items.size(); ++i) {
    LFM2_ASSIGN_OR_RETURN(Value k, key(items[i]));
    LFM2_ASSIGN_OR_RETURN(bool better, max ? Less(best_key, k) : Less(k, best_key));
    if (better) {
      best = i;
      best_key = k;
    }
  }
  return items[best];
}
LFM2_FILTER(FilterMax) { return MinMax(interp, value, args, true); }
LFM2_FILTER(FilterMin) { return MinMax(interp, value, args, false); }

LFM2_FILTER(FilterSort) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("sort", args, {"reverse", "case_sensitive", "attribute"}));
  LFM2_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
  LFM2_RETURN_IF_ERROR(interp.Charge(items.size() * 8));
  const bool case_sensitive = a[1] && Truthy(*a[1]);
  std::vector<Value> keys;
  for (const Value& item : items) {
    std::vector<Value> parts;
    if (a[2] && a[2]->is_string()) {
      const std::string comma = ",";
      for (const std::string& path : Split(a[2]->string(), &comma, -1)) {
        LFM2_ASSIGN_OR_RETURN(Value part, GetPath(interp, item, Value::String(path)));
        parts.push_back(case_sensitive ? part : LowerIfString(part));
      }
    } else {
      Value part = item;
      if (a[2]) {
        LFM2_ASSIGN_OR_RETURN(part, GetPath(interp, item, *a[2]));
      }
      parts.push_back(case_sensitive ? part : LowerIfString(part));
    }
    keys.push_back(Value::List(std::move(parts)));
  }
  LFM2_RETURN_IF_ERROR(MergeSort(items, keys, a[0] && Truthy(*a[0])));
  return Value::List(std::move(items));
}

LFM2_FILTER(FilterDictSort) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("dictsort", args, {"case_sensitive", "by", "reverse"}));
  if (!value.is_dict()) return TypeError("dictsort expects a mapping, got " + TypeName(value));
  const std::string by = a[1] ? Text(*a[1]) : "key";
  if (by != "key" && by != "value") {
    return InvalidArgumentError("FilterArgumentError: You can only sort by either \"key\" or \"value\"");
  }
  const bool case_sensitive = a[0] && Truthy(*a[0]);
  std::vector<Value> items, keys;
  for (const auto& [key, item] : value.dict().entries()) {
    items.push_back(Value::Tuple({key, item}));
    const Value& k = by == "key" ? key : item;
    keys.push_back(case_sensitive ? k : LowerIfString(k));
  }
  LFM2_RETURN_IF_ERROR(MergeSort(items, keys, a[2] && Truthy(*a[2])));
  return Value::List(std::move(items));
}

LFM2_FILTER(FilterUnique) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("unique", args, {"case_sensitive", "attribute"}));
  LFM2_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
  LFM2_RETURN_IF_ERROR(interp.Charge(items.size() * items.size() / 16));
  const bool case_sensitive = a[0] && Truthy(*a[0]);
  std::vector<Value> out, seen;
  for (const Value& item : items) {
    Value key = item;
    if (a[1]) {
      LFM2_ASSIGN_OR_RETURN(key, GetPath(interp, item, *a[1]));
    }
    if (!case_sensitive) key = LowerIfString(key);
    if (!Hashable(key)) return TypeError("unhashable type: '" + TypeName(key) + "'");
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return Equals(s, key); })) {
      seen.push_back(key);
      out.push_back(item);
    }
  }
  return Value::List(std::move(out));
}

LFM2_FILTER(FilterReverse) {
  if (value.is_string()) {
    std::vector<size_t> offsets = CodePointOffsets(value.string());
    std::string out;
    for (size_t i = offsets.size() - 1; i > 0; --i) {
      out.append(value.string(), offsets[i - 1], offsets[i] - offsets[i - 1]);
    }
    return Value::String(std::move(out));
  }
  LFM2_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
  std::reverse(items.begin(), items.end());
  return Value::List(std::move(items));
}

// map / select / reject / selectattr / rejectattr share jinja2's argument conventions.
StatusOr<Value> SelectOrReject(Interpreter& interp, const Value& value, CallArgs& args,
                               bool select, bool by_attribute) {
  LFM2_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
  std::vector<Value> rest = args.positional;
  Value attribute;
  if (by_attribute) {
    if (rest.empty()) return TypeError("selectattr/rejectattr need an attribute name");
    attribute = rest.front();
    rest.erase(rest.begin());
  }
  std::optional<std::string> test;
  if (!rest.empty()) {
    test = Text(rest.front());
    rest.erase(rest.begin());
  }
  std::vector<Value> out;
  for (const Value& item : items) {
    Value subject = item;
    if (by_attribute) {
      LFM2_ASSIGN_OR_RETURN(subject, GetPath(interp, item, attribute));
    }
    bool passed;
    if (test) {
      CallArgs test_args{rest, args.keyword};
      LFM2_ASSIGN_OR_RETURN(passed, interp.ApplyTest(*test, subject, std::move(test_args)));
    } else {
      passed = Truthy(subject);
    }
    if (passed == select) out.push_back(item);
  }
  return Value::List(std::move(out));
}
LFM2_FILTER(FilterSelect) { return SelectOrReject(interp, value, args, true, false); }
LFM2_FILTER(FilterReject) { return SelectOrReject(interp, value, args, false, false); }
LFM2_FILTER(FilterSelectAttr) { return SelectOrReject(interp, value, args, true, true); }
LFM2_FILTER(FilterRejectAttr) { return SelectOrReject(interp, value, args, false, true); }

LFM2_FILTER(FilterMap) {
  LFM2_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
  std::vector<Value> out;
  if (args.positional.empty()) {
    LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("map", args, {"attribute", "default"}));
    if (!a[0]) return TypeError("map requires a filter argument");
    for (const Value& item : items) {
      LFM2_ASSIGN_OR_RETURN(Value mapped, GetPath(interp, item, *a[0]));
      if (mapped.is_undefined() && a[1]) mapped = *a[1];
      out.push_back(std::move(mapped));
    }
    return Value::List(std::move(out));
  }
  const std::string filter = Text(args.positional.front());
  std::vector<Value> rest(args.positional.begin() + 1, args.positional.end());
  for (const Value& item : items) {
    LFM2_ASSIGN_OR_RETURN(Value mapped, interp.ApplyFilter(filter, item, CallArgs{rest, args.keyword}));
    out.push_back(std::move(mapped));
  }
  return Value::List(std::move(out));
}

LFM2_FILTER(FilterAttr) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("attr", args, {"name"}));
  const std::string name = a[0] ? Text(*a[0]) : "";
  if (value.is_namespace() || value.is_loop() || value.is_undefined()) return interp.GetAttribute(value, name);
  bool unsafe = false;
  if (HasMethod(value, name, &unsafe) && !unsafe) return interp.GetAttribute(value, name);
  return Value::Undefined("'" + TypeName(value) + " object' has no attribute '" + name + "'");
}

StatusOr<Value> Chunks(Interpreter& interp, const Value& value, CallArgs& args, bool batch) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(batch ? "batch" : "slice", args, {"count", "fill_with"}));
  if (!a[0] || !(a[0]->is_int() || a[0]->is_bool())) return TypeError("count must be an integer");
  const int64_t n = ClampToInt64(a[0]->AsInteger());
  LFM2_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(value));
  if (n <= 0) return InvalidArgumentError("ValueError: count must be positive");
  const bool fill = a[1] && !a[1]->is_none();
  std::vector<Value> out;
  if (batch) {
    LFM2_RETURN_IF_ERROR(interp.Charge(items.size() + static_cast<uint64_t>(std::min<int64_t>(n, 1 << 22))));
    for (size_t i = 0; i < items.size(); i += static_cast<size_t>(n)) {
      std::vector<Value> chunk(items.begin() + i, items.begin() + std::min(items.size(), i + static_cast<size_t>(n)));
      while (fill && static_cast<int64_t>(chunk.size()) < n) chunk.push_back(*a[1]);
      out.push_back(Value::List(std::move(chunk)));
    }
    return Value::List(std::move(out));
  }
  if (n > static_cast<int64_t>(kMaxListItems)) return ResourceExhaustedError("slice count too large");
  LFM2_RETURN_IF_ERROR(interp.Charge(items.size() + static_cast<uint64_t>(n)));
  const size_t per = items.size() / n, extra = items.size() % n;
  size_t offset = 0;
  for (size_t k = 0; k < static_cast<size_t>(n); ++k) {
    const size_t start = offset + k * per;
    if (k < extra) ++offset;
    const size_t end = offset + (k + 1) * per;
    std::vector<Value> chunk(items.begin() + start, items.begin() + end);
    if (fill && k >= extra) chunk.push_back(*a[1]);
    out.push_back(Value::List(std::move(chunk)));
  }
  return Value::List(std::move(out));
}
LFM2_FILTER(FilterBatch) { return Chunks(interp, value, args, true); }
LFM2_FILTER(FilterSlice) { return Chunks(interp, value, args, false); }

LFM2_FILTER(FilterWordCount) {
  const std::string text = Text(value);
  Int count = 0;
  bool in_word = false;
  for (size_t pos = 0; pos < text.size();) {
    const bool word = IsWordChar(NextCodePoint(text, &pos));
    if (word && !in_word) ++count;
    in_word = word;
  }
  return Value::Integer(count);
}

LFM2_FILTER(FilterCenter) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("center", args, {"width"}));
  int64_t width = 80;
  if (a[0]) {
    if (!a[0]->is_int()) return TypeError("width must be an integer");
    width = ClampToInt64(a[0]->AsInteger());
  }
  LFM2_RETURN_IF_ERROR(interp.CheckStringSize(static_cast<size_t>(std::clamp<int64_t>(width, 0, INT64_MAX / 2))));
  return Value::String(Pad(Text(value), width, " ", '^'));
}

LFM2_FILTER(FilterIndent) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("indent", args, {"width", "first", "blank"}));
  std::string indentation = "    ";
  if (a[0]) {
    if (a[0]->is_string()) {
      indentation = a[0]->string();
    } else if (a[0]->is_int() || a[0]->is_bool()) {
      indentation = std::string(static_cast<size_t>(std::clamp<int64_t>(ClampToInt64(a[0]->AsInteger()), 0, 4096)), ' ');
    } else {
      return TypeError("indent width must be an integer or a string");
    }
  }
  const bool first = a[1] && Truthy(*a[1]), blank = a[2] && Truthy(*a[2]);
  const std::vector<std::string> lines = SplitLines(Text(value) + "\n", false);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += "\n";
    if ((i > 0 || first) && (blank || !lines[i].empty())) out += indentation;
    out += lines[i];
    LFM2_RETURN_IF_ERROR(interp.CheckStringSize(out.size()));
  }
  return Value::String(std::move(out));
}

LFM2_FILTER(FilterTruncate) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("truncate", args, {"length", "killwords", "end", "leeway"}));
  const std::string text = Text(value);
  const int64_t length = a[0] && a[0]->is_int() ? ClampToInt64(a[0]->AsInteger()) : 255;
  const std::string end = a[2] ? Text(*a[2]) : "...";
  const int64_t leeway = a[3] && a[3]->is_int() ? ClampToInt64(a[3]->AsInteger()) : 5;
  const std::vector<size_t> offsets = CodePointOffsets(text);
  const int64_t size = static_cast<int64_t>(offsets.size()) - 1;
  const int64_t end_size = static_cast<int64_t>(CodePointCount(end));
  if (length < end_size) return InvalidArgumentError("AssertionError: expected length >= ", end_size);
  if (size <= length + leeway) return Value::String(text);
  std::string head = text.substr(0, offsets[length - end_size]);
  if (!(a[1] && Truthy(*a[1]))) {
    const size_t space = head.rfind(' ');
    if (space != std::string::npos) head.resize(space);
  }
  return Value::String(head + end);
}

LFM2_FILTER(FilterEscape) { return Value::String(HtmlEscape(Text(value))); }
LFM2_FILTER(FilterSafe) { return value; }
LFM2_FILTER(FilterPprint) { return Value::String(Repr(value)); }

LFM2_FILTER(FilterFormat) {
  if (!args.positional.empty() && !args.keyword.empty()) {
    return InvalidArgumentError("FilterArgumentError: can't handle positional and keyword arguments at the same time");
  }
  Value format_args;
  if (!args.keyword.empty()) {
    DictData dict;
    for (auto& [key, item] : args.keyword) LFM2_RETURN_IF_ERROR(dict.Set(Value::String(key), item));
    format_args = Value::Dict(std::move(dict));
  } else {
    format_args = Value::Tuple(args.positional);
  }
  LFM2_ASSIGN_OR_RETURN(std::string text, PercentFormat(interp, Text(value), format_args));
  return Value::String(std::move(text));
}

#undef LFM2_FILTER

// ---- tests ----

#define LFM2_TEST(name) StatusOr<bool> name(Interpreter& interp, const Value& value, CallArgs& args)

StatusOr<Value> OneArgument(CallArgs& args, const char* test) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(test, args, {"other"}));
  if (!a[0]) return TypeError(StrCat(test, "() missing 1 required positional argument"));
  return *a[0];
}

LFM2_TEST(TestDefined) { return !value.is_undefined(); }
LFM2_TEST(TestUndefined) { return value.is_undefined(); }
LFM2_TEST(TestNone) { return value.is_none(); }
LFM2_TEST(TestBoolean) { return value.is_bool(); }
LFM2_TEST(TestTrue) { return value.is_bool() && value.boolean(); }
LFM2_TEST(TestFalse) { return value.is_bool() && !value.boolean(); }
LFM2_TEST(TestInteger) { return value.is_int(); }
LFM2_TEST(TestFloat) { return value.is_float(); }
LFM2_TEST(TestNumber) { return value.is_number(); }
LFM2_TEST(TestString) { return value.is_string(); }
LFM2_TEST(TestMapping) { return value.is_dict(); }
LFM2_TEST(TestIterable) {
  return value.is_string() || value.is_list() || value.is_dict() || value.is_undefined() || value.is_loop();
}
LFM2_TEST(TestSequence) {
  return value.is_string() || value.is_list() || value.is_dict() || value.is_undefined();
}
LFM2_TEST(TestCallable) { return value.is_callable() || value.is_undefined() || value.is_loop(); }
LFM2_TEST(TestEscaped) { return false; }
LFM2_TEST(TestLower) {
  const std::string text = Text(value);
  CallArgs none;
  LFM2_ASSIGN_OR_RETURN(Value result, CallMethod(interp, Value::String(text), "islower", none));
  return result.boolean();
}
LFM2_TEST(TestUpper) {
  const std::string text = Text(value);
  CallArgs none;
  LFM2_ASSIGN_OR_RETURN(Value result, CallMethod(interp, Value::String(text), "isupper", none));
  return result.boolean();
}
StatusOr<bool> Divisible(Interpreter& interp, const Value& value, const Value& by) {
  LFM2_ASSIGN_OR_RETURN(Value remainder, BinaryOp(interp, "%", value, by));
  return !Truthy(remainder);
}
LFM2_TEST(TestOdd) {
  LFM2_ASSIGN_OR_RETURN(Value remainder, BinaryOp(interp, "%", value, Value::Integer(2)));
  return Equals(remainder, Value::Integer(1));
}
LFM2_TEST(TestEven) { return Divisible(interp, value, Value::Integer(2)); }
LFM2_TEST(TestDivisibleBy) {
  LFM2_ASSIGN_OR_RETURN(Value by, OneArgument(args, "divisibleby"));
  return Divisible(interp, value, by);
}
LFM2_TEST(TestEq) {
  LFM2_ASSIGN_OR_RETURN(Value other, OneArgument(args, "eq"));
  return Equals(value, other);
}
LFM2_TEST(TestNe) {
  LFM2_ASSIGN_OR_RETURN(Value other, OneArgument(args, "ne"));
  return !Equals(value, other);
}
#define LFM2_COMPARE_TEST(name, op)                               \
  LFM2_TEST(name) {                                               \
    LFM2_ASSIGN_OR_RETURN(Value other, OneArgument(args, op));    \
    return Compare(value, other, op);                             \
  }
LFM2_COMPARE_TEST(TestLt, "<")
LFM2_COMPARE_TEST(TestLe, "<=")
LFM2_COMPARE_TEST(TestGt, ">")
LFM2_COMPARE_TEST(TestGe, ">=")
#undef LFM2_COMPARE_TEST
LFM2_TEST(TestIn) {
  LFM2_ASSIGN_OR_RETURN(Value container, OneArgument(args, "in"));
  return Contains(container, value);
}
LFM2_TEST(TestSameAs) {
  LFM2_ASSIGN_OR_RETURN(Value other, OneArgument(args, "sameas"));
  if (value.kind() != other.kind()) return false;
  switch (value.kind()) {
    case Kind::kNone:
    case Kind::kUndefined: return true;
    case Kind::kBool: return value.boolean() == other.boolean();
    case Kind::kInt: return value.integer() == other.integer() && value.integer() >= -5 && value.integer() <= 256;
    default: return value.identity() == other.identity();
  }
}
LFM2_TEST(TestFilter) { return value.is_string() && Filters().count(value.string()) > 0; }
LFM2_TEST(TestTest) { return value.is_string() && Tests().count(value.string()) > 0; }

#undef LFM2_TEST

}  // namespace

const std::unordered_map<std::string, FilterFunction>& Filters() {
  static const auto* filters = new std::unordered_map<std::string, FilterFunction>{
      {"abs", FilterAbs},         {"attr", FilterAttr},         {"batch", FilterBatch},
      {"capitalize", FilterCapitalize}, {"center", FilterCenter}, {"count", FilterLength},
      {"d", FilterDefault},       {"default", FilterDefault},   {"dictsort", FilterDictSort},
      {"e", FilterEscape},        {"escape", FilterEscape},     {"forceescape", FilterEscape},
      {"first", FilterFirst},     {"float", FilterFloat},       {"format", FilterFormat},
      {"indent", FilterIndent},   {"int", FilterInt},           {"items", FilterItems},
      {"join", FilterJoin},       {"last", FilterLast},         {"length", FilterLength},
      {"list", FilterList},       {"lower", FilterLower},       {"map", FilterMap},
      {"max", FilterMax},         {"min", FilterMin},           {"pprint", FilterPprint},
      {"reject", FilterReject},   {"rejectattr", FilterRejectAttr}, {"replace", FilterReplace},
      {"reverse", FilterReverse}, {"round", FilterRound},       {"safe", FilterSafe},
      {"select", FilterSelect},   {"selectattr", FilterSelectAttr}, {"slice", FilterSlice},
      {"sort", FilterSort},       {"string", FilterString},     {"sum", FilterSum},
      {"title", FilterTitle},     {"tojson", FilterToJson},     {"trim", FilterTrim},
      {"truncate", FilterTruncate}, {"unique", FilterUnique},   {"upper", FilterUpper},
      {"wordcount", FilterWordCount},
  };
  return *filters;
}

const std::unordered_map<std::string, TestFunction>& Tests() {
  static const auto* tests = new std::unordered_map<std::string, TestFunction>{
      {"defined", TestDefined},   {"undefined", TestUndefined}, {"none", TestNone},
      {"boolean", TestBoolean},   {"true", TestTrue},           {"false", TestFalse},
      {"integer", TestInteger},   {"float", TestFloat},         {"number", TestNumber},
      {"string", TestString},     {"mapping", TestMapping},     {"iterable", TestIterable},
      {"sequence", TestSequence}, {"callable", TestCallable},   {"escaped", TestEscaped},
      {"lower", TestLower},       {"upper", TestUpper},         {"odd", TestOdd},
      {"even", TestEven},         {"divisibleby", TestDivisibleBy}, {"eq", TestEq},
      {"equalto", TestEq},        {"==", TestEq},               {"ne", TestNe},
      {"!=", TestNe},             {"lt", TestLt},               {"lessthan", TestLt},
      {"<", TestLt},              {"le", TestLe},               {"<=", TestLe},
      {"gt", TestGt},             {"greaterthan", TestGt},      {">", TestGt},
      {"ge", TestGe},             {">=", TestGe},               {"in", TestIn},
      {"sameas", TestSameAs},     {"filter", TestFilter},       {"test", TestTest},
  };
  return *tests;
}

}  // namespace lfm2::jinja
