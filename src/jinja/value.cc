// jinja/value.cc - Python object semantics for template values (see value.h).
#include "jinja/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "jinja/text.h"

namespace lfm2::jinja {
namespace {

constexpr int kMaxReprDepth = 300;

uint32_t ChildDepth(const Value& value) { return value.depth(); }

// Three-way comparison of an int with a float, exact like Python; nullopt when d is NaN.
std::optional<int> CompareIntFloat(Int i, double d) {
  if (std::isnan(d)) return std::nullopt;
  if (std::isinf(d)) return d > 0 ? -1 : 1;
  constexpr double kTwo127 = 170141183460469231731687303715884105728.0;
  if (d >= kTwo127) return -1;
  if (d < -kTwo127) return 1;
  const double floor_d = std::floor(d);
  const Int floor_i = static_cast<Int>(floor_d);
  if (i < floor_i) return -1;
  if (i > floor_i) return 1;
  return d > floor_d ? -1 : 0;
}

// Three-way numeric comparison of two Python numbers; nullopt for NaN.
std::optional<int> CompareNumbers(const Value& a, const Value& b) {
  if (!a.is_float() && !b.is_float()) {
    const Int x = a.AsInteger(), y = b.AsInteger();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_float() && b.is_float()) {
    const double x = a.number(), y = b.number();
    if (std::isnan(x) || std::isnan(y)) return std::nullopt;
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_float()) {
    std::optional<int> r = CompareIntFloat(b.AsInteger(), a.number());
    if (!r) return r;
    return -*r;
  }
  return CompareIntFloat(a.AsInteger(), b.number());
}

bool EqualsAtDepth(const Value& a, const Value& b, int depth);

bool ListsEqual(const ListData& a, const ListData& b, int depth) {
  const bool a_tuple = a.flavor == ListFlavor::kTuple, b_tuple = b.flavor == ListFlavor::kTuple;
  if (a_tuple != b_tuple || a.items.size() != b.items.size()) return false;
  for (size_t i = 0; i < a.items.size(); ++i) {
    if (!EqualsAtDepth(a.items[i], b.items[i], depth + 1)) return false;
  }
  return true;
}

bool EqualsAtDepth(const Value& a, const Value& b, int depth) {
  if (depth > kMaxReprDepth) return false;
  if (a.is_number() && b.is_number()) {
    std::optional<int> r = CompareNumbers(a, b);
    return r && *r == 0;
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    case Kind::kString:
      return a.string() == b.string();
    case Kind::kList:
      return ListsEqual(a.list(), b.list(), depth);
    case Kind::kDict: {
      if (a.dict().size() != b.dict().size()) return false;
      for (const auto& [key, value] : a.dict().entries()) {
        const Value* other = b.dict().Find(key);
        if (other == nullptr || !EqualsAtDepth(value, *other, depth + 1)) return false;
      }
      return true;
    }
    default:
      return a.identity() == b.identity();
  }
}

void ReprAtDepth(const Value& value, int depth, std::string* out);

void ReprItems(const std::vector<Value>& items, int depth, std::string* out) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out->append(", ");
    ReprAtDepth(items[i], depth + 1, out);
  }
}

void ReprDict(const DictData& dict, int depth, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& [key, value] : dict.entries()) {
    if (!first) out->append(", ");
    first = false;
    ReprAtDepth(key, depth + 1, out);
    out->append(": ");
    ReprAtDepth(value, depth + 1, out);
  }
  out->push_back('}');
}

