// io/json.cc - nlohmann::json behind Status: the only place its exceptions are caught.
#include "io/json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <fstream>
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

// glibc malloc's chunk for an n-byte request: 8 bytes of header, 16-byte rounding, 32 at least.
size_t MallocChunk(size_t n) { return std::max<size_t>(32, (n + 8 + 15) & ~size_t{15}); }

// Heap bytes of a string_t held by a Json: the string object, plus its buffer beyond the
// small-string capacity.
size_t StringHeap(size_t length) {
  return MallocChunk(sizeof(std::string)) + (length > 15 ? MallocChunk(length + 1) : 0);
}
// A key of an object member: only its buffer (the string object is inside the member pair).
size_t KeyHeap(size_t length) { return length > 15 ? MallocChunk(length + 1) : 0; }

using Member = std::pair<const std::string, Json>;

// Builds an ordered_json through nlohmann's SAX interface. Parsing straight into ordered_json
// inserts every key with a linear search (quadratic in the key count: seconds for a 64k-entry
// tokenizer vocabulary); here each object's members are collected in a vector and handed over in
// one piece, and duplicate keys are found by sorting. Depth and size are checked as values
// arrive, so nothing beyond JsonLimits is ever built.
class Builder {
 public:
  explicit Builder(const JsonLimits& limits) : limits_(limits) {}

  bool null() { return Add(Json(nullptr), 0); }
  bool boolean(bool value) { return Add(Json(value), 0); }
  bool number_integer(Json::number_integer_t value) { return Add(Json(value), 0); }
  bool number_unsigned(Json::number_unsigned_t value) { return Add(Json(value), 0); }
  bool number_float(Json::number_float_t value, const std::string&) { return Add(Json(value), 0); }
  bool string(std::string& value) {
    const size_t heap = StringHeap(value.size());
    return Add(Json(std::move(value)), heap);
  }
  bool binary(Json::binary_t& value) {
    const size_t heap = MallocChunk(sizeof(Json::binary_t)) + MallocChunk(value.size());
    return Add(Json::binary(std::move(value)), heap);
  }
  bool start_object(std::size_t) { return Open(/*object=*/true); }
  bool key(std::string& key) {
    Frame& frame = frames_.back();
    frame.key = std::move(key);
    return true;
  }
  bool end_object() {
    Frame frame = std::move(frames_.back());
    frames_.pop_back();
    if (duplicate_.empty()) FindDuplicate(frame.members);
    Json value(Json::value_t::object);
    value.get_ref<Json::object_t&>() = Json::object_t(std::make_move_iterator(frame.members.begin()),
                                                      std::make_move_iterator(frame.members.end()));
    return Add(std::move(value), MallocChunk(sizeof(Json::object_t)));
  }
  bool start_array(std::size_t) { return Open(/*object=*/false); }
  bool end_array() {
    Frame frame = std::move(frames_.back());
    frames_.pop_back();
    frame.array.get_ref<Json::array_t&>().shrink_to_fit();
    return Add(std::move(frame.array), MallocChunk(sizeof(Json::array_t)));
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
  // Set when a limit stopped the parse.
  const std::optional<Status>& limit_error() const { return limit_error_; }

 private:
  struct Frame {
    explicit Frame(bool is_object) : object(is_object) {}
    bool object;
    std::vector<Member> members;
    Json array = Json::array();
    std::string key;
  };

  bool Open(bool object) {
    if (static_cast<int>(frames_.size()) >= limits_.max_depth) {
      limit_error_ = OutOfRangeError("nesting deeper than ", limits_.max_depth, " levels at ", Path());
      return false;
    }
    frames_.emplace_back(object);
    return true;
  }

  bool Add(Json value, size_t heap) {
    if (frames_.empty()) {
      root_ = std::move(value);
      return Count(heap);
    }
    Frame& frame = frames_.back();
    if (frame.object) {
      heap += sizeof(Member) + KeyHeap(frame.key.size());
      frame.members.emplace_back(std::move(frame.key), std::move(value));
    } else {
      heap += sizeof(Json);
      frame.array.push_back(std::move(value));
    }
    return Count(heap);
  }

  bool Count(size_t heap) {
    bytes_ += heap;
    if (limits_.max_bytes == 0 || bytes_ <= limits_.max_bytes) return true;
    limit_error_ = ResourceExhaustedError("the parsed value would need more than ", limits_.max_bytes,
                                          " bytes of memory (", Path(), ")");
    return false;
  }

  void FindDuplicate(const std::vector<Member>& members) {
    if (members.size() < 2) return;
    if (members.size() <= 8) {
      for (size_t i = 0; i < members.size(); ++i) {
        for (size_t j = i + 1; j < members.size(); ++j) {
          if (members[i].first == members[j].first) {
            duplicate_ = members[i].first;
            return;
          }
        }
      }
      return;
    }
    std::vector<const std::string*> keys;
    keys.reserve(members.size());
    for (const Member& member : members) keys.push_back(&member.first);
    std::sort(keys.begin(), keys.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
    for (size_t i = 1; i < keys.size(); ++i) {
      if (*keys[i] == *keys[i - 1]) {
        duplicate_ = *keys[i];
        return;
      }
    }
  }

  // Where the parse is, as `a.b[3]["odd key"]`; long paths keep their ends.
  std::string Path() const {
    std::vector<std::string> parts;
    for (const Frame& frame : frames_) {
      if (!frame.object) {
        parts.push_back(StrCat("[", frame.array.size(), "]"));
        continue;
      }
      const bool plain = !frame.key.empty() && frame.key.size() <= 64 &&
                         std::all_of(frame.key.begin(), frame.key.end(), [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '$';
                         });
      parts.push_back(plain ? StrCat(".", frame.key) : StrCat("[", DumpJson(Json(frame.key.substr(0, 64))), "]"));
    }
    std::string path = "$";
    constexpr size_t kHead = 12, kTail = 4;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts.size() > kHead + kTail + 1 && i == kHead) {
        path += StrCat("...(", parts.size() - kHead - kTail, " more)...");
        i = parts.size() - kTail - 1;
        continue;
      }
      path += parts[i];
    }
    return path;
  }

