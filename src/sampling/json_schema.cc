// sampling/json_schema.cc - JSON schema -> grammar NFA (one fragment per sub-schema, inline;
// $ref targets, generic JSON values and large repeated array items become called rules), then
// JsonGrammar::Build; and JsonSchemaConstraint, the per-request TokenConstraint.
#include "sampling/json_schema.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <limits>
#include <map>

#include "sampling/json_numbers.h"
#include "sampling/json_regex.h"
#include "sampling/json_schema_merge.h"

namespace lfm2 {
namespace {

using json_grammar::ByteNfa;
using json_grammar::CharNfa;
using json_grammar::EscapeMode;
using json_grammar::Fragment;

// Repeated array items are inlined while copies * size stays below this many NFA states.
constexpr int64_t kInlineCopyBudget = 4096;
// Rough NFA states per counted string character, to refuse huge minLength/maxLength early.
constexpr int64_t kStatesPerCountedChar = 48;

StatusOr<int64_t> Count(const Json& schema, const char* key, int64_t fallback, std::string_view path) {
  auto it = schema.find(key);
  if (it == schema.end()) return fallback;
  if (it->is_number_unsigned() || (it->is_number_integer() && it->get<int64_t>() >= 0)) {
    return static_cast<int64_t>(std::min<uint64_t>(it->get<uint64_t>(), uint64_t{1} << 40));
  }
  if (it->is_number_float() && it->get<double>() >= 0 && it->get<double>() == std::floor(it->get<double>())) {
    return static_cast<int64_t>(std::min(it->get<double>(), 1099511627776.0));
  }
  return InvalidArgumentError(path, "/", key, ": expected a non-negative integer, got ", DumpJson(*it));
}

class SchemaCompiler {
 public:
  SchemaCompiler(const Json& root, const JsonSchemaOptions& options)
      : root_(root), options_(options), nfa_(options.max_nfa_states) {
    digits_.integer_digits = std::clamp(options.max_integer_digits, 1, 18);
    digits_.fraction_digits = std::clamp(options.max_fraction_digits, 1, 64);
    digits_.exponent_digits = std::clamp(options.max_exponent_digits, 1, 8);
  }

  StatusOr<JsonGrammarPtr> CompileSchema() {
    LFM2_ASSIGN_OR_RETURN(int root, RuleForRef("#", "#"));
    return Finish(root);
  }

  StatusOr<JsonGrammarPtr> CompileAnyObject() {
    const int root = nfa_.AddRule("json_object");
    nfa_.SetRuleBody(root, GenericObject());
    return Finish(root);
  }

 private:
  struct Pending {
    int rule;
    const Json* schema;  // nullptr: the generic JSON value
    std::string path;
  };

  Status BudgetError() const {
    return UnsupportedError("the schema's automaton exceeds ", options_.max_nfa_states,
                            " NFA states (large maxLength / maxItems / enum / patterns)");
  }

  StatusOr<JsonGrammarPtr> Finish(int root) {
    while (!pending_.empty()) {
      const Pending p = pending_.front();
      pending_.pop_front();
      Fragment body;
      if (p.schema == nullptr) {
        body = GenericValue();
      } else {
        LFM2_ASSIGN_OR_RETURN(body, Value(*p.schema, p.path, 0));
      }
      nfa_.SetRuleBody(p.rule, body);
      if (nfa_.over_budget()) return BudgetError();
    }
    if (nfa_.over_budget()) return BudgetError();
    json_grammar::GrammarLimits limits;
    limits.max_nfa_states = options_.max_nfa_states;
    limits.max_dfa_states = options_.max_dfa_states;
    limits.max_stack_depth = options_.max_stack_depth;
    return json_grammar::JsonGrammar::Build(nfa_, root, limits);
  }

  // --- small NFA helpers -----------------------------------------------------------------------