void ReprAtDepth(const Value& value, int depth, std::string* out) {
  if (depth > kMaxReprDepth) {
    out->append("...");
    return;
  }
  switch (value.kind()) {
    case Kind::kUndefined:
      out->append("Undefined");
      return;
    case Kind::kString:
      out->append(ReprString(value.string()));
      return;
    case Kind::kList: {
      const ListData& list = value.list();
      switch (list.flavor) {
        case ListFlavor::kTuple:
          out->push_back('(');
          ReprItems(list.items, depth, out);
          if (list.items.size() == 1) out->push_back(',');
          out->push_back(')');
          return;
        case ListFlavor::kDictKeys:
          out->append("dict_keys(");
          break;
        case ListFlavor::kDictValues:
          out->append("dict_values(");
          break;
        case ListFlavor::kDictItems:
          out->append("dict_items(");
          break;
        case ListFlavor::kList:
          break;
      }
      out->push_back('[');
      ReprItems(list.items, depth, out);
      out->push_back(']');
      if (list.flavor != ListFlavor::kList) out->push_back(')');
      return;
    }
    case Kind::kDict:
      ReprDict(value.dict(), depth, out);
      return;
    case Kind::kNamespace:
      out->append("<Namespace ");
      ReprDict(value.namespace_data().attributes, depth, out);
      out->push_back('>');
      return;
    default:
      out->append(Str(value));
      return;
  }
}

void AppendHex(uint32_t code, int digits, std::string* out) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%0*x", digits, code);
  out->append(buffer);
}

void JsonString(std::string_view text, bool ensure_ascii, std::string* out) {
  out->push_back('"');
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const uint32_t c = NextCodePoint(text, &pos);
    switch (c) {
      case '"': out->append("\\\""); continue;
      case '\\': out->append("\\\\"); continue;
      case '\n': out->append("\\n"); continue;
      case '\r': out->append("\\r"); continue;
      case '\t': out->append("\\t"); continue;
      case '\b': out->append("\\b"); continue;
      case '\f': out->append("\\f"); continue;
      default: break;
    }
    if (c < 0x20) {
      out->append("\\u");
      AppendHex(c, 4, out);
    } else if (ensure_ascii && c >= 0x80) {
      if (c >= 0x10000) {
        const uint32_t v = c - 0x10000;
        out->append("\\u");
        AppendHex(0xD800 + (v >> 10), 4, out);
        out->append("\\u");
        AppendHex(0xDC00 + (v & 0x3FF), 4, out);
      } else {
        out->append("\\u");
        AppendHex(c, 4, out);
      }
    } else {
      out->append(text.substr(start, pos - start));
    }
  }
  out->push_back('"');
}

std::string JsonFloat(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return FormatFloat(d);
}

Status JsonAtDepth(const Value& value, const JsonOptions& options, int level, std::string* out);

Status JsonKey(const Value& key, std::string* out, const JsonOptions& options) {
  switch (key.kind()) {
    case Kind::kString: JsonString(key.string(), options.ensure_ascii, out); return Status::Ok();
    case Kind::kFloat: JsonString(JsonFloat(key.number()), false, out); return Status::Ok();
    case Kind::kBool: out->append(key.boolean() ? "\"true\"" : "\"false\""); return Status::Ok();
    case Kind::kNone: out->append("\"null\""); return Status::Ok();
    case Kind::kInt: JsonString(FormatInt(key.integer()), false, out); return Status::Ok();
    default:
      return InvalidArgumentError("TypeError: keys must be str, int, float, bool or None, not ",
                                  TypeName(key));
  }
}

void JsonNewline(const JsonOptions& options, int level, std::string* out) {
  out->push_back('\n');
  for (int i = 0; i < level; ++i) out->append(options.indent);
}