  JsonLimits limits_;
  std::vector<Frame> frames_;
  Json root_;
  size_t bytes_ = 0;
  std::string duplicate_, error_;
  size_t error_position_ = 0;
  std::optional<Status> limit_error_;
};

}  // namespace

StatusOr<Json> ParseJson(std::string_view text, std::string_view source, const JsonLimits& limits) {
  Builder builder(limits);
  bool parsed = false;
  try {
    parsed = Json::sax_parse(text.begin(), text.end(), &builder, Json::input_format_t::json,
                             /*strict=*/true, /*ignore_comments=*/false);
  } catch (const std::exception& error) {
    return InvalidArgumentError(source, ": invalid JSON: ", error.what());
  }
  if (builder.limit_error()) return builder.limit_error()->WithContext(source);
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

size_t JsonHeapBytes(const Json& root) {
  size_t bytes = 0;
  std::vector<const Json*> pending = {&root};
  while (!pending.empty()) {
    const Json& value = *pending.back();
    pending.pop_back();
    switch (value.type()) {
      case Json::value_t::string:
        bytes += StringHeap(value.get_ref<const std::string&>().size());
        break;
      case Json::value_t::binary:
        bytes += MallocChunk(sizeof(Json::binary_t)) + MallocChunk(value.get_binary().size());
        break;
      case Json::value_t::array:
        bytes += MallocChunk(sizeof(Json::array_t)) + value.size() * sizeof(Json);
        for (const Json& item : value) pending.push_back(&item);
        break;
      case Json::value_t::object:
        bytes += MallocChunk(sizeof(Json::object_t));
        for (const auto& [key, item] : value.items()) {
          bytes += sizeof(Member) + KeyHeap(key.size());
          pending.push_back(&item);
        }
        break;
      default:
        break;
    }
  }
  return bytes;
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
