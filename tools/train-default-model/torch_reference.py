"""Greedy tokens and logits of the PyTorch model for a few prompts, with every matrix rounded to
float16 as the GGUF stores it (the 64 largest logits after each prompt): /usr/bin/python3 torch_reference.py CKPT.pt TOKENIZER.json OUT.json

tests/default_model checks that our C++ forward pass on models/default.gguf gives the same
greedy tokens and logits close to these (the KV cache is F16 there, so not bit-identical)."""
import json
import sys

import torch

import bpe
from model import Config, Model

PROMPTS = ["def fibonacci(n):\n", "import os\nimport sys\n\n\nclass ", "    for i in range(len(",
           "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n\n\nprint(add(1, 2))\n<|fim_middle|>"]
N_PREDICT = 24


def encode_with_specials(enc, text):
    ids, rest = [], text
    while rest:
        at = [(rest.find(s), s) for s in enc.special if rest.find(s) >= 0]
        if not at:
            ids += enc.encode(rest)
            break
        pos, s = min(at)
        ids += enc.encode(rest[:pos]) + [enc.special[s]]
        rest = rest[pos + len(s):]
    return ids


def main():
    ckpt, tok_path, out = sys.argv[1:4]
    torch.set_num_threads(2)
    s = torch.load(ckpt, map_location="cpu")
    model = Model(Config(**s["config"]))
    sd = {k: (v.half().float() if v.dim() == 2 else v) for k, v in s["model"].items()}
    model.load_state_dict(sd)
    model.eval()
    enc = bpe.load(tok_path)
    cases = []
    with torch.no_grad():
        for p in PROMPTS:
            ids = encode_with_specials(enc, p)
            prompt_logits = model(torch.tensor([ids]))[0, -1].tolist()
            gen = list(ids)
            for _ in range(N_PREDICT):
                gen.append(int(model(torch.tensor([gen]))[0, -1].argmax()))
            top = sorted(range(len(prompt_logits)), key=lambda i: -prompt_logits[i])[:64]
            cases.append({"prompt": p, "prompt_ids": ids, "greedy": gen[len(ids):],
                          "top_logits": [[i, round(prompt_logits[i], 5)] for i in top]})
            print(repr(p), "->", repr(enc.decode(gen[len(ids):])))
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"step": s["step"], "cases": cases}, f)


main()
