#!/usr/bin/env bash
# The CPU-sized locomotion bench (issue 13's first record) on a lent GPU machine:
# one `onemode bench` process per replay dataset, all at once (16 CPU cores for the
# data and the rollouts, one GPU shared by the training processes), plus LOM with
# 10 hyper-Q samples per mode on the two medium-replay datasets (--out $ROOT/bench-loco-k10).
#
#   LIMIT=480 experiments/2026-11-27-locomotion-bench-cpu-sizes/gpu_locomotion_bench.sh     (on the device machine; see below)
#
# Each process stops after LIMIT seconds; run the script again on the same machine
# and the benches resume from their last checkpoints (every 10,000 updates). The
# device machine lacks gymnasium and MuJoCo: reproductions/device_env.sh installs them
# from wheels carried in .whl. Everything the tables need (configs, logs, metrics,
# done marks; no checkpoints or data) is packed into $OUT/bench-loco.tgz at the end.
set -u
LIMIT=${LIMIT:-480}
OUT=${OUT:-runs/gpu-out}
ROOT=${ROOT:-runs}   # the benches write $ROOT/bench-loco and $ROOT/bench-loco-k10
mkdir -p "$OUT"
source reproductions/device_env.sh
# several processes share the GPU; a second call on the same machine reuses the compilations
export XLA_PYTHON_CLIENT_PREALLOCATE=false \
  JAX_COMPILATION_CACHE_DIR=$ROOT/jax-cache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=1
python3 -c "import jax, flax, mujoco, gymnasium; print('jax', jax.__version__, jax.devices(), \
'flax', flax.__version__, 'mujoco', mujoco.__version__, 'gymnasium', gymnasium.__version__)" || exit 1

ONEMODE=(python3 -c 'import sys; from onemode.cli import main; sys.argv[0] = "onemode"; sys.exit(main())')
COMMON=(--suite locomotion --seeds 4 --steps "${STEPS:-50000}" --eval-every "${EVAL_EVERY:-10000}" --eval-episodes 10
        --set hidden=256,256 --set batch_size=256 --no-progress ${EXTRA:-})   # EXTRA: for a smoke test
DATASETS=${DATASETS:-hopper-medium-replay walker2d-medium-replay halfcheetah-medium-replay hopper-full-replay walker2d-full-replay halfcheetah-full-replay}
ALGOS=${ALGOS:-lom,td3bc,iql,awac,lapo,dmpo}
K10_DATASETS=${K10_DATASETS-hopper-medium-replay walker2d-medium-replay}   # empty: none

LOM_K1=()
[[ ",$ALGOS," == *,lom,* ]] && LOM_K1=(--set hyper_q_samples=1)   # an option of LOM's alone

start=$(date +%s)
for dataset in $DATASETS; do
  timeout "$LIMIT" "${ONEMODE[@]}" bench "${COMMON[@]}" --datasets "$dataset" --algos "$ALGOS" \
    ${LOM_K1[@]+"${LOM_K1[@]}"} --out $ROOT/bench-loco >> "$OUT/$dataset.log" 2>&1 &
done
mkdir -p $ROOT/bench-loco-k10/data
for dataset in $K10_DATASETS; do
  (data=$ROOT/bench-loco/data/$dataset-200000.npz
   while [ ! -f "$data" ] && [ $(( $(date +%s) - start )) -lt "$LIMIT" ]; do sleep 2; done
   left=$((LIMIT - $(date +%s) + start))
   [ -f "$data" ] && [ "$left" -gt 0 ] || exit 0
   ln -sf "$(realpath "$data")" $ROOT/bench-loco-k10/data/
   timeout "$left" "${ONEMODE[@]}" bench "${COMMON[@]}" \
     --datasets "$dataset" --algos lom --set hyper_q_samples=10 --out $ROOT/bench-loco-k10
  ) >> "$OUT/k10-$dataset.log" 2>&1 &
done
while [ -n "$(jobs -r)" ]; do
  sleep 10
  echo "--- $(( $(date +%s) - start )) s: $(ls $ROOT/bench-loco*/runs/*/*/done.json 2>/dev/null | wc -l) runs done"
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
done
tar czf "$OUT/bench-loco.tgz" --exclude=checkpoint.npz --exclude='*.tmp' \
  $ROOT/bench-loco/runs $ROOT/bench-loco-k10/runs 2>/dev/null
grep -h -E "^\[|Error|error" "$OUT"/*.log | tail -40
echo "done in $(( $(date +%s) - start )) s"
