// kernels/matmul-inl.h - per-target code of kernels/matmul.h (compiled once per Highway target by
// kernels/matmul.cc): choosing a kernel per job, quantizing activations once per distinct input,
// and running every job's (row-block) work units in one static pool dispatch.
#if defined(LFM2_KERNELS_MATMUL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LFM2_KERNELS_MATMUL_INL_H_
#undef LFM2_KERNELS_MATMUL_INL_H_
#else
#define LFM2_KERNELS_MATMUL_INL_H_
#endif

#include <algorithm>
#include <atomic>
#include <span>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/thread_pool.h"
#include "hwy/highway.h"
#include "kernels/act_quant-inl.h"
#include "kernels/act_quant.h"
#include "kernels/matmul.h"
#include "kernels/matmul_avx2-inl.h"
#include "kernels/matmul_fast-inl.h"
#include "kernels/matmul_vnni-inl.h"
#include "kernels/matmul_vnni_tiled-inl.h"
#include "kernels/ops-inl.h"
#include "kernels/quant.h"
#include "kernels/tiled.h"

HWY_BEFORE_NAMESPACE();
namespace lfm2::kernels {
namespace HWY_NAMESPACE {

enum class Kernel {
  kPrecise,   // dequantize a row to float, float dot products
  kPortable,  // fast path, every target: bytes scratch + integer dots (matmul_fast-inl.h)
  kGemv,      // fast path, AVX3_DL, few tokens (matmul_vnni-inl.h, matmul_vnni_tiled-inl.h)
  kGemm,      // fast path, AVX3_DL, 16-token blocks (matmul_vnni-inl.h, matmul_vnni_tiled-inl.h)
  kGemv16,    // fast path, AVX2 / AVX3, few tokens, 16-bit activations (matmul_avx2-inl.h)
  kGemm16,    // fast path, AVX2 / AVX3, 16-token blocks of 16-bit activations (matmul_avx2-inl.h)
};

// From this many tokens the token-block kernels beat running the row kernel per token.
inline constexpr size_t kGemmMinTokens = 8;

inline Kernel ChooseKernel(const MatMulJob& job, MatMulPath path) {
  if (path == MatMulPath::kPrecise || !job.w->quantized()) return Kernel::kPrecise;
#if HWY_TARGET == HWY_AVX3_DL && !defined(__clang__)
  return job.n_tokens >= kGemmMinTokens ? Kernel::kGemm : Kernel::kGemv;
#elif HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
  // The tiled layout (made for AVX3_DL) is read by the portable kernel when a test forces this
  // target on such a machine.
  if (job.w->tiles != nullptr) return Kernel::kPortable;
  return job.n_tokens >= kGemmMinTokens ? Kernel::kGemm16 : Kernel::kGemv16;
#else
  return Kernel::kPortable;
#endif
}

// Relative cost of one weight row of a job, to balance the static split across workers.
inline double RowCost(const MatMulJob& job, Kernel kernel) {
  const double cols = static_cast<double>(job.w->cols);
  const double tokens = static_cast<double>(job.n_tokens);
  const double bytes = static_cast<double>(job.w->row_bytes + 2 * job.w->scale_row_bytes);
  switch (kernel) {
    case Kernel::kPrecise: return cols * (2.0 + tokens);
    case Kernel::kPortable: return bytes * 4.0 + cols * tokens * 0.25;
    case Kernel::kGemv: return bytes * tokens;
    case Kernel::kGemm:
      return bytes * 2.0 + cols * static_cast<double>((job.n_tokens + 15) / 16) * 0.25;
    case Kernel::kGemv16: return bytes * 2.0 + cols * tokens * 0.25;
    case Kernel::kGemm16:
      return bytes * 2.0 + cols * static_cast<double>((job.n_tokens + 15) / 16) * 1.0;
  }
  return cols;
}

// Precise path for rows [begin, end) of one job.
inline void PreciseRows(const MatMulJob& job, size_t begin, size_t end) {
  const size_t cols = static_cast<size_t>(job.w->cols);
  thread_local std::vector<float> row;
  if (row.size() < cols) row.resize(cols);
  for (size_t r = begin; r < end; ++r) {
    DequantizeRow(*job.w, static_cast<int64_t>(r), row.data());
    for (size_t t = 0; t < job.n_tokens; ++t) {
      job.y[t * job.y_stride + r] = DotImpl(row.data(), job.x + t * job.x_stride, cols);
    }
  }
}

// Fast path for rows [begin, end) of one job, tile by tile.
inline void FastRows(const MatMulJob& job, Kernel kernel, const QuantizedActivations& xq,
                     size_t begin, size_t end) {
#if HWY_TARGET == HWY_AVX3_DL && !defined(__clang__)
  thread_local vnni::Scratch scratch;
  const int bits = job.w->quant.bits, group = job.w->quant.group_size;
  vnni::TileFn tile;
  if (job.w->tiles != nullptr) {
    vnni::PrefetchTile(*job.w, begin, 64);  // later tiles prefetch their successor
    tile = kernel == Kernel::kGemm ? vnni::SelectTile<vnni::PickGemmTiled>(bits, group)
                                   : vnni::SelectTile<vnni::PickGemvTiled>(bits, group);
  } else {
    vnni::PrefetchRows(*job.w, begin, kTileRows);
    tile = kernel == Kernel::kGemm ? vnni::SelectTile<vnni::PickGemm>(bits, group)
                                   : vnni::SelectTile<vnni::PickGemv>(bits, group);
  }
  for (size_t r = begin; r < end; r += kTileRows) {
    tile(*job.w, xq, r, std::min(kTileRows, end - r), job.y, job.y_stride, scratch);
  }
#else
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
  if (kernel == Kernel::kGemv16 || kernel == Kernel::kGemm16) {
    thread_local avx2::Scratch scratch;
    const avx2::TileFn tile =
        avx2::SelectTile(kernel == Kernel::kGemm16, job.w->quant.bits, job.w->quant.group_size);
    for (size_t r = begin; r < end; r += kTileRows) {
      tile(*job.w, xq, r, std::min(kTileRows, end - r), job.y, job.y_stride, scratch);
    }
    return;
  }
#endif
  (void)kernel;
  thread_local FastTileScratch scratch;
  for (size_t r = begin; r < end; r += kTileRows) {
    FastTilePortable(*job.w, xq, r, std::min(kTileRows, end - r), job.y, job.y_stride, scratch);
  }
#endif
}

// One distinct quantized input of a MatMulMany call.
struct Activation {
  const float* x;
  size_t x_stride;
  QuantizedActivations q;
};

// Per-call bookkeeping, kept on the calling thread between calls to avoid allocations.
struct CallState {
  std::vector<Kernel> kernels;
  std::vector<int> activation;  // per job: index into `activations` or -1
  std::vector<Activation> activations;
  AlignedBuffer<uint8_t> arena;
  std::vector<size_t> unit_job, unit_row;  // work units: (job, first row)
  std::vector<double> unit_end_cost;       // cumulative cost at the end of each unit
  std::vector<size_t> quant_units;         // cumulative quantization units per activation
  std::vector<size_t> chunk_begin;         // first unit of each chunk (and the end)
};

// Chunks of work per thread in one MatMulMany dispatch (taken dynamically).
inline constexpr size_t kChunksPerThread = 4;

inline size_t RoundUp64(size_t n) { return (n + 63) / 64 * 64; }

// Finds or adds the activation entry of job j and lays out its buffers (offsets into the arena
// are fixed later, once the total size is known).
inline int AddActivation(CallState& state, const MatMulJob& job, Kernel kernel, MatMulPath path) {
  using Layout = QuantizedActivations::Layout;
  const Layout layout = kernel == Kernel::kGemm     ? Layout::kTokenBlocks
                        : kernel == Kernel::kGemm16 ? Layout::kTokenBlocks16
                        : kernel == Kernel::kGemv16 ? Layout::kRows16
                                                    : Layout::kRows;
  const size_t cols = static_cast<size_t>(job.w->cols);
  const size_t group_size = static_cast<size_t>(job.w->quant.group_size);
  size_t set_groups = 1;
  const bool eight_bit = path == MatMulPath::kFast8;
  int planes = 2;
#if HWY_TARGET == HWY_AVX3_DL && !defined(__clang__)
  // The kernels that skip the zero plane of 8-bit activations: matrix-matrix, and matrix-vector on
  // the tiled layout.
  if (eight_bit && (kernel == Kernel::kGemm || job.w->tiles != nullptr)) planes = 1;
  // The tiled layout's kernel reads the activations in natural order.
  if (kernel == Kernel::kGemv && job.w->tiles == nullptr) {
    set_groups = vnni::SetGroups(job.w->quant.bits, job.w->quant.group_size);
  }
#endif
  for (size_t i = 0; i < state.activations.size(); ++i) {
    const Activation& a = state.activations[i];
    if (a.x == job.x && a.x_stride == job.x_stride && a.q.tokens == job.n_tokens &&
        a.q.cols == cols && a.q.group_size == group_size && a.q.layout == layout &&
        a.q.set_groups == set_groups && a.q.eight_bit == eight_bit && a.q.planes == planes) {
      return static_cast<int>(i);
    }
  }
  Activation a{job.x, job.x_stride, {}};
  a.q.layout = layout;
  a.q.tokens = job.n_tokens;
  a.q.cols = cols;
  a.q.group_size = group_size;
  a.q.groups = cols / group_size;
  a.q.set_groups = set_groups;
  a.q.eight_bit = eight_bit;
  a.q.planes = planes;
  const size_t set_codes = set_groups * group_size;
  switch (layout) {
    case Layout::kRows:
      a.q.plane_bytes = RoundUp64((cols + set_codes - 1) / set_codes * set_codes);
      a.q.q_stride = planes * a.q.plane_bytes;
      break;
    case Layout::kTokenBlocks:
      a.q.plane_bytes = cols * 16;
      a.q.q_stride = planes * a.q.plane_bytes;
      break;
    case Layout::kRows16:
      a.q.plane_bytes = a.q.q_stride = RoundUp64(2 * cols);
      break;
    case Layout::kTokenBlocks16:
      a.q.plane_bytes = a.q.q_stride = 32 * cols;
      break;
  }
  state.activations.push_back(a);
  return static_cast<int>(state.activations.size() - 1);
}

inline void PlaceActivations(CallState& state) {
  size_t total = 0;
  for (const Activation& a : state.activations) {
    total += RoundUp64(a.q.QBytes()) + 3 * RoundUp64(a.q.GroupEntries() * 4);
  }
  if (state.arena.size() < total) state.arena = AlignedBuffer<uint8_t>(total);
  uint8_t* p = state.arena.data();
  for (Activation& a : state.activations) {
    a.q.q = p;
    p += RoundUp64(a.q.QBytes());
    const size_t entries = RoundUp64(a.q.GroupEntries() * 4);
    a.q.scale = reinterpret_cast<float*>(p);
    a.q.sum = reinterpret_cast<float*>(p + entries);
    a.q.qsum = reinterpret_cast<int32_t*>(p + 2 * entries);
    p += 3 * entries;
  }
}

inline void QuantizeActivations(CallState& state, ThreadPool& pool) {
  state.quant_units.assign(1, 0);
  size_t elements = 0;
  for (const Activation& a : state.activations) {
    state.quant_units.push_back(state.quant_units.back() + (a.q.per_token() ? a.q.tokens : a.q.blocks()));
    elements += a.q.tokens * a.q.cols;
  }
  auto run = [&](size_t begin, size_t end, int) {
    for (size_t i = 0; i < state.activations.size(); ++i) {
      const size_t lo = std::max(begin, state.quant_units[i]);
      const size_t hi = std::min(end, state.quant_units[i + 1]);
      if (lo >= hi) continue;
      const Activation& a = state.activations[i];
      QuantizeTokens(a.x, a.x_stride, a.q, lo - state.quant_units[i], hi - state.quant_units[i]);
    }
  };
  // A decode step's few thousand values are quicker to quantize than to hand out.
  if (elements <= 16384) {
    run(0, state.quant_units.back(), 0);
  } else {
    pool.ParallelFor(state.quant_units.back(), 1, run);
  }
}

void MatMulManyImpl(std::span<const MatMulJob> jobs, ThreadPool& pool, MatMulPath path) {
  // The calling thread's bookkeeping; workers reach it through this reference (a thread_local
  // named inside the lambdas would be each worker's own).
  thread_local CallState call_state;
  CallState& state = call_state;
  state.kernels.clear();
  state.activation.clear();
  state.activations.clear();
  state.unit_job.clear();
  state.unit_row.clear();
  state.unit_end_cost.clear();
  double total = 0.0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const MatMulJob& job = jobs[j];
    const Kernel kernel = ChooseKernel(job, path);
    state.kernels.push_back(kernel);
    state.activation.push_back(
        kernel == Kernel::kPrecise || job.n_tokens == 0 ? -1 : AddActivation(state, job, kernel, path));
    if (job.n_tokens == 0) continue;
    const double row_cost = RowCost(job, kernel);
    for (size_t r = 0; r < static_cast<size_t>(job.w->rows); r += kTileRows) {
      state.unit_job.push_back(j);
      state.unit_row.push_back(r);
      total += row_cost * static_cast<double>(std::min<size_t>(kTileRows, job.w->rows - r));
      state.unit_end_cost.push_back(total);
    }
  }
  if (state.unit_job.empty()) return;
  if (!state.activations.empty()) {
    PlaceActivations(state);
    QuantizeActivations(state, pool);
  }

