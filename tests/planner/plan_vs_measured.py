#!/usr/bin/python3
"""The RAM plan against reality, on generated checkpoints (small and medium presets):

* predicted peak within +-5% (or +-50 MB, whichever is larger) of the measured peak RSS (VmHWM)
  of `lfm2 generate` with the context actually filled;
* a run whose plan exceeds --max-ram exits 1 before allocating, naming the largest context that
  fits; a run with --max-ram at its plan stays within it (measured);
* the plan from config.json alone equals the plan from the files.

usage: plan_vs_measured.py LFM2_BINARY [--sanitized] [--full-size DIR --ctx 4096,16384]
--full-size is the benchmark mode used for the README table (the full-size synthetic preset,
contexts given). --sanitized (set by CMake for ASan/UBSan builds) skips the RSS comparisons: there
the resident set includes the sanitizer's runtime, shadow memory and quarantine, which no plan of
ours describes; the other checks still run.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAKE = os.path.join(ROOT, "tools", "make_test_model.py")
FAILURES = []
MB = 1e6


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        FAILURES.append(message)


def lfm2(binary, args, timeout=3600):
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=timeout)


def plan(binary, args):
    proc = lfm2(binary, ["plan", "--json", "--no-tokenizer", "-t", "2"] + args)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout)


def measure(binary, model, ctx, vocab, extra=()):
    """Fills the context: a prompt of ctx-1 random ids, then one generated token."""
    rng = random.Random(ctx)
    ids = ",".join(str(rng.randrange(2, vocab)) for _ in range(ctx - 1))
    proc = lfm2(binary, ["generate", "--model", model, "--tokens", ids, "-n", "1", "--ctx", str(ctx),
                         "--temp", "0", "-t", "2", "--output-format", "json"] + list(extra))
    return proc


SANITIZED = "--sanitized" in sys.argv


def compare(binary, model, ctx, vocab, label, kv=()):
    """kv: extra flags of both the plan and the run (--kv-bits N)."""
    label = f"{label} {' '.join(kv)}".strip()
    if SANITIZED:
        print(f"skip {label} ctx {ctx}: RSS comparison (sanitizer build)", flush=True)
        return None, None
    predicted = plan(binary, ["--model", model, "--ctx", str(ctx)] + list(kv))[0]["peak_bytes"]
    proc = measure(binary, model, ctx, vocab, kv)
    if proc.returncode != 0:
        check(False, f"{label} ctx {ctx}: generate failed: {proc.stderr.strip()[:300]}")
        return predicted, None
    measured = json.loads(proc.stdout)["timings"]["peak_rss_bytes"]
    tolerance = max(0.05 * measured, 50 * MB)
    check(abs(predicted - measured) <= tolerance,
          f"{label} ctx {ctx}: predicted {predicted / MB:.1f} MB, measured {measured / MB:.1f} MB "
          f"({(predicted - measured) / measured * 100:+.1f}%, tolerance {tolerance / MB:.0f} MB)")
    return predicted, measured


def budget_checks(binary, model, ctx, vocab, label):
    predicted = plan(binary, ["--model", model, "--ctx", str(ctx)])[0]["peak_bytes"]
    proc = measure(binary, model, ctx, vocab, ["--max-ram", str(predicted)])
    if SANITIZED:
        check(proc.returncode == 0, f"{label}: a run with --max-ram = its plan is accepted")
    elif proc.returncode == 0:
        measured = json.loads(proc.stdout)["timings"]["peak_rss_bytes"]
        check(measured <= predicted, f"{label}: a run with --max-ram = its plan stays within it "
                                     f"({measured / MB:.1f} <= {predicted / MB:.1f} MB)")
    else:
        check(False, f"{label}: run within budget failed: {proc.stderr.strip()[:300]}")
    proc = measure(binary, model, ctx, vocab, ["--max-ram", str(int(predicted * 0.9))])
    check(proc.returncode == 1 and "--max-ram" in proc.stderr and "largest context that fits" in proc.stderr,
          f"{label}: a plan over --max-ram exits 1 naming the largest context that fits")


def config_equals_files(binary, model, label):
    contexts = "512,4096"
    from_files = plan(binary, ["--model", model, "--ctx", contexts, "--batch", "1,4"])
    from_config = plan(binary, ["--config", os.path.join(model, "config.json"), "--ctx", contexts,
                                "--batch", "1,4"])
    check(from_files == from_config, f"{label}: plan from config.json alone equals plan from the files")


def kv_bytes_follow_the_element_type(binary, model, label):
    """The KV cache component for --kv-bits 32 / 16 / 8: 4, 2 and 1 bytes per element, int8 plus
    an f32 scale per position and head (keys and values)."""
    with open(os.path.join(model, "config.json")) as f:
        config = json.load(f)
    ctx = 1024  # a multiple of the 64-position key blocks
    kv = {bits: plan(binary, ["--model", model, "--ctx", str(ctx), "--kv-bits", str(bits)])[0]["components"]["kv_cache"]
          for bits in (32, 16, 8)}
    default = plan(binary, ["--model", model, "--ctx", str(ctx)])[0]["components"]["kv_cache"]
    heads = config["num_key_value_heads"]
    layers = sum(1 for kind in config.get("layer_types", []) if kind in ("full_attention", "attention")) or None
    check(kv[32] == 2 * kv[16] and default == kv[16],
          f"{label}: kv_cache f32 = 2 x f16 = 2 x the default ({kv[32]}, {kv[16]}, {default})")
    if layers:
        scales = layers * 2 * heads * ctx * 4
        check(kv[8] == kv[16] // 2 + scales, f"{label}: kv_cache int8 = f16 / 2 + per-position scales "
              f"({kv[8]} vs {kv[16] // 2} + {scales})")


def main():
    binary = os.path.abspath(sys.argv[1])
    if "--full-size" in sys.argv:
        model = sys.argv[sys.argv.index("--full-size") + 1]
        contexts = [int(c) for c in sys.argv[sys.argv.index("--ctx") + 1].split(",")] if "--ctx" in sys.argv else [4096, 16384]
        kv_bits = sys.argv[sys.argv.index("--kv-bits") + 1].split(",") if "--kv-bits" in sys.argv else [""]
        rows = []
        for bits in kv_bits:
            kv = ["--kv-bits", bits] if bits else []
            for ctx in contexts:
                predicted, measured = compare(binary, model, ctx, 65536, "lfm2-8b-a1b", kv)
                rows.append((ctx, bits or "default", predicted, measured))
        print(json.dumps([{"ctx": c, "kv_bits": b, "predicted": p, "measured": m} for c, b, p, m in rows]))
        return 1 if FAILURES else 0
    work = tempfile.mkdtemp(prefix="lfm2-plan-")
    try:
        presets = [("tiny-moe", [256, 2048]), ("tiny-dense", [1024]), ("medium", [512, 3072])]
        for preset, contexts in presets:
            model = os.path.join(work, preset)
            subprocess.run([sys.executable, MAKE, "--preset", preset, "--out", model, "--quiet"],
                           check=True, capture_output=True, timeout=600)
            with open(os.path.join(model, "config.json")) as f:
                vocab = json.load(f)["vocab_size"]
            config_equals_files(binary, model, preset)
            kv_bytes_follow_the_element_type(binary, model, preset)
            for ctx in contexts:
                compare(binary, model, ctx, vocab, preset)
            for bits in ("32", "8"):
                compare(binary, model, contexts[-1], vocab, preset, ["--kv-bits", bits])
            budget_checks(binary, model, contexts[-1], vocab, preset)
            shutil.rmtree(model)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
