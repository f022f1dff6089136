// jinja/value.h - the values a chat template computes with: Python's object model cut
// down to what Jinja templates see (None, bool, int, float, str, list/tuple, dict, namespace,
// loop, callables and jinja2's lenient Undefined), with Python's str()/repr() and equality and
// ordering rules, and Hugging Face's `tojson` (json.dumps, ensure_ascii=False, ", " / ": ").
//
// Values are cheap to copy: scalars inline, everything else behind a shared pointer. Lists, tuples,
// dicts and strings are immutable once built (the sandbox HF uses forbids mutating them); only a
// namespace() and a loop object change in place, as in Python.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "io/json.h"

namespace lfm2::jinja {

// Python ints have any size; 128 bits keep every JSON integer (nlohmann gives up to 2^64-1)
// exact and make overflow in template arithmetic a reported error instead of a wrong value.
using Int = __int128;

class Interpreter;
class Value;

enum class Kind : uint8_t {
  kUndefined,  // jinja2.Undefined: prints "", falsy, iterates empty; most other uses raise
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,     // UTF-8; lengths, indices and slices count code points as Python does
  kList,       // list, tuple or a dict view (flavor decides repr and equality)
  kDict,       // insertion-ordered
  kNamespace,  // jinja2 namespace(): the one mutable mapping templates can assign into
  kLoop,       // the `loop` variable of a for loop
  kCallable,   // macros, globals, bound methods
};

enum class ListFlavor : uint8_t { kList, kTuple, kDictKeys, kDictValues, kDictItems };

struct ListData;
class DictData;
struct NamespaceData;
struct LoopData;
struct CallArgs;
class Callable;

class Value {
 public:
  // An Undefined with no message ("'<name>' is undefined" style messages come from Undefined()).
  Value() = default;

  // `message` is what using the value in a way that raises reports, e.g. "'x' is undefined".
  static Value Undefined(std::string message);
  static Value None();
  static Value Bool(bool value);
  static Value Integer(Int value);
  static Value Float(double value);
  static Value String(std::string value);
  static Value List(std::vector<Value> items, ListFlavor flavor = ListFlavor::kList);
  static Value Tuple(std::vector<Value> items) { return List(std::move(items), ListFlavor::kTuple); }
  static Value Dict(DictData dict);
  static Value Namespace(std::shared_ptr<NamespaceData> data);
  static Value Loop(std::shared_ptr<LoopData> data);
  static Value Function(std::shared_ptr<const Callable> callable);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  // Python numbers: bool is an int subclass.
  bool is_number() const { return kind_ == Kind::kBool || kind_ == Kind::kInt || kind_ == Kind::kFloat; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_tuple() const;
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_loop() const { return kind_ == Kind::kLoop; }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool boolean() const { return scalar_.boolean; }
  Int integer() const { return scalar_.integer; }
  double number() const { return scalar_.number; }
  // Bool or int as an integer (True == 1); precondition: is_bool() || is_int().
  Int AsInteger() const { return is_bool() ? Int(scalar_.boolean) : scalar_.integer; }
  // Any number as a double.
  double AsDouble() const;
  const std::string& string() const { return *static_cast<const std::string*>(ptr_.get()); }
  const ListData& list() const { return *static_cast<const ListData*>(ptr_.get()); }
  std::shared_ptr<const ListData> list_ptr() const {
    return std::static_pointer_cast<const ListData>(ptr_);
  }
  const DictData& dict() const { return *static_cast<const DictData*>(ptr_.get()); }
  NamespaceData& namespace_data() const { return *static_cast<NamespaceData*>(ptr_.get()); }
  LoopData& loop() const { return *static_cast<LoopData*>(ptr_.get()); }
  const Callable& callable() const { return *static_cast<const Callable*>(ptr_.get()); }
  // The error message of an Undefined.
  std::string undefined_message() const;
  // Container nesting depth (0 for everything but lists and dicts).
  uint32_t depth() const;
  // Identity of the heap object (namespace, callable) for `is sameas` and equality.
  const void* identity() const { return ptr_.get(); }

 private:
  Kind kind_ = Kind::kUndefined;
  union Scalar {
    bool boolean;
    Int integer;
    double number;
  } scalar_{};
  std::shared_ptr<void> ptr_;
};

// Nesting depth of a container: 1 + the deepest list/dict inside it. Namespaces, loops and
// callables count as leaves (the interpreter keeps them alive until the render ends, so freeing a
// value never recurses through them). The interpreter rejects values deeper than kMaxValueDepth,
// which bounds the recursion of every algorithm over values, destruction included.
inline constexpr uint32_t kMaxValueDepth = 256;

struct ListData {
  std::vector<Value> items;
  ListFlavor flavor = ListFlavor::kList;
  uint32_t depth = 1;
};

// An insertion-ordered mapping with Python key semantics (1, 1.0 and True are the same key).
class DictData {
 public:
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  // nullptr when absent.
  const Value* Find(const Value& key) const;
  const Value* FindString(std::string_view key) const;
  // Inserts or replaces (keeping the first position, as Python does). Fails for unhashable keys.
  Status Set(Value key, Value value);
  uint32_t depth() const { return depth_; }