  // Appends `text` after `from`; returns the state after it.
  int Text(int from, std::string_view text) {
    for (char c : text) {
      const int next = nfa_.AddState();
      nfa_.AddBytes(from, static_cast<uint8_t>(c), static_cast<uint8_t>(c), next);
      from = next;
    }
    return from;
  }
  // Optional insignificant whitespace after a separator.
  int Space(int from) {
    if (!options_.space_after_separators) return from;
    const int next = nfa_.AddState();
    nfa_.AddEpsilon(from, next);
    nfa_.AddBytes(from, ' ', ' ', next);
    return next;
  }
  int Then(int from, const Fragment& f) {
    nfa_.AddEpsilon(from, f.start);
    return f.end;
  }
  Fragment Begin() {
    Fragment f;
    f.first = nfa_.num_states();
    f.start = nfa_.AddState();
    return f;
  }
  Fragment End(Fragment f, int last) {
    f.end = last;
    f.limit = nfa_.num_states();
    return f;
  }
  Fragment Call(int rule) {
    Fragment f = Begin();
    const int end = nfa_.AddState();
    nfa_.AddCall(f.start, rule, end);
    return End(f, end);
  }
  Fragment Quoted(const CharNfa& chars, int64_t min, int64_t max, EscapeMode mode) {
    Fragment f = Begin();
    int s = Text(f.start, "\"");
    s = Then(s, json_grammar::EmitJsonString(nfa_, chars, min, max, mode));
    return End(f, Text(s, "\""));
  }

  // --- rules -----------------------------------------------------------------------------------

  StatusOr<int> RuleForRef(const std::string& ref, std::string_view path) {
    auto it = ref_rules_.find(ref);
    if (it != ref_rules_.end()) return it->second;
    LFM2_ASSIGN_OR_RETURN(const Json* target, Resolve(ref, path));
    const int rule = nfa_.AddRule(ref);
    ref_rules_.emplace(ref, rule);
    pending_.push_back({rule, target, ref});
    return rule;
  }

  StatusOr<const Json*> Resolve(const std::string& ref, std::string_view path) {
    if (ref.empty() || ref[0] != '#') {
      return UnsupportedError(path, "/$ref: only local references (\"#\", \"#/$defs/...\") are "
                              "supported, got \"", ref, "\"");
    }
    const Json* target = json_grammar::ResolvePointer(root_, std::string_view(ref).substr(1));
    if (target == nullptr) return InvalidArgumentError(path, "/$ref: \"", ref, "\" does not resolve");
    return target;
  }

  int RuleForSchema(const Json& schema, const std::string& path) {
    owned_.push_back(schema);
    const int rule = nfa_.AddRule(path);
    pending_.push_back({rule, &owned_.back(), path});
    return rule;
  }

  Fragment CallAny() {
    if (any_rule_ < 0) {
      any_rule_ = nfa_.AddRule("any JSON value");
      pending_.push_back({any_rule_, nullptr, "any"});
    }
    return Call(any_rule_);
  }

  // --- generic JSON ----------------------------------------------------------------------------

  Fragment GenericString() {
    static const CharNfa kAny = json_grammar::AnyString();
    return Quoted(kAny, 0, -1, EscapeMode::kAll);
  }

  Fragment GenericObject() {
    Fragment f = Begin();
    const int open = Text(f.start, "{");
    const int close = nfa_.AddState();
    const int key = nfa_.AddState();
    nfa_.AddEpsilon(open, close);
    nfa_.AddEpsilon(open, key);
    int s = Then(key, GenericString());
    s = Then(Space(Text(s, ":")), CallAny());
    nfa_.AddEpsilon(s, close);
    nfa_.AddEpsilon(Space(Text(s, ",")), key);
    return End(f, Text(close, "}"));
  }

  Fragment GenericArray() {
    Fragment f = Begin();
    const int open = Text(f.start, "[");
    const int close = nfa_.AddState();
    const int item = nfa_.AddState();
    nfa_.AddEpsilon(open, close);
    nfa_.AddEpsilon(open, item);
    const int s = Then(item, CallAny());
    nfa_.AddEpsilon(s, close);
    nfa_.AddEpsilon(Space(Text(s, ",")), item);
    return End(f, Text(close, "]"));
  }

  Fragment GenericValue() {
    return nfa_.Alternatives({GenericObject(), GenericArray(), GenericString(),
                              json_grammar::NumberFragment(nfa_, digits_), nfa_.Literal("true"),
                              nfa_.Literal("false"), nfa_.Literal("null")});
  }

  // --- schemas ---------------------------------------------------------------------------------

