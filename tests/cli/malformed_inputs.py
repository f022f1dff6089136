#!/usr/bin/python3
"""Malformed checkpoints and inputs: every case must make `lfm2` exit 1 with ONE line on stderr,
"lfm2: error: ...", that contains the listed fragments (what, where, expected, got) - never a
crash, a hang or silently wrong output. Run under ASan/UBSan in CI.

usage: malformed_inputs.py LFM2_BINARY SHARED_DIR
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

LFM2, SHARED = sys.argv[1], sys.argv[2]
GOLDEN = os.path.join(SHARED, "golden")
Q4 = os.path.join(GOLDEN, "moe_q4_g64", "model")       # single model.safetensors + index
Q3 = os.path.join(GOLDEN, "moe_q3_g64_2shards", "model")  # two shards + index


def read_st(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_st(path, header, body, raw_header=None):
    text = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


def edit_header(name, fn):
    def mutate(d):
        path = os.path.join(d, name)
        header, body = read_st(path)
        fn(header)
        write_st(path, header, body)
    return mutate


def edit_json(name, fn):
    def mutate(d):
        path = os.path.join(d, name)
        with open(path) as f:
            obj = json.load(f)
        fn(obj)
        with open(path, "w") as f:
            json.dump(obj, f, indent=2)
    return mutate


def write_bytes(name, data_fn):
    def mutate(d):
        path = os.path.join(d, name)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data_fn(data))
    return mutate


def set_key(key, value):
    def fn(obj):
        obj[key] = value
    return fn


def set_tensor(tensor, field, value):
    def fn(header):
        header[tensor][field] = value
    return fn


def remove_tensor(tensor):
    def fn(header):
        del header[tensor]
    return fn


def remove_index_and(fn):
    def mutate(d):
        os.remove(os.path.join(d, "model.safetensors.index.json"))
        fn(d)
    return mutate


def set_quant(key, value):
    def fn(cfg):
        cfg["quantization"][key] = value
        cfg.pop("quantization_config", None)
    return fn


def delete_file(name):
    return lambda d: os.remove(os.path.join(d, name))


ST = "model.safetensors"
SHARD1 = "model-00001-of-00002.safetensors"
EMB = "model.embed_tokens.weight"
NORM = "model.layers.0.operator_norm.weight"

# (name, source model, mutation, fragments expected in the error line, extra args)
CASES = [
    ("truncated file", Q4, write_bytes(ST, lambda b: b[: len(b) // 2]), [ST, "past the end"]),
    ("shorter than 8 bytes", Q4, write_bytes(ST, lambda b: b[:5]), [ST, "5 bytes", "too short"]),
    ("header length past EOF", Q4, write_bytes(ST, lambda b: struct.pack("<Q", len(b)) + b[8:]),
     [ST, "header length", "runs past the end"]),
    ("huge header length", Q4, write_bytes(ST, lambda b: struct.pack("<Q", 1 << 40) + b[8:]),
     [ST, "header length 1099511627776", "exceeds the limit"]),
    ("bad JSON header", Q4, write_bytes(ST, lambda b: b[:9] + b"#" + b[10:]), [ST, "invalid JSON", "line 1, column 2"]),
    ("header not an object", Q4, lambda d: write_st(os.path.join(d, ST), None, b"", raw_header=b"[1, 2]"),
     [ST, "does not start with '{'"]),
    ("unknown dtype", Q4, edit_header(ST, set_tensor(NORM, "dtype", "Q4K")), [NORM, "unknown dtype \"Q4K\""]),
    ("offsets out of range", Q4, edit_header(ST, set_tensor(NORM, "data_offsets", [10**12, 10**12 + 512])),
     [NORM, "run past the end of the data area"]),
    ("offsets inverted", Q4, edit_header(ST, set_tensor(NORM, "data_offsets", [600, 88])), [NORM, "begin <= end"]),
    ("overlapping tensors", Q4, edit_header(ST, lambda h: h[NORM].__setitem__(
        "data_offsets", [h[EMB]["data_offsets"][0], h[EMB]["data_offsets"][0] + 512])), [NORM, "overlaps", EMB]),
    ("shape/byte-range mismatch", Q4, edit_header(ST, set_tensor(NORM, "shape", [512])),
     [NORM, "[512]", "needs 1024 bytes", "hold 512"]),
    ("negative dimension", Q4, edit_header(ST, set_tensor(NORM, "shape", [-256])), [NORM, "negative dimension"]),
    ("metadata not strings", Q4, edit_header(ST, set_key("__metadata__", {"format": 3})), [ST, "__metadata__", "format"]),
    ("missing tensor", Q4, remove_index_and(edit_header(ST, remove_tensor(NORM))), [NORM, "missing"]),
    ("wrong shape in a consistent file", Q4, remove_index_and(edit_header(ST, lambda h: (
        h[NORM].__setitem__("shape", [128]), h[NORM].__setitem__(
            "data_offsets", [h[NORM]["data_offsets"][0], h[NORM]["data_offsets"][0] + 256])))),
     [NORM, "shape [128]", "expected [256]", "hidden_size=256"]),
    ("shard index pointing nowhere", Q3, edit_json("model.safetensors.index.json", lambda j: j["weight_map"].__setitem__(
        NORM, "model-00003-of-00002.safetensors")), ["model-00003-of-00002.safetensors", "does not exist", NORM]),
    ("index lists a tensor the shard lacks", Q3, edit_json("model.safetensors.index.json", lambda j: j["weight_map"].__setitem__(
        "model.layers.0.extra.weight", SHARD1)), ["model.layers.0.extra.weight", "does not contain it"]),
    ("index path traversal", Q3, edit_json("model.safetensors.index.json", lambda j: j["weight_map"].__setitem__(
        NORM, "../config.json")), ["../config.json", "not a file name"]),
    ("config/tensor mismatch: hidden_size", Q4, edit_json("config.json", set_key("hidden_size", 512)),
     ["expected", "hidden_size=512"]),
    ("config/tensor mismatch: fewer layers", Q4, edit_json("config.json", lambda c: (
        c.__setitem__("num_hidden_layers", 4), c.__setitem__("layer_types", c["layer_types"][:4]))),
     ["model.layers.4", "not used by this model's config"]),
    ("config/tensor mismatch: experts", Q4, edit_json("config.json", set_key("num_experts", 16)),
     ["expected [16", "num_experts=16"]),
    ("unknown model_type", Q4, edit_json("config.json", set_key("model_type", "llama")),
     ["config.json", "model_type \"llama\"", "lfm2"]),
    ("missing model_type", Q4, edit_json("config.json", lambda c: c.pop("model_type")), ["config.json", "model_type"]),
    ("unsupported quant mode", Q4, edit_json("config.json", set_quant("mode", "mxfp4")), ["mxfp4", "not supported"]),
    ("bits 7", Q4, edit_json("config.json", set_quant("bits", 7)), ["bits 7", "2, 3, 4, 5, 6 or 8"]),
    ("group size 48", Q4, edit_json("config.json", set_quant("group_size", 48)), ["group_size 48", "32, 64 or 128"]),
    ("bits disagree with tensors", Q4, edit_json("config.json", set_quant("bits", 3)), ["expected", "at 3 bits"]),
    ("non-MLX quantization", Q4, edit_json("config.json", lambda c: (c.pop("quantization"), c.__setitem__(
        "quantization_config", {"quant_method": "gptq", "bits": 4}))), ["quant_method", "gptq"]),
    ("unknown layer type", Q4, edit_json("config.json", lambda c: c["layer_types"].__setitem__(1, "sliding_attention")),
     ["layer_types[1]", "sliding_attention"]),
    ("layer_types length", Q4, edit_json("config.json", lambda c: c["layer_types"].pop()), ["layer_types", "4 entries", "5"]),
    ("config wrong type", Q4, edit_json("config.json", set_key("hidden_size", "256")),
     ["config.json", "hidden_size", "must be an integer", "got string"]),
    ("config bad JSON", Q4, write_bytes("config.json", lambda b: b[:-3]), ["config.json", "invalid JSON"]),
    ("missing config.json", Q4, delete_file("config.json"), ["config.json", "missing"]),
    ("no weights", Q4, lambda d: (os.remove(os.path.join(d, ST)), os.remove(os.path.join(d, "model.safetensors.index.json"))),
     ["no *.safetensors"]),
    ("scales of the wrong dtype", Q4, remove_index_and(edit_header(ST, lambda h: h["model.layers.0.conv.in_proj.scales"].__setitem__(
        "dtype", "I16"))), ["model.layers.0.conv.in_proj.scales", "I16"]),
    ("duplicate tensor across files", Q3, lambda d: (os.remove(os.path.join(d, "model.safetensors.index.json")),
                                                   shutil.copy(os.path.join(d, SHARD1), os.path.join(d, "model-extra.safetensors"))),
     ["is in both"]),
    ("heads not divisible", Q4, edit_json("config.json", set_key("num_key_value_heads", 3)),
     ["num_attention_heads 4", "num_key_value_heads 3"]),
    ("eos outside vocabulary", Q4, edit_json("config.json", set_key("eos_token_id", [7, 99999])), ["eos_token_id 99999"]),
    ("token id out of range", Q4, lambda d: None, ["token id 5000", "vocabulary"], ["--tokens", "1,5000"]),
    ("model directory missing", Q4, lambda d: shutil.rmtree(d), ["does not exist"]),
]


def run_case(name, source, mutate, fragments, extra):
    work = tempfile.mkdtemp(prefix="lfm2-malformed-")
    model = os.path.join(work, "model")
    try:
        shutil.copytree(source, model)
        for root, _, files in os.walk(model):
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        mutate(model)
        args = [LFM2, "logits", "--model", model, "--out", os.path.join(work, "out.f32")]
        args += extra if extra else ["--tokens", "1,2,3"]
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return f"{name}: hung (timeout)"
        lines = proc.stderr.strip().splitlines()
        problems = []
        if proc.returncode != 1:
            problems.append(f"exit code {proc.returncode}, expected 1")
        if len(lines) != 1 or not lines[0].startswith("lfm2: error: "):
            problems.append(f"expected one 'lfm2: error:' line, got {lines!r}")
        for fragment in fragments:
            if fragment not in proc.stderr:
                problems.append(f"missing {fragment!r}")
        if problems:
            return f"{name}: " + "; ".join(problems) + f"\n    stderr: {proc.stderr.strip()[:400]}"
        print(f"ok   {name}: {lines[0][:150]}")
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    failures = []
    for case in CASES:
        name, source, mutate, fragments = case[:4]
        extra = case[4] if len(case) > 4 else None
        problem = run_case(name, source, mutate, fragments, extra)
        if problem:
            print("FAIL " + problem)
            failures.append(problem)
    print(f"{len(CASES) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
