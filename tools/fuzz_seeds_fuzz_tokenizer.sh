#!/usr/bin/env bash
# Seeds for fuzz/fuzz_tokenizer.cc (called by tools/fuzz_seeds.sh):
#   tools/fuzz_seeds_fuzz_tokenizer.sh CORPUS_DIR
# Writes: the golden tokenizer.json + NUL + a few golden case texts; a small tokenizer cut from it
# (byte alphabet, first merges, some added tokens; fast to parse, so mutations run quickly) + NUL
# + texts; and split patterns (LFM2, GPT-2, Qwen2, o200k-style, odd constructs) + NUL + texts.
set -euo pipefail
corpus=$1
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${LFM2_SHARED_DIR:-$here/../shared}
golden=$shared/golden/tokenizer
mkdir -p "$corpus"
[ -f "$golden/tokenizer.json" ] || exit 0
/usr/bin/python3 - "$golden" "$corpus" <<'PY'
import json, os, sys
golden, corpus = sys.argv[1], sys.argv[2]
raw = open(os.path.join(golden, "tokenizer.json"), "rb").read()
cases = [json.loads(l)["text"] for l in open(os.path.join(golden, "cases.jsonl"), encoding="utf-8") if l.strip()]
texts = [cases[i] for i in range(0, len(cases), max(1, len(cases) // 6))][:6]
texts.append("Hello <|im_start|>user\nI'm  fine\u00a0\u2028 1234567 \U0001F600 python Mathias\u017f")

def write(name, head, text):
    with open(os.path.join(corpus, name), "wb") as f:
        f.write(head + b"\0" + text.encode("utf-8"))

for i, text in enumerate(texts[:3]):
    write(f"golden_{i}", raw, text)

# A small tokenizer with the same structure.
t = json.loads(raw)
vocab = t["model"]["vocab"]
keep = {k: v for k, v in vocab.items() if v < 757}
merges = []
for a, b in t["model"]["merges"]:
    if a in keep and b in keep and a + b in vocab:
        merges.append([a, b])
        keep[a + b] = vocab[a + b]
    if len(merges) >= 300:
        break
ids = sorted(keep.values())
remap = {old: new for new, old in enumerate(ids)}
t["model"]["vocab"] = {k: remap[v] for k, v in keep.items()}
t["model"]["merges"] = merges
t["added_tokens"] = [dict(a, id=remap[a["id"]]) for a in t["added_tokens"] if a["id"] in remap][:24]
t["post_processor"]["processors"][1]["special_tokens"]["<|startoftext|>"]["ids"] = [remap[1]]
small = json.dumps(t, ensure_ascii=False).encode("utf-8")
for i, text in enumerate(texts):
    write(f"small_{i}", small, text)

patterns = [
    t["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"],
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    r"\w+|[^\w\s]+|\b|^.|.$|\h{2,}?|(?x) a # c" + "\n" + r"|[[:alpha:]&]{,3}|\p{Han}+|(?m:.)\R",
]
for i, pattern in enumerate(patterns):
    write(f"regex_{i}", pattern.encode("utf-8"), texts[i % len(texts)])
PY
