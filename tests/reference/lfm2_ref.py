#!/usr/bin/python3
"""Independent float64 reference forward pass for LFM2 / LFM2-MoE MLX checkpoints.

Where it sits: tests/reference. It reads a checkpoint directory directly
(its own safetensors reader and its own dequantizer, sharing no code with
tools/ or the C++ engine) and computes logits in float64 numpy, written from
shared/reference/lfm2-format.md sections 1 and 4:

  h = embed_tokens[ids]
  per layer:  h += conv(operator_norm(h))  or  attention(operator_norm(h))
              h += dense SwiGLU or MoE (ffn_norm(h))
  logits = embedding_norm(h) @ embed_tokens^T      (tied head)

Usage:
  lfm2_ref.py --model DIR --tokens 1,2,3 [--all-positions] --out logits.f32
  lfm2_ref.py --model DIR --tokens 1,2,3 --greedy 16
  lfm2_ref.py --model DIR --random-tokens 64 --stats     (health statistics)

As a module:
  import lfm2_ref
  logits = lfm2_ref.logits(model_dir, [1, 2, 3])        # float64 [T, vocab]
  model = lfm2_ref.Model(model_dir); state = model.new_state()
  model.forward(ids, state)                              # incremental, with caches
"""

import argparse
import glob
import json
import os
import struct
import sys

import numpy as np

# ---------------------------------------------------------------------------
# Checkpoint access: safetensors files, quantization metadata, dequantization.

_DTYPES = {  # safetensors tag -> numpy dtype of the stored elements
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "U32": "<u4",
    "I32": "<i4", "U8": "u1", "I8": "i1", "U16": "<u2", "I16": "<i2",
    "I64": "<i8", "U64": "<u8", "BOOL": "u1",
}


def _to_float64(raw, tag):
    """Stored float tensor -> float64 (BF16 is the top half of a float32)."""
    if tag == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if tag in ("F16", "F32", "F64"):
        return raw.astype(np.float64)
    raise ValueError(f"expected a float tensor, got dtype {tag}")


