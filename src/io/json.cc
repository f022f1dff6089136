// io/json.cc - nlohmann::json behind Status: the only place its exceptions are caught.
#include "io/json.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace lfm2 {
namespace {

// Line and column (1-based) of byte offset `pos` in `text`.
std::string Where(std::string_view text, size_t pos) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return StrCat("line ", line, ", column ", column);
}

}  // namespace

StatusOr<Json> ParseJson(std::string_view text, std::string_view source) {
  // Track keys per open object to refuse duplicates (nlohmann would silently keep the last).
  std::vector<std::set<std::string>> keys_by_depth;
  std::string duplicate;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        keys_by_depth.resize(static_cast<size_t>(depth) + 1);
        keys_by_depth[depth].clear();
        break;
      case Json::parse_event_t::key:
        if (depth >= 1 && static_cast<size_t>(depth) <= keys_by_depth.size()) {
          auto& keys = keys_by_depth[depth - 1];
          if (!keys.insert(parsed.get<std::string>()).second && duplicate.empty()) {
            duplicate = parsed.get<std::string>();
          }
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    Json value = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                             /*ignore_comments=*/false);
    if (!duplicate.empty()) {
      return InvalidArgumentError(source, ": duplicate key \"", duplicate, "\"");
    }
    return value;
  } catch (const Json::parse_error& error) {
    std::string message = error.what();
    // nlohmann's messages look like "[json.exception.parse_error.101] parse error at line 1,
    // column 5: syntax error ..."; keep the part after the bracketed id.
    const size_t bracket = message.find("] ");
    if (bracket != std::string::npos) message = message.substr(bracket + 2);
    // ... and drop its own "parse error at line L, column C: " since we say where.
    const size_t colon = message.find(": ");
    if (message.rfind("parse error", 0) == 0 && colon != std::string::npos) {
      message = message.substr(colon + 2);
    }
    const size_t byte = error.byte > 0 ? error.byte - 1 : 0;
    return InvalidArgumentError(source, ": invalid JSON at ", Where(text, byte), ": ", message);
  } catch (const std::exception& error) {
    return InvalidArgumentError(source, ": invalid JSON: ", error.what());
  }
}

StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path, ": cannot open file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return IoError(path, ": read failed");
  return buffer.str();
}

StatusOr<Json> ReadJsonFile(const std::string& path) {
  LFM2_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseJson(text, path);
}

const char* JsonTypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::object: return "object";
    case Json::value_t::array: return "array";
    case Json::value_t::string: return "string";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer";
    case Json::value_t::number_float: return "number";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::null: return "null";
    default: return "invalid";
  }
}

std::string DumpJson(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const Json* FindMember(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(std::string(key));
  return it == object.end() ? nullptr : &*it;
}

namespace {
Status WrongType(std::string_view where, std::string_view key, std::string_view expected,
                 const Json& got) {
  return InvalidArgumentError(where, ": key \"", key, "\" must be ", expected, ", got ",
                              JsonTypeName(got), " ", DumpJson(got).substr(0, 80));
}
Status Missing(std::string_view where, std::string_view key) {
  return InvalidArgumentError(where, ": missing required key \"", key, "\"");
}

StatusOr<int64_t> AsInt(const Json& value, std::string_view key, std::string_view where) {
  if (value.is_number_integer() && !value.is_number_unsigned()) return value.get<int64_t>();
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return WrongType(where, key, "a 64-bit integer", value);
    return static_cast<int64_t>(u);
  }
  // Python writes 2.0 for some integer-valued keys; accept integral floats.
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
      return static_cast<int64_t>(d);
    }
  }
  return WrongType(where, key, "an integer", value);
}
}  // namespace

StatusOr<int64_t> GetInt(const Json& object, std::string_view key, std::string_view where) {
  const Json* value = FindMember(object, key);
  if (value == nullptr) return Missing(where, key);
  return AsInt(*value, key, where);
}

StatusOr<double> GetNumber(const Json& object, std::string_view key, std::string_view where) {
  const Json* value = FindMember(object, key);
  if (value == nullptr) return Missing(where, key);
  if (!value->is_number()) return WrongType(where, key, "a number", *value);
  return value->get<double>();
}

StatusOr<std::string> GetString(const Json& object, std::string_view key, std::string_view where) {
  const Json* value = FindMember(object, key);
  if (value == nullptr) return Missing(where, key);
  if (!value->is_string()) return WrongType(where, key, "a string", *value);
  return value->get<std::string>();
}

StatusOr<bool> GetBool(const Json& object, std::string_view key, std::string_view where) {
  const Json* value = FindMember(object, key);
  if (value == nullptr) return Missing(where, key);
  if (!value->is_boolean()) return WrongType(where, key, "true or false", *value);
  return value->get<bool>();
}

StatusOr<int64_t> FindInt(const Json& object, std::string_view key, int64_t fallback,
                          std::string_view where) {
  const Json* value = FindMember(object, key);
  if (value == nullptr || value->is_null()) return fallback;
  return AsInt(*value, key, where);
}

StatusOr<double> FindNumber(const Json& object, std::string_view key, double fallback,
                            std::string_view where) {
  const Json* value = FindMember(object, key);
  if (value == nullptr || value->is_null()) return fallback;
  if (!value->is_number()) return WrongType(where, key, "a number", *value);
  return value->get<double>();
}

StatusOr<std::string> FindString(const Json& object, std::string_view key, std::string fallback,
                                 std::string_view where) {
  const Json* value = FindMember(object, key);
  if (value == nullptr || value->is_null()) return fallback;
  if (!value->is_string()) return WrongType(where, key, "a string", *value);
  return value->get<std::string>();
}

StatusOr<bool> FindBool(const Json& object, std::string_view key, bool fallback,
                        std::string_view where) {
  const Json* value = FindMember(object, key);
  if (value == nullptr || value->is_null()) return fallback;
  if (!value->is_boolean()) return WrongType(where, key, "true or false", *value);
  return value->get<bool>();
}

StatusOr<std::vector<int64_t>> GetIntArray(const Json& value, std::string_view where) {
  if (!value.is_array()) {
    return InvalidArgumentError(where, ": expected an array of integers, got ", JsonTypeName(value));
  }
  std::vector<int64_t> out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    LFM2_ASSIGN_OR_RETURN(int64_t v, AsInt(value[i], StrCat("[", i, "]"), where));
    out.push_back(v);
  }
  return out;
}

}  // namespace lfm2
