#!/usr/bin/python3
"""Runs the real `lfm2 tokenize` / `lfm2 detokenize` CLI over every golden tokenizer case.

Mirrors the acceptance checker: the model directory holds only tokenizer.json and
tokenizer_config.json; each case runs `tokenize --model DIR --text TEXT` with and without
--no-bos (texts starting with '-' are passed as the single argument --text=TEXT) and must print
exactly the expected JSON array; `detokenize` of ids_no_bos must print exactly the text. Also
checks the error contracts (exit 1 with one `lfm2: error:` line, exit 2 on bad flags).
Prints 'N passed, N failed' and exits 0 only when everything passed. Standard library only.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile


def run(cmd, stdin=None):
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=60)


def text_args(text):
    raw = text.encode("utf-8")
    return [b"--text=" + raw] if text.startswith("-") else [b"--text", raw]


def check_case(lfm2, model, case):
    problems = []
    for flags, key in (([], "ids"), ([b"--no-bos"], "ids_no_bos")):
        result = run([lfm2, b"tokenize", b"--model", model] + text_args(case["text"]) + flags)
        if result.returncode != 0:
            problems.append(f"tokenize {flags} exit {result.returncode}: {result.stderr!r}")
            continue
        lines = result.stdout.decode("utf-8").splitlines()
        if len(lines) != 1 or json.loads(lines[0]) != case[key]:
            problems.append(f"tokenize {flags}: got {result.stdout[:200]!r}, want {case[key]}")
    ids = ",".join(str(i) for i in case["ids_no_bos"]).encode()
    result = run([lfm2, b"detokenize", b"--model", model, b"--ids", ids])
    if result.returncode != 0 or result.stdout != case["text"].encode("utf-8"):
        problems.append(f"detokenize: exit {result.returncode}, got {result.stdout[:200]!r}")
    return problems


def check_contracts(lfm2, model):
    """(name, ok) pairs for the CLI's error contracts."""
    checks = []
    missing = run([lfm2, b"tokenize", b"--model", b"/nonexistent/model", b"--text", b"x"])
    lines = missing.stderr.decode("utf-8", "replace").splitlines()
    checks.append(("missing model dir -> exit 1, one error line",
                   missing.returncode == 1 and len(lines) == 1 and lines[0].startswith("lfm2: error: ")))
    bad_flag = run([lfm2, b"tokenize", b"--model", model, b"--text", b"x", b"--bogus"])
    checks.append(("unknown flag -> exit 2 with usage",
                   bad_flag.returncode == 2 and b"usage:" in bad_flag.stderr))
    no_text = run([lfm2, b"tokenize", b"--model", model])
    checks.append(("no --text/--file -> exit 2", no_text.returncode == 2))
    out_of_range = run([lfm2, b"detokenize", b"--model", model, b"--ids", b"1,999999"])
    checks.append(("out-of-range id -> exit 1",
                   out_of_range.returncode == 1 and out_of_range.stderr.startswith(b"lfm2: error: ")))
    stdin = run([lfm2, b"tokenize", b"--model", model, b"--text", b"-", b"--no-bos"], stdin=b"hello world")
    direct = run([lfm2, b"tokenize", b"--model", model, b"--text", b"hello world", b"--no-bos"])
    checks.append(("--text - reads stdin", stdin.returncode == 0 and stdin.stdout == direct.stdout))
    json_ids = run([lfm2, b"detokenize", b"--model", model, b"--ids", b"[4595, 874]"])
    csv_ids = run([lfm2, b"detokenize", b"--model", model, b"--ids", b"4595,874"])
    checks.append(("--ids accepts a JSON array",
                   json_ids.returncode == 0 and json_ids.stdout == csv_ids.stdout and json_ids.stdout))
    return checks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfm2", required=True, help="path to the lfm2 executable")
    parser.add_argument("--golden", required=True, help="shared/golden/tokenizer folder")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    with open(os.path.join(args.golden, "cases.jsonl"), encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]
    with tempfile.TemporaryDirectory(prefix="lfm2_tokenizer_cli_") as model:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(args.golden, name), os.path.join(model, name))
        lfm2, model_arg = os.fsencode(args.lfm2), os.fsencode(model)
        passed = failed = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = pool.map(lambda c: (c, check_case(lfm2, model_arg, c)), cases)
            for case, problems in results:
                if problems:
                    failed += 1
                    print(f"FAIL {case['category']} {case['text']!r}: {'; '.join(problems)}")
                else:
                    passed += 1
        for name, ok in check_contracts(lfm2, model_arg):
            if ok:
                passed += 1
            else:
                failed += 1
                print(f"FAIL contract: {name}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
