#!/usr/bin/python3
"""Write random LFM2 / LFM2-MoE checkpoints in the exact MLX layout.

Where it sits: tools/ -> checkpoint directories for engine tests and benches.
The output looks like what `mlx_lm.convert` writes (shared/reference/lfm2-format.md
section 3.2): config.json (keys sorted, `quantization` block with per-module
overrides and an identical `quantization_config`), one or more safetensors
files with MLX-style headers, and model.safetensors.index.json (weight_map +
metadata.total_size / total_parameters).

Small models: float weights are drawn, rounded to --dtype and quantized with
the exact MLX affine algorithm (tools/mlx_format.py). Large models (over
--direct-threshold parameters, or --direct-quant on): the packed codes are
drawn uniformly at random and the per-group scales/biases are chosen so that
the dequantized weights have the intended mean 0 and standard deviation; the
file is streamed tensor by tensor, so RAM stays small. Output is
deterministic for a given seed and set of options.

Examples:
  make_test_model.py --preset tiny-moe --out /tmp/tiny-moe
  make_test_model.py --preset tiny-dense --schema legacy --dtype bfloat16 --bits 4 --out /tmp/d
  make_test_model.py --preset lfm2-8b-a1b --out /tmp/lfm2-8b-a1b-q3
  make_test_model.py --preset medium --bits 4 --group-size 32 --shards 3 --out /tmp/m
"""

import argparse
import json
import os
import sys
import time
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlx_format as mf  # noqa: E402

# ---------------------------------------------------------------------------
# Presets. Keys are the argparse destinations; explicit flags override them.

COMMON_DEFAULTS = dict(
    dtype="bfloat16", bits=0, group_size=64, router_bits="8", router_group_size=64,
    expert_bias_dtype="float32", shards=1, schema="modern", rope_style="rope_theta",
    rope_theta=1e6, seed=0, norm_topk_prob=True, routed_scaling_factor=1.0, expert_bias=True,
    conv_layout="mlx", conv_bias=False, conv_l_cache=3, tie_key=None, eos=None,
    generation_config=False, head_dim_key=False, block_ff_dim=None, block_multiple_of=256,
    block_ffn_dim_multiplier=1.0, moe_intermediate_size=128, num_experts=8, experts_per_tok=2,
    num_dense_layers=1, intermediate_size=None,
)

PRESETS = {
    # Like shared/golden/dense_f32: tiny dense lfm2, float32, modern schema.
    "tiny-dense": dict(
        model_type="lfm2", hidden_size=128, num_layers=6, attn_layers=[2, 4], heads=2, kv_heads=1,
        vocab_size=1024, intermediate_size=256, dtype="float32", bits=0),
    # Like shared/golden/moe_q4_g64: tiny lfm2_moe, 4-bit g64, bf16, router 8-bit.
    "tiny-moe": dict(
        model_type="lfm2_moe", hidden_size=256, num_layers=5, attn_layers=[1, 3], heads=4, kv_heads=2,
        vocab_size=2048, intermediate_size=512, moe_intermediate_size=128, num_experts=32,
        experts_per_tok=4, num_dense_layers=2, dtype="bfloat16", bits=4, group_size=64),
    # About 510M parameters, ~225 MB at 3 bits: a quick stand-in for the real MoE.
    "medium": dict(
        model_type="lfm2_moe", hidden_size=1024, num_layers=12, attn_layers=[2, 5, 8, 10], heads=16,
        kv_heads=4, vocab_size=65536, intermediate_size=3584, moe_intermediate_size=768,
        num_experts=16, experts_per_tok=4, num_dense_layers=2, dtype="bfloat16", bits=3, group_size=64),
    # The real LFM2-8B-A1B shapes (spec 2.1, 3.2), as mlx-community's 3-bit conversion.
    "lfm2-8b-a1b": dict(
        model_type="lfm2_moe", hidden_size=2048, num_layers=24, attn_layers=[2, 6, 10, 14, 18, 21],
        heads=32, kv_heads=8, vocab_size=65536, intermediate_size=7168, moe_intermediate_size=1792,
        num_experts=32, experts_per_tok=4, num_dense_layers=2, dtype="bfloat16", bits=3, group_size=64,
        rope_theta=1e6, generation_config=True),
    # The real LFM2-1.2B shapes with its legacy config schema (spec 2.2), 4-bit g64 by default.
    "lfm2-1.2b": dict(
        model_type="lfm2", hidden_size=2048, num_layers=16, attn_layers=[2, 5, 8, 10, 12, 14], heads=32,
        kv_heads=8, vocab_size=65536, block_ff_dim=12288, schema="legacy", dtype="bfloat16", bits=4,
        group_size=64, generation_config=True),
}