 private:
  // Dicts this small find string keys by scanning (most JSON objects: a hash index per object
  // would be most of a converted request's memory); larger ones index them.
  static constexpr size_t kIndexFrom = 16;
  static constexpr size_t kAbsent = static_cast<size_t>(-1);
  size_t IndexOfString(std::string_view key) const;
  void IndexStringKeys();

  uint32_t depth_ = 1;
  std::vector<std::pair<Value, Value>> entries_;
  // String key -> entry, from kIndexFrom entries on. The views point into the keys' shared,
  // immutable strings, which stay put when entries_ grows.
  std::unordered_map<std::string_view, size_t> string_index_;
};

struct NamespaceData {
  DictData attributes;
};

// State of one for loop; the same object is updated in place on every iteration (like jinja2's
// LoopContext), so `loop.changed()` remembers its last value.
struct LoopData {
  std::shared_ptr<const ListData> items;  // after the `if` filter of the loop
  size_t index0 = 0;
  int depth0 = 0;
  bool has_changed_value = false;
  std::shared_ptr<Value> last_changed_value;
  std::shared_ptr<Value> recurse;  // callable for `loop(...)` in recursive loops, else null
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

class Callable {
 public:
  virtual ~Callable() = default;
  // Python repr, e.g. "<Macro 'name'>".
  virtual std::string Repr() const = 0;
  virtual StatusOr<Value> Call(Interpreter& interpreter, CallArgs args) const = 0;
};

inline bool Value::is_tuple() const { return is_list() && list().flavor == ListFlavor::kTuple; }

// ---- Python semantics over values (value.cc) ----

// Converts parsed JSON (objects keep their key order; ints stay exact; floats stay floats).
// Fails for JSON nested deeper than kMaxValueDepth.
StatusOr<Value> ValueFromJson(const Json& json);

// Python truthiness (Undefined is falsy).
bool Truthy(const Value& value);
// Python ==, deep for containers; int/float/bool compare numerically.
bool Equals(const Value& a, const Value& b);
// Python `a op b` for op in "<", "<=", ">", ">="; TypeError-style error for unorderable types
// ("'<' not supported between instances of 'int' and 'str'"). NaN compares false.
StatusOr<bool> Compare(const Value& a, const Value& b, std::string_view op);
inline StatusOr<bool> Less(const Value& a, const Value& b) { return Compare(a, b, "<"); }
// Python's type name: "NoneType", "int", "str", "dict", ...
std::string TypeName(const Value& value);
// Python str(value) (jinja2 renders `{{ x }}` with it; Undefined gives "").
std::string Str(const Value& value);
// Python repr(value).
std::string Repr(const Value& value);
// Python repr of a str: quotes chosen and characters escaped exactly like CPython.
std::string ReprString(std::string_view text);
// Python repr/str of a float: shortest round-trip digits, "1e-07", "2.0", "inf", "-0.0".
std::string FormatFloat(double value);
std::string FormatInt(Int value);
// True if the value can be a dict key (str, number, None, tuples of those, Undefined).
bool Hashable(const Value& value);

struct JsonOptions {
  std::string indent;  // used when has_indent
  bool has_indent = false;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
// json.dumps(value, ...) as HF's tojson calls it. Fails for values JSON cannot hold
// ("Object of type Undefined is not JSON serializable").
StatusOr<std::string> ToJson(const Value& value, const JsonOptions& options);

// Iterates a value like Python's iter(): list items, dict keys, string characters, nothing for
// Undefined. Fails for non-iterables ("'int' object is not iterable").
StatusOr<std::vector<Value>> Iterate(const Value& value);
// Python len(); fails for values without a length.
StatusOr<Int> Length(const Value& value);

}  // namespace lfm2::jinja
