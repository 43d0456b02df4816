#!/bin/bash
# Issue 5's CPU table (docs/PERFORMANCE.md, "CPU decode and prefill"): three rounds of pp128 and
# tg64 (each tg repetition paired with its own bandwidth probe) for the four model shapes, then the
# batched-decode sweep. Synthesizes the random-weight models once into $MODELS (~1.9 GB).
#   bash scripts/bench-cpu.sh > window.log          (after scripts/run.sh or a release build)
# Run it on an otherwise idle machine: a build next to it moves the figures by tens of percent.
set -euo pipefail
cd "$(dirname "$0")/.."
autoglm=${AUTOGLM:-build/release/bin/autoglm}
models=${MODELS:-/tmp/hb-models}
threads=${THREADS:-2}
mkdir -p "$models"

synth() {  # name preset type
  [ -f "$models/$1.gguf" ] || "$autoglm" synth --preset "$2" --type "$3" -q -o "$models/$1.gguf"
}
synth qwen05b-q4_0 qwen2.5-0.5b q4_0
synth qwen05b-q8_0 qwen2.5-0.5b q8_0
synth qwen05b-q4_k_m qwen2.5-0.5b q4_k_m
synth tinyllama-q4_0 tinyllama-1.1b q4_0

for round in 1 2 3; do
  for m in qwen05b-q4_0 qwen05b-q8_0 qwen05b-q4_k_m tinyllama-q4_0; do
    echo "## round $round $m $(date -u +%T)"
    "$autoglm" bench -m "$models/$m.gguf" -p 128 -n 64 -t "$threads" -r 5 --membw
  done
done
echo "## sweep $(date -u +%T)"
"$autoglm" bench -m "$models/qwen05b-q4_0.gguf" -p 0 -n 16 -t "$threads" -r 3 --sweep 1,8,16 \
  --plot "${PLOT:-$models/sweep.svg}"
