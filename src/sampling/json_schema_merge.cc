// sampling/json_schema_merge.cc - keyword tables, pointers, type sets and allOf merging.
#include "sampling/json_schema_merge.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace lfm2::json_grammar {
namespace {

constexpr std::array<std::string_view, 21> kAnnotations = {
    "title",           "description", "examples",        "example",     "default",
    "$schema",         "$id",         "$comment",        "$anchor",     "deprecated",
    "readOnly",        "writeOnly",   "contentMediaType", "contentEncoding", "discriminator",
    "$defs",           "definitions", "xml",             "externalDocs", "$vocabulary",
    "strict"};

constexpr std::array<std::string_view, 24> kSupported = {
    "type",          "enum",         "const",           "properties",       "required",
    "additionalProperties", "items", "prefixItems",     "additionalItems",  "minItems",
    "maxItems",      "anyOf",        "oneOf",           "allOf",            "$ref",
    "minimum",       "maximum",      "exclusiveMinimum", "exclusiveMaximum", "minLength",
    "maxLength",     "pattern",      "format",          "nullable"};

struct TypeName {
  std::string_view name;
  uint8_t bits;
};
constexpr std::array<TypeName, 7> kTypeNames = {{{"null", kTypeNull},
                                                  {"boolean", kTypeBoolean},
                                                  {"integer", kTypeInteger},
                                                  {"number", kTypeNumber | kTypeInteger},
                                                  {"string", kTypeString},
                                                  {"array", kTypeArray},
                                                  {"object", kTypeObject}}};

Json TypeArray(uint8_t bits) {
  Json out = Json::array();
  if (bits & kTypeNull) out.push_back("null");
  if (bits & kTypeBoolean) out.push_back("boolean");
  if (bits & kTypeNumber) {
    out.push_back("number");
  } else if (bits & kTypeInteger) {
    out.push_back("integer");
  }
  if (bits & kTypeString) out.push_back("string");
  if (bits & kTypeArray) out.push_back("array");
  if (bits & kTypeObject) out.push_back("object");
  return out;
}

Json AllOf(const Json& a, const Json& b) {
  if (a == b || b == Json(true)) return a;
  if (a == Json(true)) return b;
  if (a == Json(false) || b == Json(false)) return false;
  return Json{{"allOf", Json::array({a, b})}};
}

bool IsTrivial(std::string_view key, const Json& value) {
  if (key == "uniqueItems") return value == Json(false);
  if (key == "minProperties" || key == "minContains") return value == Json(0);
  if (key == "additionalProperties" || key == "unevaluatedProperties" ||
      key == "unevaluatedItems" || key == "propertyNames") {
    return value == Json(true);
  }
  return false;
}

}  // namespace

bool IsAnnotationKeyword(std::string_view key) {
  return key.substr(0, 2) == "x-" ||
         std::find(kAnnotations.begin(), kAnnotations.end(), key) != kAnnotations.end();
}

bool IsSupportedKeyword(std::string_view key) {
  return std::find(kSupported.begin(), kSupported.end(), key) != kSupported.end();
}

Status CheckKeywords(const Json& schema, std::string_view path) {
  for (auto it = schema.begin(); it != schema.end(); ++it) {
    const std::string& key = it.key();
    if (IsAnnotationKeyword(key) || IsSupportedKeyword(key) || IsTrivial(key, it.value())) continue;
    return UnsupportedError("unsupported JSON-schema keyword \"", key, "\" at ", path);
  }
  return Status::Ok();
}

bool HasAssertions(const Json& schema, std::initializer_list<std::string_view> except) {
  if (!schema.is_object()) return false;
  for (auto it = schema.begin(); it != schema.end(); ++it) {
    const std::string& key = it.key();
    if (IsAnnotationKeyword(key) || IsTrivial(key, it.value())) continue;
    if (std::find(except.begin(), except.end(), key) != except.end()) continue;
    return true;
  }
  return false;
}

