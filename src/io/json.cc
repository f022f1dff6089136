// io/json.cc - nlohmann::json behind Status: the only place its exceptions are caught.
#include "io/json.h"

#include <cmath>
#include <fstream>
#include <unordered_set>
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

namespace {

// Builds an ordered_json through nlohmann's SAX interface. Parsing straight into ordered_json
// inserts every key with a linear search (quadratic in the key count: seconds for a 64k-entry
// tokenizer vocabulary); here each object's members are collected in a vector and handed over in
// one piece, with duplicate keys caught by a hash set.
class Builder {
 public:
  bool null() { return Add(Json(nullptr)); }
  bool boolean(bool value) { return Add(Json(value)); }
  bool number_integer(Json::number_integer_t value) { return Add(Json(value)); }
  bool number_unsigned(Json::number_unsigned_t value) { return Add(Json(value)); }
  bool number_float(Json::number_float_t value, const std::string&) { return Add(Json(value)); }
  bool string(std::string& value) { return Add(Json(std::move(value))); }
  bool binary(Json::binary_t& value) { return Add(Json::binary(std::move(value))); }
  bool start_object(std::size_t) {
    frames_.emplace_back(/*object=*/true);
    return true;
  }
  bool key(std::string& key) {
    Frame& frame = frames_.back();
    if (!frame.keys.insert(key).second && duplicate_.empty()) duplicate_ = key;
    frame.key = std::move(key);
    return true;
  }
  bool end_object() {
    Frame frame = std::move(frames_.back());
    frames_.pop_back();
    Json value(Json::value_t::object);
    value.get_ref<Json::object_t&>() = Json::object_t(std::make_move_iterator(frame.members.begin()),
                                                      std::make_move_iterator(frame.members.end()));
    return Add(std::move(value));
  }
  bool start_array(std::size_t) {
    frames_.emplace_back(/*object=*/false);
    return true;
  }
  bool end_array() {
    Frame frame = std::move(frames_.back());
    frames_.pop_back();
    return Add(std::move(frame.array));
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& error) {
    error_ = error.what();
    error_position_ = position;
    return false;
  }

  Json& root() { return root_; }
  const std::string& duplicate() const { return duplicate_; }
  const std::string& error() const { return error_; }
  size_t error_position() const { return error_position_; }

 private:
  struct Frame {
    explicit Frame(bool is_object) : object(is_object) {}
    bool object;
    std::vector<std::pair<const std::string, Json>> members;
    Json array = Json::array();
    std::string key;
    std::unordered_set<std::string> keys;
  };
  bool Add(Json value) {
    if (frames_.empty()) {
      root_ = std::move(value);
      return true;
    }
    Frame& frame = frames_.back();
    if (frame.object) {
      frame.members.emplace_back(std::move(frame.key), std::move(value));
    } else {
      frame.array.push_back(std::move(value));
    }
    return true;
  }

  std::vector<Frame> frames_;
  Json root_;
  std::string duplicate_, error_;
  size_t error_position_ = 0;
};

}  // namespace

StatusOr<Json> ParseJson(std::string_view text, std::string_view source) {
  Builder builder;
  bool parsed = false;
  try {
    parsed = Json::sax_parse(text.begin(), text.end(), &builder, Json::input_format_t::json,
                             /*strict=*/true, /*ignore_comments=*/false);
  } catch (const std::exception& error) {
    return InvalidArgumentError(source, ": invalid JSON: ", error.what());
  }
  if (!parsed) {
    std::string message = builder.error();
    // nlohmann's messages look like "[json.exception.parse_error.101] parse error at line 1,
    // column 5: syntax error ..."; keep the part after the bracketed id and its own position.
    const size_t bracket = message.find("] ");
    if (bracket != std::string::npos) message = message.substr(bracket + 2);
    const size_t colon = message.find(": ");
    if (message.rfind("parse error", 0) == 0 && colon != std::string::npos) {
      message = message.substr(colon + 2);
    }
    const size_t byte = builder.error_position() > 0 ? builder.error_position() - 1 : 0;
    return InvalidArgumentError(source, ": invalid JSON at ", Where(text, byte), ": ", message);
  }
  if (!builder.duplicate().empty()) {
    return InvalidArgumentError(source, ": duplicate key \"", builder.duplicate(), "\"");
  }
  return std::move(builder.root());
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
