#!/usr/bin/python3
"""Convert an MLX LFM2 / LFM2-MoE checkpoint to a llama.cpp GGUF file (benchmark tool).

Where it sits: tools/ -> GGUF files for side-by-side benchmarks against llama.cpp. Nothing in
the engine uses it. It needs numpy and llama.cpp's own gguf-py package, imported from the path
given by --gguf-py (e.g. /path/to/llama.cpp/gguf-py); gguf-py is never vendored here.

What it writes is what llama.cpp's convert_hf_to_gguf.py writes for the same model in Hugging
Face format (classes LFM2Model / LFM2MoeModel in llama.cpp's conversion/lfm2.py):

* every tensor is dequantized with MLX's affine rule (w = scale * code + bias per group, in
  float32; shared/reference/lfm2-format.md 4.2) and stored as --outtype (f16 by default; f32,
  bf16 or q8_0). As in convert_hf_to_gguf.py, 1-D tensors, norms, the MoE router
  (ffn_gate_inp) and the short-conv kernel are always float32;
* names: MLX names are first mapped back to the Hugging Face ones (switch_mlp.gate/up/down_proj
  -> the merged experts.w1/w3/w2 that convert_hf_to_gguf.py builds by stacking per-expert
  tensors; the MoE model's dense feed_forward.gate/up/down_proj -> w1/w3/w2;
  feed_forward.expert_bias -> expert_bias.bias), then through gguf-py's TensorNameMap;
* the conv kernel (MLX [H, L, 1], or HF [H, 1, L]) becomes [H, L] (ggml {L, H});
* hparams: block/context/embedding/feed-forward lengths, head counts (head_count_kv per layer,
  0 for conv layers), rope base, RMS eps, shortconv.l_cache, vocab_size; for lfm2moe also
  expert count / used count / feed-forward length, leading dense block count and sigmoid gating;
* tokenizer: gpt2-style BPE with pre-tokenizer "lfm2", read from tokenizer.json (+
  tokenizer_config.json) in the model directory or --tokenizer-dir; ids missing below
  vocab_size become "[PAD{i}]" tokens of type UNUSED, as convert_hf_to_gguf.py does for padded
  vocabularies; merges, special ids and the chat template come from gguf-py's SpecialVocab
  (--no-vocab writes tokenizer model "none" instead, enough for logits from token ids).

The file is streamed tensor by tensor and row chunk by row chunk straight to disk, so memory
stays small even for the 8.3B-parameter LFM2-8B-A1B (the f16 file is ~16.7 GB).

Example:
  python3 tools/mlx_to_gguf.py --gguf-py /work/llama/llama.cpp/gguf-py \\
      --model /tmp/lfm2-8b-a1b-q3 --tokenizer-dir shared/golden/tokenizer \\
      --outfile /tmp/lfm2-8b-a1b-f16.gguf --outtype f16
"""

import argparse
import json
import logging
import os
import struct
import sys
import time

import numpy as np

log = logging.getLogger("mlx_to_gguf")

CHUNK_ELEMENTS = 1 << 22  # dequantize about this many weights at a time

# safetensors dtype tag -> numpy storage dtype (BF16 kept as raw uint16)
ST_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
             "U32": np.dtype("<u4"), "F64": np.dtype("<f8")}


# ---------------------------------------------------------------------------
# safetensors (memory-mapped, read-only)

