#!/bin/bash
# LOM's paper defaults against the authors' code settings, one difference at a time,
# at CPU sizes (256-256, one hyper-Q sample), on locomotion dataset files.
#
#   experiments/2026-11-27-lom-authors-settings/lom_variants.sh ENV_ID FILE [FILE ...]
#   (SEEDS=2 STEPS=30000 OUT=runs/lom-variants VARIANTS="defaults beta-0.2 ..." to change)
#
# Each variant is an `onemode bench` of its own under OUT/VARIANT: it resumes where it
# stopped, and writes its table (score, IQM, time) there; this script prints each table.
set -euo pipefail
cd "$(dirname "$0")/../.."   # the repository root
env_id=$1; shift
seeds=${SEEDS:-2}; steps=${STEPS:-30000}; out=${OUT:-runs/lom-variants}
mkdir -p "$out"
files=(); for file in "$@"; do files+=(--dataset "$file"); done
common=(--env "$env_id" "${files[@]}" --algos lom --seeds "$seeds" --steps "$steps"
        --eval-every 10000 --eval-episodes 10 --no-progress
        --set hidden=256,256 --set hyper_q_samples=1)
# the authors' code (github.com/MianchuWang/LOM) as far as onemode's options reach (the
# preset), with their M for hopper-medium-replay
authors=(--preset authors --set n_components=5)
declare -A variants=(
  [defaults]=""
  [beta-0.2]="--set beta=0.2"
  [policy-baseline]="--set advantage_baseline=policy --set beta=0.2"
  [lr-1e-3]="--set actor_lr=1e-3 --set hyper_q_lr=1e-3"
  [mdn-100k]="--set mdn_steps=100000"
  [target-every-1]="--set target_update_every=1"
  # the authors' behaviour model: 512-512 (beside 256-256 networks), means bounded by tanh
  [mdn-authors]="--set mdn_hidden=512,512 --set mdn_tanh_means=true"
  [hyper-q-batch-1024]="--set hyper_q_batch_size=1024"
  [authors]="${authors[*]}"
)
for name in ${VARIANTS:-defaults beta-0.2 policy-baseline lr-1e-3 mdn-100k authors}; do
  echo "== $name: ${variants[$name]:-the defaults}"
  # shellcheck disable=SC2086  # the variant's options split into words
  .venv/bin/onemode bench "${common[@]}" ${variants[$name]} --out "$out/$name" > "$out/$name.log" 2>&1 \
    || { tail -n 5 "$out/$name.log"; exit 1; }
  sed -n '/^|/p' "$out/$name/table.md" | head -n 4
done
