"""Episode statistics of OGBench's own generator script against onemode's make_play_dataset.

    python experiments/2026-12-07-ogbench-generation/compare.py SCRIPT [EPISODES]

SCRIPT: OGBench's data_gen_scripts/generate_manipspace.py, taken out of its repository
(e.g. to /tmp; it is no part of onemode). Both generators run in this process, with the
same instrumentation on OGBench's environment classes: every `set_new_target` call is a
sub-task started; the env's `_success` when the next one is set (the oracle's plan has
run out) says whether the finished sub-task was achieved. onemode runs seeds 0 and 1, so
the seed-to-seed spread shows what difference chance alone makes.
"""

import importlib.util
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

warnings.simplefilter("ignore")   # gymnasium's float32 note on OGBench's spaces
from ogbench.manipspace.envs.cube_env import CubeEnv  # noqa: E402
from ogbench.manipspace.envs.manipspace_env import ManipSpaceEnv  # noqa: E402
from ogbench.manipspace.envs.puzzle_env import PuzzleEnv  # noqa: E402
from ogbench.manipspace.envs.scene_env import SceneEnv  # noqa: E402

from onemode.tasks.ogbench_play import PLAY_DATASETS, make_play_dataset  # noqa: E402

EPISODES: list[dict] = []   # per reset: sub-tasks started, finished ones' success, steps


def target_of(env) -> str:
    task = env._target_task
    index = {"cube": "_target_block", "button": "_target_button"}.get(task)
    return f"{task} {int(getattr(env, index))}" if index else task


def instrument() -> None:
    reset, step = ManipSpaceEnv.reset, ManipSpaceEnv.step

    def counted_reset(self, *args, **kwargs):
        EPISODES.append({"targets": [], "finished": [], "steps": 0})
        self._resetting = True   # the reset's own set_new_target finishes nothing
        try:
            return reset(self, *args, **kwargs)
        finally:
            self._resetting = False

    def counted_step(self, action):
        EPISODES[-1]["steps"] += 1
        return step(self, action)
    ManipSpaceEnv.reset, ManipSpaceEnv.step = counted_reset, counted_step
    for cls in (CubeEnv, PuzzleEnv, SceneEnv):
        def counted_target(self, *args, _original=cls.set_new_target, **kwargs):
            if not getattr(self, "_resetting", False):
                EPISODES[-1]["finished"].append(bool(self._success))
            result = _original(self, *args, **kwargs)
            EPISODES[-1]["targets"].append(target_of(self))
            return result
        cls.set_new_target = counted_target


def run_ogbench(script: str, env_id: str, episodes: int, path: Path) -> None:
    if "generate_manipspace" not in sys.modules:   # once: it defines absl flags
        spec = importlib.util.spec_from_file_location("generate_manipspace", script)
        sys.modules["generate_manipspace"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["generate_manipspace"])
    module = sys.modules["generate_manipspace"]
    module.FLAGS([script, f"--env_name={env_id}", f"--num_episodes={episodes}",
                  "--max_episode_steps=1001", "--dataset_type=play", f"--save_path={path}"])
    module.main(None)


def collect(generate) -> tuple[list[dict], dict]:
    start = len(EPISODES)
    path = generate()
    records = [e for e in EPISODES[start:] if e["steps"]]   # construction resets: no steps
    with np.load(path) as train, np.load(str(path).replace(".npz", "-val.npz")) as val:
        arrays = {k: np.concatenate([train[k], val[k]]) for k in ("observations", "actions",
                                                                   "terminals")}
    return records, arrays


def summary(records: list[dict], arrays: dict) -> dict:
    ends = np.flatnonzero(arrays["terminals"])
    lengths = np.diff(np.concatenate([[-1], ends]))
    started = np.array([len(r["targets"]) for r in records])
    finished = [s for r in records for s in r["finished"]]
    mix = Counter(t for r in records for t in r["targets"])
    total = sum(mix.values())
    return {"episodes": len(ends), "lengths": f"{lengths.min()}-{lengths.max()}",
            "started": f"{started.mean():.2f} +- {started.std():.2f}",
            "success": f"{np.mean(finished):.3f} of {len(finished)}",
            "mix": {t: round(n / total, 3) for t, n in sorted(mix.items())},
            "action means +- s.e. over episodes": action_means(arrays, ends)}


def action_means(arrays: dict, ends: np.ndarray) -> str:
    episodes = [a.mean(0) for a in np.split(arrays["actions"], ends[:-1] + 1)]
    means, errors = np.mean(episodes, 0), np.std(episodes, 0, ddof=1) / np.sqrt(len(episodes))
    return " ".join(f"{m:.3f}+-{e:.3f}" for m, e in zip(means, errors))


def mean_gap(a: dict, b: dict) -> str:
    """Per observation dimension, |mean difference| / pooled std: mean and max."""
    pooled = np.sqrt((a["observations"].var(0) + b["observations"].var(0)) / 2) + 1e-8
    gap = np.abs(a["observations"].mean(0) - b["observations"].mean(0)) / pooled
    return f"mean {gap.mean():.3f}, max {gap.max():.3f}"


def main(script: str, episodes: int) -> None:
    instrument()
    folder = Path(tempfile.mkdtemp(prefix="ogbench-compare-"))
    for name in ("cube-single-play", "puzzle-3x3-play"):
        env_id = PLAY_DATASETS[name]
        runs = {"OGBench script": collect(lambda: run_ogbench(
            script, env_id, episodes, folder / f"ogbench-{name}.npz")
            or folder / f"ogbench-{name}.npz")}
        for seed in (0, 1):
            runs[f"onemode seed {seed}"] = collect(lambda: make_play_dataset(
                name, folder / f"onemode-{name}-{seed}.npz", episodes=episodes, seed=seed,
                workers=1, log=lambda line: None)[0])
        print(f"\n## {name} ({env_id}), {episodes} + {max(1, episodes // 10)} episodes each")
        for label, (records, arrays) in runs.items():
            print(f"{label}: {summary(records, arrays)}")
        ogbench, one, other = (runs[k][1] for k in runs)
        print(f"observation means, OGBench vs onemode seed 0: {mean_gap(ogbench, one)}")
        print(f"observation means, OGBench vs onemode seed 1: {mean_gap(ogbench, other)}")
        print(f"observation means, onemode seed 0 vs 1:     {mean_gap(one, other)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20)
