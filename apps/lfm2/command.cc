// apps/lfm2/command.cc - subcommand registry and flag parsing for the lfm2 CLI.
#include "apps/lfm2/command.h"

#include <cerrno>
#include <cstdarg>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace lfm2::cli {

namespace {
std::vector<Command>& Registry() {
  static std::vector<Command> commands;
  return commands;
}

std::vector<std::string> SplitNames(const std::string& names) {
  std::vector<std::string> out;
  std::stringstream in(names);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}
}  // namespace

CommandRegistration::CommandRegistration(Command command) { Registry().push_back(command); }
const std::vector<Command>& RegisteredCommands() { return Registry(); }

FlagParser::FlagParser(std::string usage, std::string description)
    : usage_(std::move(usage)), description_(std::move(description)) {}

void FlagParser::Add(const std::string& names, Kind kind, void* target,
                     const std::string& value_name, const std::string& help,
                     std::string default_text) {
  flags_.push_back(Flag{SplitNames(names), kind, target, value_name, help, std::move(default_text)});
}

void FlagParser::String(const std::string& names, std::string* target,
                        const std::string& value_name, const std::string& help) {
  Add(names, Kind::kString, target, value_name, help, target->empty() ? "" : *target);
}
void FlagParser::Int(const std::string& names, int64_t* target, const std::string& value_name,
                     const std::string& help) {
  Add(names, Kind::kInt, target, value_name, help, std::to_string(*target));
}
void FlagParser::Double(const std::string& names, double* target, const std::string& value_name,
                        const std::string& help) {
  std::ostringstream text;
  text << *target;
  Add(names, Kind::kDouble, target, value_name, help, text.str());
}
void FlagParser::Bool(const std::string& names, bool* target, const std::string& help) {
  Add(names, Kind::kBool, target, "", help, "");
}
void FlagParser::OptionalString(const std::string& names, std::optional<std::string>* target,
                                const std::string& value_name, const std::string& help) {
  Add(names, Kind::kOptString, target, value_name, help, "");
}
void FlagParser::OptionalDouble(const std::string& names, std::optional<double>* target,
                                const std::string& value_name, const std::string& help) {
  Add(names, Kind::kOptDouble, target, value_name, help, "");
}
void FlagParser::OptionalInt(const std::string& names, std::optional<int64_t>* target,
                             const std::string& value_name, const std::string& help) {
  Add(names, Kind::kOptInt, target, value_name, help, "");
}

void FlagParser::Require(const std::string& name) {
  Flag* flag = Find(name);
  LFM2_CHECK_MSG(flag != nullptr, "Require() of an unknown flag");
  flag->required = true;
}

FlagParser::Flag* FlagParser::Find(const std::string& name) {
  for (Flag& flag : flags_) {
    for (const std::string& n : flag.names) {
      if (n == name) return &flag;
    }
  }
  return nullptr;
}

namespace {
StatusOr<int64_t> ParseInt(const std::string& name, const std::string& value) {
  errno = 0;
  char* end = nullptr;
  const long long parsed = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno != 0) {
    return InvalidArgumentError(name, " expects an integer, got \"", value, "\"");
  }
  return static_cast<int64_t>(parsed);
}
StatusOr<double> ParseDouble(const std::string& name, const std::string& value) {
  errno = 0;
  char* end = nullptr;
  const double parsed = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || errno != 0 || !std::isfinite(parsed)) {
    return InvalidArgumentError(name, " expects a number, got \"", value, "\"");
  }
  return parsed;
}
}  // namespace

Status FlagParser::Assign(Flag& flag, const std::string& name, const std::string& value) {
  switch (flag.kind) {
    case Kind::kString:
      *static_cast<std::string*>(flag.target) = value;
      break;
    case Kind::kOptString:
      *static_cast<std::optional<std::string>*>(flag.target) = value;
      break;
    case Kind::kInt: {
      LFM2_ASSIGN_OR_RETURN(*static_cast<int64_t*>(flag.target), ParseInt(name, value));
      break;
    }
    case Kind::kOptInt: {
      LFM2_ASSIGN_OR_RETURN(int64_t parsed, ParseInt(name, value));
      *static_cast<std::optional<int64_t>*>(flag.target) = parsed;
      break;
    }
    case Kind::kDouble: {
      LFM2_ASSIGN_OR_RETURN(*static_cast<double*>(flag.target), ParseDouble(name, value));
      break;
    }
    case Kind::kOptDouble: {
      LFM2_ASSIGN_OR_RETURN(double parsed, ParseDouble(name, value));
      *static_cast<std::optional<double>*>(flag.target) = parsed;
      break;
    }
    case Kind::kBool: {
      if (value == "true" || value == "1") {
        *static_cast<bool*>(flag.target) = true;
      } else if (value == "false" || value == "0") {
        *static_cast<bool*>(flag.target) = false;
      } else {
        return InvalidArgumentError(name, " is a switch; got \"", value, "\"");
      }
      break;
    }
  }
  flag.seen = true;
  return Status::Ok();
}

