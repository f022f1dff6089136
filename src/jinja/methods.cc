// jinja/methods.cc - Python methods templates call on values (str.split,
// dict.get, list.index, loop.cycle, ...), printf-style `%` and str.format formatting, and the
// global functions (range, dict, namespace, joiner, raise_exception, strftime_now).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "jinja/interpreter.h"
#include "jinja/operators.h"
#include "jinja/text.h"

namespace lfm2::jinja {
namespace {

constexpr const char* kStringMethods[] = {
    "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith",
    "replace", "upper", "lower", "title", "capitalize", "swapcase", "casefold", "find", "rfind",
    "index", "rindex", "count", "join", "format", "isdigit", "isdecimal", "isnumeric", "isalpha",
    "isalnum", "isspace", "islower", "isupper", "isascii", "center", "ljust", "rjust", "zfill",
    "partition", "rpartition", "removeprefix", "removesuffix"};
constexpr const char* kDictMethods[] = {"get", "items", "keys", "values", "copy"};
constexpr const char* kDictUnsafe[] = {"clear", "pop", "popitem", "setdefault", "update"};
constexpr const char* kListMethods[] = {"count", "index", "copy"};
constexpr const char* kListUnsafe[] = {"append", "extend", "insert", "pop", "remove", "reverse",
                                       "sort", "clear"};

template <size_t N>
bool In(const char* const (&names)[N], const std::string& name) {
  return std::find_if(std::begin(names), std::end(names),
                      [&](const char* n) { return name == n; }) != std::end(names);
}

class BoundMethod : public Callable {
 public:
  BoundMethod(Value receiver, std::string name)
      : receiver_(std::move(receiver)), name_(std::move(name)) {}
  std::string Repr() const override {
    return "<built-in method " + name_ + " of " + TypeName(receiver_) + " object>";
  }
  StatusOr<Value> Call(Interpreter& interpreter, CallArgs args) const override {
    return CallMethod(interpreter, receiver_, name_, args);
  }

 private:
  Value receiver_;
  std::string name_;
};

using Native = StatusOr<Value> (*)(Interpreter&, CallArgs&);
class NativeFunction : public Callable {
 public:
  NativeFunction(const char* name, Native function) : name_(name), function_(function) {}
  std::string Repr() const override { return StrCat("<function ", name_, ">"); }
  StatusOr<Value> Call(Interpreter& interpreter, CallArgs args) const override {
    return function_(interpreter, args);
  }

 private:
  const char* name_;
  Native function_;
};

class Joiner : public Callable {
 public:
  explicit Joiner(std::string separator) : separator_(std::move(separator)) {}
  std::string Repr() const override { return "<jinja2.utils.Joiner object>"; }
  StatusOr<Value> Call(Interpreter&, CallArgs) const override {
    if (!used_) {
      used_ = true;
      return Value::String("");
    }
    return Value::String(separator_);
  }

