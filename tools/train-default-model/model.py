"""The decoder, written so that its arithmetic is what src/model computes for a GGUF with
general.architecture = "llama": RMSNorm (eps inside the square root), "normal" rope on adjacent
pairs (x[2i], x[2i+1]) as ggml applies it, so no Q/K row permutation is needed at export,
attention scaled by 1/sqrt(head_dim), SwiGLU FFN, output tied to the token embedding."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Config:
    def __init__(self, **kw):
        self.n_vocab = 4096
        self.n_embd = 256
        self.n_layer = 4
        self.n_head = 4
        self.n_ff = 768
        self.n_ctx = 256
        self.rope_base = 10000.0
        self.rms_eps = 1e-5
        self.__dict__.update(kw)

    def to_dict(self):
        return dict(self.__dict__)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(n_ctx, head_dim, base):
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)  # [head_dim/2]
    ang = torch.arange(n_ctx, dtype=torch.float64)[:, None] * inv[None, :]  # [n_ctx, head_dim/2]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    # x: [B, H, T, head_dim]; cos, sin: [T, head_dim/2]; rotates adjacent pairs.
    x0, x1 = x[..., 0::2], x[..., 1::2]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack((y0, y1), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c.n_embd
        self.n_head = c.n_head
        self.attn_norm = RMSNorm(d, c.rms_eps)
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, d, bias=False)
        self.wv = nn.Linear(d, d, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.ffn_norm = RMSNorm(d, c.rms_eps)
        self.w_gate = nn.Linear(d, c.n_ff, bias=False)
        self.w_up = nn.Linear(d, c.n_ff, bias=False)
        self.w_down = nn.Linear(c.n_ff, d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, D = x.shape
        hd = D // self.n_head
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, self.n_head, hd).transpose(1, 2)
        k = self.wk(h).view(B, T, self.n_head, hd).transpose(1, 2)
        v = self.wv(h).view(B, T, self.n_head, hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd)) + mask
        y = F.softmax(att, dim=-1) @ v  # [B, H, T, hd]
        x = x + self.wo(y.transpose(1, 2).reshape(B, T, D))
        h = self.ffn_norm(x)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tok = nn.Embedding(c.n_vocab, c.n_embd)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.norm = RMSNorm(c.n_embd, c.rms_eps)
        cos, sin = rope_tables(c.n_ctx, c.n_embd // c.n_head, c.rope_base)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        nn.init.normal_(self.tok.weight, std=0.02)
        for b in self.blocks:
            for lin in (b.wq, b.wk, b.wv, b.w_gate, b.w_up):
                nn.init.normal_(lin.weight, std=0.02)
            for lin in (b.wo, b.w_down):  # residual projections scaled down by depth (GPT-2)
                nn.init.normal_(lin.weight, std=0.02 / math.sqrt(2 * c.n_layer))

    def forward(self, ids):
        B, T = ids.shape
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.tok(ids)
        for b in self.blocks:
            x = b(x, self.cos[:T], self.sin[:T], mask)
        return self.norm(x) @ self.tok.weight.t()  # [B, T, n_vocab]
