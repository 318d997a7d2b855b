"""The 15 locomotion datasets: size, returns, generation time, and how multi-modal each is.

    .venv/bin/python benchmarks/locomotion_datasets.py [--size 200000] [--mdn-steps 20000]
        [--datasets hopper-medium-replay,...] [--out runs/locomotion-data]

For each dataset (halfcheetah, hopper and walker2d x medium, medium-replay,
medium-expert, expert, full-replay; generated from the shipped SAC snapshots),
prints one table row: transitions, episodes, the mean and spread of the returns
of its complete episodes, raw and D4RL-normalised, the seconds it took to
generate, and the held-out negative log-likelihood of the behaviour actions
under mixture density networks with M = 1 and M = 10 components (the `mdn`
algorithm, 256-256, the engine's 5% held-out episodes). The gap NLL(M=1) -
NLL(M=10) is large where several behaviours share the states. Each finished row is
kept beside its dataset (NAME-SIZE.row.json): run again, the script goes on after it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from onemode.algos import get_algo
from onemode.data import load_dataset, save_dataset
from onemode.targets import data_spec
from onemode.runs import RunDir, TrainConfig
from onemode.tasks import get_task
from onemode.train import train

FAMILIES = ("halfcheetah", "hopper", "walker2d")
KINDS = ("medium", "medium-replay", "medium-expert", "expert", "full-replay")


def complete_episode_returns(dataset) -> np.ndarray:
    ends = np.flatnonzero(dataset.terminals | dataset.timeouts)
    starts = np.concatenate([[0], ends[:-1] + 1])
    full = [(s, e) for s, e in zip(starts, ends) if dataset.terminals[e] or e - s + 1 == 1000]
    return np.asarray([dataset.rewards[s:e + 1].sum() for s, e in full])


def holdout_nll(path: Path, name: str, components: int, steps: int, out: Path) -> float:
    run_dir = out / "mdn" / f"{name}-M{components}"
    config = get_algo("mdn").Config(hidden=(256, 256), n_components=components)
    train_config = TrainConfig(steps=steps, seeds=(0,), log_every=steps, eval_every=steps,
                               eval_episodes=1, checkpoint_every=steps)
    held = finished_holdout_nll(run_dir, steps)
    if held is None:
        shutil.rmtree(run_dir, ignore_errors=True)  # a fit cut short starts again
        train("mdn", config, train_config, data_spec(task=name, dataset=str(path)), run_dir,
              show_progress=False)
        held = finished_holdout_nll(run_dir, steps)
    if held is None:
        raise SystemExit(f"{path}: no held-out NLL after {steps:,} MDN updates (too few "
                         "episodes to hold 5% out, or fewer updates than one log period); "
                         "give a larger --size or --mdn-steps")
    return held


def finished_holdout_nll(run_dir: Path, steps: int) -> float | None:
    if not (run_dir / "metrics.jsonl").exists():
        return None
    held = [r["mdn_holdout_nll"] for r in RunDir(run_dir).read_metrics()
            if "mdn_holdout_nll" in r and r["step"] == steps]
    return float(np.mean(held[-1])) if held else None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, help="transitions (default: each task's)")
    parser.add_argument("--mdn-steps", type=int, default=20_000)
    parser.add_argument("--datasets", help="comma-separated names (default: all 15)")
    parser.add_argument("--out", default="runs/locomotion-data")
    args = parser.parse_args(argv)
    names = (args.datasets.split(",") if args.datasets else
             [f"{family}-{kind}" for family in FAMILIES for kind in KINDS])
    out = Path(args.out)
    print("| dataset | transitions | episodes | return (mean ± std) | normalised | "
          "generated in | NLL M=1 | NLL M=10 | gap |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        task = get_task(name)
        size = args.size or task.default_size
        path = out / f"{name}-{size}.npz"
        row_path = out / f"{name}-{size}.row.json"   # a finished row: a rerun goes on after it
        if not row_path.exists():
            row = {}
            if not path.exists():
                started = time.time()
                save_dataset(task.make_dataset(size, 0), path)
                row["generated_s"] = time.time() - started
            dataset = load_dataset(path)
            returns = complete_episode_returns(dataset)
            scores = task.normalized_score(returns)
            row |= {"transitions": len(dataset.rewards),
                    "episodes": int(dataset.summary()["episodes"]),
                    "return": [float(returns.mean()), float(returns.std())],
                    "score": [float(scores.mean()), float(scores.std())],
                    "nll": [holdout_nll(path, name, m, args.mdn_steps, out) for m in (1, 10)]}
            row_path.write_text(json.dumps(row))
        row = json.loads(row_path.read_text())
        generated = (f"{row['generated_s']:.0f} s" if "generated_s" in row else
                     "not timed (file there before)")
        nll = row["nll"]
        print(f"| {name} | {row['transitions']:,} | {row['episodes']:,} | "
              f"{row['return'][0]:.0f} ± {row['return'][1]:.0f} | {row['score'][0]:.1f} ± "
              f"{row['score'][1]:.1f} | {generated} | {nll[0]:.2f} | {nll[1]:.2f} | "
              f"{nll[0] - nll[1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
