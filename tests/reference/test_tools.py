#!/usr/bin/python3
"""Self-test of the Python tooling and the float64 reference (plain unittest).

Where it sits: tests/reference. Run:  /usr/bin/python3 tests/reference/test_tools.py [-v]
Needs numpy only. Golden cases are read from $LFM2_GOLDEN_DIR (default
/work/shared/golden, else ../shared/golden next to the repo); tests that need
them are skipped when they are absent.

Covers:
  * MLX affine quantization: vectorized implementation == a scalar restatement
    of spec 4.3 for every bits x group x dtype, rounding ties, roundtrips;
  * bit packing == the spec 4.4 bit-stream rule, the byte-form examples for
    3/5/6 bits and the 3-bit worked example of spec 4.5;
  * bf16 rounding; the safetensors writer/reader;
  * the generator: configs, indexes and headers exactly like the goldens,
    sizes of the real-model presets, determinism, direct quantization;
  * the reference: goldens (logits + greedy), prefill == decode, every
    config/storage variant re-read, equal logits where the variants are
    equivalent, shape validation; compare_logits.py exit codes.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.path.insert(0, HERE)

import lfm2_ref  # noqa: E402
import make_test_model  # noqa: E402
import mlx_format as mf  # noqa: E402


def golden_dir():
    for d in (os.environ.get("LFM2_GOLDEN_DIR"), "/work/shared/golden",
              os.path.join(os.path.dirname(REPO), "shared", "golden")):
        if d and os.path.isdir(os.path.join(d, "moe_q4_g64")):
            return d
    return None


GOLDEN = golden_dir()
GOLDEN_CASES = ("dense_f32", "moe_q4_g64", "moe_q3_g64_2shards")
DTYPES = ("float32", "bfloat16", "float16")


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def read_ids(path):
    with open(path) as f:
        return [int(t) for t in f.read().strip().split(",")]


def generate(out, *flags):
    """Run the generator in-process; returns its summary dict."""
    args = make_test_model.make_parser().parse_args(["--out", out, "--quiet", *flags])
    return make_test_model.generate(make_test_model.resolve_options(args))


def plan(*flags):
    """(modules, quantization block) of a generator configuration, without writing anything."""
    args = make_test_model.make_parser().parse_args(["--out", "/nonexistent", *flags])
    o = make_test_model.resolve_options(args)
    mods = make_test_model.build_modules(o)
    return mods, make_test_model.assign_quantization(o, mods)


# ---------------------------------------------------------------------------
# Quantization

def scalar_quantize_group(values, bits):
    """Spec 4.3 restated element by element with numpy float32 scalars (the slow, obvious way)."""
    f32 = np.float32
    n_bins = f32((1 << bits) - 1)
    w_max = max(f32(v) for v in values)
    w_min = min(f32(v) for v in values)
    edge_is_min = abs(w_min) > abs(w_max)
    scale = max(f32(w_max - w_min) / n_bins, f32(1e-7))
    scale = scale if edge_is_min else -scale
    edge = w_min if edge_is_min else w_max
    q0 = np.rint(f32(edge / scale))
    bias = f32(0)
    if q0 != 0:
        scale = f32(edge / q0)
        bias = edge
    codes = [int(min(max(np.rint(f32(f32(v - bias) / scale)), f32(0)), n_bins)) for v in values]
    return codes, f32(scale), f32(bias)


def stream_pack(codes, bits):
    """Spec 4.4 literally: one little-endian bit stream per row, as a Python integer."""
    acc = 0
    for k, c in enumerate(codes):
        acc |= int(c) << (k * bits)
    n_words = len(codes) * bits // 32
    return [(acc >> (32 * j)) & 0xFFFFFFFF for j in range(n_words)]


class QuantizationTest(unittest.TestCase):
    def test_matches_scalar_restatement(self):
        rng = np.random.default_rng(0)
        for tag in DTYPES:
            for bits in mf.SUPPORTED_BITS:
                for group in mf.SUPPORTED_GROUP_SIZES:
                    w = rng.standard_normal((3, 2 * group)).astype(np.float32) * 0.05
                    w[0, :group] += 0.3          # a group whose edge is its maximum
                    w[1, group:] = 0.0           # a constant group (scale = 1e-7 path, bias 0)
                    w[2, :group] = 0.02          # a constant nonzero group
                    w = mf.round_to_dtype(w, tag)
                    packed, scales, biases = mf.mlx_quantize(w, group, bits, tag)
                    codes = mf.unpack_bits(packed, bits)
                    s = mf.decode_float(scales, tag)
                    b = mf.decode_float(biases, tag)
                    for r in range(w.shape[0]):
                        for g in range(2):
                            vals = w[r, g * group:(g + 1) * group]
                            want_q, want_s, want_b = scalar_quantize_group(vals, bits)
                            msg = f"{tag} bits={bits} group={group} row={r} group#={g}"
                            self.assertEqual(codes[r, g * group:(g + 1) * group].tolist(), want_q, msg)
                            self.assertEqual(s[r, g], mf.round_to_dtype(np.array([want_s]), tag)[0], msg)
                            self.assertEqual(b[r, g], mf.round_to_dtype(np.array([want_b]), tag)[0], msg)

    def test_roundtrip_every_bits_group_dtype(self):
        rng = np.random.default_rng(1)
        for tag in DTYPES:
            for bits in mf.SUPPORTED_BITS:
                for group in mf.SUPPORTED_GROUP_SIZES:
                    w = mf.round_to_dtype(rng.standard_normal((2, 3, 256)).astype(np.float32), tag)
                    packed, scales, biases = mf.mlx_quantize(w, group, bits, tag)
                    msg = f"{tag} bits={bits} group={group}"
                    self.assertEqual(packed.dtype, np.uint32)
                    self.assertEqual(packed.shape, (2, 3, 256 * bits // 32), msg)
                    self.assertEqual(scales.shape, (2, 3, 256 // group), msg)
                    codes = mf.unpack_bits(packed, bits)
                    self.assertTrue(np.array_equal(mf.pack_bits(codes, bits), packed), msg)
                    # the independent unpacker of the reference agrees
                    self.assertTrue(np.array_equal(lfm2_ref._unpack_codes(packed, bits), codes), msg)
                    s = mf.decode_float(scales, tag).astype(np.float64)
                    b = mf.decode_float(biases, tag).astype(np.float64)
                    deq = mf.dequantize(packed, s, b, group, bits, np.float64)
                    # error bound: one step (half a step from rounding, up to one where the far
                    # end of the group is clamped), plus the rounding of scale/bias to the dtype
                    step = np.repeat(np.abs(s), group, axis=-1)
                    slack = {"float32": 1e-6, "bfloat16": 2 ** -8, "float16": 2 ** -11}[tag]
                    bound = step * (1.0 + slack * (1 << bits)) + np.repeat(np.abs(b), group, axis=-1) * slack + 1e-7
                    self.assertTrue(np.all(np.abs(deq - w) <= bound), msg)
                    # the bias is the group's minimum or maximum (q = 0 there)
                    grouped = w.reshape(2, 3, -1, group)
                    edges_ok = (b == mf.round_to_dtype(grouped.min(-1), tag)) | (b == mf.round_to_dtype(grouped.max(-1), tag))
                    self.assertTrue(np.all(edges_ok), msg)

    def test_round_half_to_even(self):
        # bits=2: edge = max = 3, scale = -1, bias = 3 -> q = rint(3 - w); 1.5 and 2.5 are ties.
        w = np.zeros((1, 32), np.float32)
        w[0, :4] = [0.0, 3.0, 1.5, 0.5]
        q, s, b = mf.affine_quantize_values(w, 32, 2)
        self.assertEqual((s[0, 0], b[0, 0]), (np.float32(-1.0), np.float32(3.0)))
        self.assertEqual(q[0, :4].tolist(), [3, 0, 2, 2])  # rint(1.5) = 2, rint(2.5) = 2

    def test_negative_edge(self):
        # |min| > |max|: edge = min, scale positive, bias = min.
        w = np.linspace(-2.0, 1.0, 64, dtype=np.float32)[None]
        q, s, b = mf.affine_quantize_values(w, 64, 4)
        self.assertEqual(b[0, 0], np.float32(-2.0))
        self.assertGreater(s[0, 0], 0)
        self.assertEqual((q[0, 0], q[0, -1]), (0, 15))

    def test_bf16_round_to_nearest_even(self):
        vals = np.array([1.0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -1 - 2 ** -8, np.inf, -np.inf, np.nan,
                         3.4e38, 1e-40], dtype=np.float32)
        bits = mf.f32_to_bf16_bits(vals)
        self.assertEqual([hex(int(x)) for x in bits],
                         ["0x3f80", "0x3f80", "0x3f82", "0xbf80", "0x7f80", "0xff80", "0x7fc0", "0x7f80", "0x1"])
        self.assertEqual(mf.bf16_bits_to_f32(np.array([0x3F82], np.uint16))[0], np.float32(1 + 2 ** -6))


class PackingTest(unittest.TestCase):
    def test_stream_rule_all_bits(self):
        rng = np.random.default_rng(2)
        for bits in mf.SUPPORTED_BITS:
            codes = rng.integers(0, 1 << bits, size=(4, 128))
            packed = mf.pack_bits(codes, bits)
            for r in range(4):
                self.assertEqual(packed[r].tolist(), stream_pack(codes[r], bits), f"bits={bits}")

    def test_byte_form_examples(self):
        """The byte-form readings of spec 4.4 (3 bits: 8 values in 3 bytes, 5: 8 in 5, 6: 4 in 3)."""
        def bitsof(byte, lo, hi):
            return (byte >> lo) & ((1 << (hi - lo + 1)) - 1)

        def read3(b):
            return [bitsof(b[0], 0, 2), bitsof(b[0], 3, 5), bitsof(b[0], 6, 7) | bitsof(b[1], 0, 0) << 2,
                    bitsof(b[1], 1, 3), bitsof(b[1], 4, 6), bitsof(b[1], 7, 7) | bitsof(b[2], 0, 1) << 1,
                    bitsof(b[2], 2, 4), bitsof(b[2], 5, 7)]

        def read5(b):
            return [bitsof(b[0], 0, 4), bitsof(b[0], 5, 7) | bitsof(b[1], 0, 1) << 3, bitsof(b[1], 2, 6),
                    bitsof(b[1], 7, 7) | bitsof(b[2], 0, 3) << 1, bitsof(b[2], 4, 7) | bitsof(b[3], 0, 0) << 4,
                    bitsof(b[3], 1, 5), bitsof(b[3], 6, 7) | bitsof(b[4], 0, 2) << 2, bitsof(b[4], 3, 7)]

        def read6(b):
            return [bitsof(b[0], 0, 5), bitsof(b[0], 6, 7) | bitsof(b[1], 0, 3) << 2,
                    bitsof(b[1], 4, 7) | bitsof(b[2], 0, 1) << 4, bitsof(b[2], 2, 7)]

        rng = np.random.default_rng(3)
        for bits, per_pack, pack_bytes, reader in ((3, 8, 3, read3), (5, 8, 5, read5), (6, 4, 3, read6)):
            codes = rng.integers(0, 1 << bits, size=(2, 256))
            raw = mf.pack_bits(codes, bits).astype("<u4").view(np.uint8)
            for r in range(2):
                decoded = []
                for p in range(256 // per_pack):
                    decoded += reader([int(x) for x in raw[r, p * pack_bytes:(p + 1) * pack_bytes]])
                self.assertEqual(decoded, codes[r].tolist(), f"bits={bits}")

    def test_3bit_worked_example(self):
        """Spec 4.5: where q10, q21, q42, q53 (the straddling ones) and their neighbours live."""
        def words_with(k, value=7):
            codes = np.zeros((1, 64), np.int64)
            codes[0, k] = value
            return mf.pack_bits(codes, 3)[0].tolist()

        self.assertEqual(words_with(9), [7 << 27, 0, 0, 0, 0, 0])
        self.assertEqual(words_with(10, 0b101), [0b01 << 30, 0b1, 0, 0, 0, 0])   # bits 0-1 in W0[30:32], bit 2 in W1[0]
        self.assertEqual(words_with(11), [0, 7 << 1, 0, 0, 0, 0])
        self.assertEqual(words_with(21, 0b110), [0, 0 << 31, 0b11, 0, 0, 0])    # bit 0 -> W1[31], bits 1-2 -> W2[0:2]
        self.assertEqual(words_with(21, 0b001), [0, 1 << 31, 0, 0, 0, 0])
        self.assertEqual(words_with(31), [0, 0, 7 << 29, 0, 0, 0])
        self.assertEqual(words_with(42, 0b111), [0, 0, 0, 0b11 << 30, 1, 0])
        self.assertEqual(words_with(53, 0b011), [0, 0, 0, 0, 1 << 31, 0b01])
        self.assertEqual(words_with(63), [0, 0, 0, 0, 0, 7 << 29])


class SafetensorsTest(unittest.TestCase):
    def test_writer_layout_and_roundtrip(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.safetensors")
            a = np.arange(6, dtype=np.float32).reshape(2, 3)
            b = np.arange(5, dtype=np.uint32)
            c = mf.encode_float(np.array([1.5, -2.0, 3.25]), "BF16")
            tensors = {"b.x": ("U32", (5,)), "a.y": ("F32", (2, 3)), "c": ("BF16", (3,))}
            with mf.SafetensorsWriter(path, tensors, order=["c", "a.y", "b.x"]) as w:
                w.write("a.y", a[1], byte_offset=12)   # partial writes, any order
                w.write("b.x", b)
                w.write("a.y", a[0])
                w.write("c", c)
            raw = read_bytes(path)
            n = int.from_bytes(raw[:8], "little")
            header = raw[8:8 + n]
            parsed = json.loads(header)
            self.assertEqual(header, json.dumps(parsed, separators=(",", ":"), sort_keys=True).encode())
            self.assertTrue(header.startswith(b'{"__metadata__":{"format":"mlx"},"a.y":{"data_offsets":[6,30]'))
            self.assertEqual(len(raw), 8 + n + 24 + 20 + 6)   # no padding anywhere
            r = mf.SafetensorsReader(path)
            r.validate()
            self.assertTrue(np.array_equal(r.read("a.y"), a))
            self.assertTrue(np.array_equal(r.read("b.x"), b))
            self.assertEqual(r.read_float("c").tolist(), [1.5, -2.0, 3.25])

    def test_writer_detects_missing_data(self):
        with tempfile.TemporaryDirectory() as d:
            w = mf.SafetensorsWriter(os.path.join(d, "x.safetensors"), {"t": ("F32", (4,))})
            w.write("t", np.zeros(2, np.float32))
            with self.assertRaises(RuntimeError):
                w.close()


# ---------------------------------------------------------------------------
# Generator

def header_structure(path):
    """Header JSON with data_offsets blanked: names, dtypes, shapes, metadata, key order."""
    r = mf.SafetensorsReader(path)
    r.validate()
    self_canonical = json.dumps(json.loads(r.header_bytes), separators=(",", ":"), sort_keys=True).encode()
    assert r.header_bytes == self_canonical, "header is not compact sorted JSON"
    blank = {k: {"dtype": v["dtype"], "shape": v["shape"]} for k, v in r.header.items()}
    return r.metadata, blank


@unittest.skipIf(GOLDEN is None, "golden cases not found")
class GeneratorLikeGoldensTest(unittest.TestCase):
    """Generated checkpoints configured like the goldens have the goldens' exact layout."""

    LIKE = {
        "dense_f32": ["--preset", "tiny-dense"],
        "moe_q4_g64": ["--preset", "tiny-moe"],
        "moe_q3_g64_2shards": ["--preset", "tiny-moe", "--num-layers", "8", "--attn-layers", "2,6",
                               "--kv-heads", "1", "--moe-intermediate-size", "64", "--bits", "3", "--shards", "2"],
    }

    def test_same_files_config_index_and_headers(self):
        for case, flags in self.LIKE.items():
            with tempfile.TemporaryDirectory() as d:
                generate(d, *flags)
                gold = os.path.join(GOLDEN, case, "model")
                self.assertEqual(sorted(os.listdir(d)), sorted(os.listdir(gold)), case)
                for name in ("config.json", "model.safetensors.index.json"):
                    self.assertEqual(read_bytes(os.path.join(d, name)), read_bytes(os.path.join(gold, name)),
                                     f"{case}/{name} differs from the golden")
                for name in os.listdir(gold):
                    if name.endswith(".safetensors"):
                        self.assertEqual(header_structure(os.path.join(d, name)),
                                         header_structure(os.path.join(gold, name)), f"{case}/{name}")


