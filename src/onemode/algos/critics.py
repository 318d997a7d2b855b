"""Critics: Q(s, a) of an ensemble, Bellman targets, TD steps and sampled advantages.

Every algorithm that learns a value function builds its target with
`bellman_target` (or `sarsa_target`), so the rule of which rows may bootstrap
is written once:

  y = r + gamma (1 - d) V(s')

is defined on terminal rows (y = r) and on rows whose successor is real: s'
for an off-policy target (`has_next_observation`), s' and the episode's next
action a' for a SARSA target (`has_next_action`). On the other rows s' or a'
is a stand-in; what is computed from it never reaches y, not even as NaN.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.algos.gaussian import sample_actions


class BellmanTarget(NamedTuple):
    values: jax.Array    # (B,) y, 0 where undefined
    defined: jax.Array   # (B,) 1 where y exists, 0 where the row must not be regressed


def q_value(critic: TrainState, params, observations, actions):
    """Q(s, a): the minimum over a `QEnsemble`'s members."""
    return critic.apply_fn(params, observations, actions).min(axis=0)


def masked_mean(values, mask):
    """The mean of `values` over the rows where `mask` is 1 (0 when there are none)."""
    return jnp.sum(mask * values, axis=-1) / jnp.maximum(mask.sum(axis=-1), 1.0)


def bellman_target(batch, next_values, discount: float, sarsa: bool = False) -> BellmanTarget:
    """y = r + gamma (1 - d) V(s'), V(s') = `next_values`, and the rows where y exists."""
    successor = batch.has_next_action if sarsa else batch.has_next_observation
    defined = jnp.maximum(batch.terminals, successor)
    bootstrap = jnp.where((batch.terminals == 0) & (successor > 0), next_values, 0.0)
    values = jnp.where(defined > 0, batch.rewards + discount * bootstrap, 0.0)
    return BellmanTarget(jax.lax.stop_gradient(values), defined)


def sarsa_target(critic: TrainState, target_params, batch, discount: float, key=None,
                 noise: float = 0.0, noise_clip: float = 0.5) -> BellmanTarget:
    """r + gamma (1 - d) Q^-(s', a') with a' the dataset's next action in the same episode.

    `noise` > 0 adds TD3's clipped smoothing to a'.
    """
    next_actions = batch.next_actions
    if noise > 0:
        next_actions = smoothed(next_actions, key, noise, noise_clip)
    next_q = q_value(critic, target_params, batch.next_observations, next_actions)
    return bellman_target(batch, next_q, discount, sarsa=True)


def smoothed(actions, key, noise: float, noise_clip: float):
    """TD3's target smoothing: a + clip(eps, -c, c), eps ~ N(0, noise^2), kept in [-1, 1]."""
    eps = jnp.clip(noise * jax.random.normal(key, actions.shape), -noise_clip, noise_clip)
    return jnp.clip(actions + eps, -1.0, 1.0)


def td_loss(critic: TrainState, params, batch, target: BellmanTarget):
    """Every ensemble member's squared TD error over the rows where y exists, summed."""
    predicted = critic.apply_fn(params, batch.observations, batch.actions)      # (n, B)
    return jnp.sum(masked_mean((predicted - target.values) ** 2, target.defined))


def td_update(critic: TrainState, batch, target: BellmanTarget):
    """One step of every member onto `target`; returns the critic and the mean member's loss."""
    loss, grads = jax.value_and_grad(td_loss, argnums=1)(critic, critic.params, batch, target)
    n_members = jax.tree.leaves(critic.params)[0].shape[0]
    return critic.apply_gradients(grads=grads), loss / n_members


def td_metrics(target: BellmanTarget, loss) -> dict:
    return {"td_loss": loss, "q_target_mean": masked_mean(target.values, target.defined)}


def sampled_advantage(critic: TrainState, policy: TrainState, observations, actions, key,
                      n_samples: int):
    """A(s, a) = Q(s, a) - V(s), V(s) the mean of Q(s, a'') over n_samples a'' ~ policy(.|s).

    `policy` is a Gaussian policy (AWAC samples its actor, OneStep its behaviour model).
    """
    sampled = sample_actions(policy, key, observations, (n_samples,))        # (K, B, A)
    states = jnp.broadcast_to(observations, sampled.shape[:-1] + observations.shape[-1:])
    value = q_value(critic, critic.params, states, sampled).mean(axis=0)
    return q_value(critic, critic.params, observations, actions) - value
