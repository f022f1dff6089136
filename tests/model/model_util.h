// tests/model/model_util.h - helpers for model tests: locating goldens, running token sequences
// with different chunkings / thread counts / paths, and comparing logits.
#pragma once

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model/lfm2.h"

namespace lfm2::testing {

inline std::string SharedDir() {
  const char* dir = std::getenv("LFM2_SHARED_DIR");
  return dir ? dir : LFM2_SHARED_DIR_DEFAULT;
}

// Every golden model case: a folder of shared/golden with case.json, logits.f32 and model/.
inline std::vector<std::string> GoldenModelCases() {
  std::vector<std::string> cases;
  const auto root = std::filesystem::path(SharedDir()) / "golden";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(root, error)) {
    if (std::filesystem::exists(entry.path() / "logits.f32") &&
        std::filesystem::exists(entry.path() / "model")) {
      cases.push_back(entry.path().string());
    }
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

inline std::vector<int32_t> ReadIds(const std::string& path) {
  std::ifstream in(path);
  std::vector<int32_t> ids;
  std::string item;
  while (std::getline(in, item, ',')) ids.push_back(std::stoi(item));
  return ids;
}

inline std::vector<float> ReadFloats(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> values(bytes.size() / 4);
  std::memcpy(values.data(), bytes.data(), values.size() * 4);
  return values;
}

struct RunOptions {
  std::vector<int64_t> chunks;  // chunk sizes, cycled; empty = the whole sequence at once
  int threads = 1;
  kernels::MatMulPath path = kernels::MatMulPath::kPrecise;
  kernels::KvType kv_type = kernels::KvType::kF32;
};

// All-position logits [tokens.size(), vocab] of one sequence.
inline std::vector<float> RunSequence(const Lfm2Model& model, const std::vector<int32_t>& tokens,
                                      const RunOptions& options) {
  const ModelConfig& c = model.config();
  const int64_t n = static_cast<int64_t>(tokens.size());
  int64_t largest = n;
  if (!options.chunks.empty()) largest = *std::max_element(options.chunks.begin(), options.chunks.end());
  largest = std::min(largest, n);
  Workspace ws(c, WorkspaceLimits{largest, largest, n, options.threads});
  SequenceState state(c, n, options.kv_type);
  ThreadPool pool(options.threads);
  std::vector<float> logits;
  size_t chunk_index = 0;
  for (int64_t begin = 0; begin < n;) {
    int64_t size = options.chunks.empty() ? n : options.chunks[chunk_index++ % options.chunks.size()];
    size = std::min(size, n - begin);
    ForwardChunk chunk{&state, std::span<const int32_t>(tokens.data() + begin, size), true};
    EXPECT_TRUE(model.CheckChunks({&chunk, 1}, ws).ok());
    const int64_t rows = model.Forward({&chunk, 1}, ws, pool, options.path);
    logits.insert(logits.end(), ws.logits.data(), ws.logits.data() + rows * c.vocab_size);
    begin += size;
  }
  return logits;
}

struct Agreement {
  double max_rel = 0, mean_rel = 0, top1 = 0;
};

inline int64_t ArgMax(const float* row, int64_t vocab) {
  int64_t best = 0;
  for (int64_t i = 1; i < vocab; ++i) {
    if (row[i] > row[best]) best = i;
  }
  return best;
}

inline Agreement Compare(const std::vector<float>& got, const std::vector<float>& want, int64_t vocab) {
  Agreement a;
  const int64_t rows = static_cast<int64_t>(want.size()) / vocab;
  EXPECT_EQ(got.size(), want.size());
  if (got.size() != want.size() || rows == 0) return {1e9, 1e9, 0};
  int64_t same = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double err = 0, norm = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      const double d = double(got[r * vocab + i]) - want[r * vocab + i];
      err += d * d;
      norm += double(want[r * vocab + i]) * want[r * vocab + i];
    }
    const double rel = std::sqrt(err / std::max(norm, 1e-300));
    a.max_rel = std::max(a.max_rel, rel);
    a.mean_rel += rel / rows;
    same += ArgMax(&got[r * vocab], vocab) == ArgMax(&want[r * vocab], vocab);
  }
  a.top1 = double(same) / rows;
  return a;
}

}  // namespace lfm2::testing
