"""Online SAC on a gymnasium environment: replay, actor snapshots, checkpoints, resume.

A run directory holds:
  config.json        the environment, the run's settings, the SAC config
  checkpoint.npz     SAC state, replay buffer, environment and random-generator
                     states: a stopped run continues from it to the same result
  snapshots/         the actor every `snapshot_every` steps (step_0010000.npz, ...)
  snapshots.jsonl    per snapshot: its step and deterministic evaluation returns
  episodes.jsonl     every training episode: the step it ended at, its return, length

Steps are environment steps; after `random_steps` uniform actions, every step
does one SAC update and picks the next action from the updated actor, in one
jitted call. Writes are atomic; SIGINT or SIGTERM checkpoints before exiting.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import time
from functools import partial
from pathlib import Path
from typing import Callable

import gymnasium as gym
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv
import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from onemode.errors import ConfigError
from onemode.behaviour import sac
from onemode.behaviour.snapshots import Actor, episode_returns, run_episodes
from onemode.envs import EVAL_RESET_SEED, box_bounds, make_env
from onemode.fileio import append_jsonl, atomic_write, read_jsonl
from onemode.runs import RunDir, leaf_names
from onemode.errors import CheckpointError

REPLAY_FIELDS = ("observations", "actions", "rewards", "next_observations", "terminals")


@dataclasses.dataclass(frozen=True)
class OnlineSettings:
    env_id: str
    steps: int = 1_000_000
    random_steps: int = 5_000      # uniform random actions before the policy acts
    # the actor saved every snapshot_every steps: the replay datasets' behaviour policies
    snapshot_every: int = 10_000
    checkpoint_every: int = 25_000
    eval_episodes: int = 3
    seed: int = 0

    def __post_init__(self):
        if not 0 < self.random_steps <= self.steps:
            raise ConfigError(f"random_steps must be in (0, steps], got {self.random_steps}")
        for name in ("snapshot_every", "checkpoint_every", "eval_episodes"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")


# Settings a resumed run may change; none changes what the run computes up to its end.
RESUMABLE = frozenset({"steps", "checkpoint_every", "eval_episodes"})


class Replay:
    """A growing buffer of every transition (D4RL's replay datasets keep them all)."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int):
        self.size = 0
        self.arrays = {
            "observations": np.zeros((capacity, obs_dim), np.float32),
            "actions": np.zeros((capacity, act_dim), np.float32),
            "rewards": np.zeros(capacity, np.float32),
            "next_observations": np.zeros((capacity, obs_dim), np.float32),
            "terminals": np.zeros(capacity, np.float32),
        }

    def add(self, obs, action, reward, next_obs, terminal) -> None:
        row = self.size
        for name, value in zip(REPLAY_FIELDS, (obs, action, reward, next_obs, terminal)):
            self.arrays[name][row] = value
        self.size += 1

    def sample(self, rng: np.random.Generator, batch_size: int) -> sac.ReplayBatch:
        rows = rng.integers(0, self.size, batch_size)
        picked = {name: array[rows] for name, array in self.arrays.items()}
        return sac.ReplayBatch(**picked, has_next_observation=np.ones(batch_size, np.float32))


def _time_limit(env: gym.Env):
    while not isinstance(env, gym.wrappers.TimeLimit):
        if not hasattr(env, "env"):
            raise ConfigError("the environment has no TimeLimit wrapper: online SAC needs "
                              "episodes that end")
        env = env.env
    return env


def _mujoco_state(env: gym.Env) -> np.ndarray:
    model, data = env.unwrapped.model, env.unwrapped.data
    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    state = np.empty(mujoco.mj_stateSize(model, spec), np.float64)
    mujoco.mj_getState(model, data, state, spec)
    return state


def _set_mujoco_state(env: gym.Env, state: np.ndarray) -> None:
    """The integration state back, and the quantities derived from it (body positions,
    contacts) recomputed, as the next step and its reward read them."""
    model, data = env.unwrapped.model, env.unwrapped.data
    mujoco.mj_setState(model, data, state, mujoco.mjtState.mjSTATE_INTEGRATION)
    mujoco.mj_forward(model, data)


def _json_array(value) -> np.ndarray:
    return np.frombuffer(json.dumps(value).encode(), np.uint8)


def _from_json_array(array: np.ndarray):
    return json.loads(array.tobytes().decode())


def save_arrays(path: Path, arrays: dict) -> None:
    with open(path, "wb") as f:  # a file object keeps numpy from appending ".npz"
        np.savez(f, **arrays)


def actor_leaves(params) -> dict[str, np.ndarray]:
    """The actor's parameters as named arrays (`params.MLP_0.Dense_0.kernel`, ...)."""
    return dict(zip(leaf_names(params), (np.asarray(x) for x in jax.tree.leaves(params))))


class OnlineRun:
    """One SAC run in `out`: `run()` trains to `settings.steps`, resuming what is there."""

    def __init__(self, out, settings: OnlineSettings, config: sac.SACConfig = sac.SACConfig(),
                 log: Callable[[str], None] = print):
        self.dir, self.settings, self.config, self.log = RunDir(out), settings, config, log
        self.env = make_env(settings.env_id)
        if not isinstance(self.env.unwrapped, MujocoEnv):
            raise ConfigError(f"{settings.env_id}: behaviour runs checkpoint MuJoCo's state; "
                              "this is no gymnasium MuJoCo environment")
        _time_limit(self.env)
        self.low, self.high = box_bounds(self.env.action_space, "action", settings.env_id)
        self.obs_dim = int(np.prod(self.env.observation_space.shape))
        self.act_dim = int(np.prod(self.env.action_space.shape))
        self.record = {"env_id": settings.env_id, "obs_dim": self.obs_dim,
                       "act_dim": self.act_dim, "settings": dataclasses.asdict(settings),
                       "sac": dataclasses.asdict(config)}
        self._stop = False
        self._step = jax.jit(partial(_update_and_act, config=config))

    # -------------------------------------------------------------- set-up
    def _check_resumable(self) -> None:
        stored = json.loads(json.dumps(self.dir.read_config()))
        asked = json.loads(json.dumps(self.record))
        differences = [f"{key}: {stored.get(key)!r} in the run, {asked[key]!r} asked"
                       for key in ("env_id", "obs_dim", "act_dim", "sac")
                       if stored.get(key) != asked[key]]
        differences += [f"settings.{key}: {stored['settings'].get(key)!r} in the run, "
                        f"{value!r} asked" for key, value in asked["settings"].items()
                        if key not in RESUMABLE and stored["settings"].get(key) != value]
        if differences:
            raise ConfigError(f"{self.dir.path} holds another behaviour run: "
                              + "; ".join(differences) + " (use another --out)")

    def _fresh(self):
        # a run stopped before its first checkpoint starts again: its logs go with it
        for name in ("episodes.jsonl", "snapshots.jsonl"):
            (self.dir.path / name).unlink(missing_ok=True)
        for stale in (self.dir.path / "snapshots").glob("step_*.npz"):
            stale.unlink()
        state = sac.init(jax.random.PRNGKey(self.settings.seed), self.obs_dim, self.act_dim,
                         self.config)
        obs, _ = self.env.reset(seed=self.settings.seed)
        host_rng = np.random.default_rng([self.settings.seed, 1])
        episode = {"return": 0.0, "length": 0}
        replay = Replay(self.settings.steps, self.obs_dim, self.act_dim)
        return 0, state, replay, obs, host_rng, episode, None

    def _restore(self):
        template = jax.tree.map(jnp.asarray, sac.init(jax.random.PRNGKey(0), self.obs_dim,
                                                      self.act_dim, self.config))
        step, state, _ = self.dir.load_checkpoint(template)
        extra = self.dir.load_checkpoint_extra()
        try:
            meta = _from_json_array(extra["meta"])
            replay = Replay(max(self.settings.steps, step), self.obs_dim, self.act_dim)
            for name in REPLAY_FIELDS:
                replay.arrays[name][:step] = extra[f"replay/{name}"]
            replay.size = step
            self.env.reset(seed=self.settings.seed)
            _set_mujoco_state(self.env, extra["mujoco_state"])
            _time_limit(self.env)._elapsed_steps = meta["elapsed_steps"]
            self.env.unwrapped.np_random.bit_generator.state = meta["env_rng"]
            host_rng = np.random.default_rng()
            host_rng.bit_generator.state = meta["host_rng"]
            obs = extra["observation"]
            action = extra["action"] if "action" in extra else None
        except (KeyError, ValueError) as error:
            raise CheckpointError(f"{self.dir.checkpoint_path}: not a behaviour-run checkpoint "
                                  f"or damaged ({type(error).__name__}: {error})") from None
        self._truncate_logs(step)
        return step, state, replay, obs, host_rng, meta["episode"], action

    def _truncate_logs(self, step: int) -> None:
        for name in ("episodes.jsonl", "snapshots.jsonl"):
            path = self.dir.path / name
            kept = [json.dumps(r) + "\n" for r in self._read(name) if r["step"] <= step]
            if path.exists():
                atomic_write(path, lambda tmp: tmp.write_text("".join(kept)))

    def _checkpoint(self, step, state, replay, obs, host_rng, episode, action) -> None:
        meta = {"elapsed_steps": _time_limit(self.env)._elapsed_steps,
                "env_rng": self.env.unwrapped.np_random.bit_generator.state,
                "host_rng": host_rng.bit_generator.state, "episode": episode}
        extra = {f"replay/{name}": array[:replay.size] for name, array in replay.arrays.items()}
        extra |= {"meta": _json_array(meta), "mujoco_state": _mujoco_state(self.env),
                  "observation": np.asarray(obs, np.float32)}
        if action is not None:  # the action already drawn for `obs`
            extra["action"] = np.asarray(action, np.float32)
        self.dir.save_checkpoint(step, state, np.zeros(0, np.uint32), extra)

    def _read(self, name: str) -> list[dict]:
        return read_jsonl(self.dir.path / name, required=("step",))

    def _append(self, name: str, record: dict) -> None:
        append_jsonl(self.dir.path / name, record)

    def _snapshot(self, step: int, state: sac.SACState) -> float:
        """Keep the actor; measure its deterministic return on the evaluation episodes."""
        arrays = actor_leaves(state.actor.params)
        atomic_write(self.dir.path / "snapshots" / f"step_{step:07d}.npz",
                     lambda tmp: save_arrays(tmp, arrays))
        seeds = range(EVAL_RESET_SEED, EVAL_RESET_SEED + self.settings.eval_episodes)
        returns = episode_returns(run_episodes(self.settings.env_id, Actor.from_leaves(arrays),
                                               seeds, sampled=False)).tolist()
        self._append("snapshots.jsonl", {"step": step, "eval_returns": returns})
        return float(np.mean(returns))

    # ------------------------------------------------------------------ loop
    def run(self) -> Path:
        self.dir.path.mkdir(parents=True, exist_ok=True)
        if self.dir.checkpoint_path.exists():
            self._check_resumable()
            step, state, replay, obs, host_rng, episode, action = self._restore()
            self.dir.write_config(self.record)  # the steps asked now
            self.log(f"{self.settings.env_id}: resuming at step {step:,}")
        else:
            self.dir.write_config(self.record)
            step, state, replay, obs, host_rng, episode, action = self._fresh()
        key = jax.random.PRNGKey(self.settings.seed)
        settings = self.settings
        previous = {sig: signal.signal(sig, self._request_stop)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        recent = [r["return"] for r in self._read("episodes.jsonl")][-10:]
        last_eval, metrics = float("nan"), {}
        started, started_step = time.time(), step
        try:
            while step < settings.steps and not self._stop:
                if step < settings.random_steps:
                    action = host_rng.uniform(-1.0, 1.0, self.act_dim).astype(np.float32)
                env_action = self.low + (action + 1.0) * 0.5 * (self.high - self.low)
                next_obs, reward, terminated, truncated, _ = self.env.step(env_action)
                replay.add(obs, action, reward, next_obs, float(terminated))
                episode = {"return": episode["return"] + float(reward),
                           "length": episode["length"] + 1}
                step += 1
                if terminated or truncated:
                    self._append("episodes.jsonl", {"step": step, **episode})
                    recent = (recent + [episode["return"]])[-10:]
                    episode = {"return": 0.0, "length": 0}
                    next_obs, _ = self.env.reset()
                obs = next_obs
                if step >= settings.random_steps:
                    batch = replay.sample(host_rng, self.config.batch_size)
                    state, metrics, action = self._step(state, batch, obs.astype(np.float32),
                                                        jax.random.fold_in(key, step))
                    action = np.asarray(action)
                if step % settings.snapshot_every == 0:
                    last_eval = self._snapshot(step, state)
                    rate = (step - started_step) / (time.time() - started)
                    self.log(f"{settings.env_id} step {step:,}: train return "
                             f"{np.mean(recent) if recent else float('nan'):.1f}, eval "
                             f"{last_eval:.1f}, td {float(metrics.get('td_loss', np.nan)):.3f}, "
                             f"alpha {float(metrics.get('entropy_temp', np.nan)):.3f}, "
                             f"{rate:.0f} steps/s")
                if step % settings.checkpoint_every == 0:
                    self._checkpoint(step, state, replay, obs, host_rng, episode, action)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if step % settings.checkpoint_every:
            self._checkpoint(step, state, replay, obs, host_rng, episode, action)
        if self._stop:
            self.log(f"{settings.env_id}: stopped at step {step:,}; run again to continue")
        return self.dir.path

    def _request_stop(self, signum, frame) -> None:
        self._stop = True


def _update_and_act(state: sac.SACState, batch: sac.ReplayBatch, obs, key, config):
    """One SAC update, then the next exploration action a ~ pi(.|obs) of the updated actor."""
    k_update, k_act = jax.random.split(key)
    state, metrics = sac.update(state, batch, k_update, config)
    action = sac.sample_action(state.actor.params, state.actor.apply_fn, obs[None], k_act)[0]
    return state, metrics, action
