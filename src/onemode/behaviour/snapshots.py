"""Behaviour-policy snapshots: measured, chosen, shipped in the package, and rolled out.

An online SAC run (`onemode.behaviour.online`) keeps its actor every few thousand
steps. `ship` measures every kept actor, picks the ones the D4RL-style recipes
need (the medium and expert policies and enough of the training path to rebuild
its replay buffer) and writes them, in float16, to `weights/ENV.npz` with an
entry in `weights/manifest.json`: the environment, the training step, the returns
measured, and the command and seed that trained them.

Actors are run here in numpy: a tanh-Gaussian MLP, observations as the
environment gives them, actions in [-1, 1] (the environments' own bounds).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from onemode.errors import ConfigError
from onemode.behaviour.sac import LOG_STD_MAX
from onemode.envs import box_bounds, make_env
from onemode.fileio import atomic_write
from onemode.nets import LOG_STD_MIN

WEIGHTS_DIR = Path(__file__).parent / "weights"
MANIFEST = "manifest.json"
WEIGHTS_BUDGET = 10_000_000   # bytes, every environment's snapshots together


class Actor(NamedTuple):
    """A SAC actor in numpy: relu layers, then [mean | log sigma] of the pre-tanh Gaussian."""

    layers: tuple  # ((W, b), ...), the last one the output layer

    @classmethod
    def from_leaves(cls, leaves: dict[str, np.ndarray]) -> "Actor":
        """From `online.actor_leaves` names: params.MLP_0.Dense_i.kernel / .bias."""
        pattern = re.compile(r"params\.MLP_0\.Dense_(\d+)\.(kernel|bias)$")
        found: dict[int, dict[str, np.ndarray]] = {}
        for name, value in leaves.items():
            match = pattern.search(name)
            if match:
                found.setdefault(int(match.group(1)), {})[match.group(2)] = \
                    np.asarray(value, np.float32)
        if not found or sorted(found) != list(range(len(found))):
            raise ConfigError(f"not a SAC actor: {sorted(leaves)[:4]}")
        return cls(tuple((found[i]["kernel"], found[i]["bias"]) for i in range(len(found))))

    def leaves(self) -> dict[str, np.ndarray]:
        return {f"params.MLP_0.Dense_{i}.{part}": value for i, (kernel, bias) in
                enumerate(self.layers) for part, value in (("kernel", kernel), ("bias", bias))}

    @property
    def act_dim(self) -> int:
        return self.layers[-1][1].shape[0] // 2

    def gaussian(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = np.asarray(observations, np.float32)
        for kernel, bias in self.layers[:-1]:
            h = np.maximum(h @ kernel + bias, 0.0)
        out = h @ self.layers[-1][0] + self.layers[-1][1]
        return out[..., :self.act_dim], np.clip(out[..., self.act_dim:], LOG_STD_MIN,
                                                LOG_STD_MAX)

    def act(self, observations: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        """tanh(mu) with `noise` None, else tanh(mu + sigma noise): D4RL's sampled actions."""
        mean, log_std = self.gaussian(observations)
        return np.tanh(mean if noise is None else mean + np.exp(log_std) * noise)


class RandomActor(NamedTuple):
    """Uniform actions in [-1, 1]: D4RL's random policy (its noise is the uniform draw)."""

    act_dim: int
    uniform = True

    def act(self, observations, noise):
        if noise is None:
            raise ConfigError("the random policy has no deterministic action")
        return noise


# ------------------------------------------------------------------ rollouts
def run_episodes(env_id: str, actor, seeds, sampled: bool = True, parallel: int = 10,
                 envs: list | None = None) -> list[dict[str, np.ndarray]]:
    """One whole episode per seed, in the order of `seeds`.

    Episode s resets the environment with seed s and draws its action noise from its
    own generator (seeded by s); `parallel` episodes step in lockstep so the actor
    runs batched. The episodes of a list of seeds are the same in any process, so
    data generated from fixed lists of seeds does not depend on the number of
    workers. Each episode: observations, actions, rewards, next_observations,
    terminals, timeouts; actions in [-1, 1], stepped in the environment's bounds.
    `envs`: environments to reuse (closed by the caller).
    """
    seeds = list(seeds)
    own = envs is None
    if own:
        envs = [make_env(env_id) for _ in range(min(parallel, len(seeds)))]
    envs = envs[:min(parallel, len(seeds))]
    low, high = box_bounds(envs[0].action_space, "action", env_id)
    finished: dict[int, dict] = {}
    slots: list[dict | None] = [None] * len(envs)
    queue = iter(range(len(seeds)))
    uniform = getattr(actor, "uniform", False)

    def start(slot: int) -> None:
        index = next(queue, None)
        if index is None:
            slots[slot] = None
            return
        obs, _ = envs[slot].reset(seed=seeds[index])
        slots[slot] = {"index": index, "obs": obs, "steps": [],
                       "rng": np.random.default_rng([seeds[index], 1])}

    for slot in range(len(envs)):
        start(slot)
    while any(slot is not None for slot in slots):
        active = [i for i, slot in enumerate(slots) if slot is not None]
        noise = None
        if sampled:
            draw = ((lambda rng: rng.uniform(-1.0, 1.0, actor.act_dim)) if uniform else
                    (lambda rng: rng.standard_normal(actor.act_dim)))
            noise = np.stack([draw(slots[i]["rng"]) for i in active]).astype(np.float32)
        observations = np.stack([slots[i]["obs"] for i in active]).astype(np.float32)
        actions = np.asarray(actor.act(observations, noise), np.float32)
        for action, slot in zip(actions, active):
            episode = slots[slot]
            env_action = low + (action + 1.0) * 0.5 * (high - low)
            next_obs, reward, terminated, truncated, _ = envs[slot].step(env_action)
            episode["steps"].append((episode["obs"], action, reward, next_obs, terminated,
                                     truncated))
            episode["obs"] = next_obs
            if terminated or truncated:
                finished[episode["index"]] = _episode_arrays(episode["steps"])
                start(slot)
    if own:
        for env in envs:
            env.close()
    return [finished[i] for i in range(len(seeds))]