  // The units are cut into chunks of about equal cost - chunk c holds the units whose cost
  // midpoint lies in [total * c / chunks, total * (c + 1) / chunks) - and the workers take chunks
  // in order as they come free, so a worker slowed down (a busy core, a cache-cold start) does not
  // hold up the others. Which worker runs a unit never changes its results (kernels/matmul.h).
  const size_t units = state.unit_job.size();
  const int threads = pool.num_threads();
  const size_t chunks = std::min<size_t>(units, static_cast<size_t>(threads) * kChunksPerThread);
  // One sweep: the bounds grow with c, so each chunk's first unit is at or after the previous.
  state.chunk_begin.resize(chunks + 1);
  size_t u = 0;
  for (size_t c = 0; c < chunks; ++c) {
    const double bound = total * static_cast<double>(c) / static_cast<double>(chunks);
    while (u < units && ((u == 0 ? 0.0 : state.unit_end_cost[u - 1]) + state.unit_end_cost[u]) / 2 < bound) ++u;
    state.chunk_begin[c] = u;
  }
  state.chunk_begin[chunks] = units;
  std::atomic<size_t> next_chunk{0};
  auto work = [&](int) {
    for (size_t c = next_chunk.fetch_add(1, std::memory_order_relaxed); c < chunks;
         c = next_chunk.fetch_add(1, std::memory_order_relaxed)) {
      const size_t end = state.chunk_begin[c + 1];
      for (size_t u = state.chunk_begin[c]; u < end;) {
        // Consecutive units of one job form one row range.
        const size_t j = state.unit_job[u];
        size_t v = u + 1;
        while (v < end && state.unit_job[v] == j) ++v;
        const MatMulJob& job = jobs[j];
        const size_t row_begin = state.unit_row[u];
        const size_t row_end = std::min<size_t>(state.unit_row[v - 1] + kTileRows, job.w->rows);
        if (state.kernels[j] == Kernel::kPrecise) {
          PreciseRows(job, row_begin, row_end);
        } else {
          FastRows(job, state.kernels[j], state.activations[state.activation[j]].q, row_begin,
                   row_end);
        }
        u = v;
      }
    }
  };
  if (threads == 1 || units == 1) {
    // One worker: run everything here.
    for (size_t j = 0; j < jobs.size(); ++j) {
      const MatMulJob& job = jobs[j];
      if (job.n_tokens == 0) continue;
      if (state.kernels[j] == Kernel::kPrecise) {
        PreciseRows(job, 0, static_cast<size_t>(job.w->rows));
      } else {
        FastRows(job, state.kernels[j], state.activations[state.activation[j]].q, 0,
                 static_cast<size_t>(job.w->rows));
      }
    }
    return;
  }
  pool.RunOnAll(work);
}

// kernels/tiled.h TileRows for this target.
inline void TileRowsImpl(const WeightMatrix& w, size_t tile_begin, size_t tile_end, uint8_t* tiles) {
#if HWY_TARGET == HWY_AVX3_DL && !defined(__clang__)
  vnni::TileRowsVector(w, tile_begin, tile_end, tiles);
#else
  TileRowsScalar(w, tile_begin, tile_end, tiles);
#endif
}

// Whether this target's fast path runs on the tiled layout natively.
inline bool PrefersTiledImpl() {
#if HWY_TARGET == HWY_AVX3_DL && !defined(__clang__)
  return true;
#else
  return false;
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace lfm2::kernels
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
