// model/tiling.h - moving a loaded model's quantized matrices into the kernels' tiled layout
// (kernels/tiled.h), which the AVX3_DL fast path reads natively: each 16-row tile one sequential
// stream, the rows' products in the lanes of one vector. Decode runs markedly faster (see
// docs/performance.md); memory stays the checkpoint's size, because each tensor's file pages
// are dropped from the process once copied.
#pragma once

#include "base/status.h"
#include "io/anonymous_memory.h"
#include "model/config.h"
#include "model/weights.h"
#include "weights/weight_store.h"

namespace lfm2 {

// Whether Lfm2Model::Load tiles: the SIMD target in use reads tiles natively
// (kernels::PrefersTiledLayout) and LFM2_TILED is not "0" in the environment.
bool TilingWanted();

// Whether the matrix of `spec` is tiled when tiling: every MLX affine matrix kernels::Tileable
// accepts, except the MoE routers (they always take the precise path, which reads tiles element
// by element).
bool TiledTensor(const TensorSpec& spec);

// Copies every such matrix of `weights` into one anonymous mapping in the tiled layout, on
// `threads` threads, dropping each tensor's file pages from the resident set as it goes, and
// points the matrices at their tiles (data, scales and biases become null); the quantized routers
// are copied there as they are (see Copy in tiling.cc). Returns empty memory, changing nothing,
// when no matrix is tileable. The returned memory must outlive `weights`.
StatusOr<AnonymousMemory> TileWeights(ModelWeights& weights, const WeightStore& store, int threads);

}  // namespace lfm2
