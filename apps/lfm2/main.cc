// apps/lfm2/main.cc - the `lfm2` front door: dispatches to the registered subcommands.
#include <cstdio>
#include <cstring>
#include <string>

#include "apps/lfm2/command.h"

namespace {
void PrintTopLevelHelp(FILE* out) {
  std::fprintf(out,
               "lfm2 - run Liquid AI LFM2 / LFM2-MoE models (MLX checkpoints) on the CPU\n\n"
               "usage: lfm2 <command> [options]      (lfm2 <command> --help for its options)\n\n"
               "commands:\n");
  for (const auto& command : lfm2::cli::RegisteredCommands()) {
    std::fprintf(out, "  %-12s %s\n", command.name, command.summary);
  }
  std::fprintf(out, "\nexit codes: 0 ok, 1 error (model, input, budget), 2 usage error\n");
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    PrintTopLevelHelp(stderr);
    return lfm2::cli::kExitUsage;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintTopLevelHelp(stdout);
    return lfm2::cli::kExitOk;
  }
  if (name == "--version") {
    std::printf("lfm2 0.1.0\n");
    return lfm2::cli::kExitOk;
  }
  for (const auto& command : lfm2::cli::RegisteredCommands()) {
    if (name == command.name) return command.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "lfm2: unknown command \"%s\"\n\n", name.c_str());
  PrintTopLevelHelp(stderr);
  return lfm2::cli::kExitUsage;
}