class Checkpoint:
    """All tensors of an MLX model directory, memory-mapped from its safetensors files."""

    def __init__(self, model_dir):
        self.dir = model_dir
        files = sorted(f for f in os.listdir(model_dir) if f.endswith(".safetensors"))
        index = os.path.join(model_dir, "model.safetensors.index.json")
        if os.path.exists(index):
            with open(index) as f:
                files = sorted(set(json.load(f)["weight_map"].values()))
        if not files:
            raise SystemExit(f"{model_dir}: no .safetensors files")
        self.entries = {}  # name -> (path, dtype tag, shape, absolute offset)
        for fname in files:
            path = os.path.join(model_dir, fname)
            with open(path, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
            header.pop("__metadata__", None)
            for name, e in header.items():
                if name in self.entries:
                    raise SystemExit(f"tensor {name} appears in two files")
                begin, _ = e["data_offsets"]
                self.entries[name] = (path, e["dtype"], tuple(e["shape"]), 8 + n + begin)
        self._maps = {}

    def __contains__(self, name):
        return name in self.entries

    def shape(self, name):
        return self.entries[name][2]

    def raw(self, name):
        """The stored tensor as a read-only numpy memmap (BF16 as uint16 bit patterns)."""
        path, tag, shape, offset = self.entries[name]
        if tag not in ST_DTYPES:
            raise SystemExit(f"{name}: unsupported safetensors dtype {tag}")
        count = int(np.prod(shape, dtype=np.int64))
        if count == 0:
            return np.zeros(shape, ST_DTYPES[tag])
        if path not in self._maps:
            self._maps[path] = np.memmap(path, dtype=np.uint8, mode="r")
        nbytes = count * ST_DTYPES[tag].itemsize
        return self._maps[path][offset:offset + nbytes].view(ST_DTYPES[tag]).reshape(shape)

    def tag(self, name):
        return self.entries[name][1]


def to_f32(stored, tag):
    """Stored float tensor (any float dtype) -> float32."""
    if tag == "BF16":
        return (np.asarray(stored, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
    if tag in ("F32", "F16", "F64"):
        return np.asarray(stored).astype(np.float32)
    raise SystemExit(f"not a float tensor dtype: {tag}")


def unpack_codes(words, bits):
    """uint32 words [R, W] -> codes uint8 [R, W*32/bits]: element k at stream bits [k*bits, (k+1)*bits)."""
    words = np.ascontiguousarray(words, dtype="<u4")
    rows = words.shape[0]
    K = words.shape[1] * 32 // bits
    if bits in (2, 4, 8):   # codes never straddle a 32-bit word
        per = 32 // bits
        shifts = (np.arange(per, dtype=np.uint32) * bits)
        return ((words[:, :, None] >> shifts) & np.uint32((1 << bits) - 1)).astype(np.uint8).reshape(rows, K)
    # 3, 5, 6 bits: 8 consecutive codes fill exactly `bits` bytes
    pack_bytes = words.view(np.uint8).reshape(rows, K // 8, bits)
    padded = np.zeros((rows, K // 8, 8), dtype=np.uint8)
    padded[:, :, :bits] = pack_bytes
    packs = padded.view("<u8")  # [rows, K/8, 1]
    shifts = np.arange(8, dtype=np.uint64) * np.uint64(bits)
    return ((packs >> shifts) & np.uint64((1 << bits) - 1)).astype(np.uint8).reshape(rows, K)


# ---------------------------------------------------------------------------
# One logical MLX tensor (float, or quantized .weight/.scales/.biases)

class Source:
    """A float tensor read as float32 rows, dequantized on the fly when it is MLX-quantized."""

    def __init__(self, ckpt, name, quant=None):
        """name: the stored tensor name; quant: (bits, group_size) when name has .scales/.biases."""
        self.ckpt, self.name, self.quant = ckpt, name, quant
        stored = ckpt.shape(name)
        if quant is None:
            self.shape = stored
        else:
            bits, group = quant
            base = name[:-len(".weight")]
            K = stored[-1] * 32 // bits
            sshape = ckpt.shape(base + ".scales")
            if stored[-1] * 32 % bits or sshape[:-1] != stored[:-1] or sshape[-1] * group != K \
                    or ckpt.shape(base + ".biases") != sshape:
                raise SystemExit(f"{name}: packed {stored} / scales {sshape} do not match bits={bits} "
                                 f"group_size={group}")
            self.shape = stored[:-1] + (K,)

    def rows(self):
        """Yields float32 chunks [n, K] of the tensor viewed as [rows, K], in order."""
        K = self.shape[-1]
        nrows = int(np.prod(self.shape[:-1], dtype=np.int64)) if len(self.shape) > 1 else 1
        step = max(1, CHUNK_ELEMENTS // K)
        if self.quant is None:
            tag = self.ckpt.tag(self.name)
            data = self.ckpt.raw(self.name).reshape(nrows, K)
            for lo in range(0, nrows, step):
                yield to_f32(data[lo:lo + step], tag)
            return
        bits, group = self.quant
        base = self.name[:-len(".weight")]
        words = self.ckpt.raw(self.name).reshape(nrows, -1)
        s_tag, b_tag = self.ckpt.tag(base + ".scales"), self.ckpt.tag(base + ".biases")
        scales = self.ckpt.raw(base + ".scales").reshape(nrows, -1)
        biases = self.ckpt.raw(base + ".biases").reshape(nrows, -1)
        for lo in range(0, nrows, step):
            q = unpack_codes(words[lo:lo + step], bits).astype(np.float32)
            n = q.shape[0]
            q = q.reshape(n, K // group, group)
            s = to_f32(scales[lo:lo + step], s_tag)[:, :, None]
            b = to_f32(biases[lo:lo + step], b_tag)[:, :, None]
            yield (q * s + b).reshape(n, K)


# ---------------------------------------------------------------------------
# Config

def load_config(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    mt = cfg.get("model_type")
    if mt not in ("lfm2", "lfm2_moe"):
        raise SystemExit(f"model_type {mt!r}: only lfm2 and lfm2_moe are supported")
    n_layers = cfg["num_hidden_layers"]
    if "layer_types" not in cfg:  # legacy schema: full_attn_idxs (transformers' Lfm2Config does this too)
        attn = set(cfg.get("full_attn_idxs", []))
        cfg["layer_types"] = ["full_attention" if i in attn else "conv" for i in range(n_layers)]
    if len(cfg["layer_types"]) != n_layers:
        raise SystemExit("layer_types does not match num_hidden_layers")
    if cfg.get("conv_bias"):
        raise SystemExit("conv_bias = true: llama.cpp's LFM2 graph has no short-conv biases")
    return cfg


def rope_theta(cfg):
    rp = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    rp = rp.get("full_attention", rp)
    theta = rp.get("rope_theta", cfg.get("rope_theta"))
    rtype = rp.get("rope_type", rp.get("type"))
    if rtype not in (None, "default"):
        log.warning("rope_type %r is not written (convert_hf_to_gguf.py handles linear/yarn only)", rtype)
    return theta


def lfm2_ff_dim(cfg):
    """LFM2Model._add_feed_forward_length in convert_hf_to_gguf.py."""
    ff = cfg.get("block_ff_dim", cfg.get("intermediate_size"))
    if cfg.get("block_auto_adjust_ff_dim"):
        ff = int(2 * ff / 3)
        if cfg.get("block_ffn_dim_multiplier") is not None:
            ff = int(cfg["block_ffn_dim_multiplier"] * ff)
        m = cfg["block_multiple_of"]
        ff = m * ((ff + m - 1) // m)
    return ff


def quant_params(cfg, module_path):
    """(bits, group_size) of an MLX-quantized module, from config.json's quantization block."""
    q = cfg.get("quantization") or cfg.get("quantization_config")
    if not q:
        raise SystemExit(f"{module_path} is quantized but config.json has no quantization block")
    if q.get("mode", "affine") != "affine":
        raise SystemExit(f"quantization mode {q.get('mode')!r}: only MLX affine is supported")
    entry = q.get(module_path)
    if isinstance(entry, dict):
        if entry.get("mode", "affine") != "affine":
            raise SystemExit(f"{module_path}: quantization mode {entry.get('mode')!r} unsupported")
        return int(entry["bits"]), int(entry["group_size"])
    return int(q["bits"]), int(q["group_size"])


# ---------------------------------------------------------------------------
# Names

def hf_name(mlx_name):
    """MLX tensor name -> the Hugging Face name convert_hf_to_gguf.py maps (after its own renames)."""
    name = mlx_name
    parts = name.split(".")
    if ".feed_forward.switch_mlp." in name:  # stacked experts: convert_hf_to_gguf's merged name
        bid = parts[2]
        proj = parts[5]
        w = {"gate_proj": "w1", "up_proj": "w3", "down_proj": "w2"}[proj]
        return f"layers.{bid}.feed_forward.experts.{w}.weight"
    for mlx, hf in ((".feed_forward.gate_proj.", ".feed_forward.w1."),
                    (".feed_forward.up_proj.", ".feed_forward.w3."),
                    (".feed_forward.down_proj.", ".feed_forward.w2.")):
        name = name.replace(mlx, hf)
    if name.endswith(".expert_bias"):
        name = name.replace(".expert_bias", ".expert_bias.bias")
    return name


def plan_tensors(ckpt, cfg, gguf, arch):
    """[(gguf name, Source, final float shape)] for every model tensor, in a stable order."""
    n_layers = cfg["num_hidden_layers"]
    tmap = gguf.get_tensor_name_map(arch, n_layers)
    L = cfg.get("conv_L_cache", 3)
    H = cfg["hidden_size"]
    logical = []
    for name in sorted(ckpt.entries):
        if name.endswith((".scales", ".biases")):
            base = name.rsplit(".", 1)[0]
            if base + ".weight" not in ckpt:
                raise SystemExit(f"{name} without {base}.weight")
            continue
        base = name[:-len(".weight")] if name.endswith(".weight") else None
        quant = None
        if base is not None and base + ".scales" in ckpt:
            quant = quant_params(cfg, base)
        logical.append((name, quant))

    plan = []
    for name, quant in logical:
        hf = hf_name(name)
        if hf == "lm_head.weight":
            new = "output.weight"
        else:
            new = tmap.get_name(hf, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise SystemExit(f"cannot map tensor {name} (as {hf}) to a GGUF name")
        src = Source(ckpt, name, quant)
        shape = src.shape
        if ".conv.conv." in name:  # [H, L, 1] (MLX) or [H, 1, L] (HF) -> [H, L]
            if len(shape) != 3 or shape[0] != H or sorted(shape[1:]) != [1, L]:
                raise SystemExit(f"{name}: conv kernel shape {shape}, expected [{H},{L},1] or [{H},1,{L}]")
            shape = (H, L)
        plan.append((new, src, shape))

    def key(item):
        new = item[0]
        parts = new.split(".")
        if parts[0] == "blk":
            return (1, int(parts[1]), ".".join(parts[2:]))
        return (0 if new.startswith("token_embd") else 2, 0, new)
    plan.sort(key=key)
    names = [p[0] for p in plan]
    if len(set(names)) != len(names):
        raise SystemExit("two MLX tensors map to the same GGUF name")
    return plan


def gguf_qtype(gguf, new_name, n_dims, outtype):
    """The tensor type convert_hf_to_gguf.py's prepare_tensors() picks for this tensor."""
    Q = gguf.GGMLQuantizationType
    if n_dims <= 1 or new_name.endswith("_norm.weight"):
        return Q.F32
    keep_f32 = (gguf.MODEL_TENSOR.FFN_GATE_INP, gguf.MODEL_TENSOR.SHORTCONV_CONV)
    base = new_name.rsplit(".", 1)[0]
    parts = base.split(".")
    bid = int(parts[1]) if len(parts) > 2 and parts[0] == "blk" and parts[1].isdecimal() else None
    if bid is not None and any(gguf.TENSOR_NAMES[t].format(bid=bid) == base for t in keep_f32):
        return Q.F32
    if not new_name.endswith(".weight"):
        return Q.F32
    return {"f32": Q.F32, "f16": Q.F16, "bf16": Q.BF16, "q8_0": Q.Q8_0}[outtype]


# ---------------------------------------------------------------------------
# Tokenizer

def add_vocab(gguf, writer, tok_dir, vocab_size):
    path = os.path.join(tok_dir, "tokenizer.json")
    if not os.path.exists(path):
        raise SystemExit(f"{path} not found: pass --tokenizer-dir (a directory with tokenizer.json)")
    with open(path, encoding="utf-8") as f:
        tj = json.load(f)
    model = tj.get("model", {})
    if model.get("type") != "BPE":
        raise SystemExit(f"{path}: model type {model.get('type')!r}, expected BPE")
    id_to_tok = {int(i): t for t, i in model["vocab"].items()}
    added = {}
    for a in tj.get("added_tokens", []):
        id_to_tok[int(a["id"])] = a["content"]
        added[int(a["id"])] = a
    if max(id_to_tok) >= vocab_size:
        raise SystemExit(f"tokenizer has id {max(id_to_tok)} >= model vocab_size {vocab_size}")

    def looks_special(t):  # ModelBase.does_token_look_special
        return (t in ("<pad>", "<mask>", "<2mass>", "[@BOS@]") or (t.startswith("<|") and t.endswith("|>"))
                or (t.startswith("<\uff5c") and t.endswith("\uff5c>"))
                or (t.startswith("<unused") and t.endswith(">")))

    tokens, types = [], []
    TT = gguf.TokenType
    n_pad = 0
    for i in range(vocab_size):
        if i not in id_to_tok:
            tokens.append(f"[PAD{i}]")
            types.append(TT.UNUSED)
            n_pad += 1
            continue
        t = id_to_tok[i]
        if i in added:
            if added[i].get("special") or looks_special(t):
                types.append(TT.CONTROL)
            else:
                if not added[i].get("normalized", True):
                    log.warning("added token %r is not normalized: written as is", t)
                t = t.replace("\u2581", " ")
                types.append(TT.USER_DEFINED)
        else:
            types.append(TT.NORMAL)
        tokens.append(t)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("lfm2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(tok_dir, load_merges=True, n_vocab=vocab_size)
    special.add_to_gguf(writer, quiet=True)
    log.info("vocab: %d tokens (%d padding), %d merges, special %s", len(tokens), n_pad,
             len(special.merges), special.special_token_ids)


# ---------------------------------------------------------------------------
# Main

def write_hparams(gguf, writer, cfg, ftype, arch_is_moe, plan_shapes):
    n_layers = cfg["num_hidden_layers"]
    w = writer
    w.add_block_count(n_layers)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    if arch_is_moe:
        w.add_feed_forward_length(cfg["intermediate_size"])
    else:
        w.add_feed_forward_length(lfm2_ff_dim(cfg))
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv([cfg["num_key_value_heads"] if t == "full_attention" else 0 for t in cfg["layer_types"]])
    theta = rope_theta(cfg)
    if theta is not None:
        w.add_rope_freq_base(theta)
    w.add_layer_norm_rms_eps(cfg["norm_eps"])
    if arch_is_moe:
        w.add_expert_count(cfg["num_experts"])
        w.add_expert_used_count(cfg["num_experts_per_tok"])
    if cfg.get("head_dim") is not None:
        w.add_key_length(cfg["head_dim"])
        w.add_value_length(cfg["head_dim"])
    w.add_file_type(ftype)
    if arch_is_moe:
        w.add_expert_feed_forward_length(cfg["moe_intermediate_size"])
        w.add_leading_dense_block_count(cfg["num_dense_layers"])
        w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
        if not cfg.get("norm_topk_prob", True) or float(cfg.get("routed_scaling_factor", 1.0)) != 1.0:
            log.warning("norm_topk_prob=%s routed_scaling_factor=%s: llama.cpp's lfm2moe always normalizes the "
                        "top-k weights and does not scale them", cfg.get("norm_topk_prob"),
                        cfg.get("routed_scaling_factor"))
        if not cfg.get("use_expert_bias", True):
            raise SystemExit("use_expert_bias = false: llama.cpp's lfm2moe requires exp_probs_b")
    w.add_vocab_size(cfg["vocab_size"])
    w.add_shortconv_l_cache(cfg.get("conv_L_cache", 3))

    # Consistency of the hparams with the tensors.
    ff = plan_shapes.get("blk.0.ffn_gate.weight")
    if ff is not None and ff[0] != (cfg["intermediate_size"] if arch_is_moe else lfm2_ff_dim(cfg)):
        raise SystemExit(f"feed-forward length does not match blk.0.ffn_gate {ff}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="MLX model directory (config.json + safetensors)")
    ap.add_argument("--outfile", required=True, help="output .gguf path")
    ap.add_argument("--gguf-py", required=True, help="llama.cpp's gguf-py directory (it is imported from there)")
    ap.add_argument("--outtype", choices=["f16", "f32", "bf16", "q8_0"], default="f16")
    ap.add_argument("--tokenizer-dir", help="directory with tokenizer.json / tokenizer_config.json "
                    "(default: the model directory)")
    ap.add_argument("--no-vocab", action="store_true",
                    help="write no tokenizer (tokenizer.ggml.model = none, as convert_hf_to_gguf's _set_vocab_none): "
                    "enough for logits from token ids, not for llama-bench")
    ap.add_argument("--name", help="general.name (default: the model directory's name)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")

    sys.path.insert(0, os.path.abspath(args.gguf_py))
    import gguf  # noqa: E402  (llama.cpp's gguf-py)
    if not os.path.abspath(gguf.__file__).startswith(os.path.abspath(args.gguf_py)):
        log.warning("gguf imported from %s, not from --gguf-py", gguf.__file__)

    t0 = time.time()
    cfg = load_config(args.model)
    is_moe = cfg["model_type"] == "lfm2_moe"
    arch = gguf.MODEL_ARCH.LFM2MOE if is_moe else gguf.MODEL_ARCH.LFM2
    ckpt = Checkpoint(args.model)
    plan = plan_tensors(ckpt, cfg, gguf, arch)

    Q = gguf.GGMLQuantizationType
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[args.outtype]

    writer = gguf.GGUFWriter(args.outfile, gguf.MODEL_ARCH_NAMES[arch])
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(args.name or os.path.basename(os.path.normpath(args.model)))
    write_hparams(gguf, writer, cfg, ftype, is_moe, {n: s for n, _, s in plan})
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    if args.no_vocab:
        writer.add_tokenizer_model("none")
    else:
        add_vocab(gguf, writer, args.tokenizer_dir or args.model, cfg["vocab_size"])

    # Tensor infos up front (sizes are known from the shapes), then data streamed in order.
    qtypes, sizes = [], []
    for new, src, shape in plan:
        qt = gguf_qtype(gguf, new, len(shape), args.outtype)
        if qt == Q.Q8_0 and shape[-1] % 32:
            log.warning("%s: last dim %d not a multiple of 32, falling back to F16", new, shape[-1])
            qt = Q.F16
        qtypes.append(qt)
        if qt in (Q.F32, Q.F16):
            np_dtype = np.float32 if qt == Q.F32 else np.float16
            nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(np_dtype).itemsize
            writer.add_tensor_info(new, shape, np.dtype(np_dtype), nbytes)
            sizes.append(nbytes)
        else:
            bshape = gguf.quant_shape_to_byte_shape(shape, qt)
            nbytes = int(np.prod(bshape, dtype=np.int64))
            writer.add_tensor_info(new, bshape, np.dtype(np.uint8), nbytes, raw_dtype=qt)
            sizes.append(nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    fout = writer.fout[0]
    total = 0
    for (new, src, shape), qt, expected in zip(plan, qtypes, sizes):
        writer.write_padding(fout, fout.tell())
        start = fout.tell()
        n_inf = 0
        for chunk in src.rows():
            if qt == Q.F32:
                out = chunk.astype("<f4")
            elif qt == Q.F16:
                out = chunk.astype("<f2")
                n_inf += int(np.count_nonzero(~np.isfinite(out)))
            else:
                out = gguf.quants.quantize(np.ascontiguousarray(chunk), qt)
            out.tofile(fout)
        nbytes = fout.tell() - start
        if nbytes != expected:
            raise SystemExit(f"{new}: wrote {nbytes} bytes, tensor info says {expected}")
        writer.write_padding(fout, nbytes)
        total += nbytes
        if n_inf:
            log.warning("%s: %d values overflow float16", new, n_inf)
        q = f"{src.quant[0]}-bit g{src.quant[1]}" if src.quant else src.ckpt.tag(src.name)
        log.info("%-32s %-14s -> %-4s %-22s %8.1f MiB  %6.1fs", new, q, qt.name,
                 "{" + ", ".join(str(d) for d in reversed(shape)) + "}", nbytes / 2**20, time.time() - t0)
    writer.close()
    log.info("wrote %s: %d tensors, %.2f GiB of tensor data, %.1fs", args.outfile, len(plan), total / 2**30,
             time.time() - t0)


if __name__ == "__main__":
    main()
