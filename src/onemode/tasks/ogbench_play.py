"""OGBench's manipulation "play" datasets, generated here from the oracles its wheel ships.

OGBench (Park et al., ICLR 2025) recorded its play datasets with scripted, non-Markovian
oracles (`ogbench.manipspace.oracles.plan`): each follows a plan through the keyframes of
one sub-task (move a cube, press a button, open the drawer or the window), smoothed noise
added; when the plan ends the environment sets a new random sub-task. The recipe, read
from its repository's `data_gen_scripts/generate_manipspace.py` (not copied here):

  environment   the dataset's goal-conditioned env, `mode='data_collection'`,
                `terminate_at_goal=False`, 1,001 steps per episode
  oracles       PlanOracle per sub-task, noise 0.1, noise smoothing 0.5 (the puzzle's
                button oracle keeps the gripper closed)
  p_stack       chance a cube target lies on another cube: 0 (cube-single), drawn per
                episode from U(0, 0.25) (cube-double), 0.5 (scene; the puzzle ignores it)
  scene         episodes that push the cube out of sight are dropped and redone
  files         NAME.npz with `episodes` episodes, NAME-val.npz with a tenth of them:
                observations, actions, terminals (the episode's last step), qpos, qvel
                (before the step), button_states where the env has buttons

onemode seeds every episode by itself, from (seed, split, episode, retry), so a file is
the same for a seed whatever the number of worker processes; OGBench's script draws all
episodes from one unseeded stream. The episodes run in up to ten rounds, each kept in a
hidden folder beside the file until the pair is written, so a generation killed and run
again with the same arguments goes on from its last finished round.
"""

from __future__ import annotations

import itertools
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from onemode.data.ogbench_io import val_path
from onemode.envs import make_env
from onemode.errors import ConfigError
from onemode.fileio import atomic_write, atomic_write_pair
from onemode.parallel import ProcessMap

EPISODE_STEPS = 1001
DEFAULT_EPISODES = 1000
NOISE, NOISE_SMOOTHING = 0.1, 0.5
SPLITS = ("train", "val")
PROGRESS_ROUNDS = 10     # the episodes run in up to this many rounds: one progress line each
ROUND_EPISODES = 20      # at least, per round (the unit kept for resuming): each worker
                         # builds its env and oracles (~2 s) once per round


@dataclass(frozen=True)
class PlayRecipe:
    env_id: str
    sub_tasks: tuple[str, ...]            # the env's sub-task names: one PlanOracle each
    p_stack: float | tuple[float, float]  # a range: drawn per episode
    gripper_closed: bool = False          # the puzzle presses buttons with a closed gripper
    health_checked: bool = False          # scene: an episode losing the cube is redone


RECIPES = {
    "cube-single-play": PlayRecipe("cube-single-v0", ("cube",), 0.0),
    "cube-double-play": PlayRecipe("cube-double-v0", ("cube",), (0.0, 0.25)),
    "scene-play": PlayRecipe("scene-v0", ("cube", "button", "drawer", "window"), 0.5,
                             health_checked=True),
    "puzzle-3x3-play": PlayRecipe("puzzle-3x3-v0", ("button",), 0.5, gripper_closed=True),
}
PLAY_DATASETS: dict[str, str] = {name: recipe.env_id for name, recipe in RECIPES.items()}


def _make_env_and_oracles(recipe: PlayRecipe, episode_steps: int):
    env = make_env(recipe.env_id, terminate_at_goal=False, mode="data_collection",
                   max_episode_steps=episode_steps)
    from ogbench.manipspace.oracles.plan.button_plan import ButtonPlanOracle
    from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle
    from ogbench.manipspace.oracles.plan.drawer_plan import DrawerPlanOracle
    from ogbench.manipspace.oracles.plan.window_plan import WindowPlanOracle
    kinds = {"cube": CubePlanOracle, "button": ButtonPlanOracle, "drawer": DrawerPlanOracle,
             "window": WindowPlanOracle}
    noise = {"noise": NOISE, "noise_smoothing": NOISE_SMOOTHING}
    extra = {"button": {"gripper_always_closed": True}} if recipe.gripper_closed else {}
    return env, {task: kinds[task](env=env, **noise, **extra.get(task, {}))
                 for task in recipe.sub_tasks}


def episode_seeds(seed: int, split: str, episode: int, retry: int = 0) -> tuple[int, int]:
    """The episode's env reset seed and numpy seed, from its place in the dataset alone."""
    sequence = np.random.SeedSequence(seed, spawn_key=(SPLITS.index(split), episode, retry))
    env_seed, numpy_seed = sequence.generate_state(2)
    return int(env_seed), int(numpy_seed)


def _play_episode(env, oracles: dict, recipe: PlayRecipe, seeds: tuple[int, int]) -> dict:
    env_seed, numpy_seed = seeds
    # OGBench's oracles (plan noise, keyframe timing) and the recipe's p_stack draw from
    # numpy's global generator: seeded per episode, inside the worker, the one place
    # onemode touches global state
    np.random.seed(numpy_seed)
    ob, info = env.reset(seed=env_seed)
    p_stack = recipe.p_stack
    if isinstance(p_stack, tuple):
        p_stack = np.random.uniform(*p_stack)
    agent = oracles[info["privileged/target_task"]]
    agent.reset(ob, info)
    buttons = hasattr(env.unwrapped, "_cur_button_states")
    steps = {key: [] for key in ("observations", "actions", "terminals", "qpos", "qvel")
             + (("button_states",) if buttons else ())}
    done = False
    while not done:
        action = np.clip(np.asarray(agent.select_action(ob, info)), -1, 1)
        next_ob, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        if agent.done:   # the plan has run out: the env sets the next sub-task
            agent_ob, agent_info = env.unwrapped.set_new_target(p_stack=p_stack)
            agent = oracles[agent_info["privileged/target_task"]]
            agent.reset(agent_ob, agent_info)
        steps["observations"].append(ob)
        steps["actions"].append(action)
        steps["terminals"].append(done)
        steps["qpos"].append(info["prev_qpos"])
        steps["qvel"].append(info["prev_qvel"])
        if buttons:
            steps["button_states"].append(info["prev_button_states"])
        ob = next_ob
    return {key: np.asarray(values, dtype=_DTYPES.get(key, np.float32))
            for key, values in steps.items()}