class GeneratorTest(unittest.TestCase):
    def test_lfm2_8b_a1b_plan(self):
        """Spec 2.3 / 3.2: 566 tensors, 3,649,954,048 bytes, 8,339,930,560 parameters."""
        mods, qblock = plan("--preset", "lfm2-8b-a1b")
        tensors = {}
        for m in mods:
            tensors.update(m.tensors())
        self.assertEqual(len(tensors), 566)
        size = sum(int(np.prod(s)) * mf.STORAGE_DTYPES[t][1] for t, s in tensors.values())
        self.assertEqual(size, 3_649_954_048)
        self.assertEqual(sum(m.parameters() for m in mods), 8_339_930_560)
        self.assertEqual(tensors["model.layers.5.feed_forward.switch_mlp.down_proj.weight"], ("U32", (32, 2048, 168)))
        self.assertEqual(tensors["model.layers.5.feed_forward.gate.weight"], ("U32", (32, 512)))
        self.assertEqual(tensors["model.layers.5.feed_forward.expert_bias"], ("F32", (32,)))
        self.assertEqual(tensors["model.layers.3.conv.conv.weight"][1], (2048, 3, 1))
        self.assertEqual(qblock["model.layers.23.feed_forward.gate"], {"group_size": 64, "bits": 8})
        self.assertEqual(len(qblock), 3 + 22)

    def test_lfm2_1_2b_plan(self):
        """Spec 2.2: LFM2-1.2B has 148 tensors and 1,170,340,608 parameters (FFN 12288 -> 8192)."""
        mods, _ = plan("--preset", "lfm2-1.2b", "--bits", "0")
        self.assertEqual(len(mods), 148)
        self.assertEqual(sum(m.parameters() for m in mods), 1_170_340_608)

    def test_legacy_dense_config(self):
        with tempfile.TemporaryDirectory() as d:
            generate(d, "--preset", "tiny-dense", "--schema", "legacy", "--block-ff-dim", "600",
                     "--eos", "7,2", "--tie-key", "tie_embedding")
            cfg = read_json(os.path.join(d, "config.json"))
            self.assertNotIn("layer_types", cfg)
            self.assertNotIn("intermediate_size", cfg)
            self.assertEqual(cfg["full_attn_idxs"], [2, 4])
            self.assertTrue(cfg["block_auto_adjust_ff_dim"])
            self.assertEqual(cfg["eos_token_id"], [7, 2])
            self.assertTrue(cfg["tie_embedding"])
            gen = read_json(os.path.join(d, "generation_config.json"))
            self.assertEqual(gen["eos_token_id"], [7, 2])
            r = mf.SafetensorsReader(os.path.join(d, "model.safetensors"))
            self.assertEqual(r.info("model.layers.0.feed_forward.w1.weight")[1], (512, 128))  # int(2*600/3)=400 -> 512

    def test_overrides_and_router_same(self):
        with tempfile.TemporaryDirectory() as d:
            generate(d, "--preset", "tiny-moe", "--router-bits", "same", "--override", "self_attn.v_proj=6:32",
                     "--override", "layers.4.conv.out_proj=0")
            cfg = read_json(os.path.join(d, "config.json"))
            q = cfg["quantization"]
            self.assertEqual(q, cfg["quantization_config"])
            self.assertNotIn("model.layers.2.feed_forward.gate", q)
            self.assertEqual(q["model.layers.1.self_attn.v_proj"], {"group_size": 32, "bits": 6})
            self.assertIs(q["model.layers.4.conv.out_proj"], False)
            r = mf.SafetensorsReader(os.path.join(d, "model.safetensors"))
            self.assertEqual(r.info("model.layers.1.self_attn.v_proj.scales")[1], (128, 8))
            self.assertEqual(r.info("model.layers.4.conv.out_proj.weight")[:2], ("BF16", (256, 256)))
            self.assertNotIn("model.layers.4.conv.out_proj.scales", r.header)

    def test_deterministic(self):
        with tempfile.TemporaryDirectory() as d:
            for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
                generate(os.path.join(d, name), "--preset", "tiny-moe", "--hidden-size", "128",
                         "--num-experts", "4", "--seed", seed)
            blob = lambda n: read_bytes(os.path.join(d, n, "model.safetensors"))
            self.assertEqual(blob("a"), blob("b"))
            self.assertNotEqual(blob("a"), blob("c"))

    def test_direct_quantization_statistics(self):
        """Direct mode: dequantized weights have mean ~0 and the intended std; codes cover the range."""
        with tempfile.TemporaryDirectory() as d:
            generate(d, "--preset", "tiny-moe", "--bits", "3", "--direct-quant", "on")
            cfg = read_json(os.path.join(d, "config.json"))
            r = mf.SafetensorsReader(os.path.join(d, "model.safetensors"))
            for path, std in (("model.layers.0.conv.in_proj", 1 / 16), ("model.embed_tokens", 3 / 16)):
                deq = mf.dequantize(r.read(path + ".weight"), r.read_float(path + ".scales"),
                                    r.read_float(path + ".biases"), 64, 3, np.float64)
                self.assertLess(abs(deq.mean()), 0.02 * std)
                self.assertAlmostEqual(deq.std() / std, 1.0, delta=0.05)
            self.assertEqual(cfg["quantization"]["bits"], 3)
            m = lfm2_ref.Model(d)
            st = lfm2_ref.health_stats(m, [1] + list(range(100, 140)))
            self.assertTrue(1.0 < st["logit_std_mean"] < 6.0)


