#!/usr/bin/env bash
# Reproduces models/default.gguf and its test fixtures from Debian's Python 3.11 standard library.
# Run once by developers, not in CI (about an hour on 2 busy CPU cores: ~1.1 s per training step
# with one thread; train.py sets glibc's malloc tunables itself, see its header).
#   bash tools/train-default-model/train_all.sh [WORK_DIR]
# Needs: python3 with python3-regex; /usr/bin/python3 with python3-torch (Debian 1.13, CPU) and
# an optimised BLAS (libopenblas0-pthread: Debian's reference BLAS is ~5x slower); the release
# build's autoglm-export-default and autoglm (cmake --preset release && cmake --build --preset
# release --target autoglm autoglm-export-default).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-/tmp/autoglm-default-model}
bin=${AUTOGLM_BIN:-$root/build/release/bin}
mkdir -p "$work"
cd "$here"

python3 train_tokenizer.py "$work/tokenizer.json" 4096
python3 prepare_data.py "$work/tokenizer.json" "$work"
python3 prepare_data.py "$work/tokenizer.json" "$work/short" --short-docstrings
# Stage 1: 2600 steps on the training split as it is. Stage 2: the same run resumed for 400
# more steps (the cosine schedule stretched to 3000: lr 4.3e-4 -> 3e-4) on the training split
# with every docstring cut to its summary line, so that greedy completions close their
# docstring and go on to code (see short_docstrings.py).
train() {
  OPENBLAS_NUM_THREADS=1 nice -n 10 /usr/bin/python3 train.py "$1" "$2" \
    --steps "$3" --batch 8 --ctx 256 --lr 3e-3 --warmup 60 --threads 1 \
    --n-embd 192 --n-layer 4 --n-head 6 --n-ff 512 --ckpt-every 50 --eval-every 200
}
train "$work" "$work/run" 2600
mkdir -p "$work/run2"
cp "$work/run/ckpt.pt" "$work/run/loss.csv" "$work/run2/"
train "$work/short" "$work/run2" 3000
/usr/bin/python3 export.py "$work/run2/ckpt.pt" "$work/tokenizer.json" "$work/export"
"$bin/autoglm-export-default" "$work/export/manifest.json" "$work/export/tensors.bin" \
  "$root/models/default.gguf"
python3 make_fixtures.py "$work/tokenizer.json" "$work" "$root/tests/default_model"
/usr/bin/python3 torch_reference.py "$work/run2/ckpt.pt" "$work/tokenizer.json" \
  "$root/tests/default_model/torch_reference.json"
python3 plot_loss.py "$work/run2/loss.csv" "$root/docs/default-model-loss.svg"
python3 eval_heldout.py "$bin/autoglm" "$root/models/default.gguf" "$work/tokenizer.json" "$work"
sha256sum "$root/models/default.gguf"