std::string ChildPath(std::string_view path, std::string_view key) {
  std::string out(path);
  out += '/';
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string ChildPath(std::string_view path, size_t index) {
  return ChildPath(path, std::to_string(index));
}

const Json* ResolvePointer(const Json& root, std::string_view pointer) {
  const Json* node = &root;
  if (pointer.empty()) return node;
  if (pointer[0] != '/') return nullptr;
  size_t pos = 1;
  while (true) {
    const size_t slash = pointer.find('/', pos);
    const std::string_view raw = pointer.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        token += raw[i];
      }
    }
    if (node->is_object()) {
      auto it = node->find(token);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      if (token.empty() || token.size() > 9 ||
          token.find_first_not_of("0123456789") != std::string::npos) {
        return nullptr;
      }
      const size_t index = std::stoul(token);
      if (index >= node->size()) return nullptr;
      node = &(*node)[index];
    } else {
      return nullptr;
    }
    if (slash == std::string_view::npos) return node;
    pos = slash + 1;
  }
}

StatusOr<uint8_t> SchemaTypes(const Json& schema, std::string_view path) {
  if (!schema.is_object()) return static_cast<uint8_t>(kTypeAll);
  auto type = schema.find("type");
  if (type == schema.end()) {
    uint8_t bits = 0;
    auto has = [&](std::initializer_list<const char*> keys) {
      return std::any_of(keys.begin(), keys.end(), [&](const char* k) { return schema.contains(k); });
    };
    if (has({"properties", "required", "additionalProperties"})) bits |= kTypeObject;
    if (has({"items", "prefixItems", "additionalItems", "minItems", "maxItems"})) bits |= kTypeArray;
    if (has({"minLength", "maxLength", "pattern", "format"})) bits |= kTypeString;
    if (has({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})) {
      bits |= kTypeNumber | kTypeInteger;
    }
    return bits == 0 ? static_cast<uint8_t>(kTypeAll) : bits;
  }
  uint8_t bits = 0;
  auto add = [&](const Json& name) -> Status {
    if (name.is_string()) {
      for (const TypeName& t : kTypeNames) {
        if (name.get_ref<const std::string&>() == t.name) {
          bits |= t.bits;
          return Status::Ok();
        }
      }
    }
    return InvalidArgumentError(path, "/type: unknown type ", DumpJson(name));
  };
  if (type->is_array()) {
    if (type->empty()) return InvalidArgumentError(path, "/type: empty type list");
    for (const Json& name : *type) LFM2_RETURN_IF_ERROR(add(name));
  } else {
    LFM2_RETURN_IF_ERROR(add(*type));
  }
  auto nullable = schema.find("nullable");
  if (nullable != schema.end() && *nullable == Json(true)) bits |= kTypeNull;
  return bits;
}

bool ValueHasType(const Json& value, uint8_t types) {
  switch (value.type()) {
    case Json::value_t::null: return types & kTypeNull;
    case Json::value_t::boolean: return types & kTypeBoolean;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return types & (kTypeInteger | kTypeNumber);
    case Json::value_t::number_float: {
      if (types & kTypeNumber) return true;
      const double d = value.get<double>();
      return (types & kTypeInteger) && std::isfinite(d) && d == std::floor(d);
    }
    case Json::value_t::string: return types & kTypeString;
    case Json::value_t::array: return types & kTypeArray;
    case Json::value_t::object: return types & kTypeObject;
    default: return false;
  }
}

