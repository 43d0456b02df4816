"""Writes a checkpoint as raw tensors + a JSON manifest for the C++ exporter (export_gguf.cpp):
/usr/bin/python3 export.py CKPT.pt TOKENIZER.json OUT_DIR

OUT_DIR/tensors.bin: float32 little-endian data of every tensor, back to back.
OUT_DIR/manifest.json: {"metadata": [{key, type, value}], "tensors": [{name, shape, type, offset}]}
with GGUF names and shapes (ne[0] first: a torch Linear [out, in] is GGUF [in, out], same bytes).
The exporter writes every key as given; it knows nothing about models."""
import json
import os
import sys

import torch

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def main():
    ckpt, tok_path, out = sys.argv[1:4]
    s = torch.load(ckpt, map_location="cpu")
    c, sd, step = s["config"], s["model"], s["step"]
    with open(tok_path, encoding="utf-8") as f:
        tok = json.load(f)
    tokens, merges, specials = tok["tokens"], tok["merges"], tok["specials"]
    assert len(tokens) == c["n_vocab"], (len(tokens), c["n_vocab"])
    tid = {t: i for i, t in enumerate(tokens)}
    n_params = sum(v.numel() for v in sd.values())
    head_dim = c["n_embd"] // c["n_head"]

    def kv(key, typ, value):
        return {"key": key, "type": typ, "value": value}

    md = [
        kv("general.architecture", "str", "llama"),
        kv("general.name", "str", f"autoglm-default-code-{n_params / 1e6:.1f}M"),
        kv("general.description", "str",
           "Open-AutoGLM's built-in demo code model: a tiny llama-architecture decoder trained on "
           "Python 3.11's standard library (PSF licence) with fill-in-the-middle. Completes Python "
           "crudely; not a useful assistant."),
        kv("general.training_steps", "u32", step),
        kv("llama.context_length", "u32", c["n_ctx"]),
        kv("llama.embedding_length", "u32", c["n_embd"]),
        kv("llama.block_count", "u32", c["n_layer"]),
        kv("llama.feed_forward_length", "u32", c["n_ff"]),
        kv("llama.attention.head_count", "u32", c["n_head"]),
        kv("llama.attention.head_count_kv", "u32", c["n_head"]),
        kv("llama.attention.layer_norm_rms_epsilon", "f32", c["rms_eps"]),
        kv("llama.rope.freq_base", "f32", c["rope_base"]),
        kv("llama.rope.dimension_count", "u32", head_dim),
        kv("llama.vocab_size", "u32", c["n_vocab"]),
        kv("tokenizer.ggml.model", "str", "gpt2"),
        kv("tokenizer.ggml.pre", "str", tok["pre"]),
        kv("tokenizer.ggml.tokens", "arr_str", tokens),
        kv("tokenizer.ggml.token_type", "arr_i32", [3 if t in specials else 1 for t in tokens]),
        kv("tokenizer.ggml.merges", "arr_str", merges),
        kv("tokenizer.ggml.bos_token_id", "u32", tid["<|endoftext|>"]),
        kv("tokenizer.ggml.eos_token_id", "u32", tid["<|endoftext|>"]),
        kv("tokenizer.ggml.eot_token_id", "u32", tid["<|im_end|>"]),
        kv("tokenizer.ggml.padding_token_id", "u32", tid["<|endoftext|>"]),
        kv("tokenizer.ggml.fim_pre_token_id", "u32", tid["<|fim_prefix|>"]),
        kv("tokenizer.ggml.fim_suf_token_id", "u32", tid["<|fim_suffix|>"]),
        kv("tokenizer.ggml.fim_mid_token_id", "u32", tid["<|fim_middle|>"]),
        kv("tokenizer.ggml.add_bos_token", "bool", False),
        kv("tokenizer.ggml.add_eos_token", "bool", False),
        kv("tokenizer.chat_template", "str", CHATML),
    ]

    names = [("tok.weight", "token_embd.weight"), ("norm.weight", "output_norm.weight")]
    for i in range(c["n_layer"]):
        for src, dst in [("attn_norm.weight", "attn_norm.weight"), ("wq.weight", "attn_q.weight"),
                         ("wk.weight", "attn_k.weight"), ("wv.weight", "attn_v.weight"),
                         ("wo.weight", "attn_output.weight"), ("ffn_norm.weight", "ffn_norm.weight"),
                         ("w_gate.weight", "ffn_gate.weight"), ("w_up.weight", "ffn_up.weight"),
                         ("w_down.weight", "ffn_down.weight")]:
            names.append((f"blocks.{i}.{src}", f"blk.{i}.{dst}"))
    assert len(names) == len(sd), sorted(set(sd) - {n for n, _ in names})
    os.makedirs(out, exist_ok=True)
    tensors, offset = [], 0
    with open(os.path.join(out, "tensors.bin"), "wb") as f:
        for src, dst in names:
            t = sd[src].float().contiguous()
            f.write(t.numpy().tobytes())
            # Matrices as F16 (the size budget); norm vectors stay F32.
            tensors.append({"name": dst, "shape": list(reversed(t.shape)),
                            "type": "f16" if t.dim() == 2 else "f32", "offset": offset})
            offset += t.numel() * 4
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump({"metadata": md, "tensors": tensors}, f, ensure_ascii=False)
    print(f"step {step}: {n_params} parameters, {len(tensors)} tensors -> {out}")


main()
