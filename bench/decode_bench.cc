// bench/decode_bench.cc - end-to-end throughput of the forward pass on a model directory: prefill
// N tokens in one chunk, then decode M tokens one at a time (greedy), for the fast (8-bit
// fast8, 16-bit fast) and/or precise
// matmul path. Numbers are printed, never asserted.
//
//   decode_bench MODEL_DIR [-p 512] [-n 32] [-t 2] [--path fast8|fast|precise|all] [--repeat 1]
//                [--no-warmup]
//
// Before timing, one untimed prefill (warm-up) touches the mapped weights: the first access to
// each page of an mmap'd checkpoint is a page fault, which would otherwise dominate short runs.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/memory_info.h"
#include "base/thread_pool.h"
#include "kernels/ops.h"
#include "model/lfm2.h"

namespace lfm2 {
namespace {

struct Options {
  std::string dir;
  int64_t prefill = 512;
  int64_t decode = 32;
  int threads = 2;
  int repeat = 1;
  bool warmup = true;
  std::vector<kernels::MatMulPath> paths = {kernels::MatMulPath::kFast8, kernels::MatMulPath::kFast,
                                           kernels::MatMulPath::kPrecise};
};

int64_t ArgMax(const float* row, int64_t n) {
  return std::max_element(row, row + n) - row;
}

struct Result {
  double prefill_seconds = 0, decode_seconds = 0;
};

Result RunOnce(const Lfm2Model& model, const Options& o, kernels::MatMulPath path, ThreadPool& pool,
               Workspace& ws) {
  const ModelConfig& c = model.config();
  SequenceState state(c, o.prefill + o.decode);
  std::vector<int32_t> prompt(static_cast<size_t>(o.prefill));
  uint32_t seed = 12345;
  for (int32_t& id : prompt) {
    seed = seed * 1664525u + 1013904223u;
    id = static_cast<int32_t>((seed >> 8) % static_cast<uint32_t>(c.vocab_size));
  }
  Result r;
  double start = NowSeconds();
  ForwardChunk chunk{&state, std::span<const int32_t>(prompt), false};
  model.Forward({&chunk, 1}, ws, pool, path);
  r.prefill_seconds = NowSeconds() - start;
  int32_t next = static_cast<int32_t>(ArgMax(ws.logits.data(), c.vocab_size));
  start = NowSeconds();
  for (int64_t i = 0; i < o.decode; ++i) {
    ForwardChunk step{&state, std::span<const int32_t>(&next, 1), false};
    model.Forward({&step, 1}, ws, pool, path);
    next = static_cast<int32_t>(ArgMax(ws.logits.data(), c.vocab_size));
  }
  r.decode_seconds = NowSeconds() - start;
  return r;
}

int Run(const Options& o) {
  const double load_start = NowSeconds();
  // Tiled only when the precise path does not run (it reads file rows; with it, the fast paths run
  // on the file layout too).
  const bool precise = std::find(o.paths.begin(), o.paths.end(), kernels::MatMulPath::kPrecise) != o.paths.end();
  auto loaded = Lfm2Model::Load(o.dir, /*tile=*/!precise);
  if (!loaded.ok()) {
    std::fprintf(stderr, "decode_bench: %s\n", loaded.status().ToString().c_str());
    return 1;
  }
  const auto& model = *loaded.value();
  const ModelConfig& c = model.config();
  std::printf("lfm2 decode_bench  model %s  SIMD target %s  threads %d\n", o.dir.c_str(),
              kernels::ActiveTargetName(), o.threads);
  std::printf("  load %.2f s\n", NowSeconds() - load_start);
  ThreadPool pool(o.threads);
  Workspace ws(c, WorkspaceLimits{std::max<int64_t>(o.prefill, 1), 1, o.prefill + o.decode, o.threads});
  if (o.warmup) {
    Options warm = o;
    warm.decode = 0;
    const double start = NowSeconds();
    RunOnce(model, warm, o.paths[0], pool, ws);
    std::printf("  warm-up prefill %.2f s (page faults of first touch included)\n", NowSeconds() - start);
  }
  std::printf("  %-8s %10s %12s %10s %12s\n", "path", "prefill", "prefill", "decode", "decode");
  std::printf("  %-8s %10s %12s %10s %12s\n", "", "tokens", "tok/s", "tokens", "tok/s");
  for (int rep = 0; rep < o.repeat; ++rep) {
    for (kernels::MatMulPath path : o.paths) {
      const Result r = RunOnce(model, o, path, pool, ws);
      std::printf("  %-8s %10lld %12.1f %10lld %12.2f\n",
                  path == kernels::MatMulPath::kFast8 ? "fast8" : path == kernels::MatMulPath::kFast ? "fast" : "precise",
                  static_cast<long long>(o.prefill), o.prefill / r.prefill_seconds,
                  static_cast<long long>(o.decode), o.decode / r.decode_seconds);
      std::fflush(stdout);
    }
  }
  std::printf("  peak RSS %.2f GB\n", static_cast<double>(PeakRssBytes()) / 1e9);
  return 0;
}

}  // namespace
}  // namespace lfm2

int main(int argc, char** argv) {
  lfm2::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "-p") {
      o.prefill = std::stoll(value());
    } else if (arg == "-n") {
      o.decode = std::stoll(value());
    } else if (arg == "-t") {
      o.threads = std::stoi(value());
    } else if (arg == "--no-warmup") {
      o.warmup = false;
    } else if (arg == "--repeat") {
      o.repeat = std::stoi(value());
    } else if (arg == "--path") {
      const std::string path = value();
      o.paths.clear();
      if (path == "fast8" || path == "all") o.paths.push_back(lfm2::kernels::MatMulPath::kFast8);
      if (path == "fast" || path == "all") o.paths.push_back(lfm2::kernels::MatMulPath::kFast);
      if (path == "precise" || path == "all") o.paths.push_back(lfm2::kernels::MatMulPath::kPrecise);
    } else if (o.dir.empty() && arg[0] != '-') {
      o.dir = arg;
    } else {
      o.dir.clear();
      break;
    }
  }
  if (o.dir.empty() || o.paths.empty() || o.prefill < 1 || o.decode < 0 || o.threads < 1) {
    std::fprintf(stderr,
                 "usage: decode_bench MODEL_DIR [-p 512] [-n 32] [-t 2] [--path fast8|fast|precise|all] "
                 "[--repeat 1] [--no-warmup]\n");
    return 2;
  }
  return lfm2::Run(o);
}