StatusOr<Json> MergeSchemas(const Json& a, const Json& b, std::string_view path) {
  if (a.is_boolean() || b.is_boolean()) {
    if (a == Json(false) || b == Json(false)) return Json(false);
    return a.is_boolean() ? b : a;
  }
  if (!a.is_object() || !b.is_object()) {
    return InvalidArgumentError(path, ": allOf entries must be schemas (objects or booleans)");
  }
  Json out = Json::object();
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (!IsAnnotationKeyword(it.key())) out[it.key()] = it.value();
  }
  for (auto it = b.begin(); it != b.end(); ++it) {
    const std::string& key = it.key();
    const Json& vb = it.value();
    if (IsAnnotationKeyword(key)) continue;
    if (!out.contains(key)) {
      out[key] = vb;
      continue;
    }
    Json& va = out[key];
    if (va == vb) continue;
    if (key == "type" || key == "nullable") {
      continue;  // combined below from both sides
    } else if (key == "properties") {
      if (!va.is_object() || !vb.is_object()) return InvalidArgumentError(path, ": properties must be objects");
      for (auto p = vb.begin(); p != vb.end(); ++p) {
        va[p.key()] = va.contains(p.key()) ? AllOf(va[p.key()], p.value()) : p.value();
      }
    } else if (key == "required") {
      if (!va.is_array() || !vb.is_array()) return InvalidArgumentError(path, ": required must be arrays");
      for (const Json& name : vb) {
        if (std::find(va.begin(), va.end(), name) == va.end()) va.push_back(name);
      }
    } else if (key == "additionalProperties" || key == "items" || key == "additionalItems") {
      va = AllOf(va, vb);
    } else if (key == "prefixItems") {
      if (!va.is_array() || !vb.is_array() || va.size() != vb.size()) {
        return UnsupportedError(path, ": allOf of prefixItems of different lengths");
      }
      for (size_t i = 0; i < va.size(); ++i) va[i] = AllOf(va[i], vb[i]);
    } else if (key == "minItems" || key == "minLength" || key == "minimum" ||
               key == "exclusiveMinimum") {
      if (!va.is_number() || !vb.is_number()) return InvalidArgumentError(path, "/", key, ": not a number");
      if (vb > va) va = vb;
    } else if (key == "maxItems" || key == "maxLength" || key == "maximum" ||
               key == "exclusiveMaximum") {
      if (!va.is_number() || !vb.is_number()) return InvalidArgumentError(path, "/", key, ": not a number");
      if (vb < va) va = vb;
    } else if (key == "enum") {
      if (!va.is_array() || !vb.is_array()) return InvalidArgumentError(path, "/enum: not an array");
      Json both = Json::array();
      for (const Json& v : va) {
        if (std::find(vb.begin(), vb.end(), v) != vb.end()) both.push_back(v);
      }
      va = both;
    } else if (key == "const") {
      return Json(false);  // two different constants
    } else {
      return UnsupportedError(path, ": allOf combining two different \"", key,
                              "\" values is not supported");
    }
  }
  // type: intersection (number includes integer); nullable only when both sides allow null.
  if (a.contains("type") || b.contains("type")) {
    LFM2_ASSIGN_OR_RETURN(uint8_t ta, SchemaTypes(a.contains("type") ? a : Json::object(), path));
    LFM2_ASSIGN_OR_RETURN(uint8_t tb, SchemaTypes(b.contains("type") ? b : Json::object(), path));
    uint8_t both = ta & tb;
    if (both == 0) return Json(false);
    out["type"] = TypeArray(both);
    out.erase("nullable");
  }
  // A side with additionalProperties restricts the properties only the other side declares.
  for (const Json* side : {&a, &b}) {
    auto extra = side->find("additionalProperties");
    if (extra == side->end() || *extra == Json(true) || !out.contains("properties")) continue;
    const Json* own = side->contains("properties") ? &(*side)["properties"] : nullptr;
    Json& merged = out["properties"];
    std::vector<std::string> drop;
    for (auto p = merged.begin(); p != merged.end(); ++p) {
      if (own != nullptr && own->contains(p.key())) continue;
      if (*extra == Json(false)) {
        drop.push_back(p.key());
      } else {
        p.value() = AllOf(p.value(), *extra);
      }
    }
    for (const std::string& name : drop) {
      merged.erase(name);
      if (out.contains("required") && out["required"].is_array()) {
        const Json& required = out["required"];
        if (std::find(required.begin(), required.end(), Json(name)) != required.end()) {
          return Json(false);  // required by one side, forbidden by the other
        }
      }
    }
  }
  return out;
}

}  // namespace lfm2::json_grammar
