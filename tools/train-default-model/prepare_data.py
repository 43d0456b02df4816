"""Tokenizes the corpus into a training stream: python3 prepare_data.py TOKENIZER.json OUT_DIR

train.bin: uint16 ids, files in order, each cut at line boundaries into segments of at most
SEGMENT_CHARS characters; FIM_RATE of the segments are rewritten as fill-in-the-middle examples
in PSM order (<|fim_prefix|> pre <|fim_suffix|> suf <|fim_middle|> mid <|endoftext|>) with two
random split points, the others are written as they are; <|endoftext|> ends every file.
heldout.bin: the held-out files as they are, each followed by <|endoftext|>.
With --short-docstrings (3rd argument), every multi-line docstring of the training files is cut to
its summary line first (short_docstrings.py); the held-out files stay as they are."""
import array
import os
import random
import sys

import bpe
import corpus
import short_docstrings

SEGMENT_CHARS = 1200
FIM_RATE = 0.25
SEED = 1234


def segments(text):
    out, cur = [], ""
    for line in text.splitlines(keepends=True):
        if cur and len(cur) + len(line) > SEGMENT_CHARS:
            out.append(cur)
            cur = ""
        cur += line
    if cur:
        out.append(cur)
    return out


def main():
    enc = bpe.load(sys.argv[1])
    out_dir = sys.argv[2]
    short = sys.argv[3:] == ["--short-docstrings"]
    assert len(sys.argv) == 3 or short, "usage: prepare_data.py TOKENIZER.json OUT_DIR [--short-docstrings]"
    os.makedirs(out_dir, exist_ok=True)
    eot, pre, mid, suf = (enc.tok_id[s] for s in
                          ("<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"))
    rng = random.Random(SEED)
    train_files, held_files = corpus.split()
    ids = array.array("H")
    n_fim = n_seg = 0
    for rel in train_files:
        text = corpus.read(rel)
        for seg in segments(short_docstrings.shorten(text) if short else text):
            n_seg += 1
            if rng.random() < FIM_RATE and len(seg) > 2:
                a, b = sorted(rng.sample(range(len(seg) + 1), 2))
                ids.append(pre)
                ids.extend(enc.encode(seg[:a]))
                ids.append(suf)
                ids.extend(enc.encode(seg[b:]))
                ids.append(mid)
                ids.extend(enc.encode(seg[a:b]))
                ids.append(eot)
                n_fim += 1
            else:
                ids.extend(enc.encode(seg))
        ids.append(eot)
    with open(os.path.join(out_dir, "train.bin"), "wb") as f:
        ids.tofile(f)
    held = array.array("H")
    for rel in held_files:
        held.extend(enc.encode(corpus.read(rel)))
        held.append(eot)
    with open(os.path.join(out_dir, "heldout.bin"), "wb") as f:
        held.tofile(f)
    print(f"train: {len(ids)} tokens ({n_fim}/{n_seg} FIM segments); held-out: {len(held)} tokens")


main()