_DTYPES = {"terminals": bool, "button_states": np.int64}   # the rest float32, as OGBench's


def _cube_in_sight(qpos: np.ndarray) -> bool:
    """OGBench's scene health check: the cube stays on the table's visible part (y < 0.29;
    beyond y = -0.3 only inside the drawer, 0.06 <= z <= 0.08), so goal images stay clear."""
    y, z = qpos[:, 15], qpos[:, 16]   # the cube's free joint: x, y, z at qpos[14:17]
    return not ((y >= 0.29).any() or ((y <= -0.3) & ((z < 0.06) | (z > 0.08))).any())


def _play_episodes(name: str, seed: int, episode_steps: int,
                   places: list[tuple[str, int]]) -> list[dict]:
    """One job: the episodes at `places` ((split, index) each), on one env built for it."""
    recipe = RECIPES[name]
    env, oracles = _make_env_and_oracles(recipe, episode_steps)
    episodes = []
    try:
        for split, index in places:
            for retry in itertools.count():
                episode = _play_episode(env, oracles, recipe,
                                        episode_seeds(seed, split, index, retry))
                if not recipe.health_checked or _cube_in_sight(episode["qpos"]):
                    break
            episodes.append(episode)
    finally:
        env.close()
    return episodes


def _write_npz(arrays: dict):
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as file:   # a file object: numpy adds no second ".npz"
            np.savez_compressed(file, **arrays)
    return write


def _concatenate(episodes: list[dict]) -> dict:
    return {key: np.concatenate([e[key] for e in episodes]) for key in episodes[0]}


def make_play_dataset(name: str, path, episodes: int = DEFAULT_EPISODES, seed: int = 0,
                      workers: int | None = None, log=print,
                      episode_steps: int = EPISODE_STEPS) -> tuple[Path, Path]:
    """OGBench's play dataset `name` at `path` (NAME.npz) and its -val.npz sibling with
    max(1, episodes // 10) episodes; the same files for a seed whatever the `workers`."""
    if name not in RECIPES:
        raise ConfigError(f"unknown play dataset '{name}': choose one of {', '.join(RECIPES)}")
    path = Path(path)
    if path.suffix != ".npz":
        raise ConfigError(f"{name}: the dataset path must end in .npz (OGBench's layout, "
                          f"with a -val.npz sibling), got '{path}'")
    for what, value, least in (("episodes", episodes, 1), ("episode_steps", episode_steps, 1),
                               ("seed", seed, 0)):
        if not isinstance(value, (int, np.integer)) or value < least:
            raise ConfigError(f"{name}: {what} must be an integer >= {least}, got {value!r}")
    places = ([("train", i) for i in range(episodes)]
              + [("val", i) for i in range(max(1, episodes // 10))])
    # finished rounds are kept beside `path` until the pair is written: a killed
    # generation run again with the same arguments continues from its last round
    parts = path.parent / f".{path.name}.seed{seed}-{episodes}x{episode_steps}.parts"
    made = {split: [] for split in SPLITS}
    start, done = time.perf_counter(), 0
    with ProcessMap(workers, f"{name} data") as pool:
        # rounds for progress lines and resumption, each split over the workers. Episodes
        # are seeded by their place, so neither split changes the data
        rounds = min(PROGRESS_ROUNDS, len(places) // ROUND_EPISODES)
        for number, round_places in enumerate(np.array_split(np.arange(len(places)),
                                                             max(1, rounds))):
            round_path = parts / f"round-{number:03d}.npz"
            if round_path.exists():
                round_episodes = _read_round(round_path)
            else:
                jobs = [(name, seed, episode_steps, [places[i] for i in job])
                        for job in np.array_split(round_places, pool.workers) if len(job)]
                round_episodes = [e for episodes in pool(_play_episodes, jobs) for e in episodes]
                atomic_write(round_path, _write_npz(_round_arrays(round_episodes)))
            for i, episode in zip(round_places, round_episodes):
                made[places[i][0]].append(episode)
            done += len(round_places)
            steps = sum(len(e["actions"]) for split in SPLITS for e in made[split])
            log(f"{name}: {done}/{len(places)} episodes, "
                f"{steps / (time.perf_counter() - start):,.0f} transitions/s")
    pair = atomic_write_pair(path, val_path(path), _write_npz(_concatenate(made["train"])),
                             _write_npz(_concatenate(made["val"])))
    shutil.rmtree(parts)
    return pair


def _round_arrays(episodes: list[dict]) -> dict:
    """A round's episodes in one archive: each key concatenated, and the episodes' lengths."""
    return {**_concatenate(episodes),
            "episode_lengths": np.array([len(e["actions"]) for e in episodes])}


def _read_round(path: Path) -> list[dict]:
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    bounds = np.cumsum(arrays.pop("episode_lengths"))[:-1]
    split = {key: np.split(value, bounds) for key, value in arrays.items()}
    return [{key: split[key][i] for key in split} for i in range(len(bounds) + 1)]


__all__ = ["DEFAULT_EPISODES", "EPISODE_STEPS", "PLAY_DATASETS", "episode_seeds",
           "make_play_dataset"]
