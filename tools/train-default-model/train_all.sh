#!/usr/bin/env bash
# Reproduces models/default.gguf and its test fixtures from Debian's Python 3.11 standard library.
# Run once by developers, not in CI (about an hour on 2 busy CPU cores).
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
OPENBLAS_NUM_THREADS=2 nice -n 10 /usr/bin/python3 train.py "$work" "$work/run" \
  --steps 420 --batch 8 --ctx 256 --lr 4e-3 --warmup 30 \
  --n-embd 128 --n-layer 4 --n-head 4 --n-ff 384 --ckpt-every 20 --eval-every 100
/usr/bin/python3 export.py "$work/run/ckpt.pt" "$work/tokenizer.json" "$work/export"
"$bin/autoglm-export-default" "$work/export/manifest.json" "$work/export/tensors.bin" \
  "$root/models/default.gguf"
python3 make_fixtures.py "$work/tokenizer.json" "$work" "$root/tests/default_model"
/usr/bin/python3 torch_reference.py "$work/run/ckpt.pt" "$work/tokenizer.json" \
  "$root/tests/default_model/torch_reference.json"
python3 plot_loss.py "$work/run/loss.csv" "$root/docs/default-model-loss.svg"
python3 eval_heldout.py "$bin/autoglm" "$root/models/default.gguf" "$work/tokenizer.json" "$work"
sha256sum "$root/models/default.gguf"