  // The schema with its top-level $ref and allOf merged in.
  StatusOr<Json> Flatten(const Json& schema, const std::string& path, int depth) {
    if (depth > options_.max_schema_depth) {
      return UnsupportedError(path, ": $ref / allOf nested deeper than ", options_.max_schema_depth,
                              " (a recursive $ref inside allOf or next to other keywords?)");
    }
    if (!schema.is_object()) return schema;
    Json result = Json::object();
    for (auto it = schema.begin(); it != schema.end(); ++it) {
      if (it.key() != "$ref" && it.key() != "allOf") result[it.key()] = it.value();
    }
    if (auto ref = schema.find("$ref"); ref != schema.end()) {
      if (!ref->is_string()) return InvalidArgumentError(path, "/$ref: expected a string");
      LFM2_ASSIGN_OR_RETURN(const Json* target, Resolve(ref->get<std::string>(), path));
      LFM2_ASSIGN_OR_RETURN(Json flat, Flatten(*target, ref->get<std::string>(), depth + 1));
      LFM2_ASSIGN_OR_RETURN(result, json_grammar::MergeSchemas(result, flat, path));
    }
    if (auto all = schema.find("allOf"); all != schema.end()) {
      if (!all->is_array() || all->empty()) {
        return InvalidArgumentError(path, "/allOf: expected a non-empty array");
      }
      for (size_t i = 0; i < all->size(); ++i) {
        const std::string child = json_grammar::ChildPath(ChildPath(path, "allOf"), i);
        LFM2_ASSIGN_OR_RETURN(Json flat, Flatten((*all)[i], child, depth + 1));
        LFM2_ASSIGN_OR_RETURN(result, json_grammar::MergeSchemas(result, flat, child));
      }
    }
    return result;
  }

  static std::string ChildPath(std::string_view path, std::string_view key) {
    return json_grammar::ChildPath(path, key);
  }

  StatusOr<Fragment> Value(const Json& schema, const std::string& path, int depth) {
    if (depth > options_.max_schema_depth) {
      return UnsupportedError(path, ": schema nested deeper than ", options_.max_schema_depth);
    }
    if (nfa_.over_budget()) return BudgetError();
    if (schema.is_boolean()) return schema.get<bool>() ? CallAny() : nfa_.Nothing();
    if (!schema.is_object()) {
      return InvalidArgumentError(path, ": a schema must be an object or a boolean, got ",
                                  JsonTypeName(schema));
    }
    LFM2_RETURN_IF_ERROR(json_grammar::CheckKeywords(schema, path));
    if (schema.contains("allOf") ||
        (schema.contains("$ref") && json_grammar::HasAssertions(schema, {"$ref"}))) {
      LFM2_ASSIGN_OR_RETURN(Json flat, Flatten(schema, path, depth));
      if (flat.is_object() && flat.contains("$ref")) return InternalError(path, ": $ref left after merging");
      return Value(flat, path, depth + 1);
    }
    if (auto ref = schema.find("$ref"); ref != schema.end()) {
      if (!ref->is_string()) return InvalidArgumentError(path, "/$ref: expected a string");
      LFM2_ASSIGN_OR_RETURN(int rule, RuleForRef(ref->get<std::string>(), path));
      return Call(rule);
    }
    if (schema.contains("anyOf") || schema.contains("oneOf")) return Union(schema, path, depth);
    if (schema.contains("enum") || schema.contains("const")) return Enum(schema, path);
    LFM2_ASSIGN_OR_RETURN(uint8_t types, json_grammar::SchemaTypes(schema, path));
    std::vector<Fragment> parts;
    if (types & json_grammar::kTypeObject) {
      LFM2_ASSIGN_OR_RETURN(Fragment f, Object(schema, path, depth));
      parts.push_back(f);
    }
    if (types & json_grammar::kTypeArray) {
      LFM2_ASSIGN_OR_RETURN(Fragment f, Array(schema, path, depth));
      parts.push_back(f);
    }
    if (types & json_grammar::kTypeString) {
      LFM2_ASSIGN_OR_RETURN(Fragment f, String(schema, path));
      parts.push_back(f);
    }
    if (types & (json_grammar::kTypeNumber | json_grammar::kTypeInteger)) {
      LFM2_ASSIGN_OR_RETURN(Fragment f, Number(schema, path, !(types & json_grammar::kTypeNumber)));
      parts.push_back(f);
    }
    if (types & json_grammar::kTypeBoolean) parts.push_back(nfa_.Literal("true"));
    if (types & json_grammar::kTypeBoolean) parts.push_back(nfa_.Literal("false"));
    if (types & json_grammar::kTypeNull) parts.push_back(nfa_.Literal("null"));
    return parts.size() == 1 ? parts[0] : nfa_.Alternatives(parts);
  }

