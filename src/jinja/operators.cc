// jinja/operators.cc - Python operators and jinja2's sandboxed attribute/item lookup.
#include "jinja/operators.h"

#include <cmath>
#include <limits>

#include "jinja/interpreter.h"
#include "jinja/text.h"

namespace lfm2::jinja {
namespace {

constexpr Int kIntMin = std::numeric_limits<Int>::min();

Status UndefinedError(const Value& value) {
  return InvalidArgumentError("UndefinedError: ", value.undefined_message());
}

Status Unsupported(std::string_view op, const Value& a, const Value& b) {
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  return InvalidArgumentError("TypeError: unsupported operand type(s) for ", op, ": '",
                              TypeName(a), "' and '", TypeName(b), "'");
}

Status IntegerOverflow() {
  return OutOfRangeError("OverflowError: integer result exceeds 128 bits");
}

// Python int ** int for exponent >= 0, exact or an overflow error.
StatusOr<Value> IntPower(Int base, Int exponent) {
  if (base == 0) return Value::Integer(exponent == 0 ? 1 : 0);
  if (base == 1) return Value::Integer(1);
  if (base == -1) return Value::Integer(exponent % 2 == 0 ? 1 : -1);
  if (exponent > 128) return IntegerOverflow();
  Int result = 1;
  for (Int i = 0; i < exponent; ++i) {
    if (__builtin_mul_overflow(result, base, &result)) return IntegerOverflow();
  }
  return Value::Integer(result);
}

double FloatMod(double a, double b) {
  double mod = std::fmod(a, b);
  if (mod != 0.0) {
    if ((b < 0) != (mod < 0)) mod += b;
  } else {
    mod = std::copysign(0.0, b);
  }
  return mod;
}

double FloatFloorDiv(double a, double b) {
  const double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0.0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div != 0.0) {
    double floor_div = std::floor(div);
    if (div - floor_div > 0.5) floor_div += 1.0;
    return floor_div;
  }
  return std::copysign(0.0, a / b);
}

StatusOr<Value> Repeat(Interpreter& interpreter, const Value& sequence, Int times) {
  if (times <= 0) {
    if (sequence.is_string()) return Value::String("");
    return Value::List({}, sequence.list().flavor);
  }
  if (sequence.is_string()) {
    const size_t size = sequence.string().size();
    if (size != 0 && times > static_cast<Int>(interpreter.options().max_output_bytes / size)) {
      return ResourceExhaustedError("string repetition exceeds ",
                                    interpreter.options().max_output_bytes, " bytes");
    }
    LFM2_RETURN_IF_ERROR(interpreter.CheckStringSize(size * static_cast<size_t>(times)));
    std::string out;
    out.reserve(size * static_cast<size_t>(times));
    for (Int i = 0; i < times; ++i) out += sequence.string();
    return Value::String(std::move(out));
  }
  const auto& items = sequence.list().items;
  if (!items.empty() && times > static_cast<Int>(kMaxListItems / items.size())) {
    return ResourceExhaustedError("list repetition exceeds ", kMaxListItems, " items");
  }
  const size_t total = items.size() * static_cast<size_t>(times);
  LFM2_RETURN_IF_ERROR(interpreter.Charge(total));
  std::vector<Value> out;
  out.reserve(total);
  for (Int i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::List(std::move(out), sequence.list().flavor);
}

bool IsSequenceForConcat(const Value& v) {
  return v.is_list() && (v.list().flavor == ListFlavor::kList || v.list().flavor == ListFlavor::kTuple);
}

// Loop attributes (`loop.index`, ...); Undefined for unknown names.
Value LoopAttribute(const Value& loop_value, const std::string& name) {
  const LoopData& loop = loop_value.loop();
  const auto& items = loop.items->items;
  const Int length = static_cast<Int>(items.size());
  const Int index0 = static_cast<Int>(loop.index0);
  if (name == "index") return Value::Integer(index0 + 1);
  if (name == "index0") return Value::Integer(index0);
  if (name == "revindex") return Value::Integer(length - index0);
  if (name == "revindex0") return Value::Integer(length - index0 - 1);
  if (name == "first") return Value::Bool(index0 == 0);
  if (name == "last") return Value::Bool(index0 + 1 == length);
  if (name == "length") return Value::Integer(length);
  if (name == "depth") return Value::Integer(loop.depth0 + 1);
  if (name == "depth0") return Value::Integer(loop.depth0);
  if (name == "previtem") {
    if (loop.index0 == 0) return Value::Undefined("there is no previous item");
    return items[loop.index0 - 1];
  }
  if (name == "nextitem") {
    if (loop.index0 + 1 >= items.size()) return Value::Undefined("there is no next item");
    return items[loop.index0 + 1];
  }
  if (name == "cycle" || name == "changed") return BindMethod(loop_value, name);
  return Value::Undefined("'jinja2.runtime.LoopContext object' has no attribute '" + name + "'");
}

std::string ObjectTypeRepr(const Value& value) {
  if (value.is_none()) return "None";
  if (value.is_namespace()) return "jinja2.utils.Namespace object";
  if (value.is_loop()) return "jinja2.runtime.LoopContext object";
  return TypeName(value) + " object";
}

Value NoAttribute(const Value& object, const std::string& name) {
  return Value::Undefined("'" + ObjectTypeRepr(object) + "' has no attribute '" + name + "'");
}

Value NoElement(const Value& object, const Value& key) {
  if (key.is_string()) return NoAttribute(object, key.string());
  return Value::Undefined(ObjectTypeRepr(object) + " has no element " + Repr(key));
}

// Method lookup shared by `.name` and `["name"]`: bound method, sandbox-refused, or nullopt.
std::optional<Value> FindMethod(const Value& object, const std::string& name) {
  bool unsafe = false;
  if (!HasMethod(object, name, &unsafe)) return std::nullopt;
  if (unsafe) {
    return Value::Undefined("access to attribute '" + name + "' of '" + TypeName(object) +
                            "' object is unsafe.");
  }
  return BindMethod(object, name);
}

}  // namespace

int64_t ClampToInt64(Int value) {
  if (value > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (value < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(value);
}

StatusOr<Value> BinaryOp(Interpreter& interpreter, std::string_view op, const Value& a,
                         const Value& b) {
  const bool ints = (a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool());
  const bool numbers = a.is_number() && b.is_number();
  if (op == "+") {
    if (ints) {
      Int result;
      if (__builtin_add_overflow(a.AsInteger(), b.AsInteger(), &result)) return IntegerOverflow();
      return Value::Integer(result);
    }
    if (numbers) return Value::Float(a.AsDouble() + b.AsDouble());
    if (a.is_string() && b.is_string()) {
      LFM2_RETURN_IF_ERROR(interpreter.CheckStringSize(a.string().size() + b.string().size()));
      return Value::String(a.string() + b.string());
    }
    if (IsSequenceForConcat(a) && IsSequenceForConcat(b) && a.is_tuple() == b.is_tuple()) {
      const auto& x = a.list().items;
      const auto& y = b.list().items;
      if (x.size() + y.size() > kMaxListItems) {
        return ResourceExhaustedError("list exceeds ", kMaxListItems, " items");
      }
      LFM2_RETURN_IF_ERROR(interpreter.Charge(x.size() + y.size()));
      std::vector<Value> items;
      items.reserve(x.size() + y.size());
      items.insert(items.end(), x.begin(), x.end());
      items.insert(items.end(), y.begin(), y.end());
      return Value::List(std::move(items), a.list().flavor);
    }
    if (a.is_string() && !b.is_undefined()) {
      return InvalidArgumentError("TypeError: can only concatenate str (not \"", TypeName(b),
                                  "\") to str");
    }
    if (IsSequenceForConcat(a) && !b.is_undefined()) {
      return InvalidArgumentError("TypeError: can only concatenate ", TypeName(a), " (not \"",
                                  TypeName(b), "\") to ", TypeName(a));
    }
    return Unsupported("+", a, b);
  }
  if (op == "-") {
    if (ints) {
      Int result;
      if (__builtin_sub_overflow(a.AsInteger(), b.AsInteger(), &result)) return IntegerOverflow();
      return Value::Integer(result);
    }
    if (numbers) return Value::Float(a.AsDouble() - b.AsDouble());
    return Unsupported("-", a, b);
  }
  if (op == "*") {
    if (ints) {
      Int result;
      if (__builtin_mul_overflow(a.AsInteger(), b.AsInteger(), &result)) return IntegerOverflow();
      return Value::Integer(result);
    }
    if (numbers) return Value::Float(a.AsDouble() * b.AsDouble());
    const bool a_seq = a.is_string() || IsSequenceForConcat(a);
    const bool b_seq = b.is_string() || IsSequenceForConcat(b);
    if (a_seq && (b.is_int() || b.is_bool())) return Repeat(interpreter, a, b.AsInteger());
    if (b_seq && (a.is_int() || a.is_bool())) return Repeat(interpreter, b, a.AsInteger());
    return Unsupported("*", a, b);
  }
  if (op == "/") {
    if (!numbers) return Unsupported("/", a, b);
    const bool zero = b.is_float() ? b.number() == 0.0 : b.AsInteger() == 0;
    if (zero) {
      return InvalidArgumentError(a.is_float() || b.is_float()
                                      ? "ZeroDivisionError: float division by zero"
                                      : "ZeroDivisionError: division by zero");
    }
    return Value::Float(a.AsDouble() / b.AsDouble());
  }
  if (op == "//" || op == "%") {
    const bool floor = op == "//";
    if (a.is_string() && !floor) {
      LFM2_ASSIGN_OR_RETURN(std::string text, PercentFormat(interpreter, a.string(), b));
      LFM2_RETURN_IF_ERROR(interpreter.CheckStringSize(text.size()));
      return Value::String(std::move(text));
    }
    if (ints) {
      const Int x = a.AsInteger(), y = b.AsInteger();
      if (y == 0) {
        return InvalidArgumentError(floor ? "ZeroDivisionError: integer division or modulo by zero"
                                          : "ZeroDivisionError: integer modulo by zero");
      }
      if (x == kIntMin && y == -1) {
        if (floor) return IntegerOverflow();
        return Value::Integer(0);
      }
      Int quotient = x / y, remainder = x % y;
      if (remainder != 0 && ((remainder < 0) != (y < 0))) {
        quotient -= 1;
        remainder += y;
      }
      return Value::Integer(floor ? quotient : remainder);
    }
    if (numbers) {
      const double x = a.AsDouble(), y = b.AsDouble();
      if (y == 0.0) {
        return InvalidArgumentError(floor ? "ZeroDivisionError: float floor division by zero"
                                          : "ZeroDivisionError: float modulo");
      }
      return Value::Float(floor ? FloatFloorDiv(x, y) : FloatMod(x, y));
    }
    return Unsupported(op, a, b);
  }
  if (op == "**") {
    if (ints && b.AsInteger() >= 0) return IntPower(a.AsInteger(), b.AsInteger());
    if (!numbers) return Unsupported("** or pow()", a, b);
    const double x = a.AsDouble(), y = b.AsDouble();
    if (x == 0.0 && y < 0) {
      return InvalidArgumentError("ZeroDivisionError: 0.0 cannot be raised to a negative power");
    }
    if (x < 0 && std::floor(y) != y && std::isfinite(y)) {
      return UnsupportedError("a negative number to a fractional power gives a complex number");
    }
    const double result = std::pow(x, y);
    if (std::isinf(result) && std::isfinite(x) && std::isfinite(y)) {
      return OutOfRangeError("OverflowError: (34, 'Numerical result out of range')");
    }
    return Value::Float(result);
  }
  return InvalidArgumentError("unknown operator ", op);
}

StatusOr<Value> UnaryOp(std::string_view op, const Value& a) {
  if (a.is_int() || a.is_bool()) {
    const Int value = a.AsInteger();
    if (op == "+") return Value::Integer(value);
    if (value == kIntMin) return IntegerOverflow();
    return Value::Integer(-value);
  }
  if (a.is_float()) return Value::Float(op == "+" ? a.number() : -a.number());
  if (a.is_undefined()) return UndefinedError(a);
  return InvalidArgumentError("TypeError: bad operand type for unary ", op, ": '", TypeName(a), "'");
}

StatusOr<bool> Contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::kString:
      if (!item.is_string()) {
        return InvalidArgumentError("TypeError: 'in <string>' requires string as left operand, not ",
                                    TypeName(item));
      }
      return container.string().find(item.string()) != std::string::npos;
    case Kind::kList:
      for (const Value& element : container.list().items) {
        if (Equals(element, item)) return true;
      }
      return false;
    case Kind::kDict:
      if (!Hashable(item)) {
        return InvalidArgumentError("TypeError: unhashable type: '", TypeName(item), "'");
      }
      return container.dict().Find(item) != nullptr;
    case Kind::kUndefined:
      return false;
    default:
      return InvalidArgumentError("TypeError: argument of type '", TypeName(container),
                                  "' is not iterable");
  }
}

StatusOr<Value> SliceValue(Interpreter& interpreter, const Value& object,
                           const std::optional<Value>& start, const std::optional<Value>& stop,
                           const std::optional<Value>& step) {
  if (object.is_undefined()) return UndefinedError(object);
  auto index = [](const std::optional<Value>& bound, bool* ok) -> std::optional<int64_t> {
    if (!bound || bound->is_none()) return std::nullopt;
    if (!bound->is_int() && !bound->is_bool()) {
      *ok = false;
      return std::nullopt;
    }
    return ClampToInt64(bound->AsInteger());
  };
  bool ok = true;
  const std::optional<int64_t> first = index(start, &ok), last = index(stop, &ok);
  const std::optional<int64_t> stride = index(step, &ok);
  const bool sliceable = object.is_string() || (object.is_list() && IsSequenceForConcat(object));
  if (!ok || !sliceable) return Value::Undefined(ObjectTypeRepr(object) + " has no element slice");
  if (stride && *stride == 0) return InvalidArgumentError("ValueError: slice step cannot be zero");
  const int64_t by = stride.value_or(1);
  if (object.is_string()) {
    const std::string& text = object.string();
    LFM2_RETURN_IF_ERROR(interpreter.Charge(text.size() / 16));
    if (IsAscii(text)) {
      std::string out;
      for (int64_t i : SliceIndices(static_cast<int64_t>(text.size()), first, last, by)) {
        out.push_back(text[i]);
      }
      return Value::String(std::move(out));
    }
    const std::vector<size_t> offsets = CodePointOffsets(text);
    std::string out;
    for (int64_t i : SliceIndices(static_cast<int64_t>(offsets.size()) - 1, first, last, by)) {
      out.append(text, offsets[i], offsets[i + 1] - offsets[i]);
    }
    return Value::String(std::move(out));
  }
  const auto& items = object.list().items;
  LFM2_RETURN_IF_ERROR(interpreter.Charge(items.size()));
  std::vector<Value> out;
  for (int64_t i : SliceIndices(static_cast<int64_t>(items.size()), first, last, by)) {
    out.push_back(items[i]);
  }
  return Value::List(std::move(out), object.list().flavor);
}

// ---- Interpreter lookups ----

StatusOr<Value> Interpreter::GetAttribute(const Value& object, const std::string& name) {
  switch (object.kind()) {
    case Kind::kUndefined:
      return UndefinedError(object);
    case Kind::kDict: {
      if (std::optional<Value> method = FindMethod(object, name)) return *method;
      const Value* value = object.dict().FindString(name);
      return value != nullptr ? *value : NoAttribute(object, name);
    }
    case Kind::kNamespace: {
      const Value* value = object.namespace_data().attributes.FindString(name);
      return value != nullptr ? *value : NoAttribute(object, name);
    }
    case Kind::kLoop:
      return LoopAttribute(object, name);
    default:
      if (std::optional<Value> method = FindMethod(object, name)) return *method;
      return NoAttribute(object, name);
  }
}

StatusOr<Value> Interpreter::GetItem(const Value& object, const Value& key) {
  switch (object.kind()) {
    case Kind::kUndefined:
      return UndefinedError(object);
    case Kind::kDict:
      if (Hashable(key)) {
        if (const Value* value = object.dict().Find(key)) return *value;
      }
      break;
    case Kind::kList:
    case Kind::kString:
      if (key.is_int() || key.is_bool()) {
        Int index = key.AsInteger();
        if (object.is_list()) {
          if (!IsSequenceForConcat(object)) break;
          const auto& items = object.list().items;
          const Int size = static_cast<Int>(items.size());
          if (index < 0) index += size;
          if (index >= 0 && index < size) return items[static_cast<size_t>(index)];
          break;
        }
        const std::string& text = object.string();
        if (IsAscii(text)) {
          const Int size = static_cast<Int>(text.size());
          if (index < 0) index += size;
          if (index >= 0 && index < size) return Value::String(std::string(1, text[index]));
          break;
        }
        const std::vector<size_t> offsets = CodePointOffsets(text);
        const Int size = static_cast<Int>(offsets.size()) - 1;
        if (index < 0) index += size;
        if (index >= 0 && index < size) {
          const size_t i = static_cast<size_t>(index);
          return Value::String(text.substr(offsets[i], offsets[i + 1] - offsets[i]));
        }
      }
      break;
    case Kind::kNamespace:
    case Kind::kLoop:
      if (key.is_string()) return GetAttribute(object, key.string());
      break;
    default:
      break;
  }
  if (key.is_string()) {
    if (std::optional<Value> method = FindMethod(object, key.string())) return *method;
  }
  return NoElement(object, key);
}

}  // namespace lfm2::jinja
