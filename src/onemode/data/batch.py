"""Device-resident transitions and minibatch sampling inside `jit`."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from onemode.data.dataset import Dataset, NormStats


class Transitions(NamedTuple):
    """A batch of transitions (or the whole dataset) as device arrays.

    Observations are already normalised. Two facts about each row's successor
    stay separate (see `onemode.algos.critics.bellman_target`, which reads them):
    `has_next_observation` is 1 where s' is a real successor state, so an
    off-policy target r + gamma V(s') may bootstrap from it; `has_next_action`
    is 1 where the episode goes on in the data, so a SARSA target may also use
    a' = `next_actions`. Where either is 0 the row's s' or a' is a stand-in.
    """

    observations: jax.Array
    actions: jax.Array
    rewards: jax.Array
    next_observations: jax.Array
    next_actions: jax.Array
    terminals: jax.Array
    has_next_observation: jax.Array
    has_next_action: jax.Array


def to_device(dataset: Dataset, stats: NormStats | None = None) -> Transitions:
    """Put the whole dataset on the default device once, normalised with `stats`."""
    stats = dataset.obs_stats if stats is None else stats
    host = Transitions(
        observations=stats.normalize(dataset.observations),
        actions=dataset.actions,
        rewards=dataset.rewards,
        next_observations=stats.normalize(dataset.next_observations),
        next_actions=dataset.next_actions,
        terminals=dataset.terminals.astype(np.float32),
        has_next_observation=dataset.has_next_observation.astype(np.float32),
        has_next_action=dataset.has_next_action.astype(np.float32),
    )
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), host)


def sample(data: Transitions, key: jax.Array, batch_size: int) -> Transitions:
    """Uniform minibatch with replacement; traceable, so it runs inside `jit`."""
    rows = jax.random.randint(key, (batch_size,), 0, data.rewards.shape[0])
    return jax.tree.map(lambda x: x[rows], data)