bool FlagParser::Parse(int argc, char** argv, int* exit_code) {
  auto usage_error = [&](const std::string& problem) {
    std::fprintf(stderr, "%s: %s\nusage: %s\nRun with --help for all options.\n",
                 argv[0] ? (std::string("lfm2 ") + argv[0]).c_str() : "lfm2", problem.c_str(),
                 usage_.c_str());
    *exit_code = kExitUsage;
    return false;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(Help().c_str(), stdout);
      *exit_code = kExitOk;
      return false;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return usage_error("unexpected argument \"" + arg + "\"");
    }
    std::string name = arg;
    std::optional<std::string> value;
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    Flag* flag = Find(name);
    if (flag == nullptr) return usage_error("unknown option " + name);
    if (flag->kind == Kind::kBool && !value) value = "true";
    if (!value) {
      if (i + 1 >= argc) return usage_error(name + " needs a value (" + flag->value_name + ")");
      value = argv[++i];
    }
    Status status = Assign(*flag, name, *value);
    if (!status.ok()) return usage_error(status.message());
  }
  for (const Flag& flag : flags_) {
    if (flag.required && !flag.seen) return usage_error("missing required option " + flag.names[0]);
  }
  return true;
}

std::string FlagParser::Help() const {
  std::ostringstream out;
  out << "usage: " << usage_ << "\n\n" << description_ << "\n\noptions:\n";
  for (const Flag& flag : flags_) {
    std::string left = "  ";
    for (size_t i = 0; i < flag.names.size(); ++i) left += (i ? ", " : "") + flag.names[i];
    if (!flag.value_name.empty()) left += " " + flag.value_name;
    out << left;
    if (left.size() < 30) {
      out << std::string(30 - left.size(), ' ');
    } else {
      out << "\n" << std::string(30, ' ');
    }
    out << flag.help;
    if (flag.required) out << " (required)";
    if (!flag.default_text.empty()) out << " [default: " << flag.default_text << "]";
    out << "\n";
  }
  out << "  -h, --help                  show this help\n";
  return out.str();
}

int FlagParser::UsageError(const std::string& command, const std::string& problem) const {
  std::fprintf(stderr, "lfm2 %s: %s\nusage: %s\nRun with --help for all options.\n", command.c_str(),
               problem.c_str(), usage_.c_str());
  return kExitUsage;
}

std::string FormatMessage(const char* format, ...) {
  va_list args;
  va_start(args, format);
  char buffer[1024];
  std::vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  return buffer;
}

int ReportError(const Status& status) {
  std::fprintf(stderr, "lfm2: error: %s\n", status.message().c_str());
  return kExitError;
}

std::optional<std::vector<int64_t>> ParseIntList(const std::string& text, int64_t min, int64_t max) {
  std::vector<int64_t> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < min || v > max) return std::nullopt;
    values.push_back(v);
  }
  return values;
}

StatusOr<std::vector<int32_t>> ParseIdList(const std::string& text) {
  std::string body = text;
  // Accept a JSON array as well as a bare comma-separated list.
  size_t first = body.find_first_not_of(" \t\r\n");
  size_t last = body.find_last_not_of(" \t\r\n");
  if (first == std::string::npos) return std::vector<int32_t>{};
  body = body.substr(first, last - first + 1);
  if (body.front() == '[') {
    if (body.back() != ']') return InvalidArgumentError("token list \"", text, "\": missing ']'");
    body = body.substr(1, body.size() - 2);
  }
  std::vector<int32_t> ids;
  std::stringstream in(body);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t a = item.find_first_not_of(" \t\r\n");
    size_t b = item.find_last_not_of(" \t\r\n");
    if (a == std::string::npos) {
      if (body.find_first_not_of(" \t\r\n") == std::string::npos) break;
      return InvalidArgumentError("token list \"", text, "\": empty item");
    }
    item = item.substr(a, b - a + 1);
    errno = 0;
    char* end = nullptr;
    long long id = std::strtoll(item.c_str(), &end, 10);
    if (*end != '\0' || errno != 0 || id < 0 || id > INT32_MAX) {
      return InvalidArgumentError("token list: \"", item, "\" is not a token id (0..2^31-1)");
    }
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

}  // namespace lfm2::cli
