// tests/sampling/json_test_validator.h - an independent, deliberately simple JSON-schema validator
// for the constraint tests (shares no code with src/sampling): the keywords the compiler
// supports, with their real semantics (oneOf = exactly one, lengths in code points, pattern as an
// ECMAScript search over UTF-32, formats checked by parsing incl. the calendar).
#pragma once

#include <cmath>
#include <cstdint>
#include <regex>
#include <string>

#include "io/json.h"

namespace lfm2::testing {

inline bool Utf8ToUtf32(const std::string& s, std::wstring* out) {
  out->clear();
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    int n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t c = n == 1 ? b : b & (0x7F >> n);
    for (int k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out->push_back(static_cast<wchar_t>(c));
    i += n;
  }
  return true;
}

class TestValidator {
 public:
  explicit TestValidator(const Json& root) : root_(root) {}

  // Empty when `value` is valid, else the first reason it is not.
  std::string Check(const Json& value) { return Check(root_, value, "#", 0); }

 private:
  static bool IsInteger(const Json& v) {
    if (v.is_number_integer() || v.is_number_unsigned()) return true;
    return v.is_number_float() && std::floor(v.get<double>()) == v.get<double>();
  }

  static bool HasType(const Json& v, const std::string& type) {
    if (type == "null") return v.is_null();
    if (type == "boolean") return v.is_boolean();
    if (type == "integer") return v.is_number() && IsInteger(v);
    if (type == "number") return v.is_number();
    if (type == "string") return v.is_string();
    if (type == "array") return v.is_array();
    if (type == "object") return v.is_object();
    return false;
  }

  static bool Digits(const std::string& s, size_t pos, size_t n) {
    if (pos + n > s.size()) return false;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
  }

  static bool ValidDate(const std::string& s) {
    if (s.size() != 10 || !Digits(s, 0, 4) || s[4] != '-' || !Digits(s, 5, 2) || s[7] != '-' ||
        !Digits(s, 8, 2)) {
      return false;
    }
    const int year = std::stoi(s.substr(0, 4)), month = std::stoi(s.substr(5, 2)),
              day = std::stoi(s.substr(8, 2));
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12 || day < 1) return false;
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return day <= kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  }

  static bool ValidTime(const std::string& s) {
    static const std::regex kTime(
        R"(([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([zZ]|[+-]([0-9]{2}):([0-9]{2})))");
    std::smatch m;
    if (!std::regex_match(s, m, kTime)) return false;
    if (std::stoi(m[1]) > 23 || std::stoi(m[2]) > 59 || std::stoi(m[3]) > 60) return false;
    if (m[6].matched && (std::stoi(m[6]) > 23 || std::stoi(m[7]) > 59)) return false;
    return true;
  }

  static bool ValidFormat(const std::string& format, const std::string& s) {
    if (format == "date") return ValidDate(s);
    if (format == "time") return ValidTime(s);
    if (format == "date-time") {
      const size_t t = s.find_first_of("Tt");
      return t == 10 && ValidDate(s.substr(0, 10)) && ValidTime(s.substr(11));
    }
    if (format == "uuid") {
      static const std::regex kUuid("[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}");
      return std::regex_match(s, kUuid);
    }
    if (format == "email") {
      const size_t at = s.find('@');
      return at != std::string::npos && at > 0 && at + 1 < s.size() &&
             s.find('@', at + 1) == std::string::npos && s.find('.', at) != std::string::npos;
    }
    if (format == "ipv4") {
      static const std::regex kIp("([0-9]{1,3})\\.([0-9]{1,3})\\.([0-9]{1,3})\\.([0-9]{1,3})");
      std::smatch m;
      if (!std::regex_match(s, m, kIp)) return false;
      for (int i = 1; i <= 4; ++i) {
        const std::string part = m[i];
        if (std::stoi(part) > 255 || (part.size() > 1 && part[0] == '0')) return false;
      }
      return true;
    }
    if (format == "hostname") {
      static const std::regex kHost(
          "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*");
      return s.size() <= 253 && std::regex_match(s, kHost);
    }
    return true;  // annotation
  }

