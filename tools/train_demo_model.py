#!/usr/bin/python3
"""Train the bundled demo LFM2-MoE model on the King James Bible; export it in the MLX layout.

Where it sits: tools/ -> models/ (a developer runs it once; never run in CI or at run time).

What it does, start to end:

1. Corpus: the King James Bible (1611, public domain) from Debian's bible-kjv-text, read
   through its reader `bible` (package bible-kjv; the text is stored compressed). One verse
   per line, a blank line between chapters. Every 40th chapter is held out for evaluation.
2. Tokenizer: a byte-level BPE trained here on the training text, written as a tokenizer.json
   with the structure of the real LFM2 tokenizer (shared/reference/lfm2-format.md 6.1: the
   Llama-3 split regex + ByteLevel, BOS via TemplateProcessing, ByteLevel decoder) and the
   LFM2 special tokens at their LFM2 ids (pad 0, <|startoftext|> 1, <|im_start|> 6, <|im_end|> 7, ...).
3. Model: the exact LFM2-MoE forward pass (spec section 1; the same math as
   tests/reference/lfm2_ref.py) in PyTorch: gated short convolutions, GQA attention with QK-norm
   and rotate-half RoPE, a dense SwiGLU first layer, then sigmoid-routed MoE layers whose
   expert_bias is used only for selection and is trained without gradients by the usual
   auxiliary-loss-free balancing (bias += rate * sign(mean load - expert load) after each step).
   Training rows are raw KJV windows plus a share of chat-formatted rows (the LFM2 chat
   template: user = the start of a verse, assistant = its continuation), so `lfm2 generate`
   with its default chat template answers with Bible text too.
4. Export (tools/make_test_model.py's tensor list, quantization rules and config.json writer):
   models/<name>/ 4-bit affine g64 with bf16 scales (router at 8 bits via config.json's
   per-module override), and models/<name>-f32/ unquantized float32; both with
   generation_config.json, tokenizer.json, tokenizer_config.json and chat_template.jinja (the
   LFM2 template read from shared/lfm2-tokenizer/).
5. Evaluation: held-out perplexity in float64 on the f32 weights, with the windows of
   `lfm2 perplexity` (apps/lfm2/cmd_perplexity.cc: text tokenized without BOS, non-overlapping
   windows of --ctx tokens, first token replaced by BOS, the second half scored), written to
   <name>-f32/pytorch_eval.json.

Usage (Debian packages python3-torch, bible-kjv, python3-numpy; libopenblas0-serial for speed):
  /usr/bin/python3 tools/train_demo_model.py --out models --steps 650
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict

# Debian's python3-torch calls the system BLAS (libblas.so.3: the slow reference BLAS unless an
# optimised one is the selected alternative). With libopenblas0-serial installed, re-run this
# process on single-threaded OpenBLAS without touching the system's choice: ~10x faster training.
OPENBLAS_SERIAL = "/usr/lib/x86_64-linux-gnu/openblas-serial"
if __name__ == "__main__" and os.path.isdir(OPENBLAS_SERIAL) and OPENBLAS_SERIAL not in os.environ.get("LD_LIBRARY_PATH", ""):
    os.environ["LD_LIBRARY_PATH"] = ":".join(filter(None, [OPENBLAS_SERIAL, os.environ.get("LD_LIBRARY_PATH")]))
    os.execv(sys.executable, [sys.executable] + sys.argv)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_test_model as mtm  # noqa: E402
import mlx_format as mf  # noqa: E402

# ---------------------------------------------------------------------------
# Corpus

HELDOUT_EVERY = 40   # chapter k (0-based, in canonical order) is held out when k % 40 == 20
HELDOUT_PHASE = 20


def read_kjv():
    """[(reference of the chapter, [verse texts])] in canonical order, via Debian's `bible`."""
    out = subprocess.run(["bible", "-f", "gen1:1-rev22:21"], check=True, capture_output=True,
                         text=True).stdout
    chapters, index = [], {}
    for line in out.splitlines():
        m = re.match(r"^(\S+?)(\d+):(\d+) (.*)$", line)
        if not m:
            raise SystemExit(f"unexpected line from `bible`: {line[:80]!r}")
        key = (m.group(1), int(m.group(2)))
        if key not in index:
            index[key] = len(chapters)
            chapters.append((f"{key[0]}{key[1]}", []))
        chapters[index[key]][1].append(m.group(4).strip())
    return chapters


