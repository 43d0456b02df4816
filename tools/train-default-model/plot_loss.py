"""Draws loss.csv (train.py) as an SVG line chart, with no plotting library:
python3 plot_loss.py LOSS.csv OUT.svg"""
import csv
import math
import sys

W, H, L, R, T, B = 720, 400, 60, 20, 30, 50


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    train = [(int(r["step"]), float(r["train_loss"])) for r in rows]
    held = [(int(r["step"]), float(r["heldout_loss"])) for r in rows
            if not math.isnan(float(r["heldout_loss"]))]
    xmax = max(s for s, _ in train)
    ys = [v for _, v in train + held]
    ymin, ymax = math.floor(min(ys)), math.ceil(max(ys))
    sx = lambda s: L + (W - L - R) * s / xmax
    sy = lambda v: T + (H - T - B) * (ymax - v) / (ymax - ymin)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="14">'
           f'default model: cross-entropy (nats/token) vs training step</text>']
    for v in range(ymin, ymax + 1):
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L - 8}" y="{sy(v) + 4:.1f}" text-anchor="end">{v}</text>')
    step = max(1, round(xmax / 6, -1))
    s = 0
    while s <= xmax:
        out.append(f'<text x="{sx(s):.1f}" y="{H - B + 18}" text-anchor="middle">{int(s)}</text>')
        s += step
    out.append(f'<text x="{W / 2}" y="{H - 10}" text-anchor="middle">step (batch 8 x 256 tokens)</text>')
    for pts, color, name, y in [(train, "#1f77b4", "train (mean of 20 steps)", 40),
                                (held, "#d62728", "held-out files", 58)]:
        path = " ".join(f"{sx(s):.1f},{sy(v):.1f}" for s, v in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for s_, v in pts if name.startswith("held") else []:
            out.append(f'<circle cx="{sx(s_):.1f}" cy="{sy(v):.1f}" r="3" fill="{color}"/>')
        out.append(f'<line x1="{W - 230}" x2="{W - 205}" y1="{y}" y2="{y}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{W - 200}" y="{y + 4}">{name}</text>')
    out.append("</svg>")
    open(sys.argv[2], "w").write("\n".join(out) + "\n")


main()
