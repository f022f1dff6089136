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

// A small matrix kept in the file layout but copied next to the tiles (the MoE routers): once
// the big tensors' pages are released, a router read through the file mapping would map the whole
// 2 MiB page-cache folio around it - up to 2 MiB of resident memory per layer for 64 KiB of data.
struct Copy {
  WeightMatrix* matrix = nullptr;
  size_t offset = 0;  // data, then scales, then biases (each 64-byte aligned)
};

size_t Align64(size_t n) { return (n + 63) / 64 * 64; }

// Calls matrix(m, is_router) for every weight matrix of the model (the head only when untied)
// and stack(s) for every expert stack.
template <typename MatrixFn, typename StackFn>
void ForEachMatrix(ModelWeights& weights, bool tied, const MatrixFn& matrix, const StackFn& stack) {
  matrix(weights.embed_tokens, false);
  for (LayerWeights& layer : weights.layers) {
    if (auto* conv = std::get_if<ConvWeights>(&layer.op)) {
      matrix(conv->in_proj, false);
      matrix(conv->out_proj, false);
    } else if (auto* attn = std::get_if<AttentionWeights>(&layer.op)) {
      matrix(attn->q_proj, false);
      matrix(attn->k_proj, false);
      matrix(attn->v_proj, false);
      matrix(attn->out_proj, false);
    }
    if (auto* dense = std::get_if<DenseFfnWeights>(&layer.ffn)) {
      matrix(dense->gate, false);
      matrix(dense->up, false);
      matrix(dense->down, false);
    } else if (auto* moe = std::get_if<MoeWeights>(&layer.ffn)) {
      matrix(moe->router, true);
      stack(moe->gate);
      stack(moe->up);
      stack(moe->down);
    }
  }
  if (!tied) matrix(weights.lm_head, false);
}

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
  std::vector<Copy> copies;
  const bool tied = weights.lm_head.data == weights.embed_tokens.data;
  ForEachMatrix(weights, tied, [&](WeightMatrix& m, bool router) {
    if (router) {
      if (m.quantized()) copies.push_back({&m, 0});
    } else if (kernels::Tileable(m)) {
      targets.push_back({&m, nullptr, 0});
    }
  }, [&](ExpertStack& stack) {
    if (kernels::Tileable(stack.first)) targets.push_back({nullptr, &stack, 0});
  });

  size_t total = 0;
  std::vector<Piece> pieces;
  for (Target& target : targets) {
    target.offset = total;
    const WeightMatrix& first = target.matrix != nullptr ? *target.matrix : target.stack->first;
    const int64_t experts = target.matrix != nullptr ? 1 : target.stack->num_experts;
    total += static_cast<size_t>(kernels::TiledBytes(first)) * static_cast<size_t>(experts);
  }
  for (Copy& copy : copies) {
    const WeightMatrix& m = *copy.matrix;
    copy.offset = total;
    total += Align64(static_cast<size_t>(m.rows) * m.row_bytes) +
             2 * Align64(static_cast<size_t>(m.rows) * m.scale_row_bytes);
  }
  if (targets.empty()) return AnonymousMemory();  // nothing quantized: leave everything mapped
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
  for (const Copy& copy : copies) {
    WeightMatrix& m = *copy.matrix;
    const size_t data_bytes = static_cast<size_t>(m.rows) * m.row_bytes;
    const size_t scale_bytes = static_cast<size_t>(m.rows) * m.scale_row_bytes;
    uint8_t* at = memory.data() + copy.offset;
    std::memcpy(at, m.data, data_bytes);
    std::memcpy(at + Align64(data_bytes), m.scales, scale_bytes);
    std::memcpy(at + Align64(data_bytes) + Align64(scale_bytes), m.biases, scale_bytes);
    store.Release(m.data, data_bytes);
    store.Release(m.scales, scale_bytes);
    store.Release(m.biases, scale_bytes);
    m.data = at;
    m.scales = at + Align64(data_bytes);
    m.biases = at + Align64(data_bytes) + Align64(scale_bytes);
  }
  // Every other tensor the model no longer reads from the files - the norms, conv kernels and
  // biases BindWeights converted to f32 copies - is dropped from the resident set too: each was
  // read once, mapping the whole 2 MiB page-cache folio around it. Float matrices still in the
  // files (unquantized modules) stay.
  std::vector<std::pair<const uint8_t*, const uint8_t*>> in_use;
  auto keep = [&](const WeightMatrix& m, int64_t experts) {
    if (m.tiles != nullptr || m.data == nullptr) return;
    if (m.data >= memory.data() && m.data < memory.data() + memory.size()) return;  // a copy
    in_use.push_back({m.data, m.data + static_cast<size_t>(m.rows * experts) * m.row_bytes});
    if (m.quantized()) {
      in_use.push_back({m.scales, m.scales + static_cast<size_t>(m.rows * experts) * m.scale_row_bytes});
      in_use.push_back({m.biases, m.biases + static_cast<size_t>(m.rows * experts) * m.scale_row_bytes});
    }
  };
  ForEachMatrix(weights, tied, [&](WeightMatrix& m, bool) { keep(m, 1); },
                [&](ExpertStack& stack) { keep(stack.first, stack.num_experts); });
  for (const auto& [name, tensor] : store.tensors().tensors()) {
    const uint8_t* begin = tensor.data;
    const uint8_t* end = tensor.data + tensor.bytes;
    const bool used = std::any_of(in_use.begin(), in_use.end(),
                                  [&](const auto& range) { return begin < range.second && range.first < end; });
    if (!used && tensor.bytes > 0) store.Release(begin, tensor.bytes);
  }
  return memory;
}

}  // namespace lfm2
