"""BC: behaviour cloning with a unimodal Gaussian policy.

    pi_theta <- argmax_theta E_{(s, a) ~ D} [log N(a; mu_theta(s), sigma_theta^2)]

The baseline the LOM paper compares against in Section 6.2 (Table 2, Figure 2b):
on multi-modal data the maximum-likelihood Gaussian puts its mean between the
modes, so acting with the mean averages conflicting actions.

The Gaussian-policy pieces here are shared by AWAC and OneStep:
`weighted_log_likelihood` (BC is its special case with unit weights),
`sample_actions` and `mean_action`.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.algos.base import Phase
from onemode.algos.common import make_state
from onemode.algos.config import AlgoConfig, check
from onemode.nets import GaussianPolicy, gaussian_log_prob, sample_gaussian


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """BC hyper-parameters.

    The LOM paper (Wang, Jin and Montana, 2024, Section 6.2) gives no separate
    settings for its BC baseline; the defaults are LOM's own policy network and
    optimiser so that the comparison isolates the learning rule: hidden 512-512
    and batch 256 (LOM paper Table 3, pi_theta), Adam lr 3e-4 (`lom.Config.actor_lr`).
    """

    hidden: tuple[int, ...] = (512, 512)
    batch_size: int = 256
    lr: float = 3e-4

    def validate(self):
        check(len(self.hidden) >= 1 and min(self.hidden) >= 1,
              f"hidden needs positive widths, got {self.hidden}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.lr > 0, f"lr must be > 0, got {self.lr}")


class State(NamedTuple):
    policy: TrainState     # pi_theta: mean mu_theta(s), state-independent sigma


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    policy = GaussianPolicy(config.hidden, act_dim)
    return State(make_state(policy, key, config.lr, jnp.zeros((1, obs_dim))))


# ------------------------------------------------- the shared imitation step
def weighted_log_likelihood(policy: TrainState, observations, actions, weights=None):
    """One gradient step on -E[w log pi(a | s)]; w = 1 is plain maximum likelihood.

    `weights` (B,) are treated as constants (no gradient flows into them).
    Returns the updated policy and the loss.
    """
    weights = 1.0 if weights is None else jax.lax.stop_gradient(weights)

    def loss_fn(params):
        mean, log_std = policy.apply_fn(params, observations)
        return -jnp.mean(weights * gaussian_log_prob(actions, mean, log_std))

    loss, grads = jax.value_and_grad(loss_fn)(policy.params)
    return policy.apply_gradients(grads=grads), loss


def gaussian_nll(policy: TrainState, observations, actions):
    """-E[log pi(a | s)] over the given pairs."""
    mean, log_std = policy.apply_fn(policy.params, observations)
    return -gaussian_log_prob(actions, mean, log_std).mean()


def sample_actions(policy: TrainState, key, observations, sample_shape=()):
    """a ~ pi(.|s), clipped to the action box [-1, 1]: sample_shape + (B, A)."""
    mean, log_std = policy.apply_fn(policy.params, observations)
    return jnp.clip(sample_gaussian(key, mean, log_std, sample_shape), -1.0, 1.0)


def mean_action(policy: TrainState, observations):
    """The Gaussian's mean, clipped to [-1, 1]: the deterministic action."""
    return jnp.clip(policy.apply_fn(policy.params, observations)[0], -1.0, 1.0)


# --------------------------------------------------------------------- phase
def update(state: State, batch, key, config: Config):
    """Maximise log pi_theta(a | s) over dataset pairs."""
    del key, config
    policy, loss = weighted_log_likelihood(state.policy, batch.observations, batch.actions)
    return State(policy), {"bc_nll": loss}


def holdout_metrics(state: State, holdout) -> dict:
    return {"bc_holdout_nll": gaussian_nll(state.policy, holdout.observations, holdout.actions)}


def phases(config: Config) -> tuple[Phase, ...]:
    return (Phase("main", None, partial(update, config=config), holdout_metrics),)


def act(state: State, observations, config: Config):
    """The Gaussian's mean (normalised observations in, actions in [-1, 1] out)."""
    del config
    return mean_action(state.policy, observations)
