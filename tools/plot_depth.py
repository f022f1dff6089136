#!/usr/bin/python3
"""Plot prefill (pp) and decode (tg) throughput against context depth from benchmark records.

Where it sits: tools/ -> docs/*.png. Reads the JSON of `lfm2 bench --json` and of llama.cpp's
`llama-bench -o json` (the same record fields: n_prompt, n_gen, n_depth, avg_ts, stddev_ts), one
file per series, and draws two panels - pp tok/s and tg tok/s against n_depth - with a line per
series and error bars of one standard deviation. Needs matplotlib (Debian: python3-matplotlib);
used for the docs only, never by the build or the tests.

usage: plot_depth.py --out docs/depth.png --title "..." LABEL=FILE.json [LABEL=FILE.json ...]
"""
import argparse
import json
import sys


def load(path):
    with open(path) as f:
        text = f.read()
    # llama-bench may print several JSON arrays when run more than once into one file.
    records, decoder, at = [], json.JSONDecoder(), 0
    while at < len(text):
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            break
        value, at = decoder.raw_decode(text, at)
        records.extend(value if isinstance(value, list) else [value])
    return records


def series(records, kind):
    """{n (pp or tg size): [(depth, avg, sd), ...]} for kind 'pp' or 'tg'."""
    out = {}
    for r in records:
        if kind == "pp" and r.get("n_prompt", 0) > 0 and r.get("n_gen", 0) == 0:
            size = r["n_prompt"]
        elif kind == "tg" and r.get("n_gen", 0) > 0 and r.get("n_prompt", 0) == 0:
            size = r["n_gen"]
        else:
            continue
        out.setdefault(size, []).append((r.get("n_depth", 0), r["avg_ts"], r.get("stddev_ts", 0.0)))
    for points in out.values():
        points.sort()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--title", default="")
    parser.add_argument("inputs", nargs="+", help="LABEL=FILE.json")
    args = parser.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_depth.py needs matplotlib (Debian: apt-get install python3-matplotlib)", file=sys.stderr)
        return 2
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for spec in args.inputs:
        if "=" not in spec:
            print(f"plot_depth.py: expected LABEL=FILE.json, got {spec!r}", file=sys.stderr)
            return 2
        label, path = spec.split("=", 1)
        records = load(path)
        for ax, kind in zip(axes, ("pp", "tg")):
            for size, points in sorted(series(records, kind).items()):
                depths = [p[0] for p in points]
                ax.errorbar(depths, [p[1] for p in points], yerr=[p[2] for p in points], marker="o",
                            capsize=3, label=f"{label} {kind}{size}")
    for ax, kind in zip(axes, ("prefill", "decode")):
        ax.set_xlabel("context depth (tokens)")
        ax.set_ylabel("tokens / s")
        ax.set_title(kind)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if args.title:
        fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
