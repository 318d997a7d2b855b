"""Device-resident transitions and minibatch sampling inside `jit`."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from onemode.data.dataset import Dataset, NormStats


class Transitions(NamedTuple):
    """A batch of transitions (or the whole dataset) as device arrays.

    Observations are already normalised. `td_mask` is 1 where the SARSA target
    r + gamma * (1 - terminal) * Q(s', a') is defined: terminal rows, and rows
    whose next action lies in the same episode.
    """

    observations: jax.Array
    actions: jax.Array
    rewards: jax.Array
    next_observations: jax.Array
    next_actions: jax.Array
    terminals: jax.Array
    td_mask: jax.Array


def to_device(dataset: Dataset, stats: NormStats | None = None) -> Transitions:
    """Put the whole dataset on the default device once, normalised with `stats`."""
    stats = dataset.obs_stats if stats is None else stats
    td_mask = dataset.terminals | dataset.has_next_action
    host = Transitions(
        observations=stats.normalize(dataset.observations),
        actions=dataset.actions,
        rewards=dataset.rewards,
        next_observations=stats.normalize(dataset.next_observations),
        next_actions=dataset.next_actions,
        terminals=dataset.terminals.astype(np.float32),
        td_mask=td_mask.astype(np.float32),
    )
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), host)


def sample(data: Transitions, key: jax.Array, batch_size: int) -> Transitions:
    """Uniform minibatch with replacement; traceable, so it runs inside `jit`."""
    rows = jax.random.randint(key, (batch_size,), 0, data.rewards.shape[0])
    return jax.tree.map(lambda x: x[rows], data)