  StatusOr<Fragment> Union(const Json& schema, const std::string& path, int depth) {
    if (schema.contains("anyOf") && schema.contains("oneOf")) {
      return UnsupportedError(path, ": anyOf together with oneOf is not supported");
    }
    const char* key = schema.contains("anyOf") ? "anyOf" : "oneOf";
    const Json& alternatives = schema[key];
    if (!alternatives.is_array() || alternatives.empty()) {
      return InvalidArgumentError(path, "/", key, ": expected a non-empty array");
    }
    // Keywords next to anyOf apply to every alternative.
    const bool distribute = json_grammar::HasAssertions(schema, {"anyOf", "oneOf"});
    Json rest = Json::object();
    if (distribute) {
      for (auto it = schema.begin(); it != schema.end(); ++it) {
        if (it.key() != key) rest[it.key()] = it.value();
      }
    }
    std::vector<Fragment> parts;
    const Fragment whole = Begin();
    for (size_t i = 0; i < alternatives.size(); ++i) {
      const std::string child = json_grammar::ChildPath(ChildPath(path, key), i);
      Fragment f;
      if (distribute) {
        LFM2_ASSIGN_OR_RETURN(Json flat, Flatten(alternatives[i], child, depth + 1));
        LFM2_ASSIGN_OR_RETURN(Json merged, json_grammar::MergeSchemas(rest, flat, child));
        LFM2_ASSIGN_OR_RETURN(f, Value(merged, child, depth + 1));
      } else {
        LFM2_ASSIGN_OR_RETURN(f, Value(alternatives[i], child, depth + 1));
      }
      parts.push_back(f);
    }
    const int end = nfa_.AddState();
    for (const Fragment& f : parts) {
      nfa_.AddEpsilon(whole.start, f.start);
      nfa_.AddEpsilon(f.end, end);
    }
    return End(whole, end);
  }

  StatusOr<Fragment> Enum(const Json& schema, const std::string& path) {
    for (auto it = schema.begin(); it != schema.end(); ++it) {
      const std::string& key = it.key();
      if (key == "enum" || key == "const" || key == "type" || key == "nullable") continue;
      if (!json_grammar::HasAssertions(Json{{key, it.value()}}, {})) continue;
      if (key == "format") continue;  // an annotation next to fixed values
      return UnsupportedError(path, ": enum/const together with \"", key, "\" is not supported");
    }
    Json values = Json::array();
    if (auto c = schema.find("const"); c != schema.end()) values.push_back(*c);
    if (auto e = schema.find("enum"); e != schema.end()) {
      if (!e->is_array()) return InvalidArgumentError(path, "/enum: expected an array");
      if (values.empty()) {
        values = *e;
      } else if (std::find(e->begin(), e->end(), values[0]) == e->end()) {
        values = Json::array();
      }
    }
    uint8_t types = json_grammar::kTypeAll;
    if (schema.contains("type")) {
      LFM2_ASSIGN_OR_RETURN(types, json_grammar::SchemaTypes(schema, path));
    }
    std::vector<Fragment> parts;
    const Fragment whole = Begin();
    for (const Json& value : values) {
      if (json_grammar::ValueHasType(value, types)) parts.push_back(nfa_.Literal(DumpJson(value)));
      if (nfa_.over_budget()) return BudgetError();
    }
    const int end = nfa_.AddState();
    for (const Fragment& f : parts) {
      nfa_.AddEpsilon(whole.start, f.start);
      nfa_.AddEpsilon(f.end, end);
    }
    return End(whole, end);
  }

