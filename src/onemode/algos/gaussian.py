"""Gaussian policies (`nets.GaussianPolicy`): weighted imitation, sampling, the mean action.

Behaviour cloning, AWAC, OneStep, IQL and LOM all fit a Gaussian pi_theta by
weighted imitation, -E[w log pi_theta(a | s)]; BC is the special case w = 1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.nets import MlpPolicy, gaussian_log_prob, mlp_policy, sample_gaussian

IMITATION_LOSSES = ("log_likelihood", "weighted_mse")


def imitation_loss(policy: TrainState, params, observations, actions, weights, loss: str):
    """-E[w log pi(a | s)], or (`weighted_mse`) E[w |mu(s) - a|^2 / A]."""
    mean, log_std = policy.apply_fn(params, observations)
    if loss == "weighted_mse":
        return jnp.mean(weights * jnp.mean((mean - actions) ** 2, axis=-1))
    return -jnp.mean(weights * gaussian_log_prob(actions, mean, log_std))


def weighted_imitation(policy: TrainState, observations, actions, weights=None,
                       loss: str = "log_likelihood"):
    """One gradient step on the weighted imitation loss; w = None is plain maximum likelihood.

    `weights` (B,) are constants (no gradient flows into them). Returns the
    updated policy and the loss.
    """
    weights = 1.0 if weights is None else jax.lax.stop_gradient(weights)
    value, grads = jax.value_and_grad(imitation_loss, argnums=1)(
        policy, policy.params, observations, actions, weights, loss)
    return policy.apply_gradients(grads=grads), value


def gaussian_nll(policy: TrainState, observations, actions):
    """-E[log pi(a | s)] over the given pairs."""
    mean, log_std = policy.apply_fn(policy.params, observations)
    return -gaussian_log_prob(actions, mean, log_std).mean()


def sample_actions(policy: TrainState, key, observations, sample_shape=()):
    """a ~ pi(.|s), clipped to the action box [-1, 1]: sample_shape + (B, A)."""
    mean, log_std = policy.apply_fn(policy.params, observations)
    return jnp.clip(sample_gaussian(key, mean, log_std, sample_shape), -1.0, 1.0)


def mean_policy_mlp(policy: TrainState) -> MlpPolicy:
    """`mean_action` of a `GaussianPolicy` as layers, for export."""
    return mlp_policy(policy.params["params"]["MLP_0"], "clip")


def mean_action(policy: TrainState, observations):
    """The Gaussian's mean, clipped to [-1, 1]: the deterministic action."""
    return jnp.clip(policy.apply_fn(policy.params, observations)[0], -1.0, 1.0)


# ------------------------------------------ `act` and `policy_mlp` of a Gaussian actor
# BC, AWAC, OneStep and IQL act alike: their policy is the Gaussian `state.actor`, and
# they act with its mean. Each module binds these two as its `act` and `policy_mlp`
# (the contract of `onemode.algos.base`), so acting and export are written once.
def act_by_actor_mean(state, observations, config):
    """`state.actor`'s mean action (normalised observations in, actions in [-1, 1] out)."""
    del config
    return mean_action(state.actor, observations)


def actor_mean_policy_mlp(state, config) -> MlpPolicy:
    """`act_by_actor_mean` as layers, for export: `state.actor`'s mean MLP, clipped."""
    del config
    return mean_policy_mlp(state.actor)
