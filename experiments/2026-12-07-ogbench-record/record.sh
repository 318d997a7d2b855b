#!/usr/bin/env bash
# Issue 41's record on this 2-core CPU: OGBench's cube-single-play (made here, OGBench's
# recipe) on its five single tasks, LOM, FQL, ReBRAC and IQL, 2 seeds vmapped, 50,000
# updates, 20 episodes per seed every 10,000; then cube-double-play with LOM and FQL.
# Resumable: the bench skips finished runs and resumes a cut one from its checkpoint.
#   nohup nice -n 19 experiments/2026-12-07-ogbench-record/record.sh > runs/records/ogbench.log 2>&1 &
# Sizes: the CPU records' 256-256 networks and batch 256 (FQL's paper: 4 x 512, 1,000,000
# updates); FQL takes its paper's per-task alpha (--preset paper: 300 on cube tasks);
# ReBRAC has no OGBench row and takes its common settings under these sizes; LOM its
# defaults with one hyper-Q sample, as in the locomotion record.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/records/ogbench}
BENCH=(.venv/bin/onemode bench --no-progress --suite ogbench --seeds 2 --steps 50000
       --eval-every 10000 --eval-episodes 20 --set hidden=256,256 --set batch_size=256
       --out "$OUT")
"${BENCH[@]}" --datasets cube-single-play --algos fql,rebrac --preset paper
"${BENCH[@]}" --datasets cube-single-play --algos lom,iql --set hyper_q_samples=1
"${BENCH[@]}" --datasets cube-double-play --algos fql --preset paper
"${BENCH[@]}" --datasets cube-double-play --algos lom --set hyper_q_samples=1