  StatusOr<Fragment> Object(const Json& schema, const std::string& path, int depth) {
    struct Property {
      std::string name;
      const Json* schema;
      std::string path;
      bool required;
    };
    std::vector<Property> properties;
    std::vector<std::string> required;
    if (auto r = schema.find("required"); r != schema.end()) {
      if (!r->is_array()) return InvalidArgumentError(path, "/required: expected an array");
      for (const Json& name : *r) {
        if (!name.is_string()) return InvalidArgumentError(path, "/required: names must be strings");
        required.push_back(name.get<std::string>());
      }
    }
    auto is_required = [&](const std::string& name) {
      return std::find(required.begin(), required.end(), name) != required.end();
    };
    const Json* extra = nullptr;
    if (auto a = schema.find("additionalProperties"); a != schema.end()) extra = &*a;
    static const Json kTrue = true;
    if (auto p = schema.find("properties"); p != schema.end()) {
      if (!p->is_object()) return InvalidArgumentError(path, "/properties: expected an object");
      for (auto it = p->begin(); it != p->end(); ++it) {
        properties.push_back({it.key(), &it.value(), ChildPath(ChildPath(path, "properties"), it.key()),
                              is_required(it.key())});
      }
    }
    for (const std::string& name : required) {  // required but not declared: the extra schema
      if (std::any_of(properties.begin(), properties.end(), [&](const auto& p) { return p.name == name; })) {
        continue;
      }
      if (extra != nullptr && *extra == Json(false)) return nfa_.Nothing();
      properties.push_back({name, extra != nullptr ? extra : &kTrue, ChildPath(path, "required"), true});
    }
    const bool extras_allowed = extra != nullptr ? *extra != Json(false) : properties.empty();
    const Json& extra_schema = extra != nullptr ? *extra : kTrue;

    Fragment f = Begin();
    const size_t n = properties.size();
    // at[i][e]: before property i, e = whether a property was written (a ',' is due).
    std::vector<std::array<int, 2>> at(n + 1);
    at[0][0] = Text(f.start, "{");
    at[0][1] = nfa_.AddState();
    for (size_t i = 1; i <= n; ++i) at[i] = {nfa_.AddState(), nfa_.AddState()};
    for (size_t i = 0; i < n; ++i) {
      const int key = nfa_.AddState();
      nfa_.AddEpsilon(at[i][0], key);
      nfa_.AddEpsilon(Space(Text(at[i][1], ",")), key);
      const int colon = Space(Text(key, DumpJson(Json(properties[i].name)) + ":"));
      LFM2_ASSIGN_OR_RETURN(Fragment value, Value(*properties[i].schema, properties[i].path, depth + 1));
      nfa_.AddEpsilon(Then(colon, value), at[i + 1][1]);
      if (!properties[i].required) {
        nfa_.AddEpsilon(at[i][0], at[i + 1][0]);
        nfa_.AddEpsilon(at[i][1], at[i + 1][1]);
      }
    }
    const int close = nfa_.AddState();
    if (extras_allowed) {
      std::vector<std::string> names;
      for (const Property& p : properties) names.push_back(p.name);
      const int none = at[n][0], some = at[n][1], key = nfa_.AddState();
      nfa_.AddEpsilon(none, key);
      nfa_.AddEpsilon(Space(Text(some, ",")), key);
      int s = Then(key, Quoted(json_grammar::AnyStringExcept(names), 0, -1, EscapeMode::kMinimal));
      s = Space(Text(s, ":"));
      LFM2_ASSIGN_OR_RETURN(Fragment value,
                            Value(extra_schema, ChildPath(path, "additionalProperties"), depth + 1));
      nfa_.AddEpsilon(Then(s, value), some);
    }
    nfa_.AddEpsilon(at[n][0], close);
    nfa_.AddEpsilon(at[n][1], close);
    return End(f, Text(close, "}"));
  }

