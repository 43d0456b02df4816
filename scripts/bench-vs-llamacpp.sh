#!/bin/bash
# Issue 5's side by side: autoglm bench and llama.cpp's llama-bench on the same GGUF files, same
# threads, alternating model by model so both see the same phase of a noisy host.
#   LLAMA_BENCH=/path/to/llama-bench bash scripts/bench-vs-llamacpp.sh > side-by-side.log
# Prints one line per round and model: pp128 and tg64 tok/s of each (ours: the median of -r
# repetitions; llama-bench: its mean) and their ratio. llama-bench is not part of this project:
# docs/PERFORMANCE.md ("Side by side with llama.cpp") says how the measured one was built.
# The models are the random-weight shapes of scripts/bench-cpu.sh (synthesized if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
autoglm=${AUTOGLM:-build/release/bin/autoglm}
llama_bench=${LLAMA_BENCH:?set LLAMA_BENCH to a llama-bench binary}
models=${MODELS:-/tmp/hb-models}
threads=${THREADS:-2}
rounds=${ROUNDS:-3}
reps=${REPS:-3}
list=${LIST:-qwen05b-q4_0 qwen05b-q8_0 qwen05b-q4_k_m tinyllama-q4_0}
mkdir -p "$models"

model_path() {  # name -> file, synthesizing the known shapes once
  case "$1" in
    stories260K) echo "${STORIES:-../shared/models/stories260K.gguf}"; return ;;
    qwen05b-*) preset=qwen2.5-0.5b type=${1#qwen05b-} ;;
    tinyllama-*) preset=tinyllama-1.1b type=${1#tinyllama-} ;;
    *) echo "unknown model $1" >&2; exit 2 ;;
  esac
  [ -f "$models/$1.gguf" ] || "$autoglm" synth --preset "$preset" --type "$type" -q -o "$models/$1.gguf" >&2
  echo "$models/$1.gguf"
}

ours() {  # file -> "pp tg" (medians)
  "$autoglm" bench -m "$1" -p 128 -n 64 -t "$threads" -r "$reps" |
    awk -F'|' '$2 ~ /pp128/ {pp = $4} $2 ~ /tg64/ {tg = $4} END {printf "%.2f %.2f", pp, tg}'
}

theirs() {  # file -> "pp tg" (means): the avg_ts column of llama-bench's CSV
  "$llama_bench" -m "$1" -t "$threads" -p 128 -n 64 -r "$reps" -o csv 2>/dev/null |
    awk -F, '{gsub(/"/, "")} NR == 1 {for (i = 1; i <= NF; ++i) col[$i] = i; next}
             {if ($col["n_prompt"] + 0 > 0) pp = $col["avg_ts"]; else tg = $col["avg_ts"]}
             END {printf "%.2f %.2f", pp, tg}'
}

echo "# autoglm $(git rev-parse --short HEAD) vs $("$llama_bench" --version 2>&1 | head -1), $threads threads, $(date -u +%FT%TZ)"
echo "| round | model | pp128 ours | pp128 llama.cpp | pp ratio | tg64 ours | tg64 llama.cpp | tg ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for round in $(seq "$rounds"); do
  for m in $list; do
    f=$(model_path "$m")
    read -r op ot <<<"$(ours "$f")"
    read -r lp lt <<<"$(theirs "$f")"
    awk -v r="$round" -v m="$m" -v op="$op" -v lp="$lp" -v ot="$ot" -v lt="$lt" 'BEGIN {
      printf "| %s | %s | %.1f | %.1f | %.2fx | %.1f | %.1f | %.2fx |\n", r, m, op, lp, op / lp, ot, lt, ot / lt }'
  done
done