def chapters_text(chapters):
    """One verse per line, chapters separated by a blank line."""
    return "\n".join("\n".join(verses) + "\n" for _, verses in chapters)


# ---------------------------------------------------------------------------
# Byte-level BPE with the LFM2 pre-tokenizer

# The LFM2 / Llama-3 split regex, as written into tokenizer.json (spec 6.1).
SPLIT_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# The same pattern for Python's `re` (no \p{..}): letters = [^\W\d_], numbers = \d. Exact for
# the ASCII corpus (checked in main), which is all this script ever splits.
_LETTER, _NOT_LN = r"[^\W\d_]", r"(?:[^\r\n\w]|_)"
PY_SPLIT = re.compile(
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|" + _NOT_LN + r"?" + _LETTER + r"+|\d{1,3}|"
    r" ?(?:[^\s\w]|_)+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# LFM2's special tokens with their LFM2 ids (spec 6.2).
SPECIAL_TOKENS = ["<|pad|>", "<|startoftext|>", "<|endoftext|>", "<|fim_pre|>", "<|fim_mid|>",
                  "<|fim_suf|>", "<|im_start|>", "<|im_end|>", "<|tool_list_start|>",
                  "<|tool_list_end|>", "<|tool_call_start|>", "<|tool_call_end|>",
                  "<|tool_response_start|>", "<|tool_response_end|>"]
PAD_ID, BOS_ID, EOS_ID = 0, 1, 7


def byte_to_unicode():
    """GPT-2's reversible byte -> printable character map (used by ByteLevel)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_CHARS = byte_to_unicode()


def pre_tokens(text):
    """Text (no special tokens) -> byte-level pre-token strings."""
    return ["".join(BYTE_CHARS[b] for b in piece.encode("utf-8")) for piece in PY_SPLIT.findall(text)]


def train_bpe(text, vocab_size):
    """Learn merges until the vocabulary (specials + 256 bytes + merges) has vocab_size entries.

    Incremental pair counting: pair -> count and pair -> words containing it; a merge only
    revisits the words that hold the merged pair. Ties go to the lexicographically smallest
    pair, so the result is deterministic.
    """
    word_counts = Counter(pre_tokens(text))
    words = [list(w) for w in word_counts]
    freqs = [word_counts[w] for w in word_counts]
    pair_counts, pair_words = Counter(), defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_counts[(a, b)] += freqs[i]
            pair_words[(a, b)].add(i)
    merges = []
    n_merges = vocab_size - len(SPECIAL_TOKENS) - 256
    while len(merges) < n_merges and pair_counts:
        best_count = max(pair_counts.values())
        best = min(p for p, c in pair_counts.items() if c == best_count)
        merges.append(best)
        merged = best[0] + best[1]
        for i in list(pair_words[best]):
            w, f = words[i], freqs[i]
            for a, b in zip(w, w[1:]):
                pair_counts[(a, b)] -= f
                if pair_counts[(a, b)] <= 0:
                    del pair_counts[(a, b)]
            out, k = [], 0
            while k < len(w):
                if k + 1 < len(w) and w[k] == best[0] and w[k + 1] == best[1]:
                    out.append(merged)
                    k += 2
                else:
                    out.append(w[k])
                    k += 1
            words[i] = out
            for a, b in zip(out, out[1:]):
                pair_counts[(a, b)] += f
                pair_words[(a, b)].add(i)
        pair_words.pop(best, None)
    vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS)}
    for b in range(256):
        vocab[BYTE_CHARS[b]] = len(vocab)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    return vocab, merges


class Tokenizer:
    """Encoder for the trained BPE (the standard lowest-rank-first merge loop per pre-token)."""

    def __init__(self, vocab, merges):
        self.vocab, self.ranks = vocab, {m: r for r, m in enumerate(merges)}
        self.id_to_token = {i: t for t, i in vocab.items()}
        self.cache = {}
        self.special = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")
        self.byte_of = {c: b for b, c in BYTE_CHARS.items()}

    def _word(self, piece):
        ids = self.cache.get(piece)
        if ids is None:
            parts = list(piece)
            while len(parts) > 1:
                ranked = [(self.ranks.get((a, b), 1 << 30), k) for k, (a, b) in enumerate(zip(parts, parts[1:]))]
                rank, k = min(ranked)
                if rank == 1 << 30:
                    break
                parts[k:k + 2] = [parts[k] + parts[k + 1]]
            ids = self.cache[piece] = [self.vocab[p] for p in parts]
        return ids

    def encode(self, text):
        """Text with special tokens recognised -> ids (no BOS added)."""
        ids = []
        for chunk in self.special.split(text):
            if chunk in self.vocab and chunk in SPECIAL_TOKENS:
                ids.append(self.vocab[chunk])
            elif chunk:
                for piece in pre_tokens(chunk):
                    ids.extend(self._word(piece))
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            token = self.id_to_token[int(i)]
            if token in SPECIAL_TOKENS:
                out += token.encode()
            else:
                out += bytes(self.byte_of[c] for c in token)
        return out.decode("utf-8", errors="replace")


def tokenizer_json(vocab, merges):
    """tokenizer.json in the structure of LFM2's (spec 6.1)."""
    bos = SPECIAL_TOKENS[BOS_ID]
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, t in enumerate(SPECIAL_TOKENS)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT_REGEX}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {bos: {"id": bos, "ids": [BOS_ID], "tokens": [bos]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }


def tokenizer_config(template_dir):
    """tokenizer_config.json: LFM2's, with our added tokens and the LFM2 chat template."""
    with open(os.path.join(template_dir, "tokenizer_config.json")) as f:
        config = json.load(f)
    with open(os.path.join(template_dir, "chat_template.jinja")) as f:
        template = f.read()
    config["added_tokens_decoder"] = {
        str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                 "special": True} for i, t in enumerate(SPECIAL_TOKENS)}
    config["chat_template"] = config.get("chat_template", template)
    return dict(sorted(config.items())), template


