"""Held-out perplexity of a GGUF against unigram baselines on the same scored tokens:
python3 eval_heldout.py AUTOGLM_BINARY MODEL.gguf TOKENIZER.json DATA_DIR [N_CTX]

All held-out files, concatenated, scored by `autoglm perplexity` (llama.cpp's
method: chunks of N_CTX, second half of each scored). Baselines on exactly those targets: the
unigram of the training split (add-one smoothed) and the best possible unigram (the targets'
own frequencies)."""
import array
import collections
import json
import math
import subprocess
import sys
import tempfile

import bpe
import corpus

exe, model, tok_path, data_dir = sys.argv[1:5]
n_ctx = int(sys.argv[5]) if len(sys.argv) > 5 else 256
enc = bpe.load(tok_path)
_, held = corpus.split()
text = "".join(corpus.read(r) for r in held)  # `autoglm perplexity` parses no special tokens
ids = enc.encode(text)
with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False, encoding="utf-8") as f:
    f.write(text)
out = subprocess.run([exe, "perplexity", "-m", model, "-f", f.name, "--ctx", str(n_ctx), "--json"],
                     capture_output=True, text=True, check=True)
r = json.loads(out.stdout.strip().splitlines()[-1])
assert r["n_tokens"] == len(ids), (r["n_tokens"], len(ids))
targets = [ids[c * n_ctx + i + 1] for c in range(len(ids) // n_ctx)
           for i in range(n_ctx // 2, n_ctx - 1)]
assert len(targets) == r["n_scored"]
train = array.array("H")
with open(f"{data_dir}/train.bin", "rb") as fb:
    train.frombytes(fb.read())
tc = collections.Counter(train)
n_train, n_vocab = len(train), len(enc.tokens)
uni_train = math.exp(-sum(math.log((tc[t] + 1) / (n_train + n_vocab)) for t in targets) / len(targets))
own = collections.Counter(targets)
uni_own = math.exp(-sum(k * math.log(k / len(targets)) for k in own.values()) / len(targets))
print(json.dumps({"held_out_files": len(held), "tokens": len(ids), "scored": len(targets),
                  "n_ctx": n_ctx, "model_ppl": round(r["ppl"], 3),
                  "unigram_train_ppl": round(uni_train, 2), "unigram_oracle_ppl": round(uni_own, 2),
                  "ratio_vs_train_unigram": round(r["ppl"] / uni_train, 4),
                  "ratio_vs_oracle_unigram": round(r["ppl"] / uni_own, 4)}))
