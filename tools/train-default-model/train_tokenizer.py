"""Trains the BPE vocabulary on the training split: python3 train_tokenizer.py OUT.json [N_VOCAB]"""
import sys
import time

import bpe
import corpus

out = sys.argv[1]
n_vocab = int(sys.argv[2]) if len(sys.argv) > 2 else 4096
train_files, _ = corpus.split()
t0 = time.time()
tokens, merges = bpe.train([corpus.read(r) for r in train_files], n_vocab)
bpe.save(out, tokens, merges)
print(f"{len(tokens)} tokens, {len(merges)} merges in {time.time() - t0:.0f} s -> {out}")
