"""Load a trained run and act with it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from onemode.algos import get_algo
from onemode.errors import ConfigError
from onemode.data import NormStats, native_actions
from onemode.runs import RunDir, RunRecord


def make_act(algo, config, stats: NormStats, action_bounds=None):
    """Batched acting for every seed: (S, n, obs_dim) raw observations -> (S, n, act_dim).

    Actions come out in the data's native bounds: `action_bounds` (low, high), the
    bounds the data was rescaled from, or [-1, 1] when None.
    """
    mean, std = jnp.asarray(stats.mean), jnp.asarray(stats.std)

    @jax.jit
    def act(state, observations):
        actions = jax.vmap(lambda st, obs: algo.act(st, (obs - mean) / std, config))(
            state, observations)
        return actions if action_bounds is None else native_actions(actions, action_bounds)

    return act


class LoadedRun(NamedTuple):
    path: Path
    record: RunRecord   # what the run's config.json holds (its algo_config: as it acts now)
    step: int
    state: Any          # every seed's state, leading axis: seeds
    stats: NormStats    # the observation statistics the run trained with
    act: Any            # (state, (S, n, obs_dim) raw observations) -> (S, n, act_dim)

    # the record's fields, read as the run's own
    algo_name = property(lambda self: self.record.algo)
    algo_config = property(lambda self: self.record.algo_config)
    train_config = property(lambda self: self.record.train_config)
    data_spec = property(lambda self: self.record.data)
    obs_dim = property(lambda self: self.record.obs_dim)
    act_dim = property(lambda self: self.record.act_dim)

    def seed_state(self, seed_index: int):
        """One seed's state, without the seed axis."""
        return jax.tree.map(lambda x: x[seed_index], self.state)

    def mode_report(self, observations, seed_index: int = 0):
        """The algorithm's `mode_report` at raw observations, or None if it has none."""
        algo = get_algo(self.algo_name)
        if not hasattr(algo, "mode_report"):
            return None
        return algo.mode_report(self.seed_state(seed_index),
                                jnp.asarray(self.stats.normalize(observations)), self.algo_config)


def _check_acting(path, algo_name: str, algo_config, acting: Mapping[str, Any]) -> None:
    """Refuse, in one line, an option that is not one of the config's ACTING options."""
    trained_only = sorted(set(acting) - set(algo_config.ACTING))
    if not trained_only:
        return
    name = trained_only[0]
    problem = (f"'{name}' cannot change after training" if name in algo_config.to_dict()
               else f"{algo_name} has no option '{name}'")
    raise ConfigError(f"{path}: {problem}; options of {algo_name} that change only how it "
                      f"acts: {', '.join(algo_config.ACTING) or 'none'}")


def load_run(run_dir, acting: Mapping[str, Any] | None = None) -> LoadedRun:
    """A run's latest checkpoint, ready to act; `acting` changes the config's ACTING options."""
    run = RunDir(run_dir)
    record = run.read_record()
    if not run.checkpoint_path.exists():
        raise FileNotFoundError(f"{run.path}: no checkpoint.npz yet; the run has not saved a state")
    algo = get_algo(record.algo)
    if acting:
        _check_acting(run.path, record.algo, record.algo_config, acting)
        record = dataclasses.replace(record, algo_config=record.algo_config.replace(**acting))
    template = jax.eval_shape(jax.vmap(partial(algo.init, obs_dim=record.obs_dim,
                                               act_dim=record.act_dim, config=record.algo_config)),
                              jax.random.split(jax.random.PRNGKey(0),
                                               len(record.train_config.seeds)))
    step, state, _ = run.load_checkpoint(template)
    stats = run.read_stats()
    act = make_act(algo, record.algo_config, stats, record.data.action_bounds)
    return LoadedRun(run.path, record, step, jax.tree.map(jnp.asarray, state), stats, act)


class Policy:
    """A trained policy: `policy(observations)` maps raw (n, obs_dim) observations to actions.

    Observations are normalised with the statistics the run trained with; actions are
    in the bounds of the data it trained on (the environment's).
    `seed_index` picks one of the seeds trained together (0: the first).
    """

    def __init__(self, run: LoadedRun, seed_index: int = 0):
        n_seeds = len(run.train_config.seeds)
        if not 0 <= seed_index < n_seeds:
            raise IndexError(f"seed_index {seed_index} out of range: "
                             f"the run trained {n_seeds} seeds")
        self.run, self.seed_index = run, seed_index
        self._state = jax.tree.map(lambda x: x[seed_index:seed_index + 1], run.state)

    def __call__(self, observations) -> np.ndarray:
        observations = np.asarray(observations, dtype=np.float32)
        single = observations.ndim == 1
        batch = jnp.asarray(observations.reshape(1, -1, observations.shape[-1]))
        actions = np.asarray(self.run.act(self._state, batch))[0]
        return actions[0] if single else actions


def load_policy(run_dir, seed_index: int = 0) -> Policy:
    return Policy(load_run(run_dir), seed_index)


__all__ = ["LoadedRun", "Policy", "load_policy", "load_run", "make_act"]
