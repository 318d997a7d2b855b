"""Soft Actor-Critic (Haarnoja et al., 2018, "Soft Actor-Critic Algorithms and Applications").

The learner that trains the locomotion behaviour policies, online. Every step:

  a'      ~ pi(.|s')                                          (tanh-Gaussian)
  y       = r + gamma (1 - d) (min_i Q_i^-(s', a') - alpha log pi(a'|s'))   (soft target)
  Q_i     <- (Q_i(s, a) - y)^2 for both critics
  pi      <- E_s[ alpha log pi(a~|s) - min_i Q_i(s, a~) ]     (a~ reparameterised)
  alpha   <- -log alpha (log pi(a~|s) - act_dim)              (target entropy -act_dim)
  Q^-     <- polyak Q^- + (1 - polyak) Q

Defaults are the paper's (Table 1 of the applications paper: Adam 3e-4 for
every part, 256-256 networks, batch 256, discount 0.99, tau 0.005, one update
per environment step, learned temperature), with the usual log sigma range
[-5, 2] and 5,000 uniformly random steps before learning starts. Observations
are the environment's own, unnormalised.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.algos.common import make_state, polyak
from onemode.algos.critics import bellman_target, q_value, td_update
from onemode.algos.soft_actor import make_temperature, sample_tanh_actions, soft_actor_step
from onemode.nets import QEnsemble, TanhGaussianPolicy

LOG_STD_MAX = 2.0


@dataclasses.dataclass(frozen=True)
class SACConfig:
    hidden: tuple[int, ...] = (256, 256)
    batch_size: int = 256
    discount: float = 0.99
    polyak: float = 0.995            # tau = 0.005
    actor_lr: float = 3e-4           # also the temperature's
    critic_lr: float = 3e-4
    init_log_entropy_temp: float = 0.0

    def __post_init__(self):
        problems = [f"{name} must be > 0, got {getattr(self, name)}"
                    for name in ("batch_size", "actor_lr", "critic_lr")
                    if not getattr(self, name) > 0]
        if not 0.0 <= self.discount <= 1.0 or not 0.0 <= self.polyak < 1.0:
            problems.append("discount must be in [0, 1] and polyak in [0, 1)")
        if not self.hidden or any(width <= 0 for width in self.hidden):
            problems.append(f"hidden must be positive widths, got {self.hidden}")
        if problems:
            raise ValueError("SAC config: " + "; ".join(problems))


class ReplayBatch(NamedTuple):
    """Online transitions: s' is always real, so every row may bootstrap."""

    observations: jax.Array
    actions: jax.Array
    rewards: jax.Array
    next_observations: jax.Array
    terminals: jax.Array
    has_next_observation: jax.Array


class SACState(NamedTuple):
    actor: TrainState
    critic: TrainState
    critic_target: dict
    log_entropy_temp: TrainState
    step: jax.Array


def actor_net(config: SACConfig, act_dim: int) -> TanhGaussianPolicy:
    return TanhGaussianPolicy(tuple(config.hidden), act_dim, log_std_max=LOG_STD_MAX)


def init(key, obs_dim: int, act_dim: int, config: SACConfig) -> SACState:
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    k_actor, k_critic = jax.random.split(key)
    critic = make_state(QEnsemble(tuple(config.hidden), 2), k_critic, config.critic_lr, obs, act)
    return SACState(
        actor=make_state(actor_net(config, act_dim), k_actor, config.actor_lr, obs),
        critic=critic,
        critic_target=critic.params,
        log_entropy_temp=make_temperature(config.init_log_entropy_temp, config.actor_lr),
        step=jnp.zeros((), jnp.int32),
    )


def update(state: SACState, batch: ReplayBatch, key, config: SACConfig):
    """One SAC step: soft TD for both critics, then actor and temperature, then Q^-."""
    k_next, k_actor = jax.random.split(key)
    entropy_temp = jnp.exp(state.log_entropy_temp.params["log_temp"])
    next_actions, next_log_pi = sample_tanh_actions(state.actor, state.actor.params,
                                                    batch.next_observations, k_next)
    next_q = q_value(state.critic, state.critic_target, batch.next_observations, next_actions)
    target = bellman_target(batch, next_q - entropy_temp * next_log_pi, config.discount)
    critic, td_loss = td_update(state.critic, batch, target)

    actor, log_temp, actor_metrics = soft_actor_step(state.actor, critic, state.log_entropy_temp,
                                                     batch.observations, k_actor)
    step = state.step + 1
    critic_target = polyak(step, 1, critic.params, state.critic_target, config.polyak)
    metrics = {"td_loss": td_loss, "q_target_mean": target.values.mean()} | actor_metrics
    return SACState(actor, critic, critic_target, log_temp, step), metrics


def update_many(state: SACState, batches: ReplayBatch, key, config: SACConfig):
    """`update` over a leading axis of batches in one `lax.scan`; the last step's metrics."""
    keys = jax.random.split(key, batches.rewards.shape[0])

    def body(carry, inputs):
        return update(carry, *inputs, config)

    state, metrics = jax.lax.scan(body, state, (batches, keys))
    return state, jax.tree.map(lambda m: m[-1], metrics)


def sample_action(actor_params, apply_fn, observations, key):
    """a ~ pi(.|s) for exploration and for D4RL-style recorded episodes."""
    mean, log_std = apply_fn(actor_params, observations)
    return jnp.tanh(mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape))
