"""The training corpus: Python 3.11's standard library as Debian installs it (PSF licence,
/usr/lib/python3.11/LICENSE.txt). Whole files are held out by a hash of their path, so the
perplexity and the acceptance headers come from code the model never saw."""
import hashlib
import os

ROOT = "/usr/lib/python3.11"
# Test suites, generated tables and bulk data are not the code we want the model to imitate.
EXCLUDE_PARTS = {"test", "tests", "idle_test", "encodings", "pydoc_data", "__pycache__",
                 "site-packages", "dist-packages", "config-3.11-x86_64-linux-gnu"}
HELD_OUT_EVERY = 20  # about 1 file in 20


def files():
    out = []
    for d, dirs, names in os.walk(ROOT):
        rel = os.path.relpath(d, ROOT)
        if any(p in EXCLUDE_PARTS for p in rel.split(os.sep)):
            dirs[:] = []
            continue
        dirs.sort()
        for n in sorted(names):
            if n.endswith(".py") and not n.startswith("_sysconfigdata"):
                out.append(os.path.normpath(os.path.join(rel, n)))
    return out


def is_held_out(rel):
    return int(hashlib.sha256(rel.encode()).hexdigest(), 16) % HELD_OUT_EVERY == 0


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8", errors="replace") as f:
        return f.read()


def split():
    train, held = [], []
    for rel in files():
        (held if is_held_out(rel) else train).append(rel)
    return train, held
