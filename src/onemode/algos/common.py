"""Pieces several algorithms share: train states, critics, weights, target updates."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState


def make_state(net, key, lr: float, *inputs, b1: float = 0.9) -> TrainState:
    """A network's parameters and its Adam optimiser (`b1`: Adam's first-moment decay)."""
    return TrainState.create(apply_fn=net.apply, params=net.init(key, *inputs),
                             tx=optax.adam(lr, b1=b1))


def q_value(critic: TrainState, params, observations, actions):
    """Q(s, a): the minimum over a `QEnsemble`'s members."""
    return critic.apply_fn(params, observations, actions).min(axis=0)


def td_update(critic: TrainState, batch, target, mask=None):
    """Regress every ensemble member onto `target`, over the rows where `mask` is 1."""
    mask = jnp.ones_like(target) if mask is None else mask

    def loss_fn(params):
        predicted = critic.apply_fn(params, batch.observations, batch.actions)
        return jnp.sum(mask * (predicted - target) ** 2) / jnp.maximum(mask.sum(), 1.0)

    loss, grads = jax.value_and_grad(loss_fn)(critic.params)
    n_members = jax.tree.leaves(critic.params)[0].shape[0]
    return critic.apply_gradients(grads=grads), loss / n_members


def sarsa_target(critic: TrainState, target_params, batch, discount: float, key=None,
                 noise: float = 0.0, noise_clip: float = 0.5):
    """r + gamma (1 - terminal) Q^-(s', a') with a' the dataset's next action.

    Valid only where `batch.td_mask` is 1; `noise` > 0 adds TD3's clipped smoothing to a'.
    """
    next_actions = batch.next_actions
    if noise > 0:
        smoothing = jnp.clip(noise * jax.random.normal(key, next_actions.shape), -noise_clip,
                             noise_clip)
        next_actions = jnp.clip(next_actions + smoothing, -1.0, 1.0)
    next_q = q_value(critic, target_params, batch.next_observations, next_actions)
    return batch.rewards + discount * (1.0 - batch.terminals) * next_q


def exp_clip_weight(advantage, beta: float, clip: float):
    """exp(A / beta) clipped to (0, clip]: the weight of advantage-weighted imitation."""
    return jnp.minimum(jnp.exp(advantage / beta), clip)


def polyak(step, every: int, params, target_params, rho: float):
    """target <- rho target + (1 - rho) params, on every `every`-th step."""
    return jax.lax.cond(step % every == 0,
                        lambda: optax.incremental_update(params, target_params, 1.0 - rho),
                        lambda: target_params)
