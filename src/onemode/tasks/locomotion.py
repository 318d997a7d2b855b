"""D4RL-style locomotion datasets on gymnasium's v5 MuJoCo environments.

D4RL's locomotion files (Fu et al., 2020) were recorded with SAC behaviour
policies on retired gym v2 environments. onemode rebuilds their recipes on
HalfCheetah-v5, Hopper-v5 and Walker2d-v5 from SAC actors it ships
(`onemode.behaviour`; regenerate them with `onemode behaviour train ENV` and
`onemode behaviour ship RUN_DIR`):

  random         uniform actions
  medium         the snapshot whose deterministic return is closest to a third of
                 the final policy's; sampled actions a = tanh(mu + sigma eps)
  expert         the final policy, sampled actions
  medium-expert  medium and expert, half each
  medium-replay  the SAC run's replay buffer until it reached medium: every shipped
                 snapshot up to medium (and the uniform warm-up) contributes episodes
                 in proportion to the training steps it covered
  full-replay    the same, up to the final policy

Episodes run to the environment's own limit (1,000 steps) or its termination;
terminals and timeouts are the environment's. The last episode of a part is cut
where the part's share of transitions ends and marked a timeout there. Scores are
D4RL-normalised with D4RL's reference returns for the family.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from onemode.errors import ConfigError
from onemode.behaviour.snapshots import (WEIGHTS_DIR, Actor, RandomActor, read_manifest,
                                         run_episodes, shipped_actor)
from onemode.data.dataset import Dataset
from onemode.envs import D4RL_REFERENCES, make_env
from onemode.parallel import ProcessMap
from onemode.tasks.base import Task, register

ENVIRONMENTS = {"halfcheetah": "HalfCheetah-v5", "hopper": "Hopper-v5",
                "walker2d": "Walker2d-v5"}
KINDS = ("random", "medium", "expert", "medium-expert", "medium-replay", "full-replay")
HORIZON = 1000
DEFAULT_SIZE = 200_000
CHUNK_EPISODES = 10      # episodes per job: the unit the data is built from, whatever the workers
PART_IDS = {"random": 1, "medium": 2, "expert": 3}   # keeps the parts' episode seeds apart
REPLAY_PART = 100        # replay parts: REPLAY_PART + the part's index


def _episode_seed(seed: int, part: int, chunk: int, episode: int) -> int:
    return ((seed * 1_000 + part) * 1_000_000 + chunk) * CHUNK_EPISODES + episode


def _chunks(env_id: str, actor, seed: int, part: int, first: int, count: int) -> list:
    """Chunks first .. first + count - 1: each CHUNK_EPISODES episodes of fixed seeds."""
    envs = [make_env(env_id) for _ in range(CHUNK_EPISODES)]
    chunks = [run_episodes(env_id, actor, [_episode_seed(seed, part, chunk, e)
                                           for e in range(CHUNK_EPISODES)],
                           sampled=True, parallel=CHUNK_EPISODES, envs=envs)
              for chunk in range(first, first + count)]
    for env in envs:
        env.close()
    return chunks


def policy_episodes(env_id: str, actor, size: int, seed: int, part: int,
                    pool: ProcessMap) -> list[dict]:
    """Episodes of `actor` (sampled actions) until `size` transitions, the last one cut.

    Built from chunks of CHUNK_EPISODES episodes with fixed seeds, taken in order, so
    the result is the same for any number of workers in `pool`.
    """
    workers = pool.workers
    episodes, total, next_chunk, per_chunk = [], 0, 0, CHUNK_EPISODES * HORIZON
    while total < size:
        needed = int(np.ceil(1.1 * (size - total) / per_chunk)) + 1
        bounds = np.linspace(next_chunk, next_chunk + needed, min(workers, needed) + 1)
        jobs = [(env_id, actor, seed, part, int(a), int(b - a))
                for a, b in zip(bounds[:-1].astype(int), bounds[1:].astype(int)) if b > a]
        made = 0
        for chunks in pool(_chunks, jobs):
            for chunk in chunks:
                made += sum(len(e["rewards"]) for e in chunk)
                for episode in chunk:
                    if total < size:
                        episodes.append(_cut(episode, size - total))
                        total += len(episodes[-1]["rewards"])
        next_chunk += needed
        per_chunk = max(1, made // needed)
    return episodes


def _cut(episode: dict, keep: int) -> dict:
    """The episode's first `keep` steps; a cut before its end becomes a timeout there."""
    if keep >= len(episode["rewards"]):
        return episode
    cut = {key: value[:keep].copy() for key, value in episode.items()}
    cut["timeouts"][-1] = not cut["terminals"][-1]
    return cut


def replay_parts(entry: dict, up_to_step: int) -> list[tuple[object, float]]:
    """(actor or "random", share of the replay buffer), in training order, up to a step.

    The uniform warm-up covers the first `random_steps`; each shipped snapshot then
    covers the steps since the previous one (itself standing for the policy that
    was improving towards it).
    """
    random_steps = entry["trained_by"]["random_steps"]
    steps = [s["step"] for s in entry["snapshots"] if s["step"] <= up_to_step]
    parts, previous = [("random", random_steps / up_to_step)], random_steps
    for step in steps:
        if step > previous:
            parts.append((step, (step - previous) / up_to_step))
            previous = step
    return parts