def _episode_arrays(steps) -> dict[str, np.ndarray]:
    obs, actions, rewards, next_obs, terminals, truncations = zip(*steps)
    return {"observations": np.asarray(obs, np.float32),
            "actions": np.asarray(actions, np.float32),
            "rewards": np.asarray(rewards, np.float32),
            "next_observations": np.asarray(next_obs, np.float32),
            "terminals": np.asarray(terminals, bool),
            "timeouts": np.asarray(truncations, bool) & ~np.asarray(terminals, bool)}


def episode_returns(episodes) -> np.ndarray:
    return np.asarray([float(e["rewards"].sum()) for e in episodes])


# ---------------------------------------------------------------- shipping
MEASURE_SEED = 1_000_000   # the episodes that measure snapshots, apart from any dataset's


def local_snapshots(run_dir) -> dict[int, Actor]:
    """step -> actor, for every snapshot a behaviour run kept."""
    run_dir = Path(run_dir)
    snapshots = {}
    for path in sorted((run_dir / "snapshots").glob("step_*.npz")):
        with np.load(path, allow_pickle=False) as f:
            snapshots[int(path.stem.split("_")[1])] = Actor.from_leaves(dict(f))
    if not snapshots:
        raise ConfigError(f"{run_dir}: no snapshots (train with onemode behaviour train first)")
    return snapshots


def as_shipped(actor: Actor) -> Actor:
    """The actor as the package stores it: every weight rounded to float16."""
    return Actor(tuple((k.astype(np.float16).astype(np.float32),
                        b.astype(np.float16).astype(np.float32)) for k, b in actor.layers))


def measure(env_id: str, actor, sampled: bool, episodes: int,
            first_seed: int = MEASURE_SEED) -> tuple[float, float]:
    """Mean and spread of the returns of `episodes` episodes from reset seed `first_seed`."""
    returns = episode_returns(run_episodes(env_id, actor, range(first_seed,
                                                                first_seed + episodes),
                                           sampled=sampled))
    return float(returns.mean()), float(returns.std())


def choose_snapshots(steps, medium_step: int, replay_every: int, later_every: int) -> list[int]:
    """The steps shipped: up to medium every `replay_every`, then every `later_every`, the
    medium and the last (expert) step always."""
    steps = sorted(steps)
    chosen = {s for s in steps if s <= medium_step and s % replay_every == 0}
    chosen |= {s for s in steps if s > medium_step and s % later_every == 0}
    return sorted(chosen | {medium_step, steps[-1]})


def logged_returns(run_dir) -> dict[int, float]:
    """step -> the mean deterministic return training logged for that snapshot.

    A line that does not parse (a run killed while writing it) is left out: its
    snapshot then has no logged return, and `medium_candidates` measures them all."""
    path = Path(run_dir) / "snapshots.jsonl"
    if not path.exists():
        return {}
    logged = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
            logged[int(record["step"])] = float(np.mean(record["eval_returns"]))
        except (ValueError, KeyError, TypeError):
            continue
    return logged


def medium_candidates(steps, logged: dict[int, float], target: float, n: int) -> list[int]:
    """The `n` snapshots whose logged return is closest to `target`; every one of `steps`
    where training did not log them all (nothing to narrow the search with)."""
    steps = sorted(steps)
    if any(step not in logged for step in steps):
        return steps
    return sorted(sorted(steps, key=lambda step: abs(logged[step] - target))[:n])