class TensorFiles:
    """All tensors of a checkpoint directory: name -> (file, dtype, shape, offset)."""

    def __init__(self, model_dir):
        index_path = os.path.join(model_dir, "model.safetensors.index.json")
        if os.path.exists(index_path):
            with open(index_path) as f:
                weight_map = json.load(f)["weight_map"]
            files = sorted(set(weight_map.values()))
        else:
            weight_map = None
            files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(model_dir, "*.safetensors")))
        if not files:
            raise FileNotFoundError(f"{model_dir}: no *.safetensors files")
        self.entries = {}
        for fname in files:
            path = os.path.join(model_dir, fname)
            with open(path, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
            header.pop("__metadata__", None)
            for name, e in header.items():
                if name in self.entries:
                    raise ValueError(f"tensor {name} found in two files")
                begin, end = e["data_offsets"]
                shape = tuple(e["shape"])
                size = int(np.prod(shape, dtype=np.int64)) * np.dtype(_DTYPES[e["dtype"]]).itemsize
                if end - begin != size:
                    raise ValueError(f"{name}: {end - begin} bytes for {e['dtype']} {list(shape)}")
                self.entries[name] = (path, e["dtype"], shape, 8 + n + begin)
        if weight_map is not None:
            for name, fname in weight_map.items():
                if name not in self.entries or os.path.basename(self.entries[name][0]) != fname:
                    raise ValueError(f"index says {name} is in {fname}, but it is not")

    def __contains__(self, name):
        return name in self.entries

    def dtype(self, name):
        return self.entries[name][1]

    def shape(self, name):
        return self.entries[name][2]

    def read(self, name, index0=None):
        """Raw stored array; with index0, only the slice [index0] of axis 0."""
        path, tag, shape, start = self.entries[name]
        dt = np.dtype(_DTYPES[tag])
        count = int(np.prod(shape, dtype=np.int64))
        if index0 is not None:
            count //= shape[0]
            start += index0 * count * dt.itemsize
            shape = shape[1:]
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(count * dt.itemsize)
        return np.frombuffer(data, dtype=dt).reshape(shape)


def _unpack_codes(words, bits):
    """uint32 words [..., W] -> codes [..., W*32/bits] (uint16).

    The row is one little-endian bit stream (spec 4.4): code k occupies stream
    bits [k*bits, (k+1)*bits), stream bit n being bit n%8 of byte n//8 of the
    little-endian words. With bits <= 8 a code lies inside the 16-bit window
    (byte j, byte j+1) where j = k*bits//8, so: build that window for every
    byte, pick the window of each code's first byte, shift, mask.
    """
    stream = np.ascontiguousarray(words, dtype="<u4").view(np.uint8)
    n_bytes = stream.shape[-1]
    padded = np.concatenate([stream, np.zeros(stream.shape[:-1] + (1,), np.uint8)], axis=-1)
    windows = padded[..., :-1].astype(np.uint16) | (padded[..., 1:].astype(np.uint16) << 8)
    start = np.arange(n_bytes * 8 // bits) * bits
    codes = np.take(windows, start // 8, axis=-1) >> (start % 8).astype(np.uint16)
    return codes & np.uint16((1 << bits) - 1)


class Weights:
    """Float64 views of the model's weights, dequantizing MLX affine tensors.

    A module path p (e.g. "model.layers.3.conv.in_proj") is quantized exactly
    when "p.scales" exists; its bits/group_size come from the config's
    quantization block (per-path entry, else the global values).
    """

    def __init__(self, model_dir, config, cache_budget_bytes=1.5e9):
        self.files = TensorFiles(model_dir)
        self.qconfig = config.get("quantization", config.get("quantization_config"))
        if self.qconfig and "quant_method" in self.qconfig and "bits" not in self.qconfig:
            raise ValueError(f"unsupported quantization_config {self.qconfig.get('quant_method')}")
        self.cache = {}
        self.cache_left = cache_budget_bytes

    def has(self, name):
        return name in self.files

    def is_quantized(self, path):
        return path + ".scales" in self.files

    def quant_params(self, path):
        q = self.qconfig
        if not q:
            raise ValueError(f"{path}.scales exists but config.json has no quantization block")
        entry = q.get(path)
        if entry is False:
            raise ValueError(f"{path}: config says not quantized but {path}.scales exists")
        params = entry if isinstance(entry, dict) else q
        bits = params.get("bits", q.get("bits"))
        group = params.get("group_size", q.get("group_size"))
        mode = params.get("mode", q.get("mode", "affine"))
        if mode != "affine":
            raise ValueError(f"{path}: quantization mode {mode!r} not supported")
        if bits not in (2, 3, 4, 5, 6, 8) or group not in (32, 64, 128):
            raise ValueError(f"{path}: unsupported bits={bits} group_size={group}")
        return bits, group

    def _remember(self, key, value):
        if value.nbytes <= self.cache_left:
            self.cache[key] = value
            self.cache_left -= value.nbytes
        return value

    def logical_shape(self, path):
        """Shape of the float weight of module `path` (after dequantization)."""
        name = path + ".weight"
        shape = self.files.shape(name)
        if not self.is_quantized(path):
            return shape
        bits, group = self.quant_params(path)
        s_shape = self.files.shape(path + ".scales")
        k = shape[-1] * 32 // bits
        if self.files.dtype(name) != "U32" or shape[:-1] != s_shape[:-1] or s_shape[-1] * group != k \
                or self.files.shape(path + ".biases") != s_shape:
            raise ValueError(f"{path}: inconsistent quantized tensors weight {list(shape)} "
                             f"scales {list(s_shape)} for bits={bits} group_size={group}")
        return shape[:-1] + (k,)

    def _dequant(self, path, index0=None, rows=None):
        bits, group = self.quant_params(path)
        words = self.files.read(path + ".weight", index0)
        scales = _to_float64(self.files.read(path + ".scales", index0), self.files.dtype(path + ".scales"))
        biases = _to_float64(self.files.read(path + ".biases", index0), self.files.dtype(path + ".biases"))
        if rows is not None:
            words, scales, biases = words[rows], scales[rows], biases[rows]
        lead = words.shape[:-1]
        words = words.reshape(-1, words.shape[-1])
        scales = scales.reshape(words.shape[0], -1)
        biases = biases.reshape(words.shape[0], -1)
        out = np.empty((words.shape[0], words.shape[1] * 32 // bits))
        step = 4096  # rows per block, to bound the temporaries of large matrices
        for lo in range(0, words.shape[0], step):
            codes = _unpack_codes(words[lo:lo + step], bits).astype(np.float64)
            codes = codes.reshape(codes.shape[0], -1, group)
            w = codes * scales[lo:lo + step, :, None] + biases[lo:lo + step, :, None]
            out[lo:lo + step] = w.reshape(codes.shape[0], -1)
        return out.reshape(*lead, -1)

    def tensor(self, name):
        """A plain (never quantized) float tensor, e.g. a norm weight."""
        if name in self.cache:
            return self.cache[name]
        return self._remember(name, _to_float64(self.files.read(name), self.files.dtype(name)))

    def matrix(self, path):
        """Float64 weight of module `path` (dequantized if needed); shapes were checked at load."""
        key = path + ".weight"
        if key in self.cache:
            return self.cache[key]
        if self.is_quantized(path):
            w = self._dequant(path)
        else:
            w = _to_float64(self.files.read(key), self.files.dtype(key))
        return self._remember(key, w)

    def expert(self, path, e):
        """Slice e of a stacked [E, N, K] weight (switch_mlp), dequantized."""
        key = f"{path}.weight[{e}]"
        if key in self.cache:
            return self.cache[key]
        if self.is_quantized(path):
            w = self._dequant(path, index0=e)
        else:
            w = _to_float64(self.files.read(path + ".weight", e), self.files.dtype(path + ".weight"))
        return self._remember(key, w)

    def rows(self, path, ids):
        """Rows `ids` of a [N, K] weight (embedding lookup) without a full dequantization."""
        if path + ".weight" in self.cache:
            return self.cache[path + ".weight"][ids]
        if self.is_quantized(path):
            return self._dequant(path, rows=ids)
        return _to_float64(self.files.read(path + ".weight"), self.files.dtype(path + ".weight"))[ids]


# ---------------------------------------------------------------------------
# Configuration (spec 1, 2 and 7: every alias)

class Config:
    def __init__(self, raw):
        self.raw = raw
        self.model_type = raw["model_type"]
        if self.model_type not in ("lfm2", "lfm2_moe"):
            raise ValueError(f"model_type {self.model_type!r} is not lfm2 or lfm2_moe")
        self.hidden = raw.get("hidden_size", raw.get("block_dim"))
        self.n_layers = raw["num_hidden_layers"]
        self.n_heads = raw.get("num_attention_heads", raw.get("num_heads"))
        self.n_kv = raw.get("num_key_value_heads") or self.n_heads
        self.head_dim = raw.get("head_dim") or self.hidden // self.n_heads
        self.vocab = raw["vocab_size"]
        self.eps = raw.get("norm_eps", raw.get("block_norm_eps", 1e-5))
        self.conv_L = raw.get("conv_L_cache", 3)
        # Attention layers: layer_types, else full_attn_idxs.
        if raw.get("layer_types") is not None:
            kinds = raw["layer_types"]
            if len(kinds) != self.n_layers:
                raise ValueError(f"layer_types has {len(kinds)} entries for {self.n_layers} layers")
            for k in kinds:
                if k not in ("conv", "full_attention"):
                    raise ValueError(f"unknown layer type {k!r}")
            self.is_attention = [k == "full_attention" for k in kinds]
        else:
            idxs = set(raw["full_attn_idxs"])
            self.is_attention = [i in idxs for i in range(self.n_layers)]
        # RoPE base: rope_parameters.rope_theta, rope_theta, theta, 1e6.
        rope_params = raw.get("rope_parameters") or {}
        self.rope_theta = float(rope_params.get("rope_theta", raw.get("rope_theta", raw.get("theta", 1e6))))
        # Dense FFN width.
        if self.model_type == "lfm2":
            ff = raw.get("block_ff_dim", raw.get("intermediate_size"))
            if raw.get("block_auto_adjust_ff_dim", False):
                ff = int(2 * ff / 3)
                mult = raw.get("block_ffn_dim_multiplier")
                if mult is not None:
                    ff = int(mult * ff)
                m = raw.get("block_multiple_of", 256)
                ff = m * ((ff + m - 1) // m)
            self.ff_dim = ff
            self.n_dense = self.n_layers
        else:
            self.ff_dim = raw["intermediate_size"]
            self.n_dense = raw.get("num_dense_layers", 0)
            self.moe_dim = raw["moe_intermediate_size"]
            self.n_experts = raw["num_experts"]
            self.top_k = raw["num_experts_per_tok"]
            self.use_expert_bias = raw.get("use_expert_bias", True)
            self.norm_topk_prob = raw.get("norm_topk_prob", True)
            scaling = raw.get("routed_scaling_factor")
            self.routed_scaling = 1.0 if scaling is None else float(scaling)


# ---------------------------------------------------------------------------
# The model

def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1/(1+exp(-x)), without overflow


def silu(x):
    return x * sigmoid(x)


class State:
    """Per-sequence caches: conv layers keep the last L-1 rows of B*x, attention keeps K (post norm+RoPE) and V."""

    def __init__(self, cfg):
        self.pos = 0
        self.conv = [np.zeros((cfg.conv_L - 1, cfg.hidden)) for _ in range(cfg.n_layers)]
        self.k = [np.zeros((0, cfg.n_kv, cfg.head_dim)) for _ in range(cfg.n_layers)]
        self.v = [np.zeros((0, cfg.n_kv, cfg.head_dim)) for _ in range(cfg.n_layers)]


class Model:
    def __init__(self, model_dir, cache_budget_bytes=1.5e9):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = Config(json.load(f))
        self.w = Weights(model_dir, self.cfg.raw, cache_budget_bytes)
        self.trace = None  # set to a list to record MoE routing (see routing_stats)
        self._check_tensors()

    # -- validation ---------------------------------------------------------
    def _check_tensors(self):
        """Check every expected tensor's shape once, and that no tensor is left unused."""
        c, w = self.cfg, self.w
        H, D = c.hidden, c.head_dim
        expect = {"model.embed_tokens": (c.vocab, H)}
        norms = {"model.embedding_norm.weight": (H,)}
        for i in range(c.n_layers):
            p = f"model.layers.{i}"
            norms[f"{p}.operator_norm.weight"] = (H,)
            norms[f"{p}.ffn_norm.weight"] = (H,)
            if c.is_attention[i]:
                expect[f"{p}.self_attn.q_proj"] = (c.n_heads * D, H)
                expect[f"{p}.self_attn.k_proj"] = (c.n_kv * D, H)
                expect[f"{p}.self_attn.v_proj"] = (c.n_kv * D, H)
                expect[f"{p}.self_attn.out_proj"] = (H, c.n_heads * D)
                norms[f"{p}.self_attn.q_layernorm.weight"] = (D,)
                norms[f"{p}.self_attn.k_layernorm.weight"] = (D,)
            else:
                expect[f"{p}.conv.in_proj"] = (3 * H, H)
                expect[f"{p}.conv.out_proj"] = (H, H)
                kshape = w.files.shape(f"{p}.conv.conv.weight")
                if kshape not in ((H, c.conv_L, 1), (H, 1, c.conv_L)):
                    raise ValueError(f"{p}.conv.conv.weight: shape {list(kshape)}, expected "
                                     f"[{H}, {c.conv_L}, 1] (MLX) or [{H}, 1, {c.conv_L}] (HF)")
            if i < c.n_dense:
                for name, shape in self._dense_names(p).items():
                    expect[name] = shape
            else:
                expect[f"{p}.feed_forward.gate"] = (c.n_experts, H)
                if c.use_expert_bias:
                    norms[f"{p}.feed_forward.expert_bias"] = (c.n_experts,)
                if not w.has(f"{p}.feed_forward.switch_mlp.gate_proj.weight"):
                    raise ValueError(f"{p}: no feed_forward.switch_mlp tensors (only the stacked MLX layout is supported)")
                for proj, shape in (("gate_proj", (c.n_experts, c.moe_dim, H)),
                                    ("up_proj", (c.n_experts, c.moe_dim, H)),
                                    ("down_proj", (c.n_experts, H, c.moe_dim))):
                    expect[f"{p}.feed_forward.switch_mlp.{proj}"] = shape
        for path, shape in expect.items():
            if not w.has(path + ".weight"):
                raise ValueError(f"missing tensor {path}.weight")
            got = w.logical_shape(path)
            if tuple(got) != shape:
                raise ValueError(f"{path}.weight: shape {list(got)}, expected {list(shape)}")
        for name, shape in norms.items():
            if not w.has(name):
                raise ValueError(f"missing tensor {name}")
            if w.files.shape(name) != shape:
                raise ValueError(f"{name}: shape {list(w.files.shape(name))}, expected {list(shape)}")
        known = set(norms)
        for path in expect:
            known.update(path + s for s in (".weight", ".scales", ".biases", ".bias"))
        known.update(f"model.layers.{i}.conv.conv.{s}" for i in range(c.n_layers) for s in ("weight", "bias"))
        unknown = sorted(set(w.files.entries) - known)
        if unknown:
            raise ValueError(f"unexpected tensors: {unknown[:5]}")

    def _dense_names(self, p):
        """Dense FFN tensors: gate_proj/up_proj/down_proj (MLX lfm2_moe) or w1/w3/w2."""
        c, H = self.cfg, self.cfg.hidden
        f = f"{p}.feed_forward"
        if self.w.has(f"{f}.gate_proj.weight"):
            names = (f"{f}.gate_proj", f"{f}.up_proj", f"{f}.down_proj")
        else:
            names = (f"{f}.w1", f"{f}.w3", f"{f}.w2")
        return dict(zip(names, ((c.ff_dim, H), (c.ff_dim, H), (H, c.ff_dim))))

    # -- building blocks ----------------------------------------------------
    def linear(self, x, path):
        y = x @ self.w.matrix(path).T
        if self.w.has(path + ".bias"):
            y = y + self.w.tensor(path + ".bias")
        return y

    def conv(self, x, p, i, state):
        c = self.cfg
        H, L = c.hidden, c.conv_L
        bcx = self.linear(x, f"{p}.conv.in_proj")
        b, cgate, xx = bcx[:, :H], bcx[:, H:2 * H], bcx[:, 2 * H:]
        bx = b * xx
        kernel = self.w.tensor(f"{p}.conv.conv.weight")
        kernel = kernel[:, :, 0] if kernel.shape[1] == L else kernel[:, 0, :]   # -> [H, L]
        full = np.concatenate([state.conv[i], bx], axis=0)                         # [L-1+T, H]
        T = x.shape[0]
        out = np.zeros((T, H))
        for k in range(L):  # out[t] = sum_k W[:, k] * Bx[t - (L-1) + k]
            out += kernel[:, k] * full[k:k + T]
        if self.w.has(f"{p}.conv.conv.bias"):
            out += self.w.tensor(f"{p}.conv.conv.bias")
        state.conv[i] = full[T:] if L > 1 else full[:0]
        return self.linear(cgate * out, f"{p}.conv.out_proj")

    def rope(self, x, positions):
        """Rotate-half RoPE over the full head_dim. x: [T, heads, D]."""
        D = x.shape[-1]
        half = D // 2
        inv_freq = self.cfg.rope_theta ** (-np.arange(half, dtype=np.float64) * 2.0 / D)
        angle = positions[:, None].astype(np.float64) * inv_freq            # [T, D/2]
        cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
        x1, x2 = x[..., :half], x[..., half:]
        return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)

    def attention(self, x, p, i, state):
        c = self.cfg
        T, D = x.shape[0], c.head_dim
        q = self.linear(x, f"{p}.self_attn.q_proj").reshape(T, c.n_heads, D)
        k = self.linear(x, f"{p}.self_attn.k_proj").reshape(T, c.n_kv, D)
        v = self.linear(x, f"{p}.self_attn.v_proj").reshape(T, c.n_kv, D)
        q = rms_norm(q, self.w.tensor(f"{p}.self_attn.q_layernorm.weight"), c.eps)
        k = rms_norm(k, self.w.tensor(f"{p}.self_attn.k_layernorm.weight"), c.eps)
        positions = state.pos + np.arange(T)
        q, k = self.rope(q, positions), self.rope(k, positions)
        keys = np.concatenate([state.k[i], k], axis=0)                          # [S, n_kv, D]
        values = np.concatenate([state.v[i], v], axis=0)
        state.k[i], state.v[i] = keys, values
        S, group = keys.shape[0], c.n_heads // c.n_kv
        qg = q.reshape(T, c.n_kv, group, D)          # query head h -> kv head h // group
        scores = np.einsum("tkgd,skd->kgts", qg, keys) / np.sqrt(D)
        causal = np.arange(S)[None, :] <= positions[:, None]                   # [T, S]
        scores = np.where(causal, scores, -np.inf)
        scores -= scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        out = np.einsum("kgts,skd->tkgd", probs, values).reshape(T, c.n_heads * D)
        return self.linear(out, f"{p}.self_attn.out_proj")

    def dense_ffn(self, x, p):
        gate, up, down = self._dense_names(p)
        return self.linear(silu(self.linear(x, gate)) * self.linear(x, up), down)

    def moe(self, x, p, i):
        c = self.cfg
        f = f"{p}.feed_forward"
        probs = sigmoid(self.linear(x, f"{f}.gate"))                          # [T, E]
        scores = probs + self.w.tensor(f"{f}.expert_bias") if c.use_expert_bias else probs
        # top-k by biased score (descending; lowest expert id first on exact ties)
        chosen = np.argsort(-scores, axis=-1, kind="stable")[:, :c.top_k]     # [T, k]
        weights = np.take_along_axis(probs, chosen, axis=-1)                  # unbiased
        if c.norm_topk_prob:
            weights = weights / (weights.sum(axis=-1, keepdims=True) + 1e-6)
        weights = weights * c.routed_scaling
        if self.trace is not None:
            self.trace.append((i, scores, probs, chosen))
        out = np.zeros_like(x)
        stack = f"{f}.switch_mlp"
        for e in np.unique(chosen):
            tok, slot = np.nonzero(chosen == e)
            xe = x[tok]
            h = silu(xe @ self.w.expert(f"{stack}.gate_proj", e).T) * (xe @ self.w.expert(f"{stack}.up_proj", e).T)
            out[tok] += weights[tok, slot][:, None] * (h @ self.w.expert(f"{stack}.down_proj", e).T)
        return out

    # -- whole model ----------------------------------------------------------
    def new_state(self):
        return State(self.cfg)

    def forward(self, ids, state=None, all_positions=True):
        """Run tokens `ids` after whatever `state` already holds; returns float64 logits."""
        c = self.cfg
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size == 0:
            raise ValueError("no tokens")
        if ids.min() < 0 or ids.max() >= c.vocab:
            raise ValueError(f"token id out of range [0, {c.vocab})")
        state = state or self.new_state()
        h = self.w.rows("model.embed_tokens", ids)
        for i in range(c.n_layers):
            p = f"model.layers.{i}"
            a = rms_norm(h, self.w.tensor(f"{p}.operator_norm.weight"), c.eps)
            h = h + (self.attention(a, p, i, state) if c.is_attention[i] else self.conv(a, p, i, state))
            f = rms_norm(h, self.w.tensor(f"{p}.ffn_norm.weight"), c.eps)
            h = h + (self.dense_ffn(f, p) if i < c.n_dense else self.moe(f, p, i))
        state.pos += len(ids)
        h = rms_norm(h, self.w.tensor("model.embedding_norm.weight"), c.eps)
        if not all_positions:
            h = h[-1:]
        return self.head(h)

    def head(self, h):
        """Tied LM head: logits = h @ embed_tokens^T (lm_head.weight is never present in LFM2)."""
        emb = "model.embed_tokens"
        if emb + ".weight" in self.w.cache or self.cfg.vocab * self.cfg.hidden * 8 <= self.w.cache_left:
            return h @ self.w.matrix(emb).T
        out = np.empty((h.shape[0], self.cfg.vocab))
        step = 8192
        for lo in range(0, self.cfg.vocab, step):
            rows = np.arange(lo, min(lo + step, self.cfg.vocab))
            out[:, rows] = h @ self.w.rows(emb, rows).T
        return out

    def greedy(self, ids, n):
        """n greedy tokens after prompt `ids`: prefill, then one token at a time with the caches."""
        state = self.new_state()
        logits = self.forward(ids, state, all_positions=False)[-1]
        out = []
        for _ in range(n):
            tok = int(np.argmax(logits))  # first maximum = lowest id on ties
            out.append(tok)
            if len(out) < n:
                logits = self.forward([tok], state)[-1]
        return out


def logits(model_dir, ids, all_positions=True):
    """Float64 logits [positions, vocab] of `ids` (all positions, or only the last)."""
    return Model(model_dir).forward(ids, all_positions=all_positions)


# ---------------------------------------------------------------------------
# Health statistics of a (random) model

def health_stats(model, ids):
    """Logit spread, top-1 diversity and MoE routing statistics for one sequence."""
    model.trace = []
    lg = model.forward(ids)
    top1 = lg.argmax(axis=-1)
    stats = {
        "positions": len(ids),
        "logit_std_mean": float(lg.std(axis=-1).mean()),
        "logit_std_min": float(lg.std(axis=-1).min()),
        "logit_std_max": float(lg.std(axis=-1).max()),
        "top1_distinct": int(len(np.unique(top1))),
        "top1_eq_input_frac": float(np.mean(top1 == np.asarray(ids))),
        "min_top1_margin": float(np.min(np.sort(lg, axis=-1)[:, -1] - np.sort(lg, axis=-1)[:, -2])),
        "moe_layers": [],
    }
    k = model.cfg.top_k if model.cfg.model_type == "lfm2_moe" else 0
    for layer, scores, probs, chosen in model.trace:
        unbiased = np.sort(np.argsort(-probs, axis=-1, kind="stable")[:, :k], axis=-1)
        srt = np.sort(scores, axis=-1)
        stats["moe_layers"].append({
            "layer": layer,
            "experts_used": int(len(np.unique(chosen))),
            "distinct_expert_sets": int(len({tuple(r) for r in np.sort(chosen, axis=-1)})),
            "bias_changed_selection_frac": float(np.mean(np.any(np.sort(chosen, axis=-1) != unbiased, axis=-1))),
            "min_margin": float(np.min(srt[:, -k] - srt[:, -k - 1])),
            "router_prob_mean": float(probs.mean()),
        })
    model.trace = None
    return stats


# ---------------------------------------------------------------------------
# CLI

def _parse_ids(text):
    return [int(t) for t in text.replace("\n", ",").split(",") if t.strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="checkpoint directory (config.json + *.safetensors)")
    ap.add_argument("--tokens", help="comma-separated token ids")
    ap.add_argument("--tokens-file", help="file with comma-separated token ids (e.g. golden tokens.txt)")
    ap.add_argument("--random-tokens", type=int, metavar="N",
                    help="use BOS (1) + N-1 random ids in [0, vocab) (seed --token-seed)")
    ap.add_argument("--token-seed", type=int, default=1)
    ap.add_argument("--all-positions", action="store_true", help="write logits of every position (default: last only)")
    ap.add_argument("--out", help="write raw little-endian float32 logits [positions, vocab] here")
    ap.add_argument("--greedy", type=int, default=0, metavar="N", help="print N greedy continuation ids")
    ap.add_argument("--stats", action="store_true", help="print health statistics (logit std, top-1, routing) as JSON")
    args = ap.parse_args(argv)

    if args.tokens is not None:
        ids = _parse_ids(args.tokens)
    elif args.tokens_file:
        with open(args.tokens_file) as f:
            ids = _parse_ids(f.read())
    elif not args.random_tokens:
        ap.error("give --tokens, --tokens-file or --random-tokens")
    model = Model(args.model)
    if args.random_tokens:
        rng = np.random.default_rng(args.token_seed)
        ids = [1] + [int(t) for t in rng.integers(0, model.cfg.vocab, args.random_tokens - 1)]
    if args.out:
        lg = model.forward(ids, all_positions=args.all_positions)
        lg.astype("<f4").tofile(args.out)
        print(f"wrote {args.out}: float32 [{lg.shape[0]}, {lg.shape[1]}]", file=sys.stderr)
    if args.stats:
        print(json.dumps(health_stats(model, ids), indent=1))
    if args.greedy:
        print(",".join(str(t) for t in model.greedy(ids, args.greedy)))
    if not (args.out or args.stats or args.greedy):
        ap.error("nothing to do: give --out, --greedy or --stats")
    return 0


if __name__ == "__main__":
    sys.exit(main())