# Initialisation, chosen so that random models give healthy logits (checked with
# tests/reference/lfm2_ref.py --stats): every Linear has std 1/sqrt(fan_in), so each
# block adds an O(1)-rms update to the residual stream; the embedding is small
# (rows of norm ~3), so after a few layers the state no longer points at the input
# token's own embedding, and the tied head (final hidden has rms ~1) gives logits
# of std ~3 with a different argmax at almost every position.
EMBED_LOGIT_STD = 3.0    # embedding std = this / sqrt(hidden): tied-head logits have std ~3
ROUTER_LOGIT_STD = 1.5   # router logits std ~1.5 -> sigmoid scores well spread
NORM_STD = 0.1           # RMSNorm weights ~ 1 + N(0, 0.1^2)
CONV_KERNEL_STD = 0.5    # depthwise kernel taps
EXPERT_BIAS_STD = 0.05   # comparable to the gaps between sigmoid scores
LINEAR_BIAS_STD = 0.02   # only with --conv-bias
DIRECT_SCALE_JITTER = 0.1  # direct mode: per-group scale = base * exp(N(0, jitter^2))
CHUNK_ELEMENTS = 1 << 22   # rows are generated in chunks of about this many elements


# ---------------------------------------------------------------------------
# Model description: every module, its float shape, init and quantization

class Module:
    """One parameter: its module `path`, float `shape`, init N(mean, std^2), dtype tag.

    Quantizable modules (Linear, Embedding, SwitchLinear) are stored as
    `path.weight` (or `path.weight/.scales/.biases` once quantized); other
    parameters (norm weights, conv kernels, expert_bias, biases) are stored
    under `path` itself, which then is the full tensor name.
    """

    def __init__(self, path, shape, std, mean=0.0, quantizable=False, dtype=None):
        self.path, self.shape = path, tuple(shape)
        self.std, self.mean = std, mean
        self.quantizable, self.dtype = quantizable, dtype
        self.quant = None  # (bits, group_size) once decided

    def tensors(self):
        """{tensor name: (safetensors dtype, shape)} as stored."""
        if self.quant is None:
            name = self.path + ".weight" if self.quantizable else self.path
            return {name: (self.dtype, self.shape)}
        bits, group = self.quant
        wshape, sshape = mf.quantized_shapes(self.shape, group, bits)
        return {self.path + ".weight": ("U32", wshape),
                self.path + ".scales": (self.dtype, sshape),
                self.path + ".biases": (self.dtype, sshape)}

    def parameters(self):
        return int(np.prod(self.shape, dtype=np.int64))


