// model/lfm2.cc - the LFM2 forward pass (spec section 1): per layer, operator_norm -> gated short
// conv or GQA attention -> residual -> ffn_norm -> SwiGLU or sigmoid-routed MoE -> residual; then
// embedding_norm and the (tied) head. Vector math is in kernels/; this file only sequences it.
#include "model/lfm2.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "kernels/quant.h"
#include "model/tiling.h"

namespace lfm2 {
namespace {

using kernels::MatMulPath;

// out[t, :] = W x[t, :] for t < tokens (rows of `in` are `in_stride` apart).
void Linear(const WeightMatrix& w, const float* in, size_t in_stride, int64_t tokens, float* out,
            size_t out_stride, ThreadPool& pool, MatMulPath path) {
  kernels::MatMul(w, in, in_stride, static_cast<size_t>(tokens), out, out_stride, pool, path);
}

void RmsNormRows(const float* in, const float* weight, int64_t rows, int64_t width, float eps,
                 float* out, ThreadPool& pool) {
  pool.ParallelFor(static_cast<size_t>(rows), 1, [&](size_t begin, size_t end, int) {
    for (size_t t = begin; t < end; ++t) {
      kernels::RmsNorm(in + t * width, weight, static_cast<size_t>(width), eps, out + t * width);
    }
  });
}

}  // namespace

StatusOr<std::unique_ptr<Lfm2Model>> Lfm2Model::Load(const std::string& dir, bool tile_if_wanted) {
  auto model = std::unique_ptr<Lfm2Model>(new Lfm2Model());
  LFM2_ASSIGN_OR_RETURN(model->config_, ModelConfig::FromDirectory(dir));
  const bool tile = tile_if_wanted && TilingWanted();
  LFM2_ASSIGN_OR_RETURN(model->store_, WeightStore::Open(dir, model->config_.quantization,
                                                         /*prefer_huge_pages=*/!tile));
  LFM2_ASSIGN_OR_RETURN(model->weights_, BindWeights(model->config_, *model->store_));
  if (tile) {
    LFM2_ASSIGN_OR_RETURN(model->tiles_,
                          TileWeights(model->weights_, *model->store_, ThreadPool::HardwareThreads()));
  }
  return model;
}

Status Lfm2Model::CheckChunks(std::span<const ForwardChunk> chunks, const Workspace& ws) const {
  int64_t tokens = 0, rows = 0;
  for (const ForwardChunk& chunk : chunks) {
    LFM2_CHECK(chunk.state != nullptr);
    for (int32_t id : chunk.tokens) {
      if (id < 0 || id >= config_.vocab_size) {
        return InvalidArgumentError("token id ", id, " is outside the vocabulary [0, ",
                                    config_.vocab_size, ")");
      }
    }
    const int64_t n = static_cast<int64_t>(chunk.tokens.size());
    if (chunk.state->length() + n > chunk.state->capacity()) {
      return OutOfRangeError("context full: ", chunk.state->length(), " + ", n,
                             " tokens exceed the context size of ", chunk.state->capacity());
    }
    if (chunk.state->capacity() > ws.limits().max_context) {
      return InternalError("sequence capacity exceeds the workspace's max_context");
    }
    tokens += n;
    rows += chunk.all_logits ? n : (n > 0 ? 1 : 0);
  }
  if (tokens > ws.limits().max_tokens || rows > ws.limits().max_logit_rows) {
    return InternalError("Forward call of ", tokens, " tokens / ", rows,
                         " logit rows exceeds the workspace (", ws.limits().max_tokens, " / ",
                         ws.limits().max_logit_rows, ")");
  }
  return Status::Ok();
}

int64_t Lfm2Model::Forward(std::span<const ForwardChunk> chunks, Workspace& ws, ThreadPool& pool,
                           MatMulPath path) const {
  LFM2_DCHECK(CheckChunks(chunks, ws).ok());
  const ModelConfig& c = config_;
  const int64_t h = c.hidden_size;
  const float eps = static_cast<float>(c.norm_eps);

  // Token rows in chunk order, their absolute positions, and the rotary table for them.
  std::vector<int32_t> ids;
  int64_t tokens = 0;
  for (const ForwardChunk& chunk : chunks) {
    for (size_t i = 0; i < chunk.tokens.size(); ++i) {
      ws.positions[tokens++] = static_cast<int32_t>(chunk.state->length() + i);
      ids.push_back(chunk.tokens[i]);
    }
  }
  const int64_t half = c.head_dim / 2;
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double inv_freq = std::pow(c.rope_theta, -2.0 * static_cast<double>(i) / c.head_dim);
      const double angle = ws.positions[t] * inv_freq;
      ws.rope[t * c.head_dim + i] = static_cast<float>(std::cos(angle));
      ws.rope[t * c.head_dim + half + i] = static_cast<float>(std::sin(angle));
    }
  }

  float* hidden = ws.hidden.data();
  pool.ParallelFor(static_cast<size_t>(tokens), 1, [&](size_t begin, size_t end, int) {
    for (size_t t = begin; t < end; ++t) {
      kernels::DequantizeRow(weights_.embed_tokens, ids[t], hidden + t * h);
    }
  });

  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const LayerWeights& layer = weights_.layers[static_cast<size_t>(i)];
    RmsNormRows(hidden, layer.operator_norm.data(), tokens, h, eps, ws.normed.data(), pool);
    if (const auto* conv = std::get_if<ConvWeights>(&layer.op)) {
      ConvBlock(i, *conv, chunks, tokens, ws, pool, path);
    } else {
      AttentionBlock(i, std::get<AttentionWeights>(layer.op), chunks, tokens, ws, pool, path);
    }
    kernels::AddInto(ws.block_out.data(), static_cast<size_t>(tokens * h), hidden);
    RmsNormRows(hidden, layer.ffn_norm.data(), tokens, h, eps, ws.normed.data(), pool);
    if (const auto* dense = std::get_if<DenseFfnWeights>(&layer.ffn)) {
      DenseFfnBlock(*dense, tokens, ws, pool, path);
    } else {
      MoeBlock(std::get<MoeWeights>(layer.ffn), tokens, ws, pool, path);
    }
    kernels::AddInto(ws.block_out.data(), static_cast<size_t>(tokens * h), hidden);
  }

  // Final norm (model.embedding_norm) on the rows that need logits, then the head.
  int64_t rows = 0, row = 0;
  for (const ForwardChunk& chunk : chunks) {
    const int64_t n = static_cast<int64_t>(chunk.tokens.size());
    for (int64_t t = chunk.all_logits ? 0 : n - 1; t < n; ++t) {
      kernels::RmsNorm(hidden + (row + t) * h, weights_.embedding_norm.data(),
                       static_cast<size_t>(h), eps, ws.normed.data() + rows * h);
      ++rows;
    }
    row += n;
    chunk.state->Advance(n);
  }
  Linear(weights_.lm_head, ws.normed.data(), h, rows, ws.logits.data(), c.vocab_size, pool, path);
  return rows;
}

