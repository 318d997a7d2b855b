"""BC: behaviour cloning with a unimodal Gaussian policy.

    pi_theta <- argmax_theta E_{(s, a) ~ D} [log N(a; mu_theta(s), sigma_theta^2)]

The baseline the LOM paper compares against in Section 6.2 (Table 2, Figure 2b):
on multi-modal data the maximum-likelihood Gaussian puts its mean between the
modes, so acting with the mean averages conflicting actions.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.algos.base import Phase
from onemode.algos.common import make_state
from onemode.algos.config import AlgoConfig
from onemode.algos.gaussian import (act_by_actor_mean, actor_mean_policy_mlp,
                                   gaussian_nll, weighted_imitation)
from onemode.nets import GaussianPolicy


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
    actor_lr: float = 3e-4


class State(NamedTuple):
    actor: TrainState      # pi_theta: mean mu_theta(s), state-independent sigma


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    policy = GaussianPolicy(config.hidden, act_dim)
    return State(make_state(policy, key, config.actor_lr, jnp.zeros((1, obs_dim))))


def update(state: State, batch, key, config: Config):
    """Maximise log pi_theta(a | s) over dataset pairs."""
    del key, config
    actor, loss = weighted_imitation(state.actor, batch.observations, batch.actions)
    return State(actor), {"bc_nll": loss}


def holdout_metrics(state: State, holdout) -> dict:
    return {"bc_holdout_nll": gaussian_nll(state.actor, holdout.observations, holdout.actions)}


def phases(config: Config) -> tuple[Phase, ...]:
    return (Phase("main", None, partial(update, config=config), holdout_metrics),)


# Acting and export: the Gaussian's mean, which on multi-modal data lies between the modes.
act = act_by_actor_mean
policy_mlp = actor_mean_policy_mlp
