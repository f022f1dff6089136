#!/usr/bin/python3
"""`lfm2 bench` on a small generated MoE checkpoint: the llama-bench style table, the --json records
(llama-bench's field names plus ours, values consistent with the flags and with each other), -d,
and bad flags answered with a usage error (exit 2) or a clear error (exit 1), never a crash.
Speeds are checked for being positive and consistent, never against a threshold.

usage: bench_cli.py LFM2_BINARY
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LFM2 = sys.argv[1]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(*args, env=None):
    return subprocess.run([LFM2, "bench"] + list(args), capture_output=True, text=True, timeout=600,
                          env=env)


def main():
    work = tempfile.mkdtemp(prefix="lfm2-bench-")
    try:
        model = os.path.join(work, "tiny-moe")
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_test_model.py"), "--preset",
                        "tiny-moe", "--out", model, "--seed", "3", "--quiet"], check=True, timeout=300,
                       capture_output=True)
        file_bytes = sum(os.path.getsize(os.path.join(model, f)) for f in os.listdir(model)
                         if f.endswith(".safetensors"))

        text = run("--model", model, "-p", "16", "-n", "8", "-r", "2", "-t", "2")
        check(text.returncode == 0, f"table run exits 0 (stderr: {text.stderr.strip()[:200]})")
        rows = [line for line in text.stdout.splitlines() if line.startswith("| ") and "t/s" not in line
                and "---" not in line]
        names = [row.split("|")[6].strip() for row in rows]
        check(names == ["pp16", "tg8"], f"table rows pp16, tg8 (got {names})")
        footer = [line for line in text.stdout.splitlines() if line.startswith("load ")]
        check(len(footer) == 1 and "peak RSS" in footer[0] and "2 MiB pages" in footer[0],
              f"footer with load time, peak RSS and 2 MiB pages (got {footer})")

        proc = run("--model", model, "-p", "16", "-n", "8", "-r", "3", "-t", "1", "--json")
        check(proc.returncode == 0, "--json run exits 0")
        records = json.loads(proc.stdout)
        check(isinstance(records, list) and len(records) == 2, "--json prints a list of 2 records")
        for record, (n_prompt, n_gen) in zip(records, [(16, 0), (0, 8)]):
            name = f"pp{n_prompt}" if n_prompt else f"tg{n_gen}"
            for field in ("n_prompt", "n_gen", "n_depth", "n_threads", "avg_ts", "stddev_ts", "avg_ns",
                          "stddev_ns", "samples_ts", "samples_ns", "model_size", "model_n_params",
                          "peak_rss_bytes", "load_ms", "huge_page_bytes", "tiled"):
                check(field in record, f"{name}: field {field}")
            if failures:
                continue
            check((record["n_prompt"], record["n_gen"], record["n_depth"], record["n_threads"]) ==
                  (n_prompt, n_gen, 0, 1), f"{name}: n_prompt/n_gen/n_depth/n_threads match the flags")
            samples = record["samples_ts"]
            check(len(samples) == 3 and len(record["samples_ns"]) == 3, f"{name}: one sample per repetition")
            check(all(s > 0 for s in samples), f"{name}: positive speeds")
            check(abs(record["avg_ts"] - statistics.mean(samples)) <= 1e-6 * record["avg_ts"] + 1e-9,
                  f"{name}: avg_ts is the mean of samples_ts")
            check(abs(record["stddev_ts"] - statistics.stdev(samples)) <= 1e-6 * record["avg_ts"] + 1e-9,
                  f"{name}: stddev_ts is their sample standard deviation")
            check(record["model_size"] == file_bytes, f"{name}: model_size is the safetensors bytes")
            check(0 < record["peak_rss_bytes"] and 0 <= record["load_ms"],
                  f"{name}: peak RSS and load time reported")
            check(0 <= record["huge_page_bytes"] <= file_bytes, f"{name}: huge_page_bytes within the files")
            check(isinstance(record["tiled"], bool), f"{name}: tiled is true or false")

        # LFM2_TILED=0 keeps the weights in the file mapping; the speeds are still measured.
        untiled = run("--model", model, "-p", "0", "-n", "4", "-r", "1", "--json",
                      env=dict(os.environ, LFM2_TILED="0"))
        check(untiled.returncode == 0, "LFM2_TILED=0 exits 0")
        if untiled.returncode == 0:
            record = json.loads(untiled.stdout)[0]
            check(record["tiled"] is False and record["avg_ts"] > 0, "LFM2_TILED=0: not tiled, measured")

        depth = run("--model", model, "-p", "8", "-n", "4", "-d", "0,12", "-r", "1", "--json")
        check(depth.returncode == 0, "-d 0,12 exits 0")
        if depth.returncode == 0:
            got = sorted((r["n_prompt"], r["n_gen"], r["n_depth"]) for r in json.loads(depth.stdout))
            check(got == [(0, 4, 0), (0, 4, 12), (8, 0, 0), (8, 0, 12)], f"-d gives every test at each depth ({got})")

        # --ttft: time to the first token of a prompt, as a line and as every pp record's ttft_ms.
        ttft = run("--model", model, "-p", "8", "-n", "0", "--ttft", "24", "-d", "0,5", "-r", "2")
        lines = [line for line in ttft.stdout.splitlines() if line.startswith("time to first token")]
        check(ttft.returncode == 0 and len(lines) == 2 and "24-token prompt" in lines[0] and
              "after 5 tokens of context" in lines[1] and lines[0].endswith("tok/s)"),
              f"--ttft 24 -d 0,5 prints its two lines ({lines})")
        ttft_json = run("--model", model, "-p", "8", "-n", "2", "--ttft", "24", "-r", "2", "--json")
        if ttft_json.returncode == 0:
            records = json.loads(ttft_json.stdout)
            by_prompt = {(r["n_prompt"], r["n_gen"]): r for r in records}
            check(set(by_prompt) == {(8, 0), (0, 2), (24, 0)}, f"--ttft adds a 24-token prefill record ({set(by_prompt)})")
            check(all(abs(r["ttft_ms"] - r["avg_ns"] / 1e6) <= 1e-3 * r["ttft_ms"] + 1e-6
                      for r in records if r["n_prompt"] > 0) and by_prompt[(0, 2)]["ttft_ms"] is None,
                  "ttft_ms is the prefill's mean time in ms (null for tg)")
        check(run("--model", model, "--ttft", "0").returncode == 2, "--ttft 0 is a usage error")

        # The matmul path is a flag and a record field: 16-bit activations by default, 8 on request.
        # So is the KV cache: float16 by default, float32 with --precise, or as --kv-bits says.
        for flags, act, kv in [([], 16, 16), (["--act-bits", "8"], 8, 16), (["--act-bits", "16"], 16, 16),
                               (["--precise"], 32, 32), (["--kv-bits", "8"], 16, 8), (["--kv-bits", "32"], 16, 32),
                               (["--precise", "--kv-bits", "16"], 32, 16)]:
            proc = run("--model", model, "-p", "8", "-n", "2", "-r", "1", "--json", *flags)
            ok = proc.returncode == 0 and all((r.get("act_bits"), r.get("kv_bits")) == (act, kv)
                                              for r in json.loads(proc.stdout))
            check(ok, f"bench {' '.join(flags) or '(defaults)'}: act_bits {act}, kv_bits {kv} in every record")

        for args, code, fragment in [
            (["-p", "x"], 2, "comma-separated"),
            (["-r", "0"], 2, "positive"),
            (["--act-bits", "4"], 2, "--act-bits must be 8 or 16, got 4"),
            (["--kv-bits", "4"], 2, "--kv-bits must be 32, 16 or 8, got 4"),
            (["-t", "-1"], 2, "positive"),
            (["--frobnicate"], 2, "--frobnicate"),
        ]:
            bad = run("--model", model, *args)
            check(bad.returncode == code and fragment in bad.stderr,
                  f"bench {' '.join(args)}: exit {code} naming {fragment!r} (got {bad.returncode}: "
                  f"{' / '.join(bad.stderr.strip().splitlines())[:160]})")
        missing = run("--model", os.path.join(work, "nowhere"))
        check(missing.returncode == 1 and "nowhere" in missing.stderr,
              f"missing model directory: exit 1 naming it (got {missing.returncode})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
