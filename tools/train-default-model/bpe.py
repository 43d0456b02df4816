"""Byte-level BPE (GPT-2 byte alphabet) with the "qwen2" pre-tokenizer: trainer and encoder.

The encoder must give exactly the ids our C++ tokenizer gives for the GGUF this recipe writes
(tokenizer.ggml.model = "gpt2", tokenizer.ggml.pre = "qwen2"); tests/default_model checks that on
held-out files. Only the standard library and Debian's python3-regex are used.
"""
import json
import regex

# The qwen2 pre-tokenizer regex exactly as src/tokenizer/pre_tokenizer.cpp spells it, with \s
# and \S replaced by Unicode White_Space (what the C++ side substitutes before compiling).
_WS = "\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_QWEN2 = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
PRE_TOKENIZER = "qwen2"
_PAT = regex.compile(_QWEN2.replace(r"[^\s", "[^" + _WS).replace(r"\s", "[" + _WS + "]")
                     .replace(r"\S", "[^" + _WS + "]"))

SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
            "<|im_start|>", "<|im_end|>"]


def byte_alphabet():
    """GPT-2's bytes -> printable unicode characters map."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_CHAR = byte_alphabet()


def pre_tokenize(text):
    return _PAT.findall(text)


def train(texts, n_vocab):
    """Returns (tokens, merges): tokens[id] is the byte-alphabet string; merges as 'a b' strings."""
    counts = {}
    for t in texts:
        for w in pre_tokenize(t):
            counts[w] = counts.get(w, 0) + 1
    tokens = [BYTE_CHAR[b] for b in range(256)]
    tok_id = {s: i for i, s in enumerate(tokens)}
    words = [[tok_id[BYTE_CHAR[b]] for b in w.encode("utf-8")] for w in counts]
    freq = list(counts.values())
    pair_count, pair_where = {}, {}
    for wi, syms in enumerate(words):
        for a, b in zip(syms, syms[1:]):
            pair_count[(a, b)] = pair_count.get((a, b), 0) + freq[wi]
            pair_where.setdefault((a, b), set()).add(wi)
    merges = []
    n_target = n_vocab - len(SPECIALS)
    while len(tokens) < n_target and pair_count:
        # Highest count; ties by the smaller (left, right) ids so the result is deterministic.
        best = max(pair_count.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]))[0]
        if pair_count[best] < 2:
            break
        a, b = best
        text = tokens[a] + tokens[b]
        if text not in tok_id:
            tok_id[text] = len(tokens)
            tokens.append(text)
        new = tok_id[text]
        merges.append(tokens[a] + " " + tokens[b])
        for wi in list(pair_where.get(best, ())):
            syms = words[wi]
            f = freq[wi]
            for p in zip(syms, syms[1:]):
                pair_count[p] -= f
                if pair_count[p] <= 0:
                    del pair_count[p]
                s = pair_where.get(p)
                if s is not None:
                    s.discard(wi)
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[wi] = out
            for p in zip(out, out[1:]):
                pair_count[p] = pair_count.get(p, 0) + f
                pair_where.setdefault(p, set()).add(wi)
        pair_where.pop(best, None)
    return tokens + SPECIALS, merges


class Encoder:
    def __init__(self, tokens, merges):
        self.tokens = tokens
        self.tok_id = {s: i for i, s in enumerate(tokens)}
        self.rank = {}
        for r, m in enumerate(merges):
            a, b = m.split(" ")
            key = (self.tok_id[a], self.tok_id[b])
            self.rank.setdefault(key, (r, self.tok_id[a + b]))
        self.cache = {}
        self.special = {s: self.tok_id[s] for s in SPECIALS if s in self.tok_id}

    def encode_word(self, w):
        ids = self.cache.get(w)
        if ids is not None:
            return ids
        syms = [self.tok_id[BYTE_CHAR[b]] for b in w.encode("utf-8")]
        while len(syms) > 1:
            best = None
            for i, p in enumerate(zip(syms, syms[1:])):
                r = self.rank.get(p)
                if r is not None and (best is None or r[0] < best[0]):
                    best = (r[0], r[1], p)
            if best is None:
                break
            _, new, (a, b) = best
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            syms = out
        self.cache[w] = syms
        return syms

    def encode(self, text):
        """Plain text, no special-token parsing (as `autoglm tokenize` without --special)."""
        out = []
        for w in pre_tokenize(text):
            out.extend(self.encode_word(w))
        return out

    def decode(self, ids):
        inv = {c: b for b, c in BYTE_CHAR.items()}
        data = bytearray()
        for i in ids:
            t = self.tokens[i]
            if t in self.special:
                data += t.encode("utf-8")
            else:
                data += bytes(inv[c] for c in t)
        return data.decode("utf-8", errors="replace")


def save(path, tokens, merges):
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"pre": PRE_TOKENIZER, "tokens": tokens, "merges": merges,
                   "specials": SPECIALS}, f, ensure_ascii=False)


def load(path):
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    return Encoder(d["tokens"], d["merges"])
