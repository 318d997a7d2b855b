#!/usr/bin/env bash
# The records of issues 40 (ReBRAC and FQL beside LOM, IQL and TD3+BC) and 43 (LOM with
# n_components=auto against M = 10), on this 2-core CPU, as benches that resume where they
# were cut off (each run checkpoints every 10,000 updates; a finished run is skipped).
# Two lanes, one core each:
#   nohup nice -n 19 experiments/2026-12-07-new-methods-records/records.sh A > runs/records/A.log 2>&1 &
#   nohup nice -n 19 experiments/2026-12-07-new-methods-records/records.sh B > runs/records/B.log 2>&1 &
# A: the three medium-replay datasets generated here: rebrac,fql, then lom,iql,td3bc.
# B: the three Fetch 4-goal tasks: rebrac,fql,iql,td3bc; then LOM with n_components=auto on
#    lane A's files (its data folder is lane A's).
# Sizes: the existing CPU records' (docs/results.md, "The locomotion bench at CPU sizes" and
# "The Fetch bench"), so that the new rows sit beside the old ones.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=${ROOT:-runs/records}
mkdir -p "$ROOT/loco" "$ROOT/loco-auto"
[ -e "$ROOT/loco-auto/data" ] || ln -s ../loco/data "$ROOT/loco-auto/data"
BENCH=(.venv/bin/onemode bench --no-progress)
LOCO=(--suite locomotion --datasets medium-replay --seeds 4 --steps 50000 --eval-every 10000
      --eval-episodes 10 --set hidden=256,256 --set batch_size=256)
FETCH=(--tasks fetch-reach-4goal,fetch-push-4goal,fetch-pick-4goal --seeds 4 --steps 15000
       --eval-every 5000 --eval-episodes 20 --set hidden=128,128 --set batch_size=256)
case "${1:-}" in
  A) "${BENCH[@]}" "${LOCO[@]}" --algos rebrac,fql --preset paper --out "$ROOT/loco"
     "${BENCH[@]}" "${LOCO[@]}" --algos lom,iql,td3bc --set hyper_q_samples=1 --out "$ROOT/loco" ;;
  B) "${BENCH[@]}" "${FETCH[@]}" --algos rebrac,fql --preset paper --out "$ROOT/fetch"
     "${BENCH[@]}" "${FETCH[@]}" --algos iql,td3bc --out "$ROOT/fetch"
     "${BENCH[@]}" "${LOCO[@]}" --algos lom --set hyper_q_samples=1 --set n_components=auto \
       --out "$ROOT/loco-auto" ;;
  *) echo "usage: $0 A|B" >&2; exit 2 ;;
esac
