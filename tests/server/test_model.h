// A small generated LFM2-MoE checkpoint with the LFM2-structured tokenizer and the LFM2-8B-A1B
// chat template, made once per test binary in a temp dir (shared data is copied, never changed).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace lfm2::server::testing {

inline std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// Returns the model directory, or "" when it could not be made (the reason is printed).
inline std::string TinyModelDir() {
  static const std::string dir = [] {
    namespace fs = std::filesystem;
    const std::string source = EnvOr("LFM2_SOURCE_DIR", LFM2_SOURCE_DIR_DEFAULT);
    const std::string shared = EnvOr("LFM2_SHARED_DIR", LFM2_SHARED_DIR_DEFAULT);
    const std::string python = EnvOr("LFM2_PYTHON", "/usr/bin/python3");
    const fs::path root = fs::temp_directory_path() / ("lfm2_server_test_" + std::to_string(getpid()));
    const fs::path model = root / "model";
    fs::create_directories(root);
    const std::string command = python + " " + source + "/tools/make_test_model.py --out " + model.string() +
                                " --preset tiny-moe --bits 4 --vocab-size 7808 --seed 5 --quiet > /dev/null";
    if (std::system(command.c_str()) != 0) {
      std::fprintf(stderr, "make_test_model.py failed: %s\n", command.c_str());
      return std::string();
    }
    std::error_code error;
    for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) {
      fs::copy_file(fs::path(shared) / "golden" / "tokenizer" / name, model / name, error);
    }
    fs::copy_file(fs::path(shared) / "golden" / "chat" / "templates" / "LFM2-8B-A1B.jinja",
                  model / "chat_template.jinja", error);
    if (error) {
      std::fprintf(stderr, "copying the tokenizer files failed: %s\n", error.message().c_str());
      return std::string();
    }
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                                      ("lfm2_server_test_" + std::to_string(getpid())),
                                  ignored);
    });
    return model.string();
  }();
  return dir;
}

}  // namespace lfm2::server::testing