Status JsonAtDepth(const Value& value, const JsonOptions& options, int level, std::string* out) {
  if (level > kMaxReprDepth) return InvalidArgumentError("ValueError: value nested too deeply for tojson");
  switch (value.kind()) {
    case Kind::kNone: out->append("null"); return Status::Ok();
    case Kind::kBool: out->append(value.boolean() ? "true" : "false"); return Status::Ok();
    case Kind::kInt: out->append(FormatInt(value.integer())); return Status::Ok();
    case Kind::kFloat: out->append(JsonFloat(value.number())); return Status::Ok();
    case Kind::kString: JsonString(value.string(), options.ensure_ascii, out); return Status::Ok();
    case Kind::kList: {
      const auto& items = value.list().items;
      if (items.empty()) {
        out->append("[]");
        return Status::Ok();
      }
      out->push_back('[');
      if (options.has_indent) JsonNewline(options, level + 1, out);
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) {
          out->append(options.item_separator);
          if (options.has_indent) JsonNewline(options, level + 1, out);
        }
        LFM2_RETURN_IF_ERROR(JsonAtDepth(items[i], options, level + 1, out));
      }
      if (options.has_indent) JsonNewline(options, level, out);
      out->push_back(']');
      return Status::Ok();
    }
    case Kind::kDict: {
      const DictData& dict = value.dict();
      if (dict.size() == 0) {
        out->append("{}");
        return Status::Ok();
      }
      std::vector<const std::pair<Value, Value>*> entries;
      for (const auto& entry : dict.entries()) entries.push_back(&entry);
      if (options.sort_keys) {
        // Insertion sort keeps this simple and stable; dicts here are small.
        for (size_t i = 1; i < entries.size(); ++i) {
          for (size_t j = i; j > 0; --j) {
            LFM2_ASSIGN_OR_RETURN(bool less, Less(entries[j]->first, entries[j - 1]->first));
            if (!less) break;
            std::swap(entries[j], entries[j - 1]);
          }
        }
      }
      out->push_back('{');
      if (options.has_indent) JsonNewline(options, level + 1, out);
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) {
          out->append(options.item_separator);
          if (options.has_indent) JsonNewline(options, level + 1, out);
        }
        LFM2_RETURN_IF_ERROR(JsonKey(entries[i]->first, out, options));
        out->append(options.key_separator);
        LFM2_RETURN_IF_ERROR(JsonAtDepth(entries[i]->second, options, level + 1, out));
      }
      if (options.has_indent) JsonNewline(options, level, out);
      out->push_back('}');
      return Status::Ok();
    }
    default:
      return InvalidArgumentError("TypeError: Object of type ", TypeName(value),
                                  " is not JSON serializable");
  }
}

StatusOr<Value> FromJsonAtDepth(const Json& json, uint32_t depth) {
  if (depth > kMaxValueDepth) {
    return InvalidArgumentError("JSON input nested deeper than ", kMaxValueDepth, " levels");
  }
  switch (json.type()) {
    case Json::value_t::object: {
      DictData dict;
      for (auto it = json.begin(); it != json.end(); ++it) {
        LFM2_ASSIGN_OR_RETURN(Value item, FromJsonAtDepth(it.value(), depth + 1));
        LFM2_RETURN_IF_ERROR(dict.Set(Value::String(it.key()), std::move(item)));
      }
      return Value::Dict(std::move(dict));
    }
    case Json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const Json& element : json) {
        LFM2_ASSIGN_OR_RETURN(Value item, FromJsonAtDepth(element, depth + 1));
        items.push_back(std::move(item));
      }
      return Value::List(std::move(items));
    }
    case Json::value_t::string:
      return Value::String(json.get_ref<const std::string&>());
    case Json::value_t::boolean:
      return Value::Bool(json.get<bool>());
    case Json::value_t::number_integer:
      return Value::Integer(json.get<int64_t>());
    case Json::value_t::number_unsigned:
      return Value::Integer(json.get<uint64_t>());
    case Json::value_t::number_float:
      return Value::Float(json.get<double>());
    default:
      return Value::None();
  }
}

}  // namespace

// ---- Value ----