 private:
  std::string separator_;
  mutable bool used_ = false;
};

Status TypeError(const std::string& message) { return InvalidArgumentError("TypeError: ", message); }

StatusOr<std::string> RequireString(const std::optional<Value>& value, const char* what) {
  if (!value || !value->is_string()) {
    return TypeError(StrCat(what, " must be str, not ",
                            value ? TypeName(*value) : std::string("nothing")));
  }
  return value->string();
}

StatusOr<int64_t> RequireInt(const std::optional<Value>& value, const char* what) {
  if (!value || !(value->is_int() || value->is_bool())) {
    return TypeError(StrCat(what, ": an integer is required, not ",
                            value ? TypeName(*value) : std::string("nothing")));
  }
  return ClampToInt64(value->AsInteger());
}

// text[start:end] in code points (for find/startswith with bounds); *offset gets start's index.
std::string SubRange(const std::string& text, const std::optional<Value>& start,
                     const std::optional<Value>& end, int64_t* offset) {
  const std::vector<size_t> offsets = CodePointOffsets(text);
  const int64_t length = static_cast<int64_t>(offsets.size()) - 1;
  auto bound = [&](const std::optional<Value>& v, int64_t fallback) {
    if (!v || v->is_none() || !(v->is_int() || v->is_bool())) return fallback;
    int64_t i = ClampToInt64(v->AsInteger());
    if (i < 0) i = std::max<int64_t>(0, i + length);
    return std::min(i, length);
  };
  const int64_t first = bound(start, 0);
  const int64_t last = std::max(first, bound(end, length));
  *offset = first;
  return text.substr(offsets[first], offsets[last] - offsets[first]);
}

bool AllCodePoints(const std::string& text, bool (*predicate)(uint32_t)) {
  if (text.empty()) return false;
  for (size_t pos = 0; pos < text.size();) {
    if (!predicate(NextCodePoint(text, &pos))) return false;
  }
  return true;
}

Value StringList(std::vector<std::string> parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (std::string& part : parts) items.push_back(Value::String(std::move(part)));
  return Value::List(std::move(items));
}

StatusOr<Value> StringMethod(Interpreter& interpreter, const std::string& text,
                             const std::string& name, CallArgs& args) {
  if (name == "format") return StrFormat(interpreter, text, args);
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(name, args, {"chars"}));
    std::optional<std::string> chars;
    if (a[0] && !a[0]->is_none()) {
      LFM2_ASSIGN_OR_RETURN(chars, RequireString(a[0], "strip arg"));
    }
    return Value::String(Strip(text, chars ? &*chars : nullptr, name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(name, args, {"sep", "maxsplit"}));
    std::optional<std::string> separator;
    if (a[0] && !a[0]->is_none()) {
      LFM2_ASSIGN_OR_RETURN(separator, RequireString(a[0], "separator"));
      if (separator->empty()) return InvalidArgumentError("ValueError: empty separator");
    }
    int64_t maxsplit = -1;
    if (a[1]) {
      LFM2_ASSIGN_OR_RETURN(maxsplit, RequireInt(a[1], "maxsplit"));
    }
    LFM2_RETURN_IF_ERROR(interpreter.Charge(text.size() / 8));
    const std::string* sep = separator ? &*separator : nullptr;
    return StringList(name == "split" ? Split(text, sep, maxsplit) : RSplit(text, sep, maxsplit));
  }
  if (name == "splitlines") {
    LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(name, args, {"keepends"}));
    return StringList(SplitLines(text, a[0] && Truthy(*a[0])));
  }
  if (name == "startswith" || name == "endswith") {
    LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(name, args, {"prefix", "start", "end"}));
    int64_t offset;
    const std::string range = SubRange(text, a[1], a[2], &offset);
    std::vector<Value> candidates;
    if (a[0] && a[0]->is_tuple()) {
      candidates = a[0]->list().items;
    } else {
      candidates.push_back(a[0].value_or(Value()));
    }
    for (const Value& candidate : candidates) {
      if (!candidate.is_string()) {
        return TypeError(name + " first arg must be str or a tuple of str, not " + TypeName(candidate));
      }
      const std::string& s = candidate.string();
      const bool match = name == "startswith" ? range.compare(0, s.size(), s) == 0 && range.size() >= s.size()
                                              : range.size() >= s.size() &&
                                                    range.compare(range.size() - s.size(), s.size(), s) == 0;
      if (match) return Value::Bool(true);
    }
    return Value::Bool(false);
  }
  if (name == "replace") {
    LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(name, args, {"old", "new", "count"}));
    LFM2_ASSIGN_OR_RETURN(std::string old_text, RequireString(a[0], "replace() argument 1"));
    LFM2_ASSIGN_OR_RETURN(std::string new_text, RequireString(a[1], "replace() argument 2"));
    int64_t count = -1;
    if (a[2]) {
      LFM2_ASSIGN_OR_RETURN(count, RequireInt(a[2], "count"));
    }
    std::string out;
    if (!Replace(text, old_text, new_text, count, interpreter.options().max_output_bytes, &out)) {
      return ResourceExhaustedError("replace() result exceeds the string size limit");
    }
    LFM2_RETURN_IF_ERROR(interpreter.CheckStringSize(out.size()));
    return Value::String(std::move(out));
  }
  if (name == "upper") return Value::String(Upper(text));
  if (name == "lower" || name == "casefold") return Value::String(Lower(text));
  if (name == "title") return Value::String(TitleCase(text));
  if (name == "capitalize") return Value::String(Capitalize(text));
  if (name == "swapcase") return Value::String(SwapCase(text));
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(name, args, {"sub", "start", "end"}));
    LFM2_ASSIGN_OR_RETURN(std::string needle, RequireString(a[0], "must be str"));
    int64_t offset;
    const std::string range = SubRange(text, a[1], a[2], &offset);
    if (name == "count") return Value::Integer(CountOccurrences(range, needle));
    const int64_t found = Find(range, needle, name[0] == 'r');
    if (found < 0 && (name == "index" || name == "rindex")) {
      return InvalidArgumentError("ValueError: substring not found");
    }
    return Value::Integer(found < 0 ? -1 : found + offset);
  }
  if (name == "join") {
    LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(name, args, {"iterable"}));
    LFM2_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(a[0].value_or(Value::None())));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) {
        return TypeError(StrCat("sequence item ", i, ": expected str instance, ",
                                TypeName(items[i]), " found"));
      }
      if (i > 0) out += text;
      out += items[i].string();
      LFM2_RETURN_IF_ERROR(interpreter.CheckStringSize(out.size()));
    }
    return Value::String(std::move(out));
  }
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric") {
    return Value::Bool(AllCodePoints(text, IsDigit));
  }
  if (name == "isalpha") return Value::Bool(AllCodePoints(text, IsAlpha));
  if (name == "isalnum") {
    return Value::Bool(AllCodePoints(text, [](uint32_t c) { return IsAlpha(c) || IsDigit(c); }));
  }
  if (name == "isspace") return Value::Bool(AllCodePoints(text, IsPySpace));
  if (name == "isascii") return Value::Bool(IsAscii(text));
  if (name == "islower" || name == "isupper") {
    bool cased = false;
    for (size_t pos = 0; pos < text.size();) {
      const uint32_t c = NextCodePoint(text, &pos);
      const bool is_lower = ToUpper(c) != c, is_upper = ToLower(c) != c;
      if (name == "islower" ? is_upper : is_lower) return Value::Bool(false);
      cased = cased || is_lower || is_upper;
    }
    return Value::Bool(cased);
  }
  if (name == "center" || name == "ljust" || name == "rjust" || name == "zfill") {
    LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(name, args, {"width", "fillchar"}));
    LFM2_ASSIGN_OR_RETURN(int64_t width, RequireInt(a[0], "width"));
    width = std::min<int64_t>(width, static_cast<int64_t>(interpreter.options().max_output_bytes));
    LFM2_RETURN_IF_ERROR(interpreter.CheckStringSize(static_cast<size_t>(std::max<int64_t>(width, 0))));
    if (name == "zfill") {
      const bool signed_text = !text.empty() && (text[0] == '-' || text[0] == '+');
      const std::string padded = Pad(signed_text ? text.substr(1) : text,
                                     width - (signed_text ? 1 : 0), "0", '>');
      std::string out(signed_text ? 1 : 0, text.empty() ? '0' : text[0]);
      out.append(padded);
      return Value::String(std::move(out));
    }
    std::string fill = " ";
    if (a[1]) {
      LFM2_ASSIGN_OR_RETURN(fill, RequireString(a[1], "fill character"));
      if (CodePointCount(fill) != 1) {
        return TypeError("The fill character must be exactly one character long");
      }
    }
    return Value::String(Pad(text, width, fill, name == "center" ? '^' : (name == "ljust" ? '<' : '>')));
  }
  if (name == "partition" || name == "rpartition") {
    LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(name, args, {"sep"}));
    LFM2_ASSIGN_OR_RETURN(std::string sep, RequireString(a[0], "separator"));
    if (sep.empty()) return InvalidArgumentError("ValueError: empty separator");
    const size_t found = name == "partition" ? text.find(sep) : text.rfind(sep);
    if (found == std::string::npos) {
      return name == "partition"
                 ? Value::Tuple({Value::String(text), Value::String(""), Value::String("")})
                 : Value::Tuple({Value::String(""), Value::String(""), Value::String(text)});
    }
    return Value::Tuple({Value::String(text.substr(0, found)), Value::String(sep),
                         Value::String(text.substr(found + sep.size()))});
  }
  if (name == "removeprefix" || name == "removesuffix") {
    LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(name, args, {"affix"}));
    LFM2_ASSIGN_OR_RETURN(std::string affix, RequireString(a[0], "argument"));
    if (name == "removeprefix" && text.rfind(affix, 0) == 0) return Value::String(text.substr(affix.size()));
    if (name == "removesuffix" && text.size() >= affix.size() &&
        text.compare(text.size() - affix.size(), affix.size(), affix) == 0) {
      return Value::String(text.substr(0, text.size() - affix.size()));
    }
    return Value::String(text);
  }
  return InvalidArgumentError("AttributeError: 'str' object has no attribute '", name, "'");
}