# ---------------------------------------------------------------------------
# Reference

@unittest.skipIf(GOLDEN is None, "golden cases not found")
class ReferenceGoldenTest(unittest.TestCase):
    def test_goldens(self):
        for case in GOLDEN_CASES:
            d = os.path.join(GOLDEN, case)
            ids = read_ids(os.path.join(d, "tokens.txt"))
            meta = read_json(os.path.join(d, "case.json"))
            gold = np.fromfile(os.path.join(d, "logits.f32"), "<f4").reshape(meta["logits"]["shape"])
            model = lfm2_ref.Model(os.path.join(d, "model"))
            mine = model.forward(ids)
            rel = np.linalg.norm(mine - gold, axis=1) / np.linalg.norm(gold, axis=1)
            self.assertLess(rel.max(), 5e-6, case)
            self.assertTrue(np.array_equal(mine.argmax(1), gold.argmax(1)), case)
            want = read_ids(os.path.join(d, "greedy.txt"))
            self.assertEqual(model.greedy(ids, len(want)), want, case)


# Variants for the re-read test: (flags, expected equal-logits partner or None).
BASE_MOE = ["--preset", "tiny-moe", "--hidden-size", "128", "--num-layers", "4", "--attn-layers", "1",
            "--heads", "2", "--kv-heads", "1", "--vocab-size", "512", "--intermediate-size", "256",
            "--moe-intermediate-size", "64", "--num-experts", "8", "--experts-per-tok", "2",
            "--num-dense-layers", "1", "--seed", "11"]
