#!/usr/bin/python3
"""`lfm2 generate` and `lfm2 chat` end to end on a small generated LFM2-MoE checkpoint with an
LFM2-structured tokenizer and the LFM2-8B-A1B chat template (from ../shared, copied to a temp dir):
determinism (run to run, 1 vs 2 threads, seeds), eos stop, --max-tokens, stdin prompts and mlx_lm
escapes, usage errors (exit 2), model errors (exit 1), the model-card quickstart through a Hugging
Face cache layout, and chat prefix reuse equal to generate on the rendered conversation.

usage: generate_cli_test.py LFM2_BINARY SHARED_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

LFM2, SHARED = os.path.abspath(sys.argv[1]), sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAKE = os.path.join(ROOT, "tools", "make_test_model.py")
FAILURES = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        FAILURES.append(message)


def run(args, stdin=None, env=None, timeout=300):
    return subprocess.run([LFM2] + args, input=stdin, capture_output=True, text=True, timeout=timeout,
                          env=env)


def ids(model, prompt, *extra):
    proc = run(["generate", "--model", model, "--prompt", prompt, "--output-format", "ids"] + list(extra))
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout)


def make_model(work):
    model = os.path.join(work, "model")
    subprocess.run([sys.executable, MAKE, "--out", model, "--preset", "tiny-moe", "--bits", "4",
                    "--vocab-size", "7808", "--seed", "5", "--quiet"], check=True, capture_output=True)
    tok = os.path.join(SHARED, "golden", "tokenizer")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok, name), model)
    shutil.copy(os.path.join(SHARED, "golden", "chat", "templates", "LFM2-8B-A1B.jinja"),
                os.path.join(model, "chat_template.jinja"))
    return model


def test_determinism(model):
    a = ids(model, "Once upon a time", "--temp", "0", "-n", "24", "-t", "1")
    b = ids(model, "Once upon a time", "--temp", "0", "-n", "24", "-t", "1")
    c = ids(model, "Once upon a time", "--temp", "0", "-n", "24", "-t", "2")
    check(a == b and len(a) > 0, f"greedy output identical run to run ({len(a)} tokens)")
    check(a == c, "greedy output identical for 1 and 2 threads")
    s1 = ids(model, "Once upon a time", "--temp", "1.0", "--min-p", "0", "--seed", "11", "-n", "24", "-t", "1")
    s2 = ids(model, "Once upon a time", "--temp", "1.0", "--min-p", "0", "--seed", "11", "-n", "24", "-t", "2")
    s3 = ids(model, "Once upon a time", "--temp", "1.0", "--min-p", "0", "--seed", "12", "-n", "24", "-t", "1")
    check(s1 == s2, "seeded sampling reproducible (and the same for 1 and 2 threads)")
    check(s1 != s3, "different seeds give different samples")
    return a


def test_max_tokens_and_eos(model, greedy):
    n5 = ids(model, "Once upon a time", "--temp", "0", "-n", "5")
    check(n5 == greedy[:5], "--max-tokens 5 gives the first 5 greedy tokens")
    # Make a token of the greedy continuation the eos: generation must stop right before it.
    k = next(i for i in range(1, len(greedy)) if greedy[i] not in greedy[:i])
    eos_model = model + "-eos"
    shutil.copytree(model, eos_model)
    with open(os.path.join(eos_model, "generation_config.json"), "w") as f:
        json.dump({"eos_token_id": [greedy[k]]}, f)
    proc = run(["generate", "--model", eos_model, "--prompt", "Once upon a time", "--temp", "0",
                "-n", "24", "--output-format", "json"])
    out = json.loads(proc.stdout)
    check(out["ids"] == greedy[:k] and out["finish_reason"] == "stop",
          f"stops on the eos id from generation_config.json after {k} tokens")


def test_prompt_input(model):
    direct = ids(model, "line one\nline two", "--temp", "0", "-n", "8")
    escaped = ids(model, "line one\\nline two", "--temp", "0", "-n", "8")
    proc = run(["generate", "--model", model, "--prompt", "-", "--output-format", "ids", "--temp", "0",
                "-n", "8"], stdin="line one\nline two")
    check(escaped == direct, "\\n in --prompt becomes a newline (as mlx_lm)")
    check(proc.returncode == 0 and json.loads(proc.stdout) == direct, "--prompt - reads stdin")
    text = run(["generate", "--model", model, "--prompt", "Hi", "--temp", "0", "-n", "12"])
    ref = run(["generate", "--model", model, "--prompt", "Hi", "--temp", "0", "-n", "12", "--output-format", "json"])
    check(text.returncode == 0 and text.stdout == json.loads(ref.stdout)["text"],
          "streamed text equals the decoded ids")


def test_errors(model):
    for args, what in [(["--model", model, "--prompt", "x", "--bogus"], "unknown flag"),
                       (["--model", model, "--prompt", "x", "--temp", "abc"], "non-numeric --temp"),
                       (["--model", model, "--prompt", "x", "--top-p", "0"], "--top-p 0"),
                       (["--prompt", "x"], "missing --model"),
                       (["--model", model], "missing --prompt"),
                       (["--model", model, "--prompt", "x", "--device", "tpu"], "unknown --device")]:
        proc = run(["generate"] + args)
        check(proc.returncode == 2 and "usage" in proc.stderr.lower() or proc.returncode == 2 and "--help" in proc.stderr,
              f"{what}: exit 2 with usage (got {proc.returncode})")
    proc = run(["generate", "--model", model + "-missing", "--prompt", "x"])
    lines = proc.stderr.strip().splitlines()
    check(proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("lfm2: error:"),
          f"missing model directory: one line, exit 1 ({lines})")
    broken = model + "-broken"
    shutil.copytree(model, broken)
    with open(os.path.join(broken, "config.json"), "w") as f:
        f.write("{\"model_type\": ")
    proc = run(["generate", "--model", broken, "--prompt", "x"])
    lines = proc.stderr.strip().splitlines()
    check(proc.returncode == 1 and len(lines) == 1 and "config.json" in lines[0],
          f"broken model directory: one line naming config.json, exit 1 ({lines})")


def test_quickstart_hf_cache(model, work):
    hf_home = os.path.join(work, "hf")
    repo = os.path.join(hf_home, "hub", "models--mlx-community--LFM2-8B-A1B-3bit-MLX")
    revision = "0123456789abcdef0123456789abcdef01234567"
    os.makedirs(os.path.join(repo, "refs"))
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(revision)
    shutil.copytree(model, os.path.join(repo, "snapshots", revision))
    env = dict(os.environ, HF_HOME=hf_home)
    proc = run(["generate", "--model", "mlx-community/LFM2-8B-A1B-3bit-MLX", "--prompt",
                "Summarize the following in 5 concise bullet points:\\n", "--max-tokens", "256",
                "--temperature", "0.0", "--device", "mps", "--seed", "0"], env=env)
    check(proc.returncode == 0 and "runs on the CPU" in proc.stderr,
          f"model-card quickstart runs from an HF cache layout (exit {proc.returncode}) {proc.stderr.strip()[:200]}")
    proc = run(["generate", "--model", "mlx-community/Nope", "--prompt", "x"], env=env)
    check(proc.returncode == 1 and "models--mlx-community--Nope" in proc.stderr,
          "a repo id missing from the cache says where it looked")


def render(model, messages, work):
    path = os.path.join(work, "messages.json")
    with open(path, "w") as f:
        json.dump(messages, f)
    proc = run(["render", "--model", model, "--messages", path])
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return proc.stdout


def generate_text(model, prompt_text):
    proc = run(["generate", "--model", model, "--prompt", "-", "--ignore-chat-template", "--temp", "0",
                "-n", "10", "--output-format", "json"], stdin=prompt_text)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout)["text"]


def test_chat(model, work):
    users = ["Hello there", "What is the capital of France?", "Thanks, and Germany?"]
    proc = run(["chat", "--model", model, "--temp", "0", "-n", "10", "--verbose"],
               stdin="\n".join(users) + "\n")
    check(proc.returncode == 0, f"chat over piped stdin exits 0 ({proc.stderr.strip()[-200:]})")
    turns = [tuple(map(int, m)) for m in re.findall(
        r"\[turn \d+: prompt (\d+) tokens, (\d+) reused from the cache, (\d+) prefilled", proc.stderr)]
    check(len(turns) == 3, f"three turns reported ({turns})")
    if len(turns) == 3:
        for i in (1, 2):
            prompt, reused, prefilled = turns[i]
            check(reused >= turns[i - 1][0] and prefilled == prompt - reused and prefilled < prompt,
                  f"turn {i + 1} prefills only the new tokens: {prefilled} of {prompt} "
                  f"(reused {reused} >= previous prompt {turns[i - 1][0]})")
    # The same conversation through generate on the fully rendered prompt, turn by turn.
    messages, expected = [], ""
    for user in users:
        messages.append({"role": "user", "content": user})
        reply = generate_text(model, render(model, messages, work))
        expected += reply + "\n"
        messages.append({"role": "assistant", "content": reply})
    check(proc.stdout == expected, "chat replies equal generate on the rendered conversation")


def main():
    work = tempfile.mkdtemp(prefix="lfm2-generate-")
    try:
        model = make_model(work)
        greedy = test_determinism(model)
        test_max_tokens_and_eos(model, greedy)
        test_prompt_input(model)
        test_errors(model)
        test_quickstart_hf_cache(model, work)
        test_chat(model, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