# ---------------------------------------------------------------------------
# The LFM2-MoE model (spec section 1), parameter names = the HF/MLX module paths

def rms_norm(x, weight, eps):
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


class Norm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))


class ShortConv(nn.Module):
    def __init__(self, c):
        super().__init__()
        H = c.hidden_size
        self.in_proj = nn.Linear(H, 3 * H, bias=False)
        self.out_proj = nn.Linear(H, H, bias=False)
        self.conv = nn.Module()
        self.conv.weight = nn.Parameter(torch.randn(H, c.conv_l_cache) * 0.3)  # MLX [H, L, 1]

    def forward(self, a):
        B, C, x = self.in_proj(a).chunk(3, dim=-1)
        bx = (B * x).transpose(1, 2)                                  # [batch, H, T]
        L = self.conv.weight.shape[1]
        conv = F.conv1d(F.pad(bx, (L - 1, 0)), self.conv.weight.unsqueeze(1), groups=bx.shape[1])
        return self.out_proj(C * conv.transpose(1, 2))


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, self.heads, self.kv_heads = c.hidden_size, c.heads, c.kv_heads
        self.head_dim, self.eps, self.theta = H // c.heads, c.norm_eps, c.rope_theta
        D = self.head_dim
        self.q_proj = nn.Linear(H, self.heads * D, bias=False)
        self.k_proj = nn.Linear(H, self.kv_heads * D, bias=False)
        self.v_proj = nn.Linear(H, self.kv_heads * D, bias=False)
        self.out_proj = nn.Linear(self.heads * D, H, bias=False)
        self.q_layernorm, self.k_layernorm = Norm(D), Norm(D)

    def rope(self, x):
        T, D = x.shape[1], self.head_dim
        inv = self.theta ** (-torch.arange(0, D // 2, dtype=torch.float64) * 2 / D)
        angle = torch.arange(T, dtype=torch.float64)[:, None] * inv[None]
        cos, sin = angle.cos().to(x.dtype)[None, :, None], angle.sin().to(x.dtype)[None, :, None]
        x1, x2 = x[..., :D // 2], x[..., D // 2:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    def forward(self, a):
        b, T, _ = a.shape
        D = self.head_dim
        q = rms_norm(self.q_proj(a).view(b, T, self.heads, D), self.q_layernorm.weight, self.eps)
        k = rms_norm(self.k_proj(a).view(b, T, self.kv_heads, D), self.k_layernorm.weight, self.eps)
        v = self.v_proj(a).view(b, T, self.kv_heads, D)
        q, k = self.rope(q), self.rope(k)
        group = self.heads // self.kv_heads
        k, v = k.repeat_interleave(group, dim=2), v.repeat_interleave(group, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)    # [b, heads, T, D]
        scores = (q @ k.transpose(-1, -2)) * D ** -0.5
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        out = scores.masked_fill(mask, float("-inf")).softmax(-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(b, T, self.heads * D))


class DenseFFN(nn.Module):
    def __init__(self, H, width):
        super().__init__()
        self.gate_proj = nn.Linear(H, width, bias=False)
        self.up_proj = nn.Linear(H, width, bias=False)
        self.down_proj = nn.Linear(width, H, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class SwitchLinear(nn.Module):
    def __init__(self, experts, n, k):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(experts, n, k) * 0.02)   # [E, out, in]


class MoE(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, E, I = c.hidden_size, c.num_experts, c.moe_intermediate_size
        self.top_k, self.norm_topk, self.scale = c.experts_per_tok, c.norm_topk_prob, c.routed_scaling_factor
        self.gate = nn.Linear(H, E, bias=False)
        self.register_buffer("expert_bias", torch.zeros(E))
        self.switch_mlp = nn.Module()
        self.switch_mlp.gate_proj = SwitchLinear(E, I, H)
        self.switch_mlp.up_proj = SwitchLinear(E, I, H)
        self.switch_mlp.down_proj = SwitchLinear(E, H, I)
        self.load = torch.zeros(E)   # tokens routed to each expert since the last bias update

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        p = torch.sigmoid(self.gate(x))                                    # [N, E]
        chosen = (p.detach() + self.expert_bias).topk(self.top_k, dim=-1).indices
        w = p.gather(1, chosen)                                            # unbiased scores
        if self.norm_topk:
            w = w / (w.sum(-1, keepdim=True) + 1e-6)
        w = w * self.scale
        out = torch.zeros_like(x)
        g, u, d = (m.weight for m in (self.switch_mlp.gate_proj, self.switch_mlp.up_proj, self.switch_mlp.down_proj))
        for e in range(g.shape[0]):
            token, slot = (chosen == e).nonzero(as_tuple=True)
            if token.numel() == 0:
                continue
            xe = x[token]
            ye = (F.silu(xe @ g[e].t()) * (xe @ u[e].t())) @ d[e].t()
            out = out.index_add(0, token, ye * w[token, slot, None])
        if self.training:
            self.load += torch.bincount(chosen.reshape(-1), minlength=g.shape[0]).to(self.load.dtype)
        return out.reshape(shape)


class Layer(nn.Module):
    def __init__(self, c, i):
        super().__init__()
        self.eps = c.norm_eps
        self.operator_norm, self.ffn_norm = Norm(c.hidden_size), Norm(c.hidden_size)
        self.is_attention = i in c.attn_layers
        if self.is_attention:
            self.self_attn = Attention(c)
        else:
            self.conv = ShortConv(c)
        self.feed_forward = DenseFFN(c.hidden_size, c.intermediate_size) if i < c.num_dense_layers else MoE(c)

    def forward(self, h):
        a = rms_norm(h, self.operator_norm.weight, self.eps)
        h = h + (self.self_attn(a) if self.is_attention else self.conv(a))
        return h + self.feed_forward(rms_norm(h, self.ffn_norm.weight, self.eps))


class Backbone(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.eps = c.norm_eps
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList(Layer(c, i) for i in range(c.num_layers))
        self.embedding_norm = Norm(c.hidden_size)


class Lfm2Moe(nn.Module):
    """logits = embedding_norm(layers(embed(ids))) @ embed^T (tied head)."""

    def __init__(self, c):
        super().__init__()
        self.model = Backbone(c)
        std, out_std = 0.02, 0.02 / math.sqrt(2 * c.num_layers)
        for name, p in self.named_parameters():
            if name.endswith(("out_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, std=out_std)
            elif name.endswith("proj.weight") or name.endswith("gate.weight") or "embed_tokens" in name:
                nn.init.normal_(p, std=std)

    def forward(self, ids):
        h = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            h = layer(h)
        h = rms_norm(h, self.model.embedding_norm.weight, self.model.eps)
        return h @ self.model.embed_tokens.weight.t()

    def moe_layers(self):
        return [m for m in self.modules() if isinstance(m, MoE)]


# ---------------------------------------------------------------------------
# Training data

class Batches:
    """Rows of ctx+1 tokens (inputs = row[:-1], targets = row[1:], loss mask on targets).

    Raw rows: half start at a random token with that token replaced by BOS (the windows
    `lfm2 perplexity` scores), half are BOS + text from the start of a verse. Chat rows: chat
    samples packed from a sample boundary, padding masked.
    """

    def __init__(self, tok, chapters, ctx, chat_share, seed):
        self.ctx, self.chat_share = ctx, chat_share
        self.rng = np.random.default_rng(seed)
        self.stream, self.verse_starts = [], []
        for k, (_, verses) in enumerate(chapters):
            for v, verse in enumerate(verses):
                self.verse_starts.append(len(self.stream))
                self.stream += tok.encode(verse + "\n" + ("\n" if v + 1 == len(verses) and k + 1 < len(chapters) else ""))
        self.stream = np.array(self.stream, dtype=np.int64)
        self.verse_starts = np.array([s for s in self.verse_starts if s + ctx + 1 < len(self.stream)])
        self.chat = [self.chat_sample(tok, verses) for _, verses in chapters for _ in range(max(1, len(verses) // 2))]

    def chat_sample(self, tok, verses):
        """<|startoftext|> user: the start of a verse; assistant: the rest (+ maybe the next verse)."""
        v = int(self.rng.integers(len(verses)))
        words = verses[v].split(" ")
        n = int(self.rng.integers(1, max(2, min(9, len(words) - 1))))
        answer = " ".join(words[n:])
        if v + 1 < len(verses) and self.rng.random() < 0.5:
            answer += "\n" + verses[v + 1]
        text = (f"<|startoftext|><|im_start|>user\n{' '.join(words[:n])}<|im_end|>\n"
                f"<|im_start|>assistant\n{answer}<|im_end|>\n")
        return np.array(tok.encode(text), dtype=np.int64)

    def rows(self, n):
        ctx, out = self.ctx, np.full((n, self.ctx + 1), PAD_ID, dtype=np.int64)
        for r in range(n):
            if self.rng.random() < self.chat_share:
                fill = 0
                while fill < ctx + 1:
                    s = self.chat[int(self.rng.integers(len(self.chat)))][:ctx + 1 - fill]
                    out[r, fill:fill + len(s)] = s
                    fill += len(s)
                    if self.rng.random() < 0.3:
                        break
            elif self.rng.random() < 0.5:
                s = int(self.rng.integers(len(self.stream) - ctx - 1))
                out[r] = self.stream[s:s + ctx + 1]
                out[r, 0] = BOS_ID
            else:
                s = int(self.verse_starts[int(self.rng.integers(len(self.verse_starts)))])
                out[r, 0] = BOS_ID
                out[r, 1:] = self.stream[s:s + ctx]
        x = torch.from_numpy(out[:, :-1].copy())
        y = torch.from_numpy(out[:, 1:].copy())
        return x, y, (y != PAD_ID)


# ---------------------------------------------------------------------------
# Evaluation: the windows of `lfm2 perplexity`

def perplexity_windows(ids, ctx):
    """[(window ids with BOS first, first scored position)] as apps/lfm2/cmd_perplexity.cc forms them."""
    windows = []
    for w in range(len(ids) // ctx):
        window = list(ids[w * ctx:(w + 1) * ctx])
        window[0] = BOS_ID
        windows.append(window)
    return windows


@torch.no_grad()
def evaluate(model, ids, ctx, batch=8):
    """Sum of NLL (natural log) over positions ctx/2 .. ctx-2 of every window, in float64."""
    model.eval()
    windows = torch.tensor(perplexity_windows(ids, ctx), dtype=torch.int64)
    first = ctx // 2
    nll_sum, nll_sq, scored = 0.0, 0.0, 0
    for b in range(0, len(windows), batch):
        w = windows[b:b + batch]
        logp = model(w).double().log_softmax(-1)
        nll = -logp[:, first:ctx - 1].gather(-1, w[:, first + 1:ctx, None]).squeeze(-1)
        nll_sum += float(nll.sum())
        nll_sq += float((nll * nll).sum())
        scored += nll.numel()
    model.train()
    mean = nll_sum / scored
    ppl = math.exp(mean)
    stderr = ppl * math.sqrt(max(0.0, nll_sq / scored - mean * mean) / max(scored - 1, 1))
    return {"ctx": ctx, "windows": len(windows), "tokens": len(ids), "scored_tokens": scored,
            "nll_sum": nll_sum, "mean_nll": mean, "ppl": ppl, "ppl_stderr": stderr}


@torch.no_grad()
def greedy(model, ids, n):
    model.eval()
    ids = list(ids)
    for _ in range(n):
        nxt = int(model(torch.tensor([ids]))[0, -1].argmax())
        ids.append(nxt)
        if nxt == EOS_ID:
            break
    model.train()
    return ids


# ---------------------------------------------------------------------------
# Export in the MLX layout

def arch_options(args, bits):
    """The make_test_model options describing our architecture (its tensor list and config.json)."""
    o = dict(mtm.COMMON_DEFAULTS)
    o.update(model_type="lfm2_moe", hidden_size=args.hidden_size, num_layers=args.num_layers,
             attn_layers=args.attn_layers, heads=args.heads, kv_heads=args.kv_heads, vocab_size=args.vocab_size,
             intermediate_size=args.intermediate_size, moe_intermediate_size=args.moe_intermediate_size,
             num_experts=args.num_experts, experts_per_tok=args.experts_per_tok,
             num_dense_layers=args.num_dense_layers, rope_theta=args.rope_theta,
             dtype="float32" if bits == 0 else "bfloat16", bits=bits, group_size=64,
             expert_bias_dtype="float32", eos=[EOS_ID], generation_config=True, override=[], out=None)
    return argparse.Namespace(**o)


def export(model, args, out_dir, bits, tok_files):
    """Write one checkpoint directory; returns its total file size in bytes."""
    o = arch_options(args, bits)
    mods = mtm.build_modules(o)
    qblock = mtm.assign_quantization(o, mods)
    config = mtm.build_config(o, qblock)
    config["eos_token_id"] = EOS_ID   # an int, as LFM2's config.json
    state = {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()}
    tensors, data = {}, {}
    for m in mods:
        source = state[m.path + ".weight"] if m.quantizable else state[m.path]
        if source.size != int(np.prod(m.shape)):
            raise SystemExit(f"{m.path}: trained shape {source.shape} does not fit {m.shape}")
        w = source.reshape(m.shape)
        tensors.update(m.tensors())
        names = list(m.tensors())
        if m.quant is None:
            data[names[0]] = mf.encode_float(w, m.dtype)
        else:
            b, g = m.quant
            packed, scales, biases = mf.mlx_quantize(w.reshape(-1, m.shape[-1]), g, b, m.dtype)
            for name, arr in zip(names, (packed, scales, biases)):
                data[name] = arr.reshape(tensors[name][1])
    os.makedirs(out_dir, exist_ok=True)
    writer = mf.SafetensorsWriter(os.path.join(out_dir, "model.safetensors"), tensors, metadata={"format": "mlx"},
                                  order=sorted(tensors))
    for name in sorted(tensors):
        writer.write(name, data[name].reshape(-1))
    writer.close()
    mtm.write_json(os.path.join(out_dir, "config.json"), config)
    gen = {"_from_model_config": True, "bos_token_id": BOS_ID, "eos_token_id": EOS_ID, "pad_token_id": PAD_ID,
           "transformers_version": config["transformers_version"]}
    mtm.write_json(os.path.join(out_dir, "generation_config.json"), gen, indent=2, trailing_newline=True)
    for name, content in tok_files.items():
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            f.write(content)
    return sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))


# ---------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models", help="parent directory of the two checkpoints")
    ap.add_argument("--name", default="lfm2-demo-moe")
    ap.add_argument("--template-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                           "..", "..", "shared", "lfm2-tokenizer"))
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--hidden-size", type=int, default=192)
    ap.add_argument("--num-layers", type=int, default=6)
    ap.add_argument("--attn-layers", type=mtm.parse_int_list, default=[2, 5])
    ap.add_argument("--heads", type=int, default=3)
    ap.add_argument("--kv-heads", type=int, default=1)
    ap.add_argument("--intermediate-size", type=int, default=512)
    ap.add_argument("--moe-intermediate-size", type=int, default=64)
    ap.add_argument("--num-experts", type=int, default=8)
    ap.add_argument("--experts-per-tok", type=int, default=2)
    ap.add_argument("--num-dense-layers", type=int, default=1)
    ap.add_argument("--rope-theta", type=float, default=1e6)
    ap.add_argument("--ctx", type=int, default=256, help="training and evaluation window")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=650)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--chat-share", type=float, default=0.2, help="share of chat-formatted rows")
    ap.add_argument("--bias-rate", type=float, default=1e-3, help="expert_bias balancing step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bench", type=int, default=0, help="only time this many steps, export nothing")
    ap.add_argument("--save-state", help="also save the trained PyTorch state_dict here")
    ap.add_argument("--load-state", help="skip training: export and evaluate this saved state_dict")
    args = ap.parse_args(argv)
    args.norm_eps, args.conv_l_cache = 1e-5, 3
    args.norm_topk_prob, args.routed_scaling_factor = True, 1.0
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    t_start = time.time()
    log = lambda msg: print(f"[{time.time() - t_start:7.1f}s] {msg}", flush=True)

    chapters = read_kjv()
    held = [c for k, c in enumerate(chapters) if k % HELDOUT_EVERY == HELDOUT_PHASE]
    train = [c for k, c in enumerate(chapters) if k % HELDOUT_EVERY != HELDOUT_PHASE]
    train_text, held_text = chapters_text(train), chapters_text(held)
    if not (train_text + held_text).isascii():
        raise SystemExit("corpus is not ASCII: the Python split regex is only exact for ASCII")
    log(f"corpus: {len(chapters)} chapters, {len(train)} for training ({len(train_text)} bytes), "
        f"{len(held)} held out ({len(held_text)} bytes)")

    vocab, merges = train_bpe(train_text, args.vocab_size)
    tok = Tokenizer(vocab, merges)
    args.vocab_size = len(vocab)
    held_ids = tok.encode(held_text)
    if tok.decode(held_ids) != held_text:
        raise SystemExit("tokenizer round trip failed")
    log(f"BPE: {len(merges)} merges, vocab {len(vocab)}; held-out text = {len(held_ids)} tokens")

    data = Batches(tok, train, args.ctx, args.chat_share, args.seed)
    log(f"training stream: {len(data.stream)} tokens, {len(data.chat)} chat samples")
    model = Lfm2Moe(args)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params} parameters")

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    steps = 0 if args.load_state else args.bench or args.steps
    losses, t_train = [], time.time()
    if args.load_state:
        saved = torch.load(args.load_state)
        model.load_state_dict(saved["model"])
        losses, train_seconds_saved, steps = saved["losses"], saved["train_seconds"], saved["steps"]
    for step in range(0 if args.load_state else steps):
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for group in opt.param_groups:
            group["lr"] = lr
        x, y, mask = data.rows(args.batch)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
        loss = (loss * mask.reshape(-1)).sum() / mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for moe in model.moe_layers():
                moe.expert_bias += args.bias_rate * torch.sign(moe.load.mean() - moe.load)
                moe.load.zero_()
        losses.append(float(loss))
        if step % 10 == 0 or step + 1 == steps:
            log(f"step {step + 1}/{steps} loss {np.mean(losses[-10:]):.4f} lr {lr:.2e} "
                f"({(time.time() - t_train) / (step + 1):.2f} s/step)")
    train_seconds = train_seconds_saved if args.load_state else time.time() - t_train
    if args.bench:
        return 0
    if args.save_state:
        torch.save({"model": model.state_dict(), "losses": losses, "train_seconds": train_seconds, "steps": steps},
                   args.save_state)

    final_loss = float(np.mean(losses[-20:]))
    for prompt in ["In the beginning", "And the LORD said"]:
        ids = greedy(model, [BOS_ID] + tok.encode(prompt), 30)
        log(f"greedy raw  {prompt!r}: {tok.decode(ids[1:])!r}")
        chat = f"<|startoftext|><|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
        ids = greedy(model, tok.encode(chat), 40)
        log(f"greedy chat {prompt!r}: {tok.decode(ids)[len(chat):]!r}")

    config_json, template = tokenizer_config(args.template_dir)
    tok_files = {"tokenizer.json": json.dumps(tokenizer_json(vocab, merges), ensure_ascii=False, indent=2) + "\n",
                 "tokenizer_config.json": json.dumps(config_json, ensure_ascii=False, indent=2) + "\n",
                 "chat_template.jinja": template}
    quant_dir = os.path.join(args.out, args.name)
    f32_dir = os.path.join(args.out, args.name + "-f32")
    sizes = {quant_dir: export(model, args, quant_dir, 4, tok_files),
             f32_dir: export(model, args, f32_dir, 0, tok_files)}
    with open(os.path.join(quant_dir, "heldout.txt"), "w") as f:
        f.write(held_text)
    log(f"exported {sizes}")

    model = model.double()
    result = evaluate(model, held_ids, args.ctx)
    result.update({"file": f"{args.name}/heldout.txt", "model": f"{args.name}-f32", "dtype": "float64",
                   "heldout": f"every {HELDOUT_EVERY}th chapter of the KJV (chapter index % {HELDOUT_EVERY} == "
                              f"{HELDOUT_PHASE}), {len(held)} chapters"})
    mtm.write_json(os.path.join(f32_dir, "pytorch_eval.json"), result, indent=2, trailing_newline=True)
    log(f"held-out: {json.dumps(result)}")
    summary = {"command": " ".join(["/usr/bin/python3"] + sys.argv), "parameters": n_params,
               "steps": steps, "batch": args.batch, "ctx": args.ctx,
               "train_tokens_seen": steps * args.batch * args.ctx, "final_train_loss": final_loss,
               "train_seconds": round(train_seconds, 1), "total_seconds": round(time.time() - t_start, 1),
               "heldout_ppl_pytorch_f32": result["ppl"], "torch": torch.__version__, "sizes": sizes}
    mtm.write_json(os.path.join(f32_dir, "training_summary.json"), summary, indent=2, trailing_newline=True)
    log(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
