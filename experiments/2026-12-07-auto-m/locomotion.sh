#!/usr/bin/env bash
# The M that n_components=auto chooses on each of the 15 locomotion datasets of the LOM
# paper's Table 1 (this machine's data: the tasks' default recipes, data seed 0), at the
# CPU records' 256-256 mixture. Resumable: a dataset whose result file exists is skipped.
#   nohup nice -n 19 experiments/2026-12-07-auto-m/locomotion.sh > runs/auto-m/log.txt 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/auto-m}
mkdir -p "$OUT"
for env in halfcheetah hopper walker2d; do
  for kind in medium medium-replay full-replay medium-expert expert; do
    task="$env-$kind"
    [ -s "$OUT/$task.txt" ] && continue
    .venv/bin/onemode data modes --task "$task" --hidden 256,256 --plot "$OUT/$task.png" \
      > "$OUT/$task.txt.part"
    mv "$OUT/$task.txt.part" "$OUT/$task.txt"
  done
done
