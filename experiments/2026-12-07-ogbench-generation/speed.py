"""Transitions/s of make_play_dataset (one process) against the same environment's own
env.step, interleaved in one run so all meet the same CPU load (two other jobs share it):

  make_play_dataset   end to end: env build, oracles, recording, compression, writing
  env.step replayed   the dataset's own actions stepped again from each episode's reset
                      seed: the same states, so the same physics cost (cube targets and
                      new sub-tasks do not touch the physics)
  env.step random     uniform random actions, the same env kwargs

    python experiments/2026-12-07-ogbench-generation/speed.py [EPISODES] [REPEATS]

Rates by wall clock and by this process's CPU time (time.process_time).
"""

import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from onemode.envs import make_env
from onemode.tasks.ogbench_play import (EPISODE_STEPS, PLAY_DATASETS, episode_seeds,
                                        make_play_dataset)

warnings.simplefilter("ignore")   # gymnasium's float32 note on OGBench's spaces
KINDS = ("make_play_dataset", "env.step replayed", "env.step random")
CHECKED = 200


def timed(run) -> np.ndarray:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return np.array([time.perf_counter() - wall, time.process_time() - cpu])


def play_env(env_id: str):
    return make_env(env_id, terminate_at_goal=False, mode="data_collection",
                    max_episode_steps=EPISODE_STEPS)


def replayed(env_id: str, paths, seed: int) -> np.ndarray:
    """Steps each episode's actions from its reset seed, after checking (untimed) that the
    first episode's first CHECKED steps stay on the dataset's states."""
    env = play_env(env_id)
    episodes = []
    for split, path in zip(("train", "val"), paths):
        with np.load(path) as file:
            rows = np.split(np.arange(len(file["actions"])),
                            np.flatnonzero(file["terminals"])[:-1] + 1)
            episodes += [(episode_seeds(seed, split, i)[0], file["actions"][r],
                          file["observations"][r]) for i, r in enumerate(rows)]
    reset_seed, actions, observations = episodes[0]
    states = [env.reset(seed=reset_seed)[0]]
    states += [env.step(action)[0] for action in actions[:CHECKED - 1]]
    # float32-stored actions: equal to ~1e-7 until contacts amplify it (cube: after hundreds
    # of steps; puzzle: the closed gripper's velocity within ten, the rest stays close)
    gap = np.abs(np.array(states, np.float32) - observations[:CHECKED]).mean()
    assert gap < 1e-3, f"the replay left the dataset's states (mean gap {gap:.4f})"

    def run():
        for reset_seed, actions, _ in episodes:
            env.reset(seed=reset_seed)
            for action in actions:
                env.step(action)
    spent = timed(run)
    env.close()
    return spent


def random_steps(env_id: str, steps: int, seed: int) -> np.ndarray:
    env = play_env(env_id)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(steps)]

    def run():
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
    spent = timed(run)
    env.close()
    return spent


def main(episodes: int, repeats: int) -> None:
    transitions = (episodes + max(1, episodes // 10)) * EPISODE_STEPS
    print(f"{transitions:,} transitions per measurement, {repeats} repeats, one process")
    folder = Path(tempfile.mkdtemp(prefix="ogbench-speed-"))
    for name in ("cube-single-play", "puzzle-3x3-play"):
        env_id, totals = PLAY_DATASETS[name], {kind: np.zeros(2) for kind in KINDS}
        for repeat in range(repeats):
            paths = []

            def generate():
                paths.extend(make_play_dataset(name, folder / f"{name}.npz", episodes=episodes,
                                               seed=repeat, workers=1, log=lambda line: None))
            order = KINDS if repeat % 2 == 0 else (KINDS[2], KINDS[0], KINDS[1])
            for kind in order:   # the replay needs the file: it always follows generation
                spent = (timed(generate) if kind == KINDS[0]
                         else replayed(env_id, paths, repeat) if kind == KINDS[1]
                         else random_steps(env_id, transitions, repeat))
                totals[kind] += spent
                print(f"  {name} {kind:18s} repeat {repeat}: {transitions / spent[0]:4.0f}/s "
                      f"wall, {transitions / spent[1]:4.0f}/s CPU", flush=True)
        rates = {kind: transitions * repeats / totals[kind] for kind in KINDS}
        ours = rates[KINDS[0]]
        print(f"{name}: " + ", ".join(f"{kind} {r[0]:.0f}/s wall ({r[1]:.0f}/s CPU)"
                                      for kind, r in rates.items()))
        for kind in KINDS[1:]:
            print(f"  make_play_dataset / {kind}: {ours[0] / rates[kind][0]:.1%} wall, "
                  f"{ours[1] / rates[kind][1]:.1%} CPU", flush=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (10, 3))