// Gated short convolution: B, C, x = in_proj(a); y = C * causal_depthwise_conv(B * x); out_proj.
void Lfm2Model::ConvBlock(int64_t layer, const ConvWeights& w, std::span<const ForwardChunk> chunks,
                          int64_t tokens, Workspace& ws, ThreadPool& pool, MatMulPath path) const {
  const int64_t h = config_.hidden_size;
  const int64_t l = config_.conv_L_cache;
  float* bcx = ws.projected.data();  // [T, 3H]: B | C | x
  Linear(w.in_proj, ws.normed.data(), h, tokens, bcx, 3 * h, pool, path);
  if (!w.in_bias.empty()) {
    for (int64_t t = 0; t < tokens; ++t) kernels::AddInto(w.in_bias.data(), 3 * h, bcx + t * 3 * h);
  }
  float* bx = ws.gated.data();
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t ch = 0; ch < h; ++ch) bx[t * h + ch] = bcx[t * 3 * h + ch] * bcx[t * 3 * h + 2 * h + ch];
  }
  // Causal depthwise conv per chunk: the window for token t is B*x at times t-(L-1) .. t, where
  // times before the chunk come from the state (the previous L-1 values, oldest first).
  float* mixed = ws.mixed.data();
  int64_t row0 = 0;
  for (const ForwardChunk& chunk : chunks) {
    const int64_t n = static_cast<int64_t>(chunk.tokens.size());
    float* window = chunk.state->conv(layer);
    pool.ParallelFor(static_cast<size_t>(h), 64, [&](size_t begin, size_t end, int) {
      for (int64_t t = 0; t < n; ++t) {
        for (size_t ch = begin; ch < end; ++ch) {
          float sum = w.kernel_bias.empty() ? 0.0f : w.kernel_bias[ch];
          for (int64_t k = 0; k < l; ++k) {
            const int64_t time = t - (l - 1) + k;
            const float input = time >= 0 ? bx[(row0 + time) * h + ch] : window[(l - 1 + time) * h + ch];
            sum += w.kernel[ch * l + k] * input;
          }
          mixed[(row0 + t) * h + ch] = bcx[(row0 + t) * 3 * h + h + ch] * sum;  // C * conv
        }
      }
      // New window: the last L-1 inputs, taken from this chunk or the old window.
      for (size_t ch = begin; ch < end; ++ch) {
        float updated[64];
        for (int64_t m = 0; m < l - 1; ++m) {
          const int64_t time = n - (l - 1) + m;
          updated[m] = time >= 0 ? bx[(row0 + time) * h + ch] : window[(l - 1 + time) * h + ch];
        }
        for (int64_t m = 0; m < l - 1; ++m) window[m * h + ch] = updated[m];
      }
    });
    row0 += n;
  }
  Linear(w.out_proj, mixed, h, tokens, ws.block_out.data(), h, pool, path);
  if (!w.out_bias.empty()) {
    for (int64_t t = 0; t < tokens; ++t) kernels::AddInto(w.out_bias.data(), h, ws.block_out.data() + t * h);
  }
}

