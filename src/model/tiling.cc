// model/tiling.cc - TileWeights: one anonymous mapping for all tiled matrices, filled in parallel
// in pieces of 128 tiles, with the file pages released behind each thread's progress.
#include "model/tiling.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/tiled.h"

namespace lfm2 {
namespace {

// Tiles per unit of parallel work (2048 rows: 1.5 MB of 3-bit codes at 2048 columns).
constexpr size_t kPieceTiles = 128;

struct Target {
  WeightMatrix* matrix = nullptr;  // a plain matrix, or
  ExpertStack* stack = nullptr;    // a stack of experts
  size_t offset = 0;               // of its tiles in the mapping
};

struct Piece {
  WeightMatrix source;  // one matrix (one expert of a stack), file layout
  uint8_t* tiles;       // its tiled copy
  size_t begin, end;    // tiles
};

// Releases a stream of file bytes behind the writer: whole pages up to the end of each piece,
// keeping the partial last page for the next contiguous piece.
class Releaser {
 public:
  explicit Releaser(const WeightStore& store) : store_(store), page_(static_cast<size_t>(::sysconf(_SC_PAGESIZE))) {}
  void Done(const uint8_t* begin, const uint8_t* end) {
    if (begin != last_end_) pending_ = begin;
    last_end_ = end;
    const uint8_t* whole = reinterpret_cast<const uint8_t*>(reinterpret_cast<uintptr_t>(end) / page_ * page_);
    if (whole > pending_) {
      store_.Release(pending_, static_cast<size_t>(whole - pending_));
      pending_ = whole;
    }
  }

 private:
  const WeightStore& store_;
  size_t page_;
  const uint8_t* pending_ = nullptr;
  const uint8_t* last_end_ = nullptr;
};

}  // namespace

bool TilingWanted() {
  const char* env = std::getenv("LFM2_TILED");
  if (env != nullptr && std::strcmp(env, "0") == 0) return false;
  return kernels::PrefersTiledLayout();
}

bool TiledTensor(const TensorSpec& spec) {
  return spec.kind != TensorSpec::Kind::kVector && spec.group != TensorGroup::kRouter;
}

StatusOr<AnonymousMemory> TileWeights(ModelWeights& weights, const WeightStore& store, int threads) {
  // The matrices, in model order.
  std::vector<Target> targets;
  const bool tied = weights.lm_head.data == weights.embed_tokens.data;
  auto add = [&](WeightMatrix& m) {
    if (kernels::Tileable(m)) targets.push_back({&m, nullptr, 0});
  };
  add(weights.embed_tokens);
  for (LayerWeights& layer : weights.layers) {
    if (auto* conv = std::get_if<ConvWeights>(&layer.op)) {
      add(conv->in_proj);
      add(conv->out_proj);
    } else if (auto* attn = std::get_if<AttentionWeights>(&layer.op)) {
      add(attn->q_proj);
      add(attn->k_proj);
      add(attn->v_proj);
      add(attn->out_proj);
    }
    if (auto* dense = std::get_if<DenseFfnWeights>(&layer.ffn)) {
      add(dense->gate);
      add(dense->up);
      add(dense->down);
    } else if (auto* moe = std::get_if<MoeWeights>(&layer.ffn)) {
      for (ExpertStack* stack : {&moe->gate, &moe->up, &moe->down}) {
        if (kernels::Tileable(stack->first)) targets.push_back({nullptr, stack, 0});
      }
    }
  }
  if (!tied) add(weights.lm_head);

  size_t total = 0;
  std::vector<Piece> pieces;
  for (Target& target : targets) {
    target.offset = total;
    const WeightMatrix& first = target.matrix != nullptr ? *target.matrix : target.stack->first;
    const int64_t experts = target.matrix != nullptr ? 1 : target.stack->num_experts;
    total += static_cast<size_t>(kernels::TiledBytes(first)) * static_cast<size_t>(experts);
  }
  LFM2_ASSIGN_OR_RETURN(AnonymousMemory memory, AnonymousMemory::Create(total, "the tiled weights"));
  for (const Target& target : targets) {
    const int64_t experts = target.matrix != nullptr ? 1 : target.stack->num_experts;
    const WeightMatrix& first = target.matrix != nullptr ? *target.matrix : target.stack->first;
    const size_t bytes = static_cast<size_t>(kernels::TiledBytes(first));
    const size_t tiles = kernels::TiledShapeOf(first).tiles;
    for (int64_t e = 0; e < experts; ++e) {
      const WeightMatrix source = target.matrix != nullptr ? first : target.stack->Expert(e);
      uint8_t* dst = memory.data() + target.offset + static_cast<size_t>(e) * bytes;
      for (size_t t = 0; t < tiles; t += kPieceTiles) {
        pieces.push_back({source, dst, t, std::min(tiles, t + kPieceTiles)});
      }
    }
  }

  ThreadPool pool(std::max(1, threads));
  pool.ParallelFor(pieces.size(), 1, [&](size_t begin, size_t end, int) {
    Releaser data(store), scales(store), biases(store);
    for (size_t i = begin; i < end; ++i) {
      const Piece& piece = pieces[i];
      const WeightMatrix& w = piece.source;
      kernels::TileRows(w, piece.begin, piece.end, piece.tiles);
      const size_t r0 = piece.begin * kernels::kTiledRows;
      const size_t r1 = std::min(piece.end * kernels::kTiledRows, static_cast<size_t>(w.rows));
      data.Done(w.data + r0 * w.row_bytes, w.data + r1 * w.row_bytes);
      scales.Done(w.scales + r0 * w.scale_row_bytes, w.scales + r1 * w.scale_row_bytes);
      biases.Done(w.biases + r0 * w.scale_row_bytes, w.biases + r1 * w.scale_row_bytes);
    }
  });

  // Point the matrices at their tiles; release what the threads left (pages at piece edges).
  for (const Target& target : targets) {
    WeightMatrix& m = target.matrix != nullptr ? *target.matrix : target.stack->first;
    const size_t rows = static_cast<size_t>(m.rows) *
                        static_cast<size_t>(target.matrix != nullptr ? 1 : target.stack->num_experts);
    store.Release(m.data, rows * m.row_bytes);
    store.Release(m.scales, rows * m.scale_row_bytes);
    store.Release(m.biases, rows * m.scale_row_bytes);
    m.tiles = memory.data() + target.offset;
    m.data = m.scales = m.biases = nullptr;
    if (target.stack != nullptr) target.stack->tiles_stride = static_cast<size_t>(kernels::TiledBytes(m));
  }
  if (tied) weights.lm_head = weights.embed_tokens;
  return memory;
}

}  // namespace lfm2
