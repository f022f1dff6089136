#!/usr/bin/python3
"""Accuracy of lfm2's matmul paths and KV caches (--precise; the default 16-bit activations with a
float16 KV cache; --kv-bits 32 / 8; --act-bits 8), as Markdown tables.

usage: path_accuracy.py LFM2_BINARY [--goldens DIR] [--text-model DIR --text FILE [--tokens N]]
                        [--synthetic DIR [--synthetic-tokens N]]

--goldens DIR        a folder of golden cases (../shared/golden): each case's model/, tokens.txt
                     and logits.f32 (an independent float implementation's logits of every
                     position). Per path: mean and max relative L2 error per position, and top-1
                     agreement, against those logits.
--text-model DIR     a model with a tokenizer (the bundled models/lfm2-demo-moe) and --text FILE
                     (its models/lfm2-demo-moe/heldout.txt): the first --tokens tokens (default
                     1024) are evaluated in windows of 256 on every path; per fast path the mean
                     KL divergence KL(precise || path) per position, top-1 agreement with the
                     precise path and the relative L2 error; plus `lfm2 perplexity` of the whole
                     file on every path.
--synthetic DIR      a checkpoint without a tokenizer (the full-size synthetic preset of
                     tools/make_test_model.py): --synthetic-tokens random ids (default 128, seed
                     1), compared with the precise path as above.

Python (numpy) is only used here, never by lfm2 itself.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

PATHS = [
    ("precise (f32 KV)", ["--precise"]),
    ("default: 16-bit act., f16 KV", []),
    ("16-bit act., f32 KV", ["--kv-bits", "32"]),
    ("16-bit act., int8 KV", ["--kv-bits", "8"]),
    ("8-bit act., f16 KV", ["--act-bits", "8"]),
]


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    return proc.stdout


def logits(lfm2, model, ids, flags, vocab, work):
    out = os.path.join(work, "logits.f32")
    run([lfm2, "logits", "--model", model, "--tokens", ",".join(map(str, ids)), "--out", out,
         "--all-positions"] + flags)
    return np.fromfile(out, dtype=np.float32).astype(np.float64).reshape(-1, vocab)


def rel_l2(got, want):
    return np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def kl(reference, got):
    p = log_softmax(reference)
    return (np.exp(p) * (p - log_softmax(got))).sum(axis=1)


def vocab_size(model):
    with open(os.path.join(model, "config.json")) as f:
        return json.load(f)["vocab_size"]


def goldens(lfm2, root, work):
    print("| golden case | path | mean rel-L2 | max rel-L2 | top-1 agreement |")
    print("| --- | --- | ---: | ---: | ---: |")
    for case in sorted(os.listdir(root)):
        model = os.path.join(root, case, "model")
        if not os.path.isfile(os.path.join(root, case, "logits.f32")):
            continue
        with open(os.path.join(root, case, "tokens.txt")) as f:
            ids = [int(t) for t in f.read().replace("\n", "").split(",") if t.strip()]
        vocab = vocab_size(model)
        want = np.fromfile(os.path.join(root, case, "logits.f32"), dtype=np.float32).astype(np.float64)
        want = want.reshape(-1, vocab)
        for name, flags in PATHS:
            got = logits(lfm2, model, ids, flags, vocab, work)
            err = rel_l2(got, want)
            top1 = np.mean(got.argmax(axis=1) == want.argmax(axis=1))
            print(f"| {case} | {name} | {err.mean():.2e} | {err.max():.2e} | {100 * top1:.1f}% |")


def against_precise(lfm2, model, windows, work, label):
    vocab = vocab_size(model)
    results = {}
    for name, flags in PATHS:
        results[name] = np.concatenate([logits(lfm2, model, w, flags, vocab, work) for w in windows])
    ref = results[PATHS[0][0]]
    for name, _ in PATHS[1:]:
        got = results[name]
        print(f"| {label} | {name} | {kl(ref, got).mean():.2e} | {kl(ref, got).max():.2e} | "
              f"{100 * np.mean(got.argmax(axis=1) == ref.argmax(axis=1)):.1f}% | {rel_l2(got, ref).mean():.2e} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("lfm2")
    parser.add_argument("--goldens")
    parser.add_argument("--text-model")
    parser.add_argument("--text")
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--synthetic")
    parser.add_argument("--synthetic-tokens", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lfm2-accuracy-") as work:
        if args.goldens:
            goldens(args.lfm2, args.goldens, work)
            print()
        if args.text_model or args.synthetic:
            print("| model | path | mean KL vs precise (nats) | max KL | top-1 = precise | mean rel-L2 vs precise |")
            print("| --- | --- | ---: | ---: | ---: | ---: |")
        if args.text_model:
            ids = json.loads(run([args.lfm2, "tokenize", "--model", args.text_model, "--file", args.text]))
            ids = ids[: args.tokens]
            windows = [ids[i:i + 256] for i in range(0, len(ids), 256)]
            against_precise(args.lfm2, args.text_model, windows, work,
                            f"{os.path.basename(os.path.normpath(args.text_model))}, {len(ids)} tokens of text")
        if args.synthetic:
            rng = np.random.default_rng(1)
            vocab = vocab_size(args.synthetic)
            ids = [1] + rng.integers(0, vocab, args.synthetic_tokens - 1).tolist()
            against_precise(args.lfm2, args.synthetic, [ids], work,
                            f"{os.path.basename(os.path.normpath(args.synthetic))}, {len(ids)} random ids")
        if args.text_model:
            print()
            print("| model | path | perplexity | vs precise |")
            print("| --- | --- | ---: | ---: |")
            ppl = {}
            for name, flags in PATHS:
                out = run([args.lfm2, "perplexity", "--model", args.text_model, "--file", args.text,
                           "--ctx", "256", "--json"] + flags)
                ppl[name] = json.loads(out)["ppl"]
                print(f"| {os.path.basename(os.path.normpath(args.text_model))} | {name} | {ppl[name]:.4f} | "
                      f"{100 * (ppl[name] / ppl[PATHS[0][0]] - 1):+.3f}% |")


if __name__ == "__main__":
    main()