// GQA attention with per-head QK RMSNorm, rotate-half RoPE and a KV cache
// [kv_heads, capacity, head_dim] per layer.
void Lfm2Model::AttentionBlock(int64_t layer, const AttentionWeights& w,
                               std::span<const ForwardChunk> chunks, int64_t tokens, Workspace& ws,
                               ThreadPool& pool, MatMulPath path) const {
  const ModelConfig& c = config_;
  const int64_t hd = c.head_dim, half = hd / 2, heads = c.num_attention_heads;
  const int64_t kv_heads = c.num_key_value_heads, group = heads / kv_heads;
  const int64_t qkv_width = (heads + 2 * kv_heads) * hd;
  const float eps = static_cast<float>(c.norm_eps);
  float* qkv = ws.projected.data();  // [T, q | k | v]
  {
    const float* x = ws.normed.data();
    const size_t hs = static_cast<size_t>(c.hidden_size), n = static_cast<size_t>(tokens);
    const size_t ys = static_cast<size_t>(qkv_width);
    const kernels::MatMulJob jobs[] = {{&w.q_proj, x, hs, n, qkv, ys},
                                       {&w.k_proj, x, hs, n, qkv + heads * hd, ys},
                                       {&w.v_proj, x, hs, n, qkv + (heads + kv_heads) * hd, ys}};
    kernels::MatMulMany(jobs, pool, path);
  }

  // Per token: norm + rotate q and k heads, then store k and v at the token's position (keys
  // transposed: [kv_heads, head_dim, capacity]; values [kv_heads, capacity, head_dim]).
  std::vector<SequenceState*> owner(static_cast<size_t>(tokens));
  for (int64_t t = 0; const ForwardChunk& chunk : chunks) {
    for (size_t i = 0; i < chunk.tokens.size(); ++i) owner[t++] = chunk.state;
  }
  pool.ParallelFor(static_cast<size_t>(tokens), 1, [&](size_t begin, size_t end, int) {
    for (size_t t = begin; t < end; ++t) {
      const float* cos = ws.rope.data() + t * hd;
      const float* sin = cos + half;
      for (int64_t head = 0; head < heads + kv_heads; ++head) {
        float* x = qkv + t * qkv_width + head * hd;
        const float* norm = head < heads ? w.q_layernorm.data() : w.k_layernorm.data();
        kernels::RmsNorm(x, norm, static_cast<size_t>(hd), eps, x);
        for (int64_t i = 0; i < half; ++i) {
          const float a = x[i], b = x[i + half];
          x[i] = a * cos[i] - b * sin[i];
          x[i + half] = b * cos[i] + a * sin[i];
        }
      }
      SequenceState* state = owner[t];
      const int64_t pos = ws.positions[t];
      for (int64_t g = 0; g < kv_heads; ++g) {
        kernels::StoreKv(state->kv_head(layer, g), static_cast<size_t>(pos),
                         qkv + t * qkv_width + (heads + g) * hd, qkv + t * qkv_width + (heads + kv_heads + g) * hd);
      }
    }
  });

  // Each query head attends to positions 0..pos of its sequence. Work items: (chunk, key/value
  // head, tile of kAttentionTokenTile tokens), each one call over the tile's tokens x the heads
  // of the group, which share every key and value block they read.
  struct Item {
    int64_t first_token, tokens, kv_head;
    SequenceState* state;
  };
  std::vector<Item> items;
  for (int64_t t0 = 0; const ForwardChunk& chunk : chunks) {
    const int64_t n = static_cast<int64_t>(chunk.tokens.size());
    for (int64_t g = 0; g < kv_heads; ++g) {
      for (int64_t t = 0; t < n; t += kAttentionTokenTile) {
        items.push_back({t0 + t, std::min(kAttentionTokenTile, n - t), g, chunk.state});
      }
    }
    t0 += n;
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  float* out = ws.mixed.data();  // [T, heads * head_dim]
  const size_t scratch_floats = ws.attention.size() / static_cast<size_t>(ws.limits().threads);
  pool.ParallelFor(items.size(), 1, [&](size_t begin, size_t end, int worker) {
    const size_t max_rows = static_cast<size_t>(kAttentionTokenTile * group);
    std::vector<const float*> q(max_rows);
    std::vector<float*> o(max_rows);
    std::vector<int64_t> limit(max_rows);
    for (size_t item = begin; item < end; ++item) {
      const Item& it = items[item];
      size_t rows = 0;
      for (int64_t t = it.first_token; t < it.first_token + it.tokens; ++t) {
        for (int64_t h = it.kv_head * group; h < (it.kv_head + 1) * group; ++h, ++rows) {
          q[rows] = qkv + t * qkv_width + h * hd;
          o[rows] = out + t * heads * hd + h * hd;
          limit[rows] = ws.positions[t] + 1;
        }
      }
      kernels::Attention({q.data(), o.data(), limit.data(), rows}, it.state->kv_head(layer, it.kv_head), scale,
                         ws.attention.data() + static_cast<size_t>(worker) * scratch_floats);
    }
  });
  Linear(w.out_proj, out, heads * hd, tokens, ws.block_out.data(), c.hidden_size, pool, path);
}

// SwiGLU: down(silu(gate(x)) * up(x)).
void Lfm2Model::DenseFfnBlock(const DenseFfnWeights& w, int64_t tokens, Workspace& ws,
                              ThreadPool& pool, MatMulPath path) const {
  const int64_t h = config_.hidden_size, n = w.gate.rows;
  const kernels::MatMulJob jobs[] = {
      {&w.gate, ws.normed.data(), static_cast<size_t>(h), static_cast<size_t>(tokens), ws.ffn_gate.data(),
       static_cast<size_t>(n)},
      {&w.up, ws.normed.data(), static_cast<size_t>(h), static_cast<size_t>(tokens), ws.ffn_up.data(),
       static_cast<size_t>(n)}};
  kernels::MatMulMany(jobs, pool, path);
  kernels::SiluMul(ws.ffn_gate.data(), ws.ffn_up.data(), static_cast<size_t>(tokens * n),
                   ws.ffn_gate.data());
  Linear(w.down, ws.ffn_gate.data(), n, tokens, ws.block_out.data(), h, pool, path);
}

// Sparse MoE: sigmoid router scores; experts chosen by score + expert_bias, weighted by the
// unbiased scores (normalised to sum 1 when norm_topk_prob, times routed_scaling_factor). Tokens
// are grouped by expert so each chosen expert runs once over its tokens.
void Lfm2Model::MoeBlock(const MoeWeights& w, int64_t tokens, Workspace& ws, ThreadPool& pool,
                         MatMulPath path) const {
  const ModelConfig& c = config_;
  const int64_t h = c.hidden_size, n = c.moe_intermediate_size;
  const int64_t experts = c.num_experts, k = c.num_experts_per_tok;
  // The router always runs on the precise path: expert selection is a discontinuous function of
  // its scores, and a near tie decided differently changes the block's output outright.
  Linear(w.router, ws.normed.data(), h, tokens, ws.router.data(), experts, pool, MatMulPath::kPrecise);

  std::vector<float> score(static_cast<size_t>(experts)), prob(static_cast<size_t>(experts));
  std::vector<int32_t> order(static_cast<size_t>(experts));
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t e = 0; e < experts; ++e) {
      prob[e] = 1.0f / (1.0f + std::exp(-ws.router[t * experts + e]));
      score[e] = prob[e] + (w.expert_bias.empty() ? 0.0f : w.expert_bias[e]);
    }
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
      return score[a] > score[b] || (score[a] == score[b] && a < b);
    });
    float sum = 0.0f;
    for (int64_t j = 0; j < k; ++j) sum += prob[order[j]];
    const float norm = c.norm_topk_prob ? 1.0f / (sum + 1e-6f) : 1.0f;
    for (int64_t j = 0; j < k; ++j) {
      ws.route_expert[t * k + j] = order[j];
      ws.route_weight[t * k + j] = prob[order[j]] * norm * static_cast<float>(c.routed_scaling_factor);
    }
  }

  // Group the slots (t * k + j) by expert, in slot order within an expert: expert e owns rows
  // [first[e], first[e + 1]) of gathered / ffn_gate / ffn_up / expert_out.
  const int64_t slots = tokens * k;
  std::vector<int64_t> first(static_cast<size_t>(experts) + 1, 0);
  for (int64_t slot = 0; slot < slots; ++slot) ++first[ws.route_expert[slot] + 1];
  for (int64_t e = 0; e < experts; ++e) first[e + 1] += first[e];
  {
    std::vector<int64_t> next(first.begin(), first.end() - 1);
    for (int64_t slot = 0; slot < slots; ++slot) {
      const int64_t row = next[ws.route_expert[slot]]++;
      ws.expert_rows[row] = static_cast<int32_t>(slot);
      ws.slot_row[slot] = static_cast<int32_t>(row);
    }
  }
  // Every chosen expert's gate and up in one dispatch, then every down in one: the experts of a
  // decode step are small products, and a pool round trip each would cost more than their work.
  // With one token every expert reads `normed` itself (quantized once for all of them).
  const size_t hs = static_cast<size_t>(h), ns = static_cast<size_t>(n);
  std::vector<kernels::MatMulJob> jobs;
  std::vector<WeightMatrix> views;
  views.reserve(static_cast<size_t>(3 * experts));
  for (int64_t e = 0; e < experts; ++e) {
    const int64_t count = first[e + 1] - first[e];
    if (count == 0) continue;
    const float* x = ws.normed.data();
    if (tokens > 1) {
      for (int64_t r = first[e]; r < first[e + 1]; ++r) {
        std::copy_n(ws.normed.data() + (ws.expert_rows[r] / k) * h, h, ws.gathered.data() + r * h);
      }
      x = ws.gathered.data() + first[e] * h;
    }
    views.push_back(w.gate.Expert(e));
    jobs.push_back({&views.back(), x, hs, static_cast<size_t>(count), ws.ffn_gate.data() + first[e] * n, ns});
    views.push_back(w.up.Expert(e));
    jobs.push_back({&views.back(), x, hs, static_cast<size_t>(count), ws.ffn_up.data() + first[e] * n, ns});
  }
  kernels::MatMulMany(jobs, pool, path);
  kernels::SiluMul(ws.ffn_gate.data(), ws.ffn_up.data(), static_cast<size_t>(slots * n), ws.ffn_gate.data());
  jobs.clear();
  for (int64_t e = 0; e < experts; ++e) {
    const int64_t count = first[e + 1] - first[e];
    if (count == 0) continue;
    views.push_back(w.down.Expert(e));
    jobs.push_back({&views.back(), ws.ffn_gate.data() + first[e] * n, ns, static_cast<size_t>(count),
                    ws.expert_out.data() + first[e] * h, hs});
  }
  kernels::MatMulMany(jobs, pool, path);
  // Weighted sum over each token's experts in selection order.
  float* out = ws.block_out.data();
  std::fill_n(out, tokens * h, 0.0f);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t j = 0; j < k; ++j) {
      kernels::Axpy(ws.route_weight[t * k + j], ws.expert_out.data() + ws.slot_row[t * k + j] * h,
                    static_cast<size_t>(h), out + t * h);
    }
  }
}

}  // namespace lfm2
