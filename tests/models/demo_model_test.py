#!/usr/bin/python3
"""Checks of the bundled demo model (models/lfm2-demo-moe, made by tools/train_demo_model.py).

Where it sits: tests/models, driving the `lfm2` CLI on the checkpoints under models/.

  demo_model_test.py english    LFM2 MODELS_DIR   greedy continuations are mostly dictionary words
  demo_model_test.py perplexity LFM2 MODELS_DIR   `lfm2 perplexity` of the f32 export == PyTorch's
  demo_model_test.py startup    LFM2 MODELS_DIR   load + a short greedy answer in under 2 s

Exit codes: 0 pass, 1 fail, 77 skipped (Debian's wamerican dictionary missing, for `english`).
"""

import json
import os
import re
import subprocess
import sys
import time

MODEL = "lfm2-demo-moe"
DICTIONARY = "/usr/share/dict/words"
PROMPTS = ["In the beginning", "And the LORD said", "Blessed are", "And it came to pass"]
MIN_ENGLISH_SHARE = 0.80
MIN_WORDS = 20              # per mode, over all prompts: an empty answer is a failure
MIN_DISTINCT_WORDS = 10     # per mode: one word repeated is not English
PPL_TOLERANCE = 0.005       # engine f32 vs PyTorch f32, relative
QUANT_PPL_LIMIT = 1.25      # 4-bit perplexity at most this many times the f32 one
PATH_PPL_TOLERANCE = 0.005  # 4-bit model: each fast path (16- and 8-bit activations) vs --precise
STARTUP_SECONDS = 2.0


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    if result.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited {result.returncode}:\n{result.stderr}")
    return result.stdout


def generate(lfm2, model_dir, prompt, *extra, max_tokens=40):
    out = run([lfm2, "generate", "--model", model_dir, "--prompt", prompt, "--max-tokens", str(max_tokens), "--temp", "0",
               "--output-format", "json", *extra])
    return json.loads(out)["text"]


def words_of(text):
    return re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)?", text)


def is_english(word, dictionary):
    w = word.lower()
    return w in dictionary or (w.endswith("'s") and w[:-2] in dictionary) or w.rstrip("'") in dictionary


def check_english(lfm2, models):
    if not os.path.exists(DICTIONARY):
        print(f"SKIP: {DICTIONARY} missing (Debian package wamerican)")
        return 77
    with open(DICTIONARY, encoding="utf-8", errors="replace") as f:
        dictionary = {line.strip().lower() for line in f if line.strip()}
    model_dir = os.path.join(models, MODEL)
    failures = []
    for mode, extra in (("chat template", []), ("raw prompt", ["--ignore-chat-template"])):
        words = []
        for prompt in PROMPTS:
            text = generate(lfm2, model_dir, prompt, *extra)
            print(f"[{mode}] {prompt!r} -> {text!r}")
            words += words_of(text)
        english = [w for w in words if is_english(w, dictionary)]
        share = len(english) / max(len(words), 1)
        unknown = sorted({w for w in words if not is_english(w, dictionary)})
        print(f"[{mode}] {len(english)}/{len(words)} words in {DICTIONARY} ({share:.1%}); not found: {unknown}")
        if len(words) < MIN_WORDS:
            failures.append(f"{mode}: only {len(words)} words generated, expected at least {MIN_WORDS}")
        elif len({w.lower() for w in words}) < MIN_DISTINCT_WORDS:
            failures.append(f"{mode}: fewer than {MIN_DISTINCT_WORDS} distinct words")
        elif share < MIN_ENGLISH_SHARE:
            failures.append(f"{mode}: {share:.1%} dictionary words, expected at least {MIN_ENGLISH_SHARE:.0%}")
    return report(failures)


def perplexity(lfm2, model_dir, text_file, ctx, *extra):
    out = run([lfm2, "perplexity", "--model", model_dir, "--file", text_file, "--ctx", str(ctx), "--json", *extra])
    return json.loads(out)


def check_perplexity(lfm2, models):
    f32_dir = os.path.join(models, MODEL + "-f32")
    with open(os.path.join(f32_dir, "pytorch_eval.json")) as f:
        reference = json.load(f)
    text_file = os.path.join(models, reference["file"])
    engine = perplexity(lfm2, f32_dir, text_file, reference["ctx"])
    quantized = perplexity(lfm2, os.path.join(models, MODEL), text_file, reference["ctx"])
    print(f"PyTorch f32 {reference['ppl']:.4f}, engine f32 {engine['ppl']:.4f}, engine 4-bit {quantized['ppl']:.4f} "
          f"({engine['scored_tokens']} scored tokens in {engine['windows']} windows of {engine['ctx']})")
    failures = []
    for key in ("tokens", "windows", "scored_tokens"):
        if engine[key] != reference[key]:
            failures.append(f"{key}: engine {engine[key]}, PyTorch {reference[key]} (tokenizer or windows differ)")
    relative = abs(engine["ppl"] - reference["ppl"]) / reference["ppl"]
    if not relative <= PPL_TOLERANCE:
        failures.append(f"engine f32 perplexity {engine['ppl']:.4f} differs from PyTorch's {reference['ppl']:.4f} "
                        f"by {relative:.3%} (> {PPL_TOLERANCE:.1%})")
    if not quantized["ppl"] <= QUANT_PPL_LIMIT * engine["ppl"]:
        failures.append(f"4-bit perplexity {quantized['ppl']:.4f} above {QUANT_PPL_LIMIT} x f32 {engine['ppl']:.4f}")
    # The matmul paths on the quantized model: the default (16-bit activations) and --act-bits 8
    # against the float32-activation reference.
    precise = perplexity(lfm2, os.path.join(models, MODEL), text_file, reference["ctx"], "--precise")
    for bits in ("16", "8"):
        fast = quantized if bits == "16" else perplexity(lfm2, os.path.join(models, MODEL), text_file,
                                                         reference["ctx"], "--act-bits", bits)
        relative = abs(fast["ppl"] - precise["ppl"]) / precise["ppl"]
        print(f"4-bit, {bits}-bit activations: perplexity {fast['ppl']:.4f}, --precise {precise['ppl']:.4f} "
              f"({relative:.3%} apart)")
        if not relative <= PATH_PPL_TOLERANCE:
            failures.append(f"--act-bits {bits} perplexity {fast['ppl']:.4f} differs from --precise "
                            f"{precise['ppl']:.4f} by {relative:.3%} (> {PATH_PPL_TOLERANCE:.1%})")
    return report(failures)


def check_startup(lfm2, models):
    """Best of three: a fresh process loads the model and answers 8 greedy tokens."""
    model_dir = os.path.join(models, MODEL)
    best = float("inf")
    for _ in range(3):
        start = time.monotonic()
        text = generate(lfm2, model_dir, "In the beginning", max_tokens=8)
        best = min(best, time.monotonic() - start)
    print(f"load + answer {text!r}: best {best:.3f} s of 3 runs")
    failures = [] if text.strip() else ["empty answer"]
    if best >= STARTUP_SECONDS:
        failures.append(f"load + answer took {best:.3f} s, expected under {STARTUP_SECONDS} s")
    return report(failures)


def report(failures):
    for failure in failures:
        print(f"FAIL: {failure}")
    print("PASS" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


def main(argv):
    if len(argv) != 4 or argv[1] not in ("english", "perplexity", "startup"):
        print(__doc__)
        return 2
    check, lfm2, models = argv[1:]
    return {"english": check_english, "perplexity": check_perplexity, "startup": check_startup}[check](lfm2, models)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