  StatusOr<Fragment> Array(const Json& schema, const std::string& path, int depth) {
    static const Json kTrue = true;
    std::vector<const Json*> prefix;
    const Json* rest = &kTrue;
    std::string rest_path = ChildPath(path, "items");
    auto items = schema.find("items");
    if (auto p = schema.find("prefixItems"); p != schema.end()) {
      if (!p->is_array()) return InvalidArgumentError(path, "/prefixItems: expected an array");
      for (const Json& s : *p) prefix.push_back(&s);
      if (items != schema.end() && items->is_array()) {
        return InvalidArgumentError(path, ": prefixItems together with array-form items");
      }
    }
    if (items != schema.end() && items->is_array()) {  // draft-07 tuple form
      for (const Json& s : *items) prefix.push_back(&s);
      if (auto a = schema.find("additionalItems"); a != schema.end()) {
        rest = &*a;
        rest_path = ChildPath(path, "additionalItems");
      }
    } else if (items != schema.end()) {
      rest = &*items;
    }
    LFM2_ASSIGN_OR_RETURN(int64_t min, Count(schema, "minItems", 0, path));
    LFM2_ASSIGN_OR_RETURN(int64_t max, Count(schema, "maxItems", -1, path));
    if (max >= 0 && min > max) return nfa_.Nothing();
    const int64_t k = max >= 0 ? std::min<int64_t>(static_cast<int64_t>(prefix.size()), max)
                               : static_cast<int64_t>(prefix.size());
    const bool no_rest = *rest == Json(false);
    const int64_t rest_max = no_rest ? 0 : (max >= 0 ? max - k : -1);
    const int64_t rest_min = std::max<int64_t>(0, min - k);
    if (rest_max >= 0 && rest_min > rest_max) return nfa_.Nothing();
    if (std::max(min, rest_max) > 100000) {
      return UnsupportedError(path, ": minItems/maxItems above 100000 are not supported");
    }

    Fragment f = Begin();
    const int close = nfa_.AddState();
    int s = Text(f.start, "[");
    for (int64_t j = 0; j < k; ++j) {
      if (j >= min) nfa_.AddEpsilon(s, close);
      if (j > 0) s = Space(Text(s, ","));
      LFM2_ASSIGN_OR_RETURN(Fragment item, Value(*prefix[j], json_grammar::ChildPath(ChildPath(path, "prefixItems"), j), depth + 1));
      s = Then(s, item);
    }
    if (rest_max != 0) {
      const bool loop = rest_max < 0;
      const int64_t unrolled = loop ? std::max<int64_t>(rest_min, k == 0 ? 1 : 0) : rest_max;
      const int64_t copies = unrolled + (loop ? 1 : 0);
      LFM2_ASSIGN_OR_RETURN(Fragment item, Value(*rest, rest_path, depth + 1));
      if (copies > 1 && (item.limit - item.first) * copies > kInlineCopyBudget) {
        item = Call(RuleForSchema(*rest, rest_path));
      }
      std::vector<Fragment> copy = {item};
      for (int64_t c = 1; c < copies; ++c) copy.push_back(nfa_.Copy(item));
      if (nfa_.over_budget()) return BudgetError();
      for (int64_t j = 0; j < unrolled; ++j) {
        if (k + j >= min) nfa_.AddEpsilon(s, close);
        if (k + j > 0) s = Space(Text(s, ","));
        s = Then(s, copy[j]);
      }
      if (loop) {
        const int sep = Space(Text(s, ","));
        nfa_.AddEpsilon(Then(sep, copy[unrolled]), s);
      }
    }
    if (k + std::max<int64_t>(rest_max < 0 ? rest_min : rest_max, 0) >= min) nfa_.AddEpsilon(s, close);
    return End(f, Text(close, "]"));
  }

  StatusOr<Fragment> String(const Json& schema, const std::string& path) {
    LFM2_ASSIGN_OR_RETURN(int64_t min, Count(schema, "minLength", 0, path));
    LFM2_ASSIGN_OR_RETURN(int64_t max, Count(schema, "maxLength", -1, path));
    if (max >= 0 && min > max) return nfa_.Nothing();
    const int64_t counted = max >= 0 ? max : min;
    if ((counted + 1) * kStatesPerCountedChar > options_.max_nfa_states) {
      return UnsupportedError(path, ": ", max >= 0 ? "maxLength " : "minLength ", counted,
                              " is too large to enforce (limit about ",
                              options_.max_nfa_states / kStatesPerCountedChar, ")");
    }
    auto pattern = schema.find("pattern");
    auto format = schema.find("format");
    if (pattern != schema.end() && format != schema.end()) {
      return UnsupportedError(path, ": pattern together with format is not supported");
    }
    CharNfa chars = json_grammar::AnyString();
    EscapeMode mode = EscapeMode::kAll;
    if (pattern != schema.end()) {
      if (!pattern->is_string()) return InvalidArgumentError(path, "/pattern: expected a string");
      auto compiled = json_grammar::CompileRegex(pattern->get<std::string>());
      if (!compiled.ok()) return compiled.status().WithContext(ChildPath(path, "pattern"));
      chars = std::move(compiled).value();
      mode = EscapeMode::kMinimal;
    } else if (format != schema.end()) {
      if (!format->is_string()) return InvalidArgumentError(path, "/format: expected a string");
      auto compiled = json_grammar::CompileFormat(format->get<std::string>());
      if (compiled.ok()) {
        chars = std::move(compiled).value();
        mode = EscapeMode::kMinimal;
      } else if (!options_.ignore_unknown_formats) {
        return UnsupportedError(path, "/format: unsupported string format \"",
                                format->get<std::string>(),
                                "\" (supported: date, time, date-time, uuid, email, ipv4, hostname)");
      }
    }
    if (static_cast<int64_t>(chars.num_states()) * (counted + 1) * 8 > options_.max_nfa_states) {
      return UnsupportedError(path, ": pattern/format with length bounds is too large to enforce");
    }
    return Quoted(chars, min, max, mode);
  }

