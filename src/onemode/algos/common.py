"""Pieces every kind of algorithm uses: train states, exp-advantage weights, target updates."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState


def make_state(net, key, lr: float, *inputs, b1: float = 0.9) -> TrainState:
    """A network's parameters and its Adam optimiser (`b1`: Adam's first-moment decay)."""
    return TrainState.create(apply_fn=net.apply, params=net.init(key, *inputs),
                             tx=optax.adam(lr, b1=b1))


def exp_clip_weight(advantage, beta: float, clip: float):
    """exp(A / beta) clipped to (0, clip]: the weight of advantage-weighted imitation."""
    return jnp.minimum(jnp.exp(advantage / beta), clip)


def weight_metrics(advantage, weight, clip: float) -> dict:
    """What a log shows of advantage weights."""
    return {"advantage": advantage.mean(), "weight_mean": weight.mean(),
            "weight_clipped_frac": jnp.mean(weight >= clip)}


def polyak(step, every: int, params, target_params, rho: float):
    """target <- rho target + (1 - rho) params, on every `every`-th step."""
    return jax.lax.cond(step % every == 0,
                        lambda: optax.incremental_update(params, target_params, 1.0 - rho),
                        lambda: target_params)