StatusOr<Value> DictMethod(Interpreter& interpreter, const Value& receiver, const std::string& name,
                           CallArgs& args) {
  const DictData& dict = receiver.dict();
  if (name == "get") {
    LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(name, args, {"key", "default"}));
    if (!a[0]) return TypeError("get expected at least 1 argument, got 0");
    if (!Hashable(*a[0])) return TypeError("unhashable type: '" + TypeName(*a[0]) + "'");
    const Value* found = dict.Find(*a[0]);
    if (found != nullptr) return *found;
    return a[1].value_or(Value::None());
  }
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(name, args, {}));
  LFM2_RETURN_IF_ERROR(interpreter.Charge(dict.size()));
  if (name == "copy") return receiver;
  std::vector<Value> items;
  items.reserve(dict.size());
  for (const auto& [key, value] : dict.entries()) {
    if (name == "keys") {
      items.push_back(key);
    } else if (name == "values") {
      items.push_back(value);
    } else {
      items.push_back(Value::Tuple({key, value}));
    }
  }
  const ListFlavor flavor = name == "keys" ? ListFlavor::kDictKeys
                            : name == "values" ? ListFlavor::kDictValues
                                               : ListFlavor::kDictItems;
  return Value::List(std::move(items), flavor);
}

StatusOr<Value> LoopMethod(const Value& receiver, const std::string& name, CallArgs& args) {
  LoopData& loop = receiver.loop();
  if (name == "cycle") {
    if (args.positional.empty()) return TypeError("no items for cycling given");
    return args.positional[loop.index0 % args.positional.size()];
  }
  Value current = Value::Tuple(args.positional);
  if (!loop.has_changed_value || !Equals(*loop.last_changed_value, current)) {
    loop.has_changed_value = true;
    loop.last_changed_value = std::make_shared<Value>(std::move(current));
    return Value::Bool(true);
  }
  return Value::Bool(false);
}

