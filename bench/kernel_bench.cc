// bench/kernel_bench.cc - microbenchmarks of the matmul kernels on the LFM2-8B-A1B shapes (never
// asserted anywhere; ratios to print next to the machine's limits).
//
//   kernel_bench [--bits 2,3,4,8] [--group 64] [--act-bits 8|16] [--quick]
//
// Matrix-vector (one token, the decode case): GB/s of weight bytes (packed codes + scales +
// biases) read, with 1 and 2 threads, cycling through enough copies of each matrix that they come
// from DRAM as in a decode step; and with 1 thread calling one copy again and again (in cache when
// it fits: the kernel's own speed, no waiting for memory). Next to it, a read-bandwidth and a
// memcpy baseline measured in the same run. Matrix-matrix (64 and 512 tokens, the prefill case):
// GOP/s (2 * rows * cols * tokens per second) next to the int8 dot-product peak, for both fast
// paths (8- and 16-bit activations). --act-bits picks the fast path of the matrix-vector tables.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/memory_info.h"
#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/tiled.h"
#include "weights/dtype.h"

namespace lfm2 {
namespace {

struct Options {
  std::vector<int> bits = {2, 3, 4, 8};
  int group = 64;
  bool quick = false;
  kernels::MatMulPath fast = kernels::MatMulPath::kFast;
  // Limits measured on the project's reference machine (2 Zen 5-class cores), for the % columns.
  double peak_read_2t = 45.0, peak_read_1t = 38.0;  // GB/s
  double peak_int8_per_core = 1.06;                 // TOP/s (vpdpbusd)
  double peak_f32_per_core = 0.265;                 // TFLOP/s (FMA)
  double min_seconds = 0.4;
};

uint64_t Next(uint64_t& state) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

// A quantized matrix with random codes and MLX-like bf16 scales / biases (negative scales too).
// `view` is what the model runs: the tiled layout (kernels/tiled.h) where the CPU's kernels read
// it natively, else the file layout; `file` is always the file layout.
struct Matrix {
  AlignedBuffer<uint8_t> data, scales, biases, tiles;
  WeightMatrix view, file;
};

Matrix MakeMatrix(int64_t rows, int64_t cols, int bits, int group, uint64_t seed) {
  Matrix m;
  WeightMatrix& w = m.view;
  w.name = "bench";
  w.rows = rows;
  w.cols = cols;
  w.dtype = DType::kU32;
  w.quant = QuantSpec{bits, group};
  w.row_bytes = static_cast<size_t>(cols * bits / 8);
  w.scale_dtype = DType::kBF16;
  w.scale_row_bytes = static_cast<size_t>(cols / group * 2);
  m.data = AlignedBuffer<uint8_t>(rows * w.row_bytes);
  m.scales = AlignedBuffer<uint8_t>(rows * w.scale_row_bytes);
  m.biases = AlignedBuffer<uint8_t>(rows * w.scale_row_bytes);
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i + 8 <= m.data.size(); i += 8) {
    const uint64_t v = Next(state);
    std::memcpy(m.data.data() + i, &v, 8);
  }
  const float range = static_cast<float>((1 << bits) - 1);
  for (size_t i = 0; i < m.scales.size() / 2; ++i) {
    const float u = static_cast<float>(Next(state) % 2001) / 1000.0f - 1.0f;
    const uint16_t s = F32ToBF16(u * 0.02f / range), b = F32ToBF16(-u * 0.01f);
    std::memcpy(m.scales.data() + 2 * i, &s, 2);
    std::memcpy(m.biases.data() + 2 * i, &b, 2);
  }
  w.data = m.data.data();
  w.scales = m.scales.data();
  w.biases = m.biases.data();
  m.file = w;
  if (kernels::PrefersTiledLayout() && kernels::Tileable(w)) {
    m.tiles = AlignedBuffer<uint8_t>(kernels::TiledBytes(w));
    kernels::TileRows(w, 0, kernels::TiledShapeOf(w).tiles, m.tiles.data());
    w.tiles = m.tiles.data();
    w.data = w.scales = w.biases = nullptr;
  }
  return m;
}

// Copies of one shape (different random contents) totalling ~192 MiB, several times the
// last-level cache, so that cycling through them reads the weights from DRAM.
std::vector<Matrix> MatricesBeyondCache(int64_t rows, int64_t cols, int bits, int group) {
  std::vector<Matrix> mats;
  mats.push_back(MakeMatrix(rows, cols, bits, group, 1));
  const size_t copies = std::max<size_t>(1, (size_t{192} << 20) / mats[0].view.StorageBytes());
  for (size_t c = 1; c < copies; ++c) mats.push_back(MakeMatrix(rows, cols, bits, group, c + 1));
  return mats;
}

// Deterministic activations in [-1, 1].
void FillActivations(AlignedBuffer<float>& x) {
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
}

// Runs fn() until min_seconds have passed (at least twice); seconds per call.
template <typename Fn>
double TimePerCall(double min_seconds, const Fn& fn) {
  fn();  // warm up (scratch allocation, page faults)
  size_t calls = 0;
  const double start = NowSeconds();
  double elapsed = 0;
  do {
    fn();
    ++calls;
    elapsed = NowSeconds() - start;
  } while (elapsed < min_seconds || calls < 2);
  return elapsed / static_cast<double>(calls);
}

// Read bandwidth of `threads` threads summing disjoint halves of a large buffer (GB/s).
double ReadBandwidth(ThreadPool& pool, const AlignedBuffer<uint64_t>& buffer, double min_seconds) {
  std::vector<uint64_t> sink(static_cast<size_t>(pool.num_threads()) * 8);
  const double seconds = TimePerCall(min_seconds, [&] {
    pool.ParallelFor(buffer.size(), 4096, [&](size_t begin, size_t end, int worker) {
      uint64_t a = 0, b = 0, c = 0, d = 0;
      const uint64_t* p = buffer.data();
      for (size_t i = begin; i + 4 <= end; i += 4) {
        a += p[i];
        b ^= p[i + 1];
        c += p[i + 2];
        d ^= p[i + 3];
      }
      sink[worker * 8] += a + b + c + d;
    });
  });
  return static_cast<double>(buffer.bytes()) / seconds * 1e-9;
}

double CopyBandwidth(ThreadPool& pool, const AlignedBuffer<uint64_t>& from, AlignedBuffer<uint64_t>& to,
                     double min_seconds) {
  const double seconds = TimePerCall(min_seconds, [&] {
    pool.ParallelFor(from.size(), 4096, [&](size_t begin, size_t end, int) {
      std::memcpy(to.data() + begin, from.data() + begin, (end - begin) * 8);
    });
  });
  return static_cast<double>(from.bytes()) / seconds * 1e-9;  // bytes read (as many written)
}

struct Shape {
  const char* name;
  int64_t rows, cols;
};

constexpr Shape kShapes[] = {
    {"attn q/o, conv out [2048x2048]", 2048, 2048},
    {"conv in_proj [6144x2048]", 6144, 2048},
    {"attn k/v [512x2048]", 512, 2048},
    {"dense gate/up [7168x2048]", 7168, 2048},
    {"dense down [2048x7168]", 2048, 7168},
    {"expert gate/up [1792x2048]", 1792, 2048},
    {"expert down [2048x1792]", 2048, 1792},
    {"router [32x2048] (8-bit)", 32, 2048},
    {"lm head [65536x2048]", 65536, 2048},
};

void Run(const Options& o) {
  std::printf("lfm2 kernel_bench  SIMD target: %s, weights in the %s layout ('file': the file layout)\n",
              kernels::ActiveTargetName(), kernels::PrefersTiledLayout() ? "tiled" : "file");
  ThreadPool pool1(1), pool2(2);
  ThreadPool* pools[2] = {&pool1, &pool2};

  // Baselines: 512 MiB, far beyond any cache.
  {
    AlignedBuffer<uint64_t> a(size_t{64} << 20), b(size_t{64} << 20);
    for (size_t i = 0; i < a.size(); ++i) a[i] = i;
    std::printf("\nbaseline (512 MiB buffers)       1 thread    2 threads   [machine limit 1t / 2t]\n");
    std::printf("  read bandwidth GB/s            %8.1f    %8.1f   [%.0f / %.0f]\n",
                ReadBandwidth(pool1, a, o.min_seconds), ReadBandwidth(pool2, a, o.min_seconds),
                o.peak_read_1t, o.peak_read_2t);
    std::printf("  memcpy GB/s (read side)        %8.1f    %8.1f\n",
                CopyBandwidth(pool1, a, b, o.min_seconds), CopyBandwidth(pool2, a, b, o.min_seconds));
  }

  std::printf("\nmatrix-vector, 1 token, weights from DRAM: GB/s of weight bytes (%% of read limit);\n"
              "'cached 1t' calls one copy over and over (in cache when it fits): the kernel's own speed;\n"
              "'file 1t' is 'fast 1t' on the file layout\n");
  std::printf("  %-32s %4s %9s %16s %16s %11s %10s %8s\n", "shape", "bits", "MB", "fast 1t", "fast 2t",
              "precise 2t", "cached 1t", "file 1t");
  for (const Shape& shape : kShapes) {
    for (int bits : o.bits) {
      const bool router = shape.rows == 32;
      if (router && bits != 8) continue;
      const std::vector<Matrix> mats = MatricesBeyondCache(shape.rows, shape.cols, bits, o.group);
      const uint64_t bytes = mats[0].view.StorageBytes();
      AlignedBuffer<float> x(static_cast<size_t>(shape.cols)), y(static_cast<size_t>(shape.rows));
      FillActivations(x);
      // p: fast 1t, fast 2t, precise 2t (file layout), cycling through the copies; fast 1t on copy
      // 0 only; fast 1t on the file layout, cycling.
      double gbps[5];
      for (int p = 0; p < 5; ++p) {
        ThreadPool& pool = *pools[p == 1 || p == 2 ? 1 : 0];
        const auto path = p == 2 ? kernels::MatMulPath::kPrecise : o.fast;
        const size_t copies = p == 3 ? 1 : mats.size();
        size_t next = 0;
        const double seconds = TimePerCall(p == 2 ? o.min_seconds / 2 : o.min_seconds, [&] {
          const Matrix& m = mats[next];
          kernels::MatMul(p == 2 || p == 4 ? m.file : m.view, x.data(), x.size(), 1, y.data(), y.size(), pool, path);
          next = (next + 1) % copies;
        });
        gbps[p] = static_cast<double>(bytes) / seconds * 1e-9;
      }
      std::printf("  %-32s %4d %9.2f %7.1f (%3.0f%%) %7.1f (%3.0f%%) %11.1f %10.1f %8.1f\n", shape.name, bits,
                  bytes / 1e6, gbps[0], 100 * gbps[0] / o.peak_read_1t, gbps[1],
                  100 * gbps[1] / o.peak_read_2t, gbps[2], gbps[3], gbps[4]);
      if (o.quick) break;
    }
  }

  // Batched decode (the server's --parallel slots): one call for several tokens against one
  // call per token, same thread, weights from DRAM.
  std::printf("\nmatrix-vector, batched decode, 1 thread: time of one call for N tokens / time for 1 token\n");
  std::printf("  %-32s %4s %8s %8s %8s %8s\n", "shape", "bits", "N=2", "N=3", "N=4", "N=7");
  for (const Shape& shape : kShapes) {
    for (int bits : o.bits) {
      if (shape.rows == 32) continue;
      const std::vector<Matrix> mats = MatricesBeyondCache(shape.rows, shape.cols, bits, o.group);
      const size_t kMax = 7;
      AlignedBuffer<float> x(kMax * static_cast<size_t>(shape.cols)), y(kMax * static_cast<size_t>(shape.rows));
      FillActivations(x);
      auto time = [&](size_t tokens) {
        size_t next = 0;
        return TimePerCall(o.min_seconds, [&] {
          kernels::MatMul(mats[next].view, x.data(), shape.cols, tokens, y.data(), shape.rows, *pools[0],
                          o.fast);
          next = (next + 1) % mats.size();
        });
      };
      const double one = time(1);
      std::printf("  %-32s %4d", shape.name, bits);
      for (size_t n : {2, 3, 4, 7}) std::printf(" %8.2f", time(n) / one);
      std::printf("\n");
      if (o.quick) break;
    }
  }

  std::printf("\nmatrix-matrix (prefill): GOP/s = 2*rows*cols*tokens/s, 2 threads "
              "(int8 peak %.2f TOP/s, f32 peak %.2f TFLOP/s for 2 cores)\n",
              2 * o.peak_int8_per_core, 2 * o.peak_f32_per_core);
  std::printf("  %-32s %4s %12s %12s %12s %12s %14s\n", "shape", "bits", "64 tok fast8", "512 tok fast8",
              "64 tok fast16", "512 tok fast16", "64 tok precise");
  for (const Shape& shape : kShapes) {
    if (shape.rows == 65536) continue;  // the head runs on one token per sequence
    for (int bits : o.bits) {
      if (shape.rows == 32 && bits != 8) continue;
      Matrix m = MakeMatrix(shape.rows, shape.cols, bits, o.group, 7);
      double gops[5];
      for (int p = 0; p < 5; ++p) {
        const size_t tokens = p == 1 || p == 3 ? 512 : 64;
        const auto path = p == 4 ? kernels::MatMulPath::kPrecise
                          : p < 2 ? kernels::MatMulPath::kFast8 : kernels::MatMulPath::kFast;
        AlignedBuffer<float> x(tokens * shape.cols), y(tokens * shape.rows);
        for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
        const double seconds = TimePerCall(o.min_seconds / 2, [&] {
          kernels::MatMul(m.view, x.data(), shape.cols, tokens, y.data(), shape.rows, pool2, path);
        });
        gops[p] = 2.0 * shape.rows * shape.cols * tokens / seconds * 1e-9;
      }
      std::printf("  %-32s %4d %12.0f %12.0f %12.0f %12.0f %14.0f\n", shape.name, bits, gops[0], gops[1],
                  gops[2], gops[3], gops[4]);
      if (o.quick) break;
    }
  }
}

std::vector<int> ParseList(const char* text) {
  std::vector<int> values;
  std::string item;
  for (const char* p = text;; ++p) {
    if (*p == ',' || *p == '\0') {
      if (!item.empty()) values.push_back(std::stoi(item));
      item.clear();
      if (*p == '\0') break;
    } else {
      item += *p;
    }
  }
  return values;
}

}  // namespace
}  // namespace lfm2

int main(int argc, char** argv) {
  lfm2::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--bits") {
      o.bits = lfm2::ParseList(value());
    } else if (arg == "--group") {
      o.group = std::stoi(value());
    } else if (arg == "--act-bits") {
      const std::string bits = value();
      if (bits != "8" && bits != "16") {
        std::fprintf(stderr, "kernel_bench: --act-bits must be 8 or 16, got \"%s\"\n", bits.c_str());
        return 2;
      }
      o.fast = bits == "8" ? lfm2::kernels::MatMulPath::kFast8 : lfm2::kernels::MatMulPath::kFast;
    } else if (arg == "--quick") {
      o.quick = true;
      o.min_seconds = 0.15;
    } else {
      std::fprintf(stderr, "usage: kernel_bench [--bits 2,3,4,8] [--group 64] [--act-bits 8|16] [--quick]\n");
      return 2;
    }
  }
  lfm2::Run(o);
  return 0;
}