Value Value::Undefined(std::string message) {
  Value v;
  if (!message.empty()) v.ptr_ = std::make_shared<std::string>(std::move(message));
  return v;
}
Value Value::None() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}
Value Value::Bool(bool value) {
  Value v;
  v.kind_ = Kind::kBool;
  v.scalar_.boolean = value;
  return v;
}
Value Value::Integer(Int value) {
  Value v;
  v.kind_ = Kind::kInt;
  v.scalar_.integer = value;
  return v;
}
Value Value::Float(double value) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.scalar_.number = value;
  return v;
}
Value Value::String(std::string value) {
  Value v;
  v.kind_ = Kind::kString;
  v.ptr_ = std::make_shared<std::string>(std::move(value));
  return v;
}
Value Value::List(std::vector<Value> items, ListFlavor flavor) {
  auto data = std::make_shared<ListData>();
  uint32_t depth = 0;
  for (const Value& item : items) depth = std::max(depth, ChildDepth(item));
  data->items = std::move(items);
  data->flavor = flavor;
  data->depth = depth + 1;
  Value v;
  v.kind_ = Kind::kList;
  v.ptr_ = std::move(data);
  return v;
}
Value Value::Dict(DictData dict) {
  Value v;
  v.kind_ = Kind::kDict;
  v.ptr_ = std::make_shared<DictData>(std::move(dict));
  return v;
}
Value Value::Namespace(std::shared_ptr<NamespaceData> data) {
  Value v;
  v.kind_ = Kind::kNamespace;
  v.ptr_ = std::move(data);
  return v;
}
Value Value::Loop(std::shared_ptr<LoopData> data) {
  Value v;
  v.kind_ = Kind::kLoop;
  v.ptr_ = std::move(data);
  return v;
}
Value Value::Function(std::shared_ptr<const Callable> callable) {
  Value v;
  v.kind_ = Kind::kCallable;
  v.ptr_ = std::const_pointer_cast<Callable>(std::move(callable));
  return v;
}

double Value::AsDouble() const {
  if (is_float()) return scalar_.number;
  return static_cast<double>(AsInteger());
}

std::string Value::undefined_message() const {
  if (ptr_ == nullptr) return "value is undefined";
  return *static_cast<const std::string*>(ptr_.get());
}

uint32_t Value::depth() const {
  if (kind_ == Kind::kList) return list().depth;
  if (kind_ == Kind::kDict) return dict().depth();
  return 0;
}

// ---- DictData ----

const Value* DictData::Find(const Value& key) const {
  if (key.is_string()) return FindString(key.string());
  for (const auto& entry : entries_) {
    if (!entry.first.is_string() && Equals(entry.first, key)) return &entry.second;
  }
  return nullptr;
}

size_t DictData::IndexOfString(std::string_view key) const {
  if (entries_.size() < kIndexFrom) {
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].first.is_string() && entries_[i].first.string() == key) return i;
    }
    return kAbsent;
  }
  auto it = string_index_.find(key);
  return it == string_index_.end() ? kAbsent : it->second;
}

const Value* DictData::FindString(std::string_view key) const {
  const size_t i = IndexOfString(key);
  return i == kAbsent ? nullptr : &entries_[i].second;
}

void DictData::IndexStringKeys() {
  string_index_.reserve(entries_.size() * 2);
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].first.is_string()) string_index_.emplace(entries_[i].first.string(), i);
  }
}

