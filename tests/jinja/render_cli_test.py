#!/usr/bin/python3
"""Drives the real `lfm2 render` CLI over the shared chat-template golden cases, the way the
acceptance checker does: one model directory per template holding tokenizer.json,
tokenizer_config.json and the template saved as chat_template.jinja; messages (and tools) as JSON
files; the generation prompt on unless --no-generation-prompt. Cases that call strftime_now were
rendered on 2000-01-01: that date is replaced by today's local date (taken before and after the
call, so a run across midnight still matches). Prints "N passed, N failed"; exit 0 only on a full
match. Standard library only."""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lfm2", required=True, help="path to the lfm2 binary")
    parser.add_argument("--shared", default=os.environ.get("LFM2_SHARED_DIR", "/work/shared"))
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    chat_dir = os.path.join(args.shared, "golden", "chat")
    tokenizer_dir = os.path.join(args.shared, "golden", "tokenizer")
    with open(os.path.join(chat_dir, "cases.jsonl"), encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]

    work = tempfile.mkdtemp(prefix="lfm2_render_cli_")
    passed = failed = 0
    try:
        model_dirs = {}
        for case in cases:
            name = case["template"]
            if name not in model_dirs:
                model_dir = os.path.join(work, "model_" + str(len(model_dirs)))
                os.makedirs(model_dir)
                for file in ("tokenizer.json", "tokenizer_config.json"):
                    shutil.copyfile(os.path.join(tokenizer_dir, file), os.path.join(model_dir, file))
                shutil.copyfile(os.path.join(chat_dir, "templates", name),
                                os.path.join(model_dir, "chat_template.jinja"))
                model_dirs[name] = model_dir
            messages_path = os.path.join(work, case["id"] + ".messages.json")
            with open(messages_path, "w", encoding="utf-8") as f:
                json.dump(case["messages"], f, ensure_ascii=False)
            command = [args.lfm2, "render", "--model", model_dirs[name], "--messages", messages_path]
            if case["tools"] is not None:
                tools_path = os.path.join(work, case["id"] + ".tools.json")
                with open(tools_path, "w", encoding="utf-8") as f:
                    json.dump(case["tools"], f, ensure_ascii=False)
                command += ["--tools", tools_path]
            if not case["add_generation_prompt"]:
                command.append("--no-generation-prompt")

            before = datetime.date.today().isoformat()
            result = subprocess.run(command, capture_output=True)
            after = datetime.date.today().isoformat()
            expected = [case["rendered"]]
            if "strftime_now" in case:
                rendered_as = case["strftime_now"]["rendered_as"]
                expected = [case["rendered"].replace(rendered_as, day) for day in (before, after)]
            got = result.stdout.decode("utf-8", errors="replace")
            if result.returncode == 0 and got in expected:
                passed += 1
                continue
            failed += 1
            print("FAIL %s (%s): exit %d" % (case["id"], name, result.returncode))
            if args.verbose or result.returncode != 0:
                print("  stderr:", result.stderr.decode("utf-8", errors="replace").strip())
                print("  expected:", repr(expected[0]))
                print("  got:     ", repr(got))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