def ship(run_dir, weights_dir=WEIGHTS_DIR, episodes: int = 10, replay_every: int = 20_000,
         later_every: int = 100_000, expert_step: int | None = None,
         medium_candidates_n: int = 10, log=print) -> dict:
    """Measure a behaviour run's snapshots, choose, and write them into `weights_dir`.

    The expert is the last snapshot, or the one at `expert_step`: the run as it stood
    then (what `behaviour train --steps expert_step` makes), later snapshots unused.
    The medium is the snapshot whose measured deterministic return is closest to a third
    of the expert's, among the `medium_candidates_n` whose return logged in training is
    closest to it: a long run keeps hundreds of snapshots, and measuring each (a
    HalfCheetah snapshot: ~30 s) would take hours."""
    if medium_candidates_n < 1:
        raise ConfigError(f"--medium-candidates must be >= 1, got {medium_candidates_n}")
    run_dir, weights_dir = Path(run_dir), Path(weights_dir)
    record = json.loads((run_dir / "config.json").read_text())
    env_id, settings = record["env_id"], record["settings"]
    snapshots = {step: as_shipped(actor) for step, actor in local_snapshots(run_dir).items()}
    if expert_step is not None:
        if expert_step not in snapshots:
            raise ConfigError(f"{run_dir}: no snapshot at step {expert_step:,} (it has "
                              f"{min(snapshots):,} to {max(snapshots):,})")
        snapshots = {step: actor for step, actor in snapshots.items() if step <= expert_step}
    deterministic = {}

    def measured(step: int) -> float:
        if step not in deterministic:
            deterministic[step] = measure(env_id, snapshots[step], False, episodes)[0]
            log(f"{env_id} step {step:,}: deterministic return {deterministic[step]:.1f}")
        return deterministic[step]

    expert_step = max(snapshots)
    target = measured(expert_step) / 3.0
    candidates = medium_candidates(snapshots, logged_returns(run_dir), target,
                                   medium_candidates_n)
    medium_step = min(candidates, key=lambda step: abs(measured(step) - target))
    chosen = choose_snapshots(snapshots, medium_step, replay_every, later_every)
    entries = []
    for step in chosen:
        measured(step)
        mean, std = measure(env_id, snapshots[step], True, episodes)
        entries.append({"step": step, "return": mean, "return_std": std,
                        "deterministic_return": deterministic[step]})
        log(f"{env_id} step {step:,} shipped: sampled-action return {mean:.1f} +- {std:.1f}")
    random_return = measure(env_id, RandomActor(snapshots[expert_step].act_dim), True, episodes)
    file = f"{env_id}.npz"
    arrays = {f"step_{step:07d}/{name}": value.astype(np.float16)
              for step in chosen for name, value in snapshots[step].leaves().items()}

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    atomic_write(weights_dir / file, write)
    manifest = read_manifest(weights_dir)
    manifest[env_id] = {
        "file": file, "act_dim": snapshots[expert_step].act_dim,
        "obs_dim": int(snapshots[expert_step].layers[0][0].shape[0]),
        # the run's steps may go on past its last snapshot: the command that ends at the
        # expert (a run's result does not depend on how long it was asked to go)
        "trained_by": {"command": f"onemode behaviour train {env_id} --steps "
                                  f"{expert_step} --seed {settings['seed']}",
                       **settings, "steps": expert_step, "sac": record["sac"]},
        "measured_with": f"{episodes} episodes per snapshot, reset seeds {MEASURE_SEED}..., "
                         "weights as shipped (float16); return: sampled actions, "
                         "deterministic_return: tanh of the mean",
        "medium_step": medium_step, "expert_step": expert_step,
        "medium_rule": "the snapshot whose deterministic return is closest to a third of "
                       "the expert's" + (f", among the {len(candidates)} whose return "
                                         "logged in training is closest to it"
                                         if len(candidates) < len(snapshots) else ""),
        "random_return": random_return[0], "random_return_std": random_return[1],
        "snapshots": entries,
    }
    atomic_write(weights_dir / MANIFEST,
                 lambda tmp: tmp.write_text(json.dumps(manifest, indent=1) + "\n"))
    total = sum(path.stat().st_size for path in weights_dir.glob("*.npz"))
    log(f"{weights_dir}: {total / 1e6:.1f} MB of weights in all"
        + (f", above the {WEIGHTS_BUDGET / 1e6:.0f} MB the package ships: ship fewer "
           "snapshots (--replay-every, --later-every)" if total > WEIGHTS_BUDGET else ""))
    return manifest[env_id]


def read_manifest(weights_dir: Path = WEIGHTS_DIR) -> dict:
    path = Path(weights_dir) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def shipped_actor(env_id: str, which, weights_dir: Path = WEIGHTS_DIR):
    """The shipped actor of `env_id` at `which`: "random", "medium", "expert" or a step."""
    entry = read_manifest(weights_dir).get(env_id)
    if entry is None:
        raise ConfigError(f"no behaviour policies are shipped for {env_id}: train them with "
                          f"`onemode behaviour train {env_id}` and `onemode behaviour ship`")
    if which == "random":
        return RandomActor(entry["act_dim"])
    step = entry[f"{which}_step"] if isinstance(which, str) else int(which)
    with np.load(Path(weights_dir) / entry["file"], allow_pickle=False) as f:
        leaves = {name.split("/", 1)[1]: f[name] for name in f.files
                  if name.startswith(f"step_{step:07d}/")}
    if not leaves:
        raise ConfigError(f"{Path(weights_dir) / entry['file']}: no snapshot at step {step}")
    return Actor.from_leaves(leaves)