Status DictData::Set(Value key, Value value) {
  if (!Hashable(key)) return InvalidArgumentError("TypeError: unhashable type: '", TypeName(key), "'");
  depth_ = std::max(depth_, 1 + std::max(key.depth(), value.depth()));
  if (key.is_string()) {
    if (const size_t i = IndexOfString(key.string()); i != kAbsent) {
      entries_[i].second = std::move(value);  // replaced in place, keeping its position
      return Status::Ok();
    }
    entries_.emplace_back(std::move(key), std::move(value));
    if (entries_.size() == kIndexFrom) {
      IndexStringKeys();
    } else if (entries_.size() > kIndexFrom) {
      string_index_.emplace(entries_.back().first.string(), entries_.size() - 1);
    }
    return Status::Ok();
  } else {
    for (auto& entry : entries_) {
      if (!entry.first.is_string() && Equals(entry.first, key)) {
        entry.second = std::move(value);
        return Status::Ok();
      }
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
  return Status::Ok();
}

// ---- Python semantics ----

bool Truthy(const Value& value) {
  switch (value.kind()) {
    case Kind::kUndefined:
    case Kind::kNone: return false;
    case Kind::kBool: return value.boolean();
    case Kind::kInt: return value.integer() != 0;
    case Kind::kFloat: return value.number() != 0.0;
    case Kind::kString: return !value.string().empty();
    case Kind::kList: return !value.list().items.empty();
    case Kind::kDict: return value.dict().size() != 0;
    default: return true;
  }
}

bool Equals(const Value& a, const Value& b) { return EqualsAtDepth(a, b, 0); }

StatusOr<bool> Compare(const Value& a, const Value& b, std::string_view op) {
  auto result = [&](int order) {
    if (op == "<") return order < 0;
    if (op == "<=") return order <= 0;
    if (op == ">") return order > 0;
    return order >= 0;
  };
  if (a.is_number() && b.is_number()) {
    std::optional<int> order = CompareNumbers(a, b);
    return order ? result(*order) : false;
  }
  if (a.is_string() && b.is_string()) {
    const int order = a.string().compare(b.string());
    return result(order < 0 ? -1 : (order > 0 ? 1 : 0));
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.list().items;
    const auto& y = b.list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!Equals(x[i], y[i])) return Compare(x[i], y[i], op);
    }
    return result(x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0));
  }
  if (a.is_undefined() || b.is_undefined()) {
    const Value& undefined = a.is_undefined() ? a : b;
    return InvalidArgumentError("UndefinedError: ", undefined.undefined_message());
  }
  return InvalidArgumentError("TypeError: '", op, "' not supported between instances of '",
                              TypeName(a), "' and '", TypeName(b), "'");
}

std::string TypeName(const Value& value) {
  switch (value.kind()) {
    case Kind::kUndefined: return "Undefined";
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kList:
      switch (value.list().flavor) {
        case ListFlavor::kTuple: return "tuple";
        case ListFlavor::kDictKeys: return "dict_keys";
        case ListFlavor::kDictValues: return "dict_values";
        case ListFlavor::kDictItems: return "dict_items";
        case ListFlavor::kList: return "list";
      }
      return "list";
    case Kind::kDict: return "dict";
    case Kind::kNamespace: return "Namespace";
    case Kind::kLoop: return "LoopContext";
    case Kind::kCallable: return "function";
  }
  return "object";
}

std::string Str(const Value& value) {
  switch (value.kind()) {
    case Kind::kUndefined: return "";
    case Kind::kNone: return "None";
    case Kind::kBool: return value.boolean() ? "True" : "False";
    case Kind::kInt: return FormatInt(value.integer());
    case Kind::kFloat: return FormatFloat(value.number());
    case Kind::kString: return value.string();
    case Kind::kLoop: {
      const LoopData& loop = value.loop();
      return StrCat("<LoopContext ", loop.index0 + 1, "/", loop.items->items.size(), ">");
    }
    case Kind::kCallable: return value.callable().Repr();
    default: return Repr(value);
  }
}

std::string Repr(const Value& value) {
  std::string out;
  ReprAtDepth(value, 0, &out);
  return out;
}

std::string ReprString(std::string_view text) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back(quote);
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const uint32_t c = NextCodePoint(text, &pos);
    if (c == static_cast<uint32_t>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else if (c == '\t') {
      out.append("\\t");
    } else if (c < 0x20 || c == 0x7F) {
      out.append("\\x");
      AppendHex(c, 2, &out);
    } else if (c >= 0x80 && !IsPrintable(c)) {
      if (c <= 0xFF) {
        out.append("\\x");
        AppendHex(c, 2, &out);
      } else if (c <= 0xFFFF) {
        out.append("\\u");
        AppendHex(c, 4, &out);
      } else {
        out.append("\\U");
        AppendHex(c, 8, &out);
      }
    } else {
      out.append(text.substr(start, pos - start));
    }
  }
  out.push_back(quote);
  return out;
}

