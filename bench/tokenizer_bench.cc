// bench/tokenizer_bench.cc - single-thread tokenizer throughput: load time, encode MB/s (cold
// word cache = a fresh tokenizer, then warm), decode MB/s. Reports numbers, asserts nothing.
//
// usage: tokenizer_bench [--model DIR] [--min-mb N] [FILE...]
//   DIR defaults to $LFM2_SHARED_DIR/golden/tokenizer (else /work/shared/golden/tokenizer);
//   the files (default /usr/share/common-licenses/*) are concatenated, and the whole set repeated
//   until the text is at least N MB (default 4).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "io/json.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_util.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string DefaultModelDir() {
  const char* shared = std::getenv("LFM2_SHARED_DIR");
  return std::string(shared != nullptr ? shared : "/work/shared") + "/golden/tokenizer";
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = DefaultModelDir();
  double min_mb = 4.0;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--model" && i + 1 < argc) {
      model = argv[++i];
    } else if (arg == "--min-mb" && i + 1 < argc) {
      min_mb = std::atof(argv[++i]);
    } else if (arg == "--help" || arg == "-h") {
      std::printf("usage: tokenizer_bench [--model DIR] [--min-mb N] [FILE...]\n");
      return 0;
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    std::error_code error;
    for (const auto& entry :
         std::filesystem::directory_iterator("/usr/share/common-licenses", error)) {
      if (entry.is_regular_file()) files.push_back(entry.path().string());
    }
  }
  std::string corpus;
  for (const std::string& file : files) {
    auto text = lfm2::ReadFileToString(file);
    if (!text.ok()) {
      std::fprintf(stderr, "tokenizer_bench: %s\n", text.status().message().c_str());
      return 1;
    }
    corpus += *text;
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "tokenizer_bench: no input text\n");
    return 1;
  }
  const size_t unique_bytes = corpus.size();
  const std::string unit = corpus;
  while (corpus.size() < min_mb * 1e6) corpus += unit;
  const double mb = corpus.size() / 1e6;

  auto start = std::chrono::steady_clock::now();
  auto loaded = lfm2::Tokenizer::FromDirectory(model);
  const double load_seconds = Seconds(start);
  if (!loaded.ok()) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", loaded.status().message().c_str());
    return 1;
  }
  const lfm2::Tokenizer& tokenizer = *loaded;

  start = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = tokenizer.Encode(corpus, false);
  const double cold_seconds = Seconds(start);
  start = std::chrono::steady_clock::now();
  const std::vector<int32_t> again = tokenizer.Encode(corpus, false);
  const double warm_seconds = Seconds(start);
  start = std::chrono::steady_clock::now();
  const std::string decoded = tokenizer.Decode(ids);
  const double decode_seconds = Seconds(start);

  std::printf("model: %s (vocab %d), load %.1f ms\n", model.c_str(), tokenizer.vocab_size(),
              load_seconds * 1e3);
  std::printf("text: %zu files, %.2f MB unique, %.2f MB encoded; %zu tokens (%.2f bytes/token)\n",
              files.size(), unique_bytes / 1e6, mb, ids.size(), corpus.size() / double(ids.size()));
  std::printf("encode, cold word cache: %.1f MB/s\n", mb / cold_seconds);
  std::printf("encode, warm word cache: %.1f MB/s\n", mb / warm_seconds);
  std::printf("decode:                  %.1f MB/s\n", mb / decode_seconds);
  if (again != ids || decoded != lfm2::tokenizer::ToValidUtf8(corpus)) {
    std::printf("MISMATCH: repeated encode or decode round trip differs\n");
    return 1;
  }
  return 0;
}
