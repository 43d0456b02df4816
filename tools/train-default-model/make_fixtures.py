"""Writes the test fixtures of tests/default_model from the held-out files and the tokenizer:
python3 make_fixtures.py TOKENIZER.json DATA_DIR OUT_DIR   (python3 with python3-regex)

headers.json: 20 top-level function headers (one-line signatures) from held-out files, at most
2 per file, in file order, with the file each comes from.
heldout.json: held-out texts (whole files, plus a string of tokenizer edge cases) and their
token ids from bpe.py: the C++ tokenizer must give exactly these ids, and the perplexity test
scores the model on these tokens.
unigram_counts.json: how often each token id occurs in the training stream (train.bin), the
unigram baseline of the perplexity test."""
import array
import json
import re
import sys

import bpe
import corpus

HELDOUT_FILES = ["chunk.py", "uu.py", "signal.py", "email/parser.py", "unittest/signals.py"]
EDGE_CASES = ("x = 'café' + \"naïve\"  # ünïcödé, 你好, Ελληνικά\n\tif a:\r\n\t\treturn 12345\n"
              "I'LL don't we've  \u00a0 tabs\t\t\n\n\n   \n0x1F 3.14e-10 __init__ _private "
              "<|endoftext|> <|fim_prefix|>\n")


def main():
    enc = bpe.load(sys.argv[1])
    data_dir, out = sys.argv[2], sys.argv[3]
    _, held = corpus.split()
    headers = []
    for rel in held:
        found = re.findall(r"^def [A-Za-z_]\w*\(.*\):[ \t]*$", corpus.read(rel), re.M)
        for h in found[:2]:
            headers.append({"file": rel, "header": h})
    headers = headers[:20]
    assert len(headers) == 20, len(headers)
    with open(f"{out}/headers.json", "w", encoding="utf-8") as f:
        json.dump(headers, f, indent=1, ensure_ascii=False)
    texts = [{"name": rel, "text": corpus.read(rel)} for rel in HELDOUT_FILES]
    assert all(r in held for r in HELDOUT_FILES)
    texts.append({"name": "edge cases", "text": EDGE_CASES})
    for t in texts:
        t["ids"] = enc.encode(t["text"])
        assert enc.decode(t["ids"]) == t["text"]
    with open(f"{out}/heldout.json", "w", encoding="utf-8") as f:
        json.dump(texts, f, ensure_ascii=False)
    train = array.array("H")
    with open(f"{data_dir}/train.bin", "rb") as f:
        train.frombytes(f.read())
    counts = [0] * len(enc.tokens)
    for t in train:
        counts[t] += 1
    with open(f"{out}/unigram_counts.json", "w", encoding="utf-8") as f:
        json.dump(counts, f)
    print(f"{len(headers)} headers; {sum(len(t['ids']) for t in texts)} held-out tokens")


main()
