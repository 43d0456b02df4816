"""Trains the default model: /usr/bin/python3 train.py DATA_DIR OUT_DIR [--steps N] ...

Reads DATA_DIR/train.bin and heldout.bin (prepare_data.py), writes OUT_DIR/ckpt.pt every
--ckpt-every steps (atomically; export.py works from any checkpoint) and OUT_DIR/loss.csv."""
import argparse
import array
import math
import os
import sys
import time

# glibc returns freed blocks of >= 128 KiB to the kernel, so every step's large activations
# (the [8, 256, 4096] logits are 32 MiB) are mapped afresh and page-faulted in again; on the
# project's VM that made element-wise ops ~50x slower (x * x on 8 M floats: 200 ms vs 4 ms).
# These tunables are read when the process starts, so set them and re-exec once.
_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "1000000000", "MALLOC_TRIM_THRESHOLD_": "100000000000",
               "MALLOC_TOP_PAD_": "1000000000"}
if any(os.environ.get(k) != v for k, v in _MALLOC_ENV.items()):
    os.environ.update(_MALLOC_ENV)
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from model import Config, Model  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("data")
p.add_argument("out")
p.add_argument("--steps", type=int, default=3000)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--ctx", type=int, default=256)
p.add_argument("--lr", type=float, default=3e-3)
p.add_argument("--warmup", type=int, default=100)
p.add_argument("--n-embd", type=int, default=256)
p.add_argument("--n-layer", type=int, default=4)
p.add_argument("--n-head", type=int, default=4)
p.add_argument("--n-ff", type=int, default=768)
p.add_argument("--ckpt-every", type=int, default=100)
p.add_argument("--eval-every", type=int, default=200)
# One thread: with two OpenMP threads on two cores shared with compiles, a descheduled thread
# stalls the other at every op's barrier (measured 0.64 s/step with 1 thread, 0.99 s with 2).
p.add_argument("--threads", type=int, default=1)
p.add_argument("--seed", type=int, default=1234)
args = p.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)


def load(path):
    a = array.array("H")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    return torch.tensor(a, dtype=torch.int64)


train = load(os.path.join(args.data, "train.bin"))
held = load(os.path.join(args.data, "heldout.bin"))
cfg = Config(n_embd=args.n_embd, n_layer=args.n_layer, n_head=args.n_head, n_ff=args.n_ff,
             n_ctx=args.ctx)
model = Model(cfg)
n_params = sum(p.numel() for p in model.parameters())
print(f"{n_params} parameters; {len(train)} training tokens", flush=True)

decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                         {"params": no_decay, "weight_decay": 0.0}],
                        lr=args.lr, betas=(0.9, 0.95))
gen = torch.Generator().manual_seed(args.seed)


def batch(data, n, g):
    ix = torch.randint(0, len(data) - args.ctx - 1, (n,), generator=g)
    x = torch.stack([data[i:i + args.ctx] for i in ix])
    y = torch.stack([data[i + 1:i + 1 + args.ctx] for i in ix])
    return x, y


def lr_at(step):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    t = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


@torch.no_grad()
def held_loss():
    model.eval()
    g = torch.Generator().manual_seed(7)  # the same 32 windows every time
    tot = 0.0
    for _ in range(4):
        x, y = batch(held, 8, g)
        tot += F.cross_entropy(model(x).view(-1, cfg.n_vocab), y.view(-1)).item()
    model.train()
    return tot / 4


def save(step):
    tmp = os.path.join(args.out, "ckpt.pt.tmp")
    torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "opt": opt.state_dict(),
                "step": step, "args": vars(args)}, tmp)
    os.replace(tmp, os.path.join(args.out, "ckpt.pt"))


os.makedirs(args.out, exist_ok=True)
start = 0
ck = os.path.join(args.out, "ckpt.pt")
if os.path.exists(ck):  # resume
    s = torch.load(ck)
    model.load_state_dict(s["model"])
    opt.load_state_dict(s["opt"])
    start = s["step"]
    gen.manual_seed(args.seed + start)
    print(f"resumed at step {start}", flush=True)
log = open(os.path.join(args.out, "loss.csv"), "a")
if start == 0:
    log.write("step,train_loss,heldout_loss,lr,seconds\n")
t0 = time.time()
acc = 0.0
for step in range(start, args.steps):
    for g in opt.param_groups:
        g["lr"] = lr_at(step)
    x, y = batch(train, args.batch, gen)
    loss = F.cross_entropy(model(x).view(-1, cfg.n_vocab), y.view(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    acc += loss.item()
    done = step + 1
    if done % 20 == 0:
        hl = held_loss() if done % args.eval_every == 0 or done == args.steps else float("nan")
        log.write(f"{done},{acc / 20:.4f},{hl:.4f},{lr_at(step):.6f},{time.time() - t0:.0f}\n")
        log.flush()
        print(f"step {done} loss {acc / 20:.3f} held {hl:.3f} {time.time() - t0:.0f}s", flush=True)
        acc = 0.0
    if done % args.ckpt_every == 0 or done == args.steps:
        save(done)