def _shares(weights: list[float], size: int) -> list[int]:
    """`size` split in proportion to `weights`, summing exactly to `size`."""
    exact = np.asarray(weights) / np.sum(weights) * size
    counts = np.floor(exact).astype(int)
    counts[np.argsort(counts - exact)[: size - counts.sum()]] += 1
    return counts.tolist()


def _dataset(episodes: list[dict], name: str) -> Dataset:
    arrays = {key: np.concatenate([e[key] for e in episodes]) for key in episodes[0]}
    return Dataset.from_arrays(arrays, source=f"<{name}>")


def dataset_parts(family: str, kind: str, size: int, weights_dir=WEIGHTS_DIR) -> list:
    """(actor, transitions, part id) for each policy the dataset's recipe rolls out."""
    env_id = ENVIRONMENTS[family]
    if kind in PART_IDS:
        return [(shipped_actor(env_id, kind, weights_dir), size, PART_IDS[kind])]
    if kind == "medium-expert":
        half = size // 2
        return [(shipped_actor(env_id, which, weights_dir), n, PART_IDS[which])
                for which, n in (("medium", half), ("expert", size - half))]
    entry = read_manifest(weights_dir).get(env_id)
    if entry is None:
        shipped_actor(env_id, "expert", weights_dir)  # raises, naming what to do
    up_to = entry["medium_step"] if kind == "medium-replay" else entry["expert_step"]
    parts = replay_parts(entry, up_to)
    counts = _shares([share for _, share in parts], size)
    return [(shipped_actor(env_id, which, weights_dir), count, REPLAY_PART + index)
            for index, ((which, _), count) in enumerate(zip(parts, counts)) if count]


def make_dataset(family: str, kind: str, size: int, seed: int, weights_dir=WEIGHTS_DIR,
                 workers: int | None = None) -> Dataset:
    """The recipe's `size` transitions, the same for a seed whatever the `workers`."""
    env_id, size = ENVIRONMENTS[family], int(size)
    if size < 1:
        raise ConfigError(f"{family}-{kind}: size must be at least 1 transition, got {size}")
    episodes = []
    with ProcessMap(workers, "locomotion data") as pool:
        for actor, count, part in dataset_parts(family, kind, size, weights_dir):
            episodes += policy_episodes(env_id, actor, count, seed, part, pool)
    return _dataset(episodes, f"{family}-{kind}")


def _expert_policy(family: str):
    loaded = []   # the shipped expert, read on first use

    def act(observations):
        if not loaded:
            loaded.append(shipped_actor(ENVIRONMENTS[family], "expert"))
        return loaded[0].act(observations, None)
    return act


RECIPES = {
    "random": "episodes of uniformly random actions",
    "medium": "episodes of the medium SAC snapshot (a third of the expert's return), "
              "sampled actions",
    "expert": "episodes of the final SAC policy, sampled actions",
    "medium-expert": "medium and expert episodes, half each",
    "medium-replay": "the SAC run's replay buffer until medium, rebuilt from its snapshots",
    "full-replay": "the SAC run's replay buffer until the end, rebuilt from its snapshots",
}


TABLE_KINDS = ("medium", "medium-replay", "medium-expert", "expert", "full-replay")


def table_tasks(selection: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The 15 datasets of the LOM paper's Table 1, or those `selection` names: a kind
    (`medium-replay`: every environment's), a family (`hopper`: its five) or a task."""
    tasks = tuple(f"{family}-{kind}" for family in ENVIRONMENTS for kind in TABLE_KINDS)
    chosen = []
    for item in selection:
        matching = [t for t in tasks if item in (t, t.split("-", 1)[0], t.split("-", 1)[1])]
        if not matching:
            raise ConfigError(f"--datasets: '{item}' is none of the locomotion suite's kinds "
                              f"({', '.join(TABLE_KINDS)}), environments "
                              f"({', '.join(ENVIRONMENTS)}) or datasets (e.g. hopper-medium)")
        chosen += [t for t in matching if t not in chosen]
    return tuple(t for t in tasks if t in chosen) if selection else tasks


def _register() -> None:
    for family, env_id in ENVIRONMENTS.items():
        random_return, expert_return = D4RL_REFERENCES[family]
        for kind in KINDS:
            register(Task(
                name=f"{family}-{kind}", env_id=env_id,
                description=f"{env_id} (gymnasium MuJoCo), D4RL's {family} references "
                            f"({random_return} = 0, {expert_return} = 100)",
                recipe=RECIPES[kind] + "; 1,000-step limit",
                horizon=HORIZON,
                default_size=2 * DEFAULT_SIZE if kind == "medium-expert" else DEFAULT_SIZE,
                random_return=random_return, expert_return=expert_return,
                make_dataset=partial(make_dataset, family, kind),
                expert_policy=_expert_policy(family)))


_register()

__all__ = ["Actor", "RandomActor", "make_dataset", "policy_episodes", "replay_parts",
           "table_tasks"]
