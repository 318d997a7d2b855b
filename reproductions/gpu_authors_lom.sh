#!/usr/bin/env bash
# The authors' LOM code (reproductions/authors_lom.py) on a onemode dataset, one process per
# seed, all at once, on a lent GPU machine; their code has no checkpoints, so each seed
# runs whole inside one call (~6 minutes a seed on a GPU: their 200,000 GMM updates,
# then 50,000 of the rest; 8 core-hours a seed on the 2-core CPU).
#
#   AUTHORS=.authors/LOM TASK=hopper-medium-replay LIMIT=540 reproductions/gpu_authors_lom.sh
#
# AUTHORS is a checkout of github.com/MianchuWang/LOM inside the working tree (ignored by
# git, carried with the call); the dataset is generated there unless carried.
# EXTRA adds options to every seed (`--set beta=0.2`, `--lr 3e-4`, `--gmm-steps 1000`).
set -u
OUT=${OUT:-runs/authors-out}
TASK=${TASK:-hopper-medium-replay}
DATA=${DATA:-runs/bench-loco/data/$TASK-200000.npz}
AUTHORS=${AUTHORS:-.authors/LOM}
SEEDS=${SEEDS:-0 1 2 3}
LIMIT=${LIMIT:-540}
mkdir -p "$OUT"
source reproductions/device_env.sh
python3 -c "import torch, sklearn; print('torch', torch.__version__, torch.cuda.is_available())" \
  || exit 1
if [ ! -f "$DATA" ]; then
  python3 -c "import sys; from pathlib import Path; from onemode.bench import task_data
if __name__ == '__main__': task_data(sys.argv[1], None, Path(sys.argv[2]))" \
    "$TASK" "$(dirname "$(dirname "$DATA")")" || exit 1
fi
DEVICE=$(python3 -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
for seed in $SEEDS; do
  timeout "$LIMIT" python3 reproductions/authors_lom.py --code "$AUTHORS" --task "$TASK" \
    --data "$DATA" --seed "$seed" --device "$DEVICE" --out "$OUT/$TASK-$seed.json" ${EXTRA:-} \
    > "$OUT/$TASK-$seed.log" 2>&1 &
done
wait
tail -n 4 "$OUT"/*.log
