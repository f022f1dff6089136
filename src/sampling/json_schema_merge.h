// sampling/json_schema_merge.h - schema-level helpers for the compiler: which keywords exist,
// JSON pointers, the type sets a schema allows, and allOf merging (the conjunction of two
// schemas as one schema, or Unsupported when that needs more than keyword-wise rules).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "io/json.h"

namespace lfm2::json_grammar {

// Keywords that only annotate (ignored) and the containers of definitions.
bool IsAnnotationKeyword(std::string_view key);
// Keywords the compiler implements.
bool IsSupportedKeyword(std::string_view key);
// Unsupported error for the first keyword that is neither (keyword and path in the message).
// Trivially true forms (uniqueItems: false, minProperties: 0) pass.
Status CheckKeywords(const Json& schema, std::string_view path);
// True when `schema` has a keyword other than annotations and those in `except`.
bool HasAssertions(const Json& schema, std::initializer_list<std::string_view> except);

// "#/a/b" + key -> "#/a/b/key" (with ~0 ~1 escaping).
std::string ChildPath(std::string_view path, std::string_view key);
std::string ChildPath(std::string_view path, size_t index);

// Resolves a local JSON pointer ("" or "/a/b") in `root`; nullptr when absent.
const Json* ResolvePointer(const Json& root, std::string_view pointer);

enum TypeBits : uint8_t {
  kTypeNull = 1,
  kTypeBoolean = 2,
  kTypeInteger = 4,   // integers only
  kTypeNumber = 8,    // any number (includes integers)
  kTypeString = 16,
  kTypeArray = 32,
  kTypeObject = 64,
  kTypeAll = 127,
};
// The types `schema` admits: "type" (string or array, plus null for nullable: true), else the
// types its keywords constrain, else all.
StatusOr<uint8_t> SchemaTypes(const Json& schema, std::string_view path);
// Whether `value` is an instance of one of `types`.
bool ValueHasType(const Json& value, uint8_t types);

// A schema equivalent to allOf[a, b] (both objects or booleans, $ref and allOf already resolved).
StatusOr<Json> MergeSchemas(const Json& a, const Json& b, std::string_view path);

}  // namespace lfm2::json_grammar
