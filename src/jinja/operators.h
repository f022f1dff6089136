// jinja/operators.h - Python operator semantics for template values: arithmetic with
// Python's int/float rules (floor division and modulo signs, int ** int exact, true division to
// float), str/list concatenation and repetition, `in`, unary minus/plus and slicing. Errors read
// like the Python exception ("TypeError: can only concatenate str (not \"int\") to str").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "jinja/value.h"

namespace lfm2::jinja {

class Interpreter;

// Largest list a template may build (repetition, concatenation, range()).
inline constexpr size_t kMaxListItems = size_t{1} << 22;

// op in {"+", "-", "*", "/", "//", "%", "**"}.
StatusOr<Value> BinaryOp(Interpreter& interpreter, std::string_view op, const Value& a,
                         const Value& b);
// op in {"-", "+"}.
StatusOr<Value> UnaryOp(std::string_view op, const Value& a);
// Python `item in container`.
StatusOr<bool> Contains(const Value& container, const Value& item);
// object[start:stop:step] with jinja2's lenient failure (non-sequences give Undefined).
StatusOr<Value> SliceValue(Interpreter& interpreter, const Value& object,
                           const std::optional<Value>& start, const std::optional<Value>& stop,
                           const std::optional<Value>& step);
// A callable bound to `receiver` for str/dict/list methods (methods.cc).
Value BindMethod(const Value& receiver, const std::string& name);
// Clamps a Python int to int64 (for indices and counts).
int64_t ClampToInt64(Int value);

}  // namespace lfm2::jinja