// ---- globals ----

StatusOr<Value> Range(Interpreter& interpreter, CallArgs& args) {
  if (!args.keyword.empty()) return TypeError("range() takes no keyword arguments");
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3) return TypeError(StrCat("range expected 1 to 3 arguments, got ", p.size()));
  Int bounds[3] = {0, 0, 1};
  for (size_t i = 0; i < p.size(); ++i) {
    if (!p[i].is_int() && !p[i].is_bool()) {
      return TypeError(StrCat("'", TypeName(p[i]), "' object cannot be interpreted as an integer"));
    }
  }
  if (p.size() == 1) {
    bounds[1] = p[0].AsInteger();
  } else {
    bounds[0] = p[0].AsInteger();
    bounds[1] = p[1].AsInteger();
    if (p.size() == 3) bounds[2] = p[2].AsInteger();
  }
  if (bounds[2] == 0) return InvalidArgumentError("ValueError: range() arg 3 must not be zero");
  const Int start = bounds[0], stop = bounds[1], step = bounds[2];
  Int count = 0;
  if (step > 0 && stop > start) count = (stop - start - 1) / step + 1;
  if (step < 0 && stop < start) count = (start - stop - 1) / (-step) + 1;
  if (count > 100000) {
    return OutOfRangeError(
        "OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  }
  LFM2_RETURN_IF_ERROR(interpreter.Charge(static_cast<uint64_t>(count)));
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(count));
  for (Int i = 0; i < count; ++i) items.push_back(Value::Integer(start + i * step));
  return Value::List(std::move(items));
}

StatusOr<DictData> DictFromArguments(CallArgs& args, const char* function) {
  DictData dict;
  if (args.positional.size() > 1) return TypeError(StrCat(function, " expected at most 1 argument"));
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_dict()) {
      dict = source.dict();
    } else {
      LFM2_ASSIGN_OR_RETURN(std::vector<Value> pairs, Iterate(source));
      for (const Value& pair : pairs) {
        LFM2_ASSIGN_OR_RETURN(std::vector<Value> kv, Iterate(pair));
        if (kv.size() != 2) return InvalidArgumentError("ValueError: dictionary update sequence element has length ", kv.size(), "; 2 is required");
        LFM2_RETURN_IF_ERROR(dict.Set(kv[0], kv[1]));
      }
    }
  }
  for (auto& [key, value] : args.keyword) LFM2_RETURN_IF_ERROR(dict.Set(Value::String(key), value));
  return dict;
}

StatusOr<Value> DictGlobal(Interpreter&, CallArgs& args) {
  LFM2_ASSIGN_OR_RETURN(DictData dict, DictFromArguments(args, "dict"));
  return Value::Dict(std::move(dict));
}

StatusOr<Value> NamespaceGlobal(Interpreter& interpreter, CallArgs& args) {
  LFM2_ASSIGN_OR_RETURN(DictData dict, DictFromArguments(args, "namespace"));
  return interpreter.NewNamespace(std::move(dict));
}

StatusOr<Value> JoinerGlobal(Interpreter&, CallArgs& args) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("joiner", args, {"sep"}));
  return Value::Function(std::make_shared<Joiner>(a[0] ? Str(*a[0]) : ", "));
}