BASE_DENSE = ["--preset", "tiny-dense", "--vocab-size", "512", "--intermediate-size", "512", "--seed", "12"]
VARIANTS = {
    "moe": (BASE_MOE, None),
    "moe_2shards": (BASE_MOE + ["--shards", "2"], "moe"),
    "moe_3shards_noindex": (BASE_MOE + ["--shards", "3", "--no-index"], "moe"),
    "moe_rope_parameters_headdim": (BASE_MOE + ["--rope-style", "rope_parameters", "--head-dim-key"], "moe"),
    "moe_hf_conv": (BASE_MOE + ["--conv-layout", "hf"], "moe"),
    "moe_legacy": (BASE_MOE + ["--schema", "legacy", "--tie-key", "tie_word_embeddings"], "moe"),
    "moe_f16_q5_g32": (BASE_MOE + ["--dtype", "float16", "--bits", "5", "--group-size", "32"], None),
    "moe_f32_q6_g128_router_same": (BASE_MOE + ["--dtype", "float32", "--bits", "6", "--group-size", "128",
                                                "--router-bits", "same"], None),
    "moe_q2_g64": (BASE_MOE + ["--bits", "2"], None),
    "moe_q8_nobias_nonorm": (BASE_MOE + ["--bits", "8", "--no-expert-bias", "--no-norm-topk-prob",
                                         "--routed-scaling-factor", "2.5", "--expert-bias-dtype", "bfloat16"], None),
    "moe_unquantized_bf16_eb": (BASE_MOE + ["--bits", "0", "--expert-bias-dtype", "bfloat16"], None),
    "moe_mixed": (BASE_MOE + ["--override", "v_proj=6:32", "--override", "switch_mlp.down_proj=8:32"], None),
    "dense": (BASE_DENSE, None),
    "dense_legacy": (BASE_DENSE + ["--schema", "legacy", "--block-ff-dim", "768"], "dense"),
    "dense_bf16_q4_convbias": (BASE_DENSE + ["--dtype", "bfloat16", "--bits", "4", "--conv-bias",
                                             "--rope-theta", "10000"], None),
    "dense_f16_q3_g32_2shards": (BASE_DENSE + ["--dtype", "float16", "--bits", "3", "--group-size", "32",
                                               "--shards", "2"], None),
}


