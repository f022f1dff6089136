// apps/lfm2/command.h - the `lfm2` CLI's subcommand registry and flag parser. Each subcommand
// lives in its own cmd_*.cc and registers itself; main.cc dispatches on argv[1].
//
// Exit codes (documented in README.md): 0 success, 1 runtime error (bad model, bad input file,
// budget exceeded), 2 usage error (unknown flag, missing or malformed flag value).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace lfm2::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  const char* name;
  const char* summary;  // one line for `lfm2 --help`
  int (*run)(int argc, char** argv);  // argv[0] is the subcommand name
};

// Registers a subcommand at static-initialisation time.
struct CommandRegistration {
  explicit CommandRegistration(Command command);
};
const std::vector<Command>& RegisteredCommands();

#define LFM2_REGISTER_COMMAND(name, summary, run) \
  static ::lfm2::cli::CommandRegistration LFM2_CONCAT(lfm2_command_, __LINE__)({name, summary, run})

// A small flag parser following the conventions of mlx_lm / llama.cpp tools: `--name value`,
// `--name=value`, short aliases (`-t 4`), boolean switches (`--verbose`), `--help`. A value flag
// always consumes the next argument, so `--text -x` and `--temp -1` work; `--text=-x` too.
class FlagParser {
 public:
  // `usage` is the synopsis line ("lfm2 logits --model DIR --tokens IDS [options]") and
  // `description` a paragraph printed under it by --help.
  FlagParser(std::string usage, std::string description);

  // `names` is a comma-separated list of spellings, e.g. "--threads,-t". `value_name` is shown in
  // help ("N", "DIR"). Targets keep their current value as the default shown in help.
  void String(const std::string& names, std::string* target, const std::string& value_name,
              const std::string& help);
  void Int(const std::string& names, int64_t* target, const std::string& value_name,
           const std::string& help);
  void Double(const std::string& names, double* target, const std::string& value_name,
              const std::string& help);
  void Bool(const std::string& names, bool* target, const std::string& help);
  // Records whether a flag was given, for flags whose default depends on others.
  void OptionalString(const std::string& names, std::optional<std::string>* target,
                      const std::string& value_name, const std::string& help);
  void OptionalDouble(const std::string& names, std::optional<double>* target,
                      const std::string& value_name, const std::string& help);
  void OptionalInt(const std::string& names, std::optional<int64_t>* target,
                   const std::string& value_name, const std::string& help);

  // Marks a flag as required (checked by Parse).
  void Require(const std::string& name);

  // Parses argv[1..argc). On --help prints the help to stdout and returns kExitOk in `*exit_code`;
  // on a usage error prints "lfm2 <cmd>: <problem>" + the synopsis to stderr and sets kExitUsage.
  // Returns true when the command should run.
  bool Parse(int argc, char** argv, int* exit_code);

  std::string Help() const;

  // Prints a usage error for a check made after Parse ("lfm2 generate: <problem>", the synopsis
  // and a pointer to --help) and returns kExitUsage.
  int UsageError(const std::string& command, const std::string& problem) const;

 private:
  enum class Kind { kString, kInt, kDouble, kBool, kOptString, kOptDouble, kOptInt };
  struct Flag {
    std::vector<std::string> names;
    Kind kind;
    void* target;
    std::string value_name;
    std::string help;
    std::string default_text;
    bool required = false;
    bool seen = false;
  };
  void Add(const std::string& names, Kind kind, void* target, const std::string& value_name,
           const std::string& help, std::string default_text);
  Flag* Find(const std::string& name);
  Status Assign(Flag& flag, const std::string& name, const std::string& value);

  std::string usage_;
  std::string description_;
  std::vector<Flag> flags_;
};

// printf-style formatting into a std::string (for usage messages).
std::string FormatMessage(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Prints "lfm2: <message>" to stderr (one line) and returns kExitError.
int ReportError(const Status& status);

// Parses a comma-separated list of integers in [min, max] ("512" or "128,512"; empty text is an
// empty list); nullopt when an item is empty, not a number or out of range.
std::optional<std::vector<int64_t>> ParseIntList(const std::string& text, int64_t min, int64_t max);

// Parses "1,2,3" or "[1, 2, 3]" into token ids.
StatusOr<std::vector<int32_t>> ParseIdList(const std::string& text);

}  // namespace lfm2::cli
