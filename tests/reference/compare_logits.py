#!/usr/bin/python3
"""Compare two raw float32 logit files (row-major [positions, vocab], little-endian).

Where it sits: tests/reference, called by CTest to check engine logits
against goldens or the float64 reference (lfm2_ref.py).

Per position i:  rel_i = ||test_i - ref_i||_2 / ||ref_i||_2   (over the vocab)
and top-1 agreement = fraction of positions whose argmax ids agree (lowest id
on ties, like np.argmax). Prints max/mean rel, the worst positions and the
top-1 agreement; with thresholds, exits 0 when all hold and 1 otherwise
(2 on usage errors such as mismatched sizes).

  compare_logits.py ENGINE.f32 GOLDEN.f32 --vocab 2048 --max-rel 1e-3 --top1 0.99
  compare_logits.py a.f32 b.f32 --shape 100,2048 --mean-rel 1e-4 --per-position
"""

import argparse
import sys

import numpy as np


def load(path, shape, vocab):
    data = np.fromfile(path, dtype="<f4")
    if shape is not None:
        n, v = shape
        if data.size != n * v:
            raise ValueError(f"{path}: {data.size} floats, expected {n}x{v} = {n * v}")
    else:
        v = vocab
        if data.size == 0 or data.size % v:
            raise ValueError(f"{path}: {data.size} floats is not a multiple of vocab {v}")
    return data.reshape(-1, v).astype(np.float64)


def compare(test, ref):
    """Per-position relative L2 errors and top-1 agreement flags."""
    if test.shape != ref.shape:
        raise ValueError(f"shapes differ: {test.shape} vs {ref.shape}")
    diff = np.linalg.norm(test - ref, axis=1)
    norm = np.linalg.norm(ref, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(norm > 0, diff / norm, np.where(diff > 0, np.inf, 0.0))
    rel = np.where(np.isfinite(test).all(axis=1), rel, np.inf)  # NaN/inf in the test file always fails
    agree = test.argmax(axis=1) == ref.argmax(axis=1)
    return rel, agree


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("test", help="logits to check (raw f32)")
    ap.add_argument("ref", help="reference / golden logits (raw f32)")
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument("--vocab", type=int, help="vocab size (number of positions inferred)")
    size.add_argument("--shape", help="N,V: positions and vocab size")
    ap.add_argument("--max-rel", type=float, help="fail if max per-position relative L2 exceeds this")
    ap.add_argument("--mean-rel", type=float, help="fail if mean per-position relative L2 exceeds this")
    ap.add_argument("--top1", type=float, help="fail if top-1 agreement (fraction of positions) is below this")
    ap.add_argument("--per-position", action="store_true", help="print one line per position")
    ap.add_argument("--worst", type=int, default=5, help="how many worst positions to list (default 5)")
    args = ap.parse_args(argv)

    try:
        shape = tuple(int(s) for s in args.shape.split(",")) if args.shape else None
        if shape is not None and len(shape) != 2:
            raise ValueError("--shape must be N,V")
        test = load(args.test, shape, args.vocab)
        ref = load(args.ref, shape, args.vocab)
        rel, agree = compare(test, ref)
    except (ValueError, OSError) as err:
        print(f"compare_logits: error: {err}", file=sys.stderr)
        return 2

    n, v = ref.shape
    if args.per_position:
        for i in range(n):
            print(f"pos {i:5d}  rel {rel[i]:.3e}  top1 {int(test[i].argmax()):6d} vs {int(ref[i].argmax()):6d}"
                  f"{'' if agree[i] else '  MISMATCH'}")
    worst = np.argsort(-rel, kind="stable")[:args.worst]
    print(f"positions {n}  vocab {v}")
    print(f"rel L2 per position: max {rel.max():.3e} (pos {int(worst[0])})  mean {rel.mean():.3e}")
    print(f"max abs diff {np.abs(test - ref).max():.3e}")
    print("worst positions: " + ", ".join(f"{int(i)}:{rel[i]:.2e}" for i in worst))
    print(f"top-1 agreement {agree.mean():.4f} ({int(agree.sum())}/{n})")

    failures = []
    if args.max_rel is not None and not rel.max() <= args.max_rel:
        failures.append(f"max rel {rel.max():.3e} > {args.max_rel:g}")
    if args.mean_rel is not None and not rel.mean() <= args.mean_rel:
        failures.append(f"mean rel {rel.mean():.3e} > {args.mean_rel:g}")
    if args.top1 is not None and not agree.mean() >= args.top1:
        failures.append(f"top-1 agreement {agree.mean():.4f} < {args.top1:g}")
    print("FAIL: " + "; ".join(failures) if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