def dense_ffn_width(o):
    """FFN width for dense lfm2 (spec 1.6); for the legacy schema from block_ff_dim."""
    if o.model_type == "lfm2" and o.schema == "legacy":
        ff = int(2 * o.block_ff_dim / 3)
        if o.block_ffn_dim_multiplier is not None:
            ff = int(o.block_ffn_dim_multiplier * ff)
        m = o.block_multiple_of
        return m * ((ff + m - 1) // m)
    return o.intermediate_size


def build_modules(o):
    H, D = o.hidden_size, o.hidden_size // o.heads
    t = mf.dtype_tag(o.dtype)
    lin = lambda path, n, k: Module(path, (n, k), 1.0 / np.sqrt(k), quantizable=True, dtype=t)
    norm = lambda path, n: Module(path, (n,), NORM_STD, mean=1.0, dtype=t)
    mods = [Module("model.embed_tokens", (o.vocab_size, H), EMBED_LOGIT_STD / np.sqrt(H),
                   quantizable=True, dtype=t),
            norm("model.embedding_norm.weight", H)]
    ff = dense_ffn_width(o)
    for i in range(o.num_layers):
        p = f"model.layers.{i}"
        layer = [norm(f"{p}.operator_norm.weight", H), norm(f"{p}.ffn_norm.weight", H)]
        if i in o.attn_layers:
            layer += [lin(f"{p}.self_attn.q_proj", o.heads * D, H),
                      lin(f"{p}.self_attn.k_proj", o.kv_heads * D, H),
                      lin(f"{p}.self_attn.v_proj", o.kv_heads * D, H),
                      lin(f"{p}.self_attn.out_proj", H, o.heads * D),
                      norm(f"{p}.self_attn.q_layernorm.weight", D),
                      norm(f"{p}.self_attn.k_layernorm.weight", D)]
        else:
            L = o.conv_l_cache
            kshape = (H, L, 1) if o.conv_layout == "mlx" else (H, 1, L)
            layer += [lin(f"{p}.conv.in_proj", 3 * H, H),
                      lin(f"{p}.conv.out_proj", H, H),
                      Module(f"{p}.conv.conv.weight", kshape, CONV_KERNEL_STD, dtype=t)]
            if o.conv_bias:
                layer += [Module(f"{p}.conv.in_proj.bias", (3 * H,), LINEAR_BIAS_STD, dtype=t),
                          Module(f"{p}.conv.out_proj.bias", (H,), LINEAR_BIAS_STD, dtype=t),
                          Module(f"{p}.conv.conv.bias", (H,), LINEAR_BIAS_STD, dtype=t)]
        f = f"{p}.feed_forward"
        if o.model_type == "lfm2":
            layer += [lin(f"{f}.w1", ff, H), lin(f"{f}.w3", ff, H), lin(f"{f}.w2", H, ff)]
        elif i < o.num_dense_layers:
            layer += [lin(f"{f}.gate_proj", ff, H), lin(f"{f}.up_proj", ff, H), lin(f"{f}.down_proj", H, ff)]
        else:
            E, I = o.num_experts, o.moe_intermediate_size
            router = lin(f"{f}.gate", E, H)
            router.std = ROUTER_LOGIT_STD / np.sqrt(H)
            layer.append(router)
            if o.expert_bias:
                layer.append(Module(f"{f}.expert_bias", (E,), EXPERT_BIAS_STD,
                                    dtype=mf.dtype_tag(o.expert_bias_dtype)))
            for proj, n, k in (("gate_proj", I, H), ("up_proj", I, H), ("down_proj", H, I)):
                m = lin(f"{f}.switch_mlp.{proj}", n, k)
                m.shape = (E, n, k)
                layer.append(m)
        mods += layer
    return mods


def assign_quantization(o, mods):
    """Decide (bits, group) per module and build config.json's quantization block.

    Mirrors mlx_lm quantize_model: every quantizable module whose last dim is
    divisible by the global group size is quantized with the global setting;
    lfm2_moe's predicate forces the router to 8 bits / group 64 (a per-path
    entry); --override entries (substring match, later wins) add per-path
    entries, bits 0 meaning "keep float" (written as false).
    """
    if not o.bits:
        return None
    mf.check_quant_params(o.bits, o.group_size)
    qblock = {"group_size": o.group_size, "bits": o.bits, "mode": "affine"}
    for m in mods:
        if not m.quantizable or m.shape[-1] % o.group_size:
            continue
        entry = None
        if o.model_type == "lfm2_moe" and m.path.endswith("feed_forward.gate") and o.router_bits != "same":
            entry = {"group_size": o.router_group_size, "bits": int(o.router_bits)}
        for pattern, bits, group in o.override:
            if pattern in m.path:
                entry = False if bits == 0 else {"group_size": group or o.group_size, "bits": bits}
        if entry is False:
            qblock[m.path] = False
            continue
        params = entry or qblock
        mf.check_quant_params(params["bits"], params["group_size"])
        if m.shape[-1] % params["group_size"]:
            raise SystemExit(f"{m.path}: last dim {m.shape[-1]} not divisible by group_size {params['group_size']}")
        m.quant = (params["bits"], params["group_size"])
        if entry:
            qblock[m.path] = entry
    return qblock


# ---------------------------------------------------------------------------
# config.json / generation_config.json

def build_config(o, qblock):
    H = o.hidden_size
    legacy = o.schema == "legacy"
    eos = o.eos if o.eos is not None else 7
    cfg = {
        "architectures": ["Lfm2ForCausalLM" if o.model_type == "lfm2" else "Lfm2MoeForCausalLM"],
        "bos_token_id": 1,
        "conv_L_cache": o.conv_l_cache,
        "conv_bias": o.conv_bias,
        "eos_token_id": eos,
        "hidden_size": H,
        "initializer_range": 0.02,
        "max_position_embeddings": 128000,
        "model_type": o.model_type,
        "norm_eps": 1e-05,
        "num_attention_heads": o.heads,
        "num_hidden_layers": o.num_layers,
        "num_key_value_heads": o.kv_heads,
        "pad_token_id": 0,
        "torch_dtype": o.dtype,
        "transformers_version": "4.54.0.dev0" if legacy else "4.57.1",
        "use_cache": True,
        "vocab_size": o.vocab_size,
    }
    if legacy:
        cfg["full_attn_idxs"] = sorted(o.attn_layers)
    else:
        cfg["layer_types"] = ["full_attention" if i in o.attn_layers else "conv" for i in range(o.num_layers)]
    if o.rope_style == "rope_parameters":
        cfg["rope_parameters"] = {"rope_theta": o.rope_theta, "rope_type": "default"}
    else:
        cfg["rope_theta"] = o.rope_theta
    if o.model_type == "lfm2":
        # mlx-lm's dense ModelArgs requires the block_* keys in both schemas.
        cfg.update({
            "block_auto_adjust_ff_dim": legacy,
            "block_dim": H,
            "block_ff_dim": o.block_ff_dim if legacy else o.intermediate_size,
            "block_ffn_dim_multiplier": o.block_ffn_dim_multiplier,
            "block_mlp_init_scale": 1.0,
            "block_multiple_of": o.block_multiple_of,
            "block_norm_eps": 1e-05,
            "block_out_init_scale": 1.0,
            "block_use_swiglu": True,
            "block_use_xavier_init": True,
            "conv_dim": H,
            "conv_dim_out": H,
            "conv_use_xavier_init": True,
            "num_heads": o.heads,
            "use_pos_enc": True,
        })
        if not legacy:
            cfg["intermediate_size"] = o.intermediate_size
    else:
        cfg.update({
            "intermediate_size": o.intermediate_size,
            "moe_intermediate_size": o.moe_intermediate_size,
            "norm_topk_prob": o.norm_topk_prob,
            "num_dense_layers": o.num_dense_layers,
            "num_experts": o.num_experts,
            "num_experts_per_tok": o.experts_per_tok,
            "routed_scaling_factor": o.routed_scaling_factor,
            "use_expert_bias": o.expert_bias,
        })
    if o.head_dim_key:
        cfg["head_dim"] = H // o.heads
    if o.tie_key:
        cfg[o.tie_key] = True
    if qblock is not None:
        cfg["quantization"] = qblock
        cfg["quantization_config"] = qblock
    return dict(sorted(cfg.items()))   # mlx_lm save_config: top-level keys sorted


def write_json(path, obj, indent=4, trailing_newline=False):
    with open(path, "w") as f:
        json.dump(obj, f, indent=indent)
        if trailing_newline:
            f.write("\n")


# ---------------------------------------------------------------------------
# Tensor generation

def module_rng(seed, path):
    """Independent, reproducible stream per module (order of generation does not matter)."""
    return np.random.default_rng([seed, zlib.crc32(path.encode())])


def row_chunks(m):
    """(first_row, n_rows) chunks of the module viewed as [rows, last_dim]."""
    rows = int(np.prod(m.shape[:-1], dtype=np.int64)) if len(m.shape) > 1 else 1
    step = max(1, CHUNK_ELEMENTS // m.shape[-1])
    return [(lo, min(step, rows - lo)) for lo in range(0, rows, step)]


def write_float_module(m, rng, writers, direct):
    """Draw float weights (N(mean, std^2)), round to dtype; quantize with MLX's algorithm if needed.

    In direct mode, quantized modules get uniform random codes instead (write_direct_module).
    """
    if m.quant is not None and direct:
        return write_direct_module(m, rng, writers)
    K = m.shape[-1]
    names = list(m.tensors())
    for lo, n in row_chunks(m):
        w = rng.standard_normal((n, K), dtype=np.float32) * np.float32(m.std) + np.float32(m.mean)
        if m.quant is None:
            data = mf.encode_float(w, m.dtype)
            writers[names[0]].write(names[0], data.reshape(-1), lo * K * data.itemsize)
            continue
        bits, group = m.quant
        packed, scales, biases = mf.mlx_quantize(w, group, bits, m.dtype)
        for name, arr in zip(names, (packed, scales, biases)):
            writers[name].write(name, arr.reshape(-1), lo * arr.shape[-1] * arr.itemsize)


def write_direct_module(m, rng, writers):
    """Random packed codes + scales/biases giving dequantized weights with mean 0, std m.std.

    Codes are uniform on [0, n] (n = 2^bits - 1): mean n/2, variance ((n+1)^2 - 1)/12.
    Per group: scale = +-base * exp(N(0, 0.1^2)), base = std / sd(code), random sign
    (MLX stores negative scales when the group's edge is its maximum), and
    bias = -scale * n / 2 so the group is centred on 0; both rounded to dtype.
    """
    bits, group = m.quant
    n_max = (1 << bits) - 1
    base = m.std / np.sqrt(((n_max + 1) ** 2 - 1) / 12.0)
    K = m.shape[-1]
    words, groups = K * bits // 32, K // group
    wname, sname, bname = m.tensors()
    itemsize = mf.STORAGE_DTYPES[m.dtype][1]
    for lo, n in row_chunks(m):
        packed = rng.integers(0, 1 << 32, size=(n, words), dtype=np.uint32)
        jitter = np.exp(np.float32(DIRECT_SCALE_JITTER) * rng.standard_normal((n, groups), dtype=np.float32))
        sign = np.where(rng.integers(0, 2, size=(n, groups), dtype=np.uint8) == 1, 1.0, -1.0).astype(np.float32)
        scales = mf.round_to_dtype(np.float32(base) * jitter * sign, m.dtype)
        biases = mf.encode_float(-scales * np.float32(n_max / 2.0), m.dtype)
        writers[wname].write(wname, packed.reshape(-1), lo * words * 4)
        writers[sname].write(sname, mf.encode_float(scales, m.dtype).reshape(-1), lo * groups * itemsize)
        writers[bname].write(bname, biases.reshape(-1), lo * groups * itemsize)


def plan_shards(tensors, n_shards):
    """Split the sorted tensor names into n consecutive shards of about equal bytes."""
    names = sorted(tensors)
    size = lambda nm: int(np.prod(tensors[nm][1], dtype=np.int64)) * mf.STORAGE_DTYPES[tensors[nm][0]][1]
    total = sum(size(nm) for nm in names)
    shards, current, current_bytes = [], [], 0
    for nm in names:
        current.append(nm)
        current_bytes += size(nm)
        if current_bytes >= total / n_shards and len(shards) < n_shards - 1:
            shards.append(current)
            current, current_bytes = [], 0
    shards.append(current)
    if len(shards) != n_shards or not all(shards):
        raise SystemExit(f"cannot split {len(names)} tensors into {n_shards} shards")
    return shards, total


def generate(o, log=None):
    """Write the checkpoint described by options `o`; returns a summary dict."""
    t0 = time.time()
    mods = build_modules(o)
    qblock = assign_quantization(o, mods)
    config = build_config(o, qblock)
    tensors = {}
    for m in mods:
        tensors.update(m.tensors())
    n_params = sum(m.parameters() for m in mods)
    direct = qblock is not None and (
        o.direct_quant == "on" or (o.direct_quant == "auto" and n_params > o.direct_threshold))

    os.makedirs(o.out, exist_ok=True)
    shards, total_bytes = plan_shards(tensors, o.shards)
    files = ["model.safetensors"] if o.shards == 1 else \
        [f"model-{k + 1:05d}-of-{o.shards:05d}.safetensors" for k in range(o.shards)]
    order_rng = np.random.default_rng([o.seed, 0x5AFE])
    writers, weight_map = {}, {}
    opened = []
    try:
        for fname, names in zip(files, shards):
            # Data order inside the file is arbitrary in MLX files (hash-map order): shuffle it.
            order = [names[j] for j in order_rng.permutation(len(names))]
            w = mf.SafetensorsWriter(os.path.join(o.out, fname), {nm: tensors[nm] for nm in names},
                                     metadata={"format": "mlx"}, order=order)
            opened.append(w)
            for nm in names:
                writers[nm] = w
                weight_map[nm] = fname
        done_bytes = 0
        for k, m in enumerate(mods):
            write_float_module(m, module_rng(o.seed, m.path), writers, direct)
            done_bytes += sum(int(np.prod(s, dtype=np.int64)) * mf.STORAGE_DTYPES[d][1]
                              for d, s in m.tensors().values())
            if log:
                log(f"[{k + 1:4d}/{len(mods)}] {m.path:58s} {done_bytes / 2**20:9.1f} / "
                    f"{total_bytes / 2**20:.1f} MiB  {time.time() - t0:6.1f}s")
        for w in opened:
            w.close()
    finally:
        for w in opened:
            if w.file is not None:
                w.file.close()

    write_json(os.path.join(o.out, "config.json"), config)
    if not o.no_index:
        index = {"metadata": {"total_size": total_bytes, "total_parameters": n_params},
                 "weight_map": dict(sorted(weight_map.items()))}
        write_json(os.path.join(o.out, "model.safetensors.index.json"), index)
    if o.generation_config or o.eos is not None:
        gen = {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": config["eos_token_id"],
               "pad_token_id": 0, "transformers_version": config["transformers_version"]}
        write_json(os.path.join(o.out, "generation_config.json"), gen, indent=2, trailing_newline=True)

    active = n_params
    if o.model_type == "lfm2_moe":
        per_expert = 3 * o.moe_intermediate_size * o.hidden_size
        n_moe = o.num_layers - o.num_dense_layers
        active -= n_moe * (o.num_experts - o.experts_per_tok) * per_expert
    return {"out": o.out, "files": files, "tensors": len(tensors), "total_size": total_bytes,
            "total_parameters": n_params, "active_parameters": active,
            "direct_quant": direct, "seconds": round(time.time() - t0, 2)}


# ---------------------------------------------------------------------------
# Command line

def parse_int_list(text):
    text = text.strip()
    if text in ("", "none"):
        return []
    return [int(t) for t in text.split(",") if t.strip()]


def parse_override(text):
    """'self_attn.v_proj=6' or 'switch_mlp.down_proj=4:32' -> (pattern, bits, group)."""
    try:
        pattern, spec = text.rsplit("=", 1)
        bits, _, group = spec.partition(":")
        return pattern, int(bits), int(group) if group else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad --override {text!r}; expected PATH_SUBSTRING=BITS[:GROUP]")


def make_parser():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter, argument_default=None)
    ap.add_argument("--out", required=True, help="output directory (created if needed)")
    ap.add_argument("--preset", choices=sorted(PRESETS),
                    help="start from these sizes; explicit flags override (default: tiny-moe, or "
                         "tiny-dense with --model-type lfm2)")
    g = ap.add_argument_group("architecture")
    g.add_argument("--model-type", choices=["lfm2", "lfm2_moe"])
    g.add_argument("--hidden-size", type=int)
    g.add_argument("--num-layers", type=int)
    g.add_argument("--attn-layers", type=parse_int_list, help="full_attention layer ids, e.g. 2,6 ('none' for none)")
    g.add_argument("--heads", type=int, help="num_attention_heads (head_dim = hidden/heads)")
    g.add_argument("--kv-heads", type=int, help="num_key_value_heads")
    g.add_argument("--vocab-size", type=int)
    g.add_argument("--intermediate-size", type=int, help="dense FFN width (lfm2 modern schema, lfm2_moe dense layers)")
    g.add_argument("--block-ff-dim", type=int,
                   help="legacy dense schema: block_ff_dim before auto-adjust (default 3/2 * intermediate size)")
    g.add_argument("--conv-l-cache", type=int, help="conv_L_cache, the conv kernel length (default 3)")
    g.add_argument("--conv-bias", action="store_true", help="conv_bias true: in_proj/out_proj/conv biases")
    g.add_argument("--conv-layout", choices=["mlx", "hf"], help="conv kernel [H,L,1] (MLX, default) or [H,1,L] (HF)")
    g.add_argument("--rope-theta", type=float)
    g.add_argument("--rope-style", choices=["rope_theta", "rope_parameters"],
                   help="write rope_theta, or rope_parameters {rope_theta, rope_type}")
    g.add_argument("--schema", choices=["modern", "legacy"],
                   help="modern: layer_types (+ block_* with auto-adjust false for lfm2); legacy: "
                        "full_attn_idxs, and for lfm2 block_ff_dim with block_auto_adjust_ff_dim true")
    g.add_argument("--head-dim-key", action="store_true", help="also write head_dim (= hidden/heads)")
    g.add_argument("--tie-key", choices=["tie_word_embeddings", "tie_embedding"], help="write this key = true")
    g.add_argument("--eos", type=parse_int_list, help="eos_token_id as a list, e.g. 7,2 (also writes generation_config.json)")
    g.add_argument("--generation-config", action="store_true", help="write generation_config.json")
    g = ap.add_argument_group("MoE (lfm2_moe)")
    g.add_argument("--moe-intermediate-size", type=int)
    g.add_argument("--num-experts", type=int)
    g.add_argument("--experts-per-tok", type=int)
    g.add_argument("--num-dense-layers", type=int)
    g.add_argument("--norm-topk-prob", action=argparse.BooleanOptionalAction)
    g.add_argument("--routed-scaling-factor", type=float)
    g.add_argument("--no-expert-bias", dest="expert_bias", action="store_false",
                   help="use_expert_bias false and no expert_bias tensors")
    g.add_argument("--expert-bias-dtype", choices=sorted(mf.FLOAT_DTYPE_TAGS), help="default float32")
    g = ap.add_argument_group("storage")
    g.add_argument("--dtype", choices=sorted(mf.FLOAT_DTYPE_TAGS), help="float tensors and scales/biases")
    g.add_argument("--bits", type=int, help="affine bits 2,3,4,5,6,8; 0 = unquantized")
    g.add_argument("--group-size", type=int, help="32, 64 or 128")
    g.add_argument("--router-bits", help="router (feed_forward.gate) bits, default 8 as mlx-lm forces; "
                                         "'same' = global setting, no per-path entry")
    g.add_argument("--router-group-size", type=int, help="router group size (default 64)")
    g.add_argument("--override", type=parse_override, action="append",
                   help="per-module quantization PATH_SUBSTRING=BITS[:GROUP] (bits 0 = keep float); repeatable")
    g.add_argument("--shards", type=int, help="number of safetensors files")
    g.add_argument("--no-index", action="store_true", help="do not write model.safetensors.index.json")
    g.add_argument("--seed", type=int)
    g.add_argument("--direct-quant", choices=["auto", "on", "off"], default="auto",
                   help="draw quantized codes directly instead of quantizing floats (auto: above "
                        "--direct-threshold parameters)")
    g.add_argument("--direct-threshold", type=float, default=5e7)
    g.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return ap


def resolve_options(args):
    """COMMON_DEFAULTS <- preset <- explicit flags."""
    explicit = {k: v for k, v in vars(args).items() if v is not None}
    if explicit.get("expert_bias") is True:  # store_false default
        del explicit["expert_bias"]
    for flag in ("conv_bias", "head_dim_key", "generation_config"):
        if explicit.get(flag) is False:
            del explicit[flag]
    preset = args.preset or ("tiny-dense" if args.model_type == "lfm2" else "tiny-moe")
    opts = dict(COMMON_DEFAULTS)
    opts.update(PRESETS[preset])
    opts.update(explicit)
    opts.setdefault("override", [])
    opts["override"] = opts["override"] or []
    o = argparse.Namespace(**opts)
    if o.model_type == "lfm2" and o.schema == "legacy":
        # Legacy dense configs give block_ff_dim; the FFN width is derived from it (spec 1.6).
        if o.block_ff_dim is None:
            o.block_ff_dim = o.intermediate_size * 3 // 2
        ff = dense_ffn_width(o)
        if "intermediate_size" in explicit and ff != explicit["intermediate_size"]:
            raise SystemExit(f"make_test_model: legacy schema: block_ff_dim {o.block_ff_dim} gives FFN width "
                             f"{ff}, not --intermediate-size {explicit['intermediate_size']} (use a multiple "
                             f"of block_multiple_of {o.block_multiple_of}, or give --block-ff-dim)")
        o.intermediate_size = ff
    validate(o)
    return o


def validate(o):
    def need(cond, msg):
        if not cond:
            raise SystemExit(f"make_test_model: {msg}")
    need(o.hidden_size % o.heads == 0, f"hidden_size {o.hidden_size} not divisible by heads {o.heads}")
    need((o.hidden_size // o.heads) % 2 == 0, "head_dim must be even for RoPE")
    need(o.heads % o.kv_heads == 0, f"heads {o.heads} not divisible by kv_heads {o.kv_heads}")
    need(all(0 <= i < o.num_layers for i in o.attn_layers), f"attention layer ids {o.attn_layers} out of range")
    need(o.shards >= 1, "--shards must be >= 1")
    need(o.router_bits == "same" or o.router_bits.isdigit(), "--router-bits is a number or 'same'")
    if o.model_type == "lfm2_moe":
        need(0 < o.experts_per_tok <= o.num_experts, "need 0 < experts_per_tok <= num_experts")
        need(0 <= o.num_dense_layers <= o.num_layers, "num_dense_layers out of range")
    if o.bits:
        mf.check_quant_params(o.bits, o.group_size)


def main(argv=None):
    args = make_parser().parse_args(argv)
    o = resolve_options(args)
    log = None if o.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    summary = generate(o, log)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
