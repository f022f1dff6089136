// io/json.h - the one JSON wrapper: parsing (with line:column errors) and typed, Status-returning
// accessors over nlohmann::ordered_json (insertion order kept, as Python dicts keep it). All
// third-party exceptions stay inside io/json.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace lfm2 {

using Json = nlohmann::ordered_json;

// Bounds on what parsing may build, checked while it builds (nothing beyond them is ever made,
// so no later step meets a value deeper or larger than these).
struct JsonLimits {
  // Containers nested deeper than this are refused (kOutOfRange naming the path to the first
  // one too deep and the limit). Every recursive walk of a parsed value (copy, dump, rendering, schema
  // compilation) is bounded by it.
  int max_depth = 256;
  // Estimated heap bytes of the parsed value (JsonHeapBytes); beyond it parsing stops with
  // kResourceExhausted. 0: no bound.
  size_t max_bytes = 0;
};

// Parses `text`; `source` names it in errors ("config.json: line 3, column 7: ...").
// Rejects duplicate object keys (the JSON standard leaves them undefined; we refuse them).
StatusOr<Json> ParseJson(std::string_view text, std::string_view source,
                         const JsonLimits& limits = {});

// The heap bytes a parsed value holds, as glibc malloc allocates them (chunk headers and
// rounding included), not counting the root's own sizeof(Json). What JsonLimits::max_bytes bounds.
size_t JsonHeapBytes(const Json& value);

// Reads and parses a whole file.
StatusOr<Json> ReadJsonFile(const std::string& path);

// Reads a whole file into a string.
StatusOr<std::string> ReadFileToString(const std::string& path);

// "object", "array", "string", "integer", "number", "boolean", "null".
const char* JsonTypeName(const Json& value);

// Compact serialisation; invalid UTF-8 in strings is replaced, never thrown on.
std::string DumpJson(const Json& value);

// Typed member access for parsing configs and requests. `where` names the object for errors
// (e.g. "config.json"). Get* fail when the key is missing or has the wrong type; Find* return
// `fallback` when the key is missing or null and fail only on a wrong type.
StatusOr<int64_t> GetInt(const Json& object, std::string_view key, std::string_view where);
StatusOr<double> GetNumber(const Json& object, std::string_view key, std::string_view where);
StatusOr<std::string> GetString(const Json& object, std::string_view key, std::string_view where);
StatusOr<bool> GetBool(const Json& object, std::string_view key, std::string_view where);
StatusOr<int64_t> FindInt(const Json& object, std::string_view key, int64_t fallback,
                          std::string_view where);
StatusOr<double> FindNumber(const Json& object, std::string_view key, double fallback,
                            std::string_view where);
StatusOr<std::string> FindString(const Json& object, std::string_view key, std::string fallback,
                                 std::string_view where);
StatusOr<bool> FindBool(const Json& object, std::string_view key, bool fallback,
                        std::string_view where);
// Returns nullptr when the key is missing.
const Json* FindMember(const Json& object, std::string_view key);

// An array of integers, e.g. a shape or a token list.
StatusOr<std::vector<int64_t>> GetIntArray(const Json& value, std::string_view where);

}  // namespace lfm2