std::string FormatFloat(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  std::string out = std::signbit(value) ? "-" : "";
  const double magnitude = std::fabs(value);
  if (magnitude == 0.0) return out + "0.0";
  char buffer[64];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), magnitude,
                                    std::chars_format::scientific);
  const std::string_view text(buffer, end - buffer);  // "d.ddde+XX"
  const size_t e = text.find('e');
  std::string digits;
  for (char c : text.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  const int exponent = std::stoi(std::string(text.substr(e + 1)));
  const int decimal_point = exponent + 1;  // value = 0.DIGITS * 10^decimal_point
  const int count = static_cast<int>(digits.size());
  if (decimal_point > -4 && decimal_point <= 16) {
    if (decimal_point <= 0) {
      out += "0." + std::string(-decimal_point, '0') + digits;
    } else if (decimal_point >= count) {
      out += digits + std::string(decimal_point - count, '0') + ".0";
    } else {
      out += digits.substr(0, decimal_point) + "." + digits.substr(decimal_point);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (count > 1) out += "." + digits.substr(1);
  const int shown = decimal_point - 1;
  char exponent_text[16];
  std::snprintf(exponent_text, sizeof(exponent_text), "e%c%02d", shown < 0 ? '-' : '+',
                shown < 0 ? -shown : shown);
  return out + exponent_text;
}

std::string FormatInt(Int value) {
  if (value == 0) return "0";
  const bool negative = value < 0;
  // Work with the unsigned magnitude so the most negative value is handled.
  unsigned __int128 magnitude = negative ? -static_cast<unsigned __int128>(value)
                                         : static_cast<unsigned __int128>(value);
  char buffer[48];
  int pos = sizeof(buffer);
  while (magnitude > 0) {
    buffer[--pos] = static_cast<char>('0' + static_cast<int>(magnitude % 10));
    magnitude /= 10;
  }
  if (negative) buffer[--pos] = '-';
  return std::string(buffer + pos, sizeof(buffer) - pos);
}

bool Hashable(const Value& value) {
  switch (value.kind()) {
    case Kind::kList:
      if (!value.is_tuple()) return false;
      for (const Value& item : value.list().items) {
        if (!Hashable(item)) return false;
      }
      return true;
    case Kind::kDict:
      return false;
    default:
      return true;
  }
}

StatusOr<std::string> ToJson(const Value& value, const JsonOptions& options) {
  std::string out;
  LFM2_RETURN_IF_ERROR(JsonAtDepth(value, options, 0, &out));
  return out;
}

StatusOr<Value> ValueFromJson(const Json& json) { return FromJsonAtDepth(json, 1); }

StatusOr<std::vector<Value>> Iterate(const Value& value) {
  switch (value.kind()) {
    case Kind::kUndefined:
      return std::vector<Value>{};
    case Kind::kList:
      return value.list().items;
    case Kind::kDict: {
      std::vector<Value> keys;
      keys.reserve(value.dict().size());
      for (const auto& entry : value.dict().entries()) keys.push_back(entry.first);
      return keys;
    }
    case Kind::kString: {
      std::vector<Value> chars;
      const std::string& text = value.string();
      size_t pos = 0;
      while (pos < text.size()) {
        const size_t start = pos;
        NextCodePoint(text, &pos);
        chars.push_back(Value::String(text.substr(start, pos - start)));
      }
      return chars;
    }
    default:
      return InvalidArgumentError("TypeError: '", TypeName(value), "' object is not iterable");
  }
}

StatusOr<Int> Length(const Value& value) {
  switch (value.kind()) {
    case Kind::kUndefined: return Int(0);
    case Kind::kString: return static_cast<Int>(CodePointCount(value.string()));
    case Kind::kList: return static_cast<Int>(value.list().items.size());
    case Kind::kDict: return static_cast<Int>(value.dict().size());
    case Kind::kLoop: return static_cast<Int>(value.loop().items->items.size());
    default:
      return InvalidArgumentError("TypeError: object of type '", TypeName(value), "' has no len()");
  }
}

}  // namespace lfm2::jinja