StatusOr<Value> RaiseException(Interpreter&, CallArgs& args) {
  const std::string message = args.positional.empty() ? "" : Str(args.positional[0]);
  return InvalidArgumentError(message);
}

StatusOr<Value> StrftimeNow(Interpreter& interpreter, CallArgs& args) {
  LFM2_ASSIGN_OR_RETURN(auto a, BindArguments("strftime_now", args, {"format"}));
  LFM2_ASSIGN_OR_RETURN(std::string format, RequireString(a[0], "strftime() argument 1"));
  if (format.size() > 4096) return InvalidArgumentError("strftime_now: format too long");
  const std::time_t now = interpreter.Now();
  std::tm local{};
  localtime_r(&now, &local);
  if (format.empty()) return Value::String("");
  // A trailing marker tells an empty expansion from a buffer that was too small.
  const std::string marked = format + "\x01";
  std::string buffer(format.size() * 16 + 64, '\0');
  const size_t written = std::strftime(buffer.data(), buffer.size(), marked.c_str(), &local);
  if (written == 0) return InvalidArgumentError("strftime_now: result too long");
  buffer.resize(written - 1);
  return Value::String(std::move(buffer));
}

}  // namespace

StatusOr<std::vector<std::optional<Value>>> BindArguments(std::string_view function,
                                                          CallArgs& args,
                                                          std::initializer_list<const char*> names) {
  std::vector<std::optional<Value>> bound(names.size());
  if (args.positional.size() > names.size()) {
    return TypeError(StrCat(function, "() takes at most ", names.size(), " argument(s) (",
                            args.positional.size(), " given)"));
  }
  for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i];
  for (auto& [key, value] : args.keyword) {
    size_t index = 0;
    for (const char* name : names) {
      if (key == name) break;
      ++index;
    }
    if (index == names.size()) {
      return TypeError(StrCat(function, "() got an unexpected keyword argument '", key, "'"));
    }
    if (bound[index]) {
      return TypeError(StrCat(function, "() got multiple values for argument '", key, "'"));
    }
    bound[index] = value;
  }
  return bound;
}

bool HasMethod(const Value& receiver, const std::string& name, bool* unsafe) {
  *unsafe = false;
  switch (receiver.kind()) {
    case Kind::kString:
      return In(kStringMethods, name);
    case Kind::kDict:
      if (In(kDictUnsafe, name)) *unsafe = true;
      return *unsafe || In(kDictMethods, name);
    case Kind::kList:
      if (receiver.list().flavor == ListFlavor::kList && In(kListUnsafe, name)) *unsafe = true;
      return *unsafe || In(kListMethods, name);
    default:
      return false;
  }
}

Value BindMethod(const Value& receiver, const std::string& name) {
  return Value::Function(std::make_shared<BoundMethod>(receiver, name));
}

StatusOr<Value> CallMethod(Interpreter& interpreter, const Value& receiver,
                           const std::string& name, CallArgs& args) {
  switch (receiver.kind()) {
    case Kind::kString:
      return StringMethod(interpreter, receiver.string(), name, args);
    case Kind::kDict:
      return DictMethod(interpreter, receiver, name, args);
    case Kind::kLoop:
      return LoopMethod(receiver, name, args);
    case Kind::kList: {
      const auto& items = receiver.list().items;
      if (name == "copy") return Value::List(items);
      LFM2_ASSIGN_OR_RETURN(auto a, BindArguments(name, args, {"value"}));
      if (!a[0]) return TypeError(name + "() takes exactly one argument (0 given)");
      LFM2_RETURN_IF_ERROR(interpreter.Charge(items.size()));
      Int count = 0;
      for (size_t i = 0; i < items.size(); ++i) {
        if (!Equals(items[i], *a[0])) continue;
        if (name == "index") return Value::Integer(static_cast<Int>(i));
        ++count;
      }
      if (name == "index") return InvalidArgumentError("ValueError: ", Repr(*a[0]), " is not in list");
      return Value::Integer(count);
    }
    default:
      return InvalidArgumentError("AttributeError: no method '", name, "'");
  }
}

std::vector<std::pair<std::string, Value>> BuiltinGlobals() {
  auto native = [](const char* name, Native function) {
    return std::make_pair(std::string(name),
                          Value::Function(std::make_shared<NativeFunction>(name, function)));
  };
  return {native("range", Range),
          native("dict", DictGlobal),
          native("namespace", NamespaceGlobal),
          native("joiner", JoinerGlobal),
          native("raise_exception", RaiseException),
          native("strftime_now", StrftimeNow)};
}

}  // namespace lfm2::jinja