  StatusOr<Fragment> Number(const Json& schema, const std::string& path, bool integer) {
    const double limit = std::pow(10.0, digits_.integer_digits);
    json_grammar::NumberBound lower, upper;
    bool bounded = false;
    // draft-04: "exclusiveMinimum": true makes "minimum" exclusive.
    const bool draft4_lower = schema.contains("exclusiveMinimum") && schema["exclusiveMinimum"] == Json(true);
    const bool draft4_upper = schema.contains("exclusiveMaximum") && schema["exclusiveMaximum"] == Json(true);
    for (const char* key : {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"}) {
      auto it = schema.find(key);
      if (it == schema.end() || it->is_boolean()) continue;
      const std::string name = key;
      const bool is_lower = name.find("inimum") != std::string::npos;
      if (!it->is_number()) return InvalidArgumentError(path, "/", key, ": expected a number");
      double v = it->get<double>();
      if (!std::isfinite(v)) return InvalidArgumentError(path, "/", key, ": not finite");
      const bool exclusive = name.rfind("exclusive", 0) == 0 ||
                             (name == "minimum" && draft4_lower) || (name == "maximum" && draft4_upper);
      if (is_lower && v <= -limit) continue;  // beyond the digit cap: no constraint
      if (!is_lower && v >= limit) continue;
      if ((is_lower && v >= limit) || (!is_lower && v <= -limit)) return nfa_.Nothing();
      if (integer) {
        // Integer bounds become inclusive: ceil / floor, exclusive ones one step further.
        int64_t b = static_cast<int64_t>(is_lower ? std::ceil(v) : std::floor(v));
        if (exclusive && static_cast<double>(b) == v) b += is_lower ? 1 : -1;
        v = static_cast<double>(b);
      } else if (v != std::floor(v)) {
        return UnsupportedError(path, "/", key, ": non-integer bounds on numbers are not "
                                "supported (got ", DumpJson(*it), ")");
      }
      json_grammar::NumberBound& bound = is_lower ? lower : upper;
      const auto value = static_cast<int64_t>(v);
      const bool tighter = !bound.present || (is_lower ? value > bound.value : value < bound.value) ||
                           (value == bound.value && exclusive && !integer);
      if (tighter) bound = {true, value, exclusive && !integer};
      bounded = true;
    }
    if (integer) {
      const auto cap = static_cast<int64_t>(limit) - 1;
      return json_grammar::IntegerFragment(nfa_, lower.present ? std::max(lower.value, -cap) : -cap,
                                           upper.present ? std::min(upper.value, cap) : cap);
    }
    if (!bounded) return json_grammar::NumberFragment(nfa_, digits_);
    return json_grammar::BoundedNumberFragment(nfa_, lower, upper, digits_);
  }

  const Json& root_;
  const JsonSchemaOptions& options_;
  ByteNfa nfa_;
  json_grammar::DigitLimits digits_;
  std::deque<Pending> pending_;
  std::deque<Json> owned_;
  std::map<std::string, int> ref_rules_;
  int any_rule_ = -1;
};

std::string Printable(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    if (b < 0x20 || b == 0x7F || c == '"' || c == '\\') {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 15];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

StatusOr<JsonGrammarPtr> CompileJsonSchema(const Json& schema, const JsonSchemaOptions& options) {
  SchemaCompiler compiler(schema, options);
  return compiler.CompileSchema();
}

StatusOr<JsonGrammarPtr> CompileJsonObjectGrammar(const JsonSchemaOptions& options) {
  static const Json kEmpty = Json::object();
  SchemaCompiler compiler(kEmpty, options);
  return compiler.CompileAnyObject();
}

StatusOr<std::unique_ptr<JsonSchemaConstraint>> JsonSchemaConstraint::Compile(
    const Json& schema, std::shared_ptr<const TokenVocabulary> vocab,
    const JsonSchemaOptions& options) {
  if (vocab == nullptr) return InvalidArgumentError("JsonSchemaConstraint needs a vocabulary");
  LFM2_ASSIGN_OR_RETURN(JsonGrammarPtr grammar, CompileJsonSchema(schema, options));
  return std::make_unique<JsonSchemaConstraint>(std::move(grammar), std::move(vocab));
}

StatusOr<std::unique_ptr<JsonSchemaConstraint>> JsonSchemaConstraint::AnyObject(
    std::shared_ptr<const TokenVocabulary> vocab, const JsonSchemaOptions& options) {
  if (vocab == nullptr) return InvalidArgumentError("JsonSchemaConstraint needs a vocabulary");
  LFM2_ASSIGN_OR_RETURN(JsonGrammarPtr grammar, CompileJsonObjectGrammar(options));
  return std::make_unique<JsonSchemaConstraint>(std::move(grammar), std::move(vocab));
}

JsonSchemaConstraint::JsonSchemaConstraint(JsonGrammarPtr grammar,
                                           std::shared_ptr<const TokenVocabulary> vocab)
    : vocab_(vocab), matcher_(std::move(grammar), std::move(vocab)) {}

void JsonSchemaConstraint::Mask(std::span<float> logits) {
  constexpr float kMinusInf = -std::numeric_limits<float>::infinity();
  const std::vector<uint64_t>& bits = matcher_.Allowed();
  const size_t n = std::min(logits.size(), static_cast<size_t>(vocab_->size()));
  float* data = logits.data();
  for (size_t word = 0; word * 64 < n; ++word) {
    const uint64_t allowed = bits[word];
    if (allowed == ~uint64_t{0}) continue;
    float* chunk = data + word * 64;
    const size_t count = std::min<size_t>(64, n - word * 64);
    if (allowed == 0) {
      std::fill(chunk, chunk + count, kMinusInf);
      continue;
    }
    if (count < 64) {
      for (size_t j = 0; j < count; ++j) chunk[j] = ((allowed >> j) & 1) ? chunk[j] : kMinusInf;
      continue;
    }
    // Eight bits at a time: add 0 or -inf (logits are never +inf), which vectorizes.
    static const auto* kAdd = [] {
      auto* table = new std::array<std::array<float, 8>, 256>();
      for (int b = 0; b < 256; ++b) {
        for (int j = 0; j < 8; ++j) (*table)[b][j] = ((b >> j) & 1) ? 0.0f : kMinusInf;
      }
      return table;
    }();
    for (size_t byte = 0; byte < 8; ++byte) {
      const std::array<float, 8>& add = (*kAdd)[(allowed >> (8 * byte)) & 0xFF];
      for (size_t j = 0; j < 8; ++j) chunk[8 * byte + j] += add[j];
    }
  }
  for (size_t i = n; i < logits.size(); ++i) logits[i] = kMinusInf;
}

bool JsonSchemaConstraint::IsAllowed(int32_t token) {
  if (token < 0 || token >= vocab_->size()) return false;
  return (matcher_.Allowed()[token >> 6] >> (token & 63)) & 1;
}

Status JsonSchemaConstraint::Accept(int32_t token) {
  if (!matcher_.Accept(token)) {
    const std::string_view tail = std::string_view(text_).substr(text_.size() > 40 ? text_.size() - 40 : 0);
    return InvalidArgumentError("token ", token, " (\"", Printable(vocab_->bytes(token)),
                                "\") cannot continue the JSON text ending \"", Printable(tail), "\"");
  }
  if (!vocab_->IsStop(token)) text_ += vocab_->bytes(token);
  return Status::Ok();
}

Status JsonSchemaConstraint::AcceptText(std::string_view text) {
  if (!matcher_.AcceptBytes(text)) {
    return InvalidArgumentError("\"", Printable(text), "\" cannot continue the JSON text");
  }
  text_ += text;
  return Status::Ok();
}

void JsonSchemaConstraint::Reset() {
  matcher_.Reset();
  text_.clear();
}

}  // namespace lfm2
