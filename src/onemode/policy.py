"""Load a trained run and act with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from onemode.algos import get_algo
from onemode.runs import RunDir
from onemode.train import TrainConfig, make_act


class LoadedRun(NamedTuple):
    path: Path
    algo_name: str
    algo_config: Any
    train_config: TrainConfig
    data_spec: dict
    step: int
    state: Any          # every seed's state, leading axis: seeds
    act: Any            # (state, (S, n, obs_dim) raw observations) -> (S, n, act_dim)


def load_run(run_dir) -> LoadedRun:
    run = RunDir(run_dir)
    record = run.read_config()
    if not run.checkpoint_path.exists():
        raise FileNotFoundError(f"{run.path}: no checkpoint.npz yet; the run has not saved a state")
    algo = get_algo(record["algo"])
    algo_config = algo.Config.from_dict(record["algo_config"])
    train_config = TrainConfig.from_dict(record["train_config"])
    n_seeds = len(train_config.seeds)
    template = jax.vmap(lambda key: algo.init(key, record["obs_dim"], record["act_dim"],
                                              algo_config))(jax.random.split(jax.random.PRNGKey(0), n_seeds))
    step, state, _ = run.load_checkpoint(template)
    act = make_act(algo, algo_config, run.read_stats())
    return LoadedRun(run.path, record["algo"], algo_config, train_config, record["data"], step,
                     state, act)


class Policy:
    """A trained policy: `policy(observations)` maps raw (n, obs_dim) observations to actions.

    Observations are normalised with the statistics the run trained with.
    `seed_index` picks one of the seeds trained together (0: the first).
    """

    def __init__(self, run: LoadedRun, seed_index: int = 0):
        n_seeds = len(run.train_config.seeds)
        if not 0 <= seed_index < n_seeds:
            raise IndexError(f"seed_index {seed_index} out of range: the run trained {n_seeds} seeds")
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
