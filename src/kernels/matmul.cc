// kernels/matmul.cc - runtime dispatch of the matmul paths (per-target code in matmul-inl.h and
// the -inl.h files it includes); the scalar twins are in matmul_scalar.cc.
// GCC 12's AVX-512 intrinsics headers initialise "undefined" vectors from themselves
// (`__m512 __Y = __Y;`), which -Wall reports at every inlined use; they are false positives.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/matmul.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/matmul-inl.h"

#if HWY_ONCE
#include "kernels/matmul.h"
#include "kernels/tiled.h"

namespace lfm2::kernels {

HWY_EXPORT(MatMulManyImpl);
HWY_EXPORT(QuantizeTokens);
HWY_EXPORT(TileRowsImpl);
HWY_EXPORT(PrefersTiledImpl);

void TileRows(const WeightMatrix& w, size_t tile_begin, size_t tile_end, uint8_t* tiles) {
  HWY_DYNAMIC_DISPATCH(TileRowsImpl)(w, tile_begin, tile_end, tiles);
}

bool PrefersTiledLayout() { return HWY_DYNAMIC_DISPATCH(PrefersTiledImpl)(); }

void QuantizeActivations(const float* x, size_t x_stride, const QuantizedActivations& out) {
  const size_t units = out.per_token() ? out.tokens : out.blocks();
  HWY_DYNAMIC_DISPATCH(QuantizeTokens)(x, x_stride, out, 0, units);
}

void MatMulMany(std::span<const MatMulJob> jobs, ThreadPool& pool, MatMulPath path) {
  HWY_DYNAMIC_DISPATCH(MatMulManyImpl)(jobs, pool, path);
}

uint64_t MatMulScratchBytes(size_t max_tokens, size_t max_cols, size_t max_inputs, int threads) {
  // Group sizes are >= 32: at most cols / 32 groups. Token counts round up to 16-token blocks.
  const uint64_t tokens = (max_tokens + 15) / 16 * 16, cols = max_cols + 64, groups = cols / 32 + 1;
  const uint64_t per_input = tokens * (2 * cols + 12 * groups) + 4 * 64;
  // The largest target's scratch: 16 rows of unpacked codes as int16 (AVX2), scales and biases,
  // the AVX2 matrix-vector kernel's partial sums of 4 tokens, the portable kernel's buffers.
  const uint64_t per_thread = 32 * cols + 16 * groups * 16 + 4 * groups * 16 * 32 + 4 * cols + 2 * cols +
                              12 * groups + 4096;
  return max_inputs * per_input + static_cast<uint64_t>(threads) * per_thread;
}

void MatMul(const WeightMatrix& w, const float* x, size_t x_stride, size_t n_tokens, float* y,
            size_t y_stride, ThreadPool& pool, MatMulPath path) {
  const MatMulJob job{&w, x, x_stride, n_tokens, y, y_stride};
  MatMulMany({&job, 1}, pool, path);
}

}  // namespace lfm2::kernels
#endif  // HWY_ONCE