  std::string Check(const Json& schema, const Json& v, const std::string& path, int depth) {
    if (depth > 200) return path + ": too deep";
    if (schema.is_boolean()) return schema.get<bool>() ? "" : path + ": false schema";
    if (auto it = schema.find("$ref"); it != schema.end()) {
      const std::string ref = it->get<std::string>();
      const Json& target = root_.at(Json::json_pointer(ref.substr(1)));
      if (std::string why = Check(target, v, ref, depth + 1); !why.empty()) return why;
    }
    if (auto it = schema.find("type"); it != schema.end()) {
      bool ok = false;
      if (it->is_string()) {
        ok = HasType(v, it->get<std::string>());
      } else {
        for (const Json& t : *it) ok = ok || HasType(v, t.get<std::string>());
      }
      if (!ok && schema.value("nullable", false) && v.is_null()) ok = true;
      if (!ok) return path + ": wrong type " + v.dump();
    }
    if (auto it = schema.find("enum"); it != schema.end()) {
      bool found = false;
      for (const Json& e : *it) found = found || e == v;
      if (!found) return path + ": not in enum";
    }
    if (auto it = schema.find("const"); it != schema.end() && *it != v) return path + ": not const";
    for (const char* key : {"allOf", "anyOf", "oneOf"}) {
      auto it = schema.find(key);
      if (it == schema.end()) continue;
      int matches = 0;
      std::string first_reason;
      for (const Json& sub : *it) {
        std::string why = Check(sub, v, path + "/" + key, depth + 1);
        if (why.empty()) ++matches;
        if (!why.empty() && first_reason.empty()) first_reason = why;
      }
      const std::string k = key;
      if (k == "allOf" && matches != static_cast<int>(it->size())) return first_reason;
      if (k == "anyOf" && matches == 0) return path + ": no anyOf match (" + first_reason + ")";
      if (k == "oneOf" && matches != 1) return path + ": oneOf matched " + std::to_string(matches);
    }
    if (v.is_number()) {
      const double x = v.get<double>();
      auto bound = [&](const char* key) { return schema.contains(key) && schema[key].is_number(); };
      if (bound("minimum") && x < schema["minimum"].get<double>()) return path + ": < minimum";
      if (bound("maximum") && x > schema["maximum"].get<double>()) return path + ": > maximum";
      if (bound("exclusiveMinimum") && x <= schema["exclusiveMinimum"].get<double>()) return path + ": <= exclusiveMinimum";
      if (bound("exclusiveMaximum") && x >= schema["exclusiveMaximum"].get<double>()) return path + ": >= exclusiveMaximum";
      if (schema.value("exclusiveMinimum", Json()) == Json(true) && x <= schema["minimum"].get<double>()) return path + ": <= minimum (draft 4)";
      if (schema.value("exclusiveMaximum", Json()) == Json(true) && x >= schema["maximum"].get<double>()) return path + ": >= maximum (draft 4)";
    }
    if (v.is_string()) {
      const std::string s = v.get<std::string>();
      std::wstring wide;
      if (!Utf8ToUtf32(s, &wide)) return path + ": bad UTF-8";
      if (schema.contains("minLength") && wide.size() < schema["minLength"].get<size_t>()) return path + ": too short";
      if (schema.contains("maxLength") && wide.size() > schema["maxLength"].get<size_t>()) return path + ": too long";
      if (auto it = schema.find("pattern"); it != schema.end()) {
        std::wstring pattern;
        Utf8ToUtf32(it->get<std::string>(), &pattern);
        if (!std::regex_search(wide, std::wregex(pattern, std::regex::ECMAScript))) {
          return path + ": pattern mismatch " + v.dump();
        }
      }
      if (auto it = schema.find("format"); it != schema.end() && !ValidFormat(it->get<std::string>(), s)) {
        return path + ": bad " + it->get<std::string>() + " " + v.dump();
      }
    }
    if (v.is_array()) {
      if (schema.contains("minItems") && v.size() < schema["minItems"].get<size_t>()) return path + ": too few items";
      if (schema.contains("maxItems") && v.size() > schema["maxItems"].get<size_t>()) return path + ": too many items";
      size_t prefix = 0;
      const Json* rest = nullptr;
      const Json* tuple = nullptr;
      if (schema.contains("prefixItems")) {
        tuple = &schema["prefixItems"];
        if (schema.contains("items")) rest = &schema["items"];
      } else if (schema.contains("items") && schema["items"].is_array()) {
        tuple = &schema["items"];
        if (schema.contains("additionalItems")) rest = &schema["additionalItems"];
      } else if (schema.contains("items")) {
        rest = &schema["items"];
      }
      if (tuple != nullptr) prefix = tuple->size();
      for (size_t i = 0; i < v.size(); ++i) {
        const Json* sub = i < prefix ? &(*tuple)[i] : rest;
        if (sub == nullptr) continue;
        if (std::string why = Check(*sub, v[i], path + "/" + std::to_string(i), depth + 1); !why.empty()) return why;
      }
    }
    if (v.is_object()) {
      if (auto it = schema.find("required"); it != schema.end()) {
        for (const Json& name : *it) {
          if (!v.contains(name.get<std::string>())) return path + ": missing " + name.dump();
        }
      }
      const Json* props = schema.contains("properties") ? &schema["properties"] : nullptr;
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (props != nullptr && props->contains(m.key())) {
          if (std::string why = Check((*props)[m.key()], m.value(), path + "/" + m.key(), depth + 1); !why.empty()) return why;
        } else if (schema.contains("additionalProperties")) {
          if (std::string why = Check(schema["additionalProperties"], m.value(), path + "/+" + m.key(), depth + 1); !why.empty()) return why;
        }
      }
    }
    return "";
  }

  const Json& root_;
};

}  // namespace lfm2::testing