def dequantized_copy(src, dst):
    """Rewrite a checkpoint with every quantized tensor dequantized to F32 (and no quantization block)."""
    os.makedirs(dst)
    cfg = read_json(os.path.join(src, "config.json"))
    q = cfg.pop("quantization", None)
    cfg.pop("quantization_config", None)
    write_json(os.path.join(dst, "config.json"), cfg)
    out = {}
    for name in sorted(os.listdir(src)):
        if not name.endswith(".safetensors"):
            continue
        r = mf.SafetensorsReader(os.path.join(src, name))
        for t in r.names():
            if t.endswith((".scales", ".biases")):
                continue
            path = t[:-len(".weight")]
            if t.endswith(".weight") and path + ".scales" in r.header:
                entry = q.get(path) if isinstance(q.get(path), dict) else q
                out[t] = mf.dequantize(r.read(t), r.read_float(path + ".scales"), r.read_float(path + ".biases"),
                                       entry["group_size"], entry["bits"], np.float64).astype(np.float32)
            else:
                out[t] = r.read_float(t)
    with mf.SafetensorsWriter(os.path.join(dst, "model.safetensors"),
                              {t: ("F32", a.shape) for t, a in out.items()}) as w:
        for t, a in out.items():
            w.write(t, a)


class ReferenceVariantsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lfm2_ref_test_")
        cls.ids = [1, 5, 77, 300, 2, 9, 450, 33, 7, 128, 511, 64, 3, 200, 41, 90]
        cls.logits = {}
        for name, (flags, _) in VARIANTS.items():
            d = os.path.join(cls.tmp, name)
            generate(d, *flags)
            cls.logits[name] = lfm2_ref.Model(d).forward(cls.ids)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_every_variant_is_read_and_healthy(self):
        for name, lg in self.logits.items():
            self.assertEqual(lg.shape, (len(self.ids), 512), name)
            self.assertTrue(np.all(np.isfinite(lg)), name)
            std = lg.std(axis=1).mean()
            self.assertTrue(1.0 < std < 6.0, f"{name}: logit std {std}")
            self.assertGreater(len(np.unique(lg.argmax(1))), len(self.ids) // 2, name)

    def test_equivalent_variants_give_equal_logits(self):
        """Sharding, missing index, config aliases and the HF conv layout must not change anything."""
        for name, (_, partner) in VARIANTS.items():
            if partner:
                np.testing.assert_allclose(self.logits[name], self.logits[partner], rtol=0, atol=1e-12,
                                           err_msg=f"{name} vs {partner}")

    def test_quantized_equals_dequantized_f32(self):
        """Reference dequantization (its own unpacker, per-path bits) == mlx_format's dequantization."""
        for name in ("moe", "moe_f16_q5_g32", "moe_f32_q6_g128_router_same", "moe_mixed",
                     "dense_f16_q3_g32_2shards", "moe_q2_g64"):
            d = os.path.join(self.tmp, name + "_f32")
            dequantized_copy(os.path.join(self.tmp, name), d)
            lg = lfm2_ref.Model(d).forward(self.ids)
            rel = np.linalg.norm(lg - self.logits[name], axis=1) / np.linalg.norm(lg, axis=1)
            self.assertLess(rel.max(), 1e-6, name)

    def test_decode_equals_prefill(self):
        for name in ("moe", "dense_bf16_q4_convbias"):
            model = lfm2_ref.Model(os.path.join(self.tmp, name))
            state = model.new_state()
            first = model.forward(self.ids[:5], state)
            rows = [model.forward([t], state)[0] for t in self.ids[5:]]
            step = np.vstack([first, rows])
            np.testing.assert_allclose(step, self.logits[name], rtol=0, atol=1e-9, err_msg=name)

    def test_shape_mismatch_is_reported(self):
        d = os.path.join(self.tmp, "broken")
        shutil.copytree(os.path.join(self.tmp, "moe"), d)
        cfg = read_json(os.path.join(d, "config.json"))
        cfg["moe_intermediate_size"] = 128
        write_json(os.path.join(d, "config.json"), cfg)
        with self.assertRaisesRegex(ValueError, "switch_mlp.gate_proj.weight: shape"):
            lfm2_ref.Model(d)

    def test_cli_and_compare_logits(self):
        d = os.path.join(self.tmp, "moe")
        a, b = os.path.join(self.tmp, "a.f32"), os.path.join(self.tmp, "b.f32")
        ids = ",".join(map(str, self.ids))
        run = lambda *args: subprocess.run([sys.executable, *args], capture_output=True, text=True)
        ref = os.path.join(HERE, "lfm2_ref.py")
        res = run(ref, "--model", d, "--tokens", ids, "--all-positions", "--out", a, "--greedy", "3")
        self.assertEqual(res.returncode, 0, res.stderr)
        lg = np.fromfile(a, "<f4").reshape(len(self.ids), 512)
        np.testing.assert_allclose(lg, self.logits["moe"], rtol=1e-6, atol=1e-5)
        self.assertEqual(res.stdout.strip(), ",".join(map(str, lfm2_ref.Model(d).greedy(self.ids, 3))))
        res = run(ref, "--model", d, "--tokens", ids, "--out", b)           # last position only
        self.assertEqual(np.fromfile(b, "<f4").shape, (512,))

        cmp = os.path.join(HERE, "compare_logits.py")
        noisy = lg * (1 + 1e-4 * np.random.default_rng(0).standard_normal(lg.shape))
        noisy.astype("<f4").tofile(b)
        self.assertEqual(run(cmp, a, b, "--vocab", "512", "--max-rel", "1e-3", "--top1", "0.9").returncode, 0)
        self.assertEqual(run(cmp, a, b, "--vocab", "512", "--max-rel", "1e-6").returncode, 1)
        self.assertEqual(run(cmp, a, b, "--shape", f"{len(self.ids)},512", "--mean-rel", "1e-3").returncode, 0)
        self.assertEqual(run(cmp, a, b, "--vocab", "500").returncode, 2)


if __name__ == "__main__":
    unittest.main()
