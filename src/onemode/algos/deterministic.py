"""Pieces shared by the algorithms whose policy is a deterministic actor pi(s) = tanh(MLP(s))
with TD3's targets (TD3+BC, ReBRAC): acting, export, and the delayed target step."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.algos.common import make_state, polyak
from onemode.nets import DeterministicPolicy, QEnsemble, mlp_policy

__all__ = ["TD3State", "act_by_actor", "actor_policy_mlp", "init_td3_state", "td3_step"]


class TD3State(NamedTuple):
    actor: TrainState      # pi (deterministic, tanh head)
    actor_target: dict     # pi^-
    critic: TrainState     # Q_1, Q_2
    critic_target: dict    # Q_1^-, Q_2^-
    step: jax.Array        # updates done


def init_td3_state(key, obs_dim: int, act_dim: int, config, critic_layer_norm: bool = False):
    """pi (`actor_hidden`, else `hidden`) and `n_critics` Q-networks, targets equal to them."""
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    k_actor, k_critic = jax.random.split(key)
    actor = make_state(DeterministicPolicy(config.actor_hidden or config.hidden, act_dim), k_actor,
                       config.actor_lr, obs)
    critic = make_state(QEnsemble(config.hidden, config.n_critics, layer_norm=critic_layer_norm),
                        k_critic, config.critic_lr, obs, act)
    return TD3State(actor, actor.params, critic, critic.params, jnp.zeros((), jnp.int32))


def act_by_actor(state, observations, config):
    """pi(s) (normalised observations in, actions in [-1, 1] out)."""
    del config
    return jnp.clip(state.actor.apply_fn(state.actor.params, observations), -1.0, 1.0)


def actor_policy_mlp(state, config):
    """`act_by_actor` as layers, for export: tanh(MLP(s)) (the clip changes nothing)."""
    del config
    return mlp_policy(state.actor.params["params"]["MLP_0"], "tanh")


def td3_step(state, batch, key, config, update_critic, update_actor):
    """TD3's schedule (Fujimoto et al. 2018): the critics every step, the actor every
    `actor_update_every`-th, pi^- and Q^- Polyak-averaged every `target_update_every`-th.
    `update_critic(state, batch, key, config)` and `update_actor(state, batch, do_update,
    config)` are the algorithm's own losses; the state has `actor`, `actor_target`,
    `critic`, `critic_target` and `step`."""
    step = state.step + 1
    critic, critic_metrics = update_critic(state, batch, key, config)
    state = state._replace(critic=critic)
    actor, actor_metrics = update_actor(state, batch, step % config.actor_update_every == 0,
                                        config)
    actor_target = polyak(step, config.target_update_every, actor.params, state.actor_target,
                          config.polyak)
    critic_target = polyak(step, config.target_update_every, critic.params,
                           state.critic_target, config.polyak)
    return (state._replace(actor=actor, actor_target=actor_target, critic_target=critic_target,
                           step=step), {**critic_metrics, **actor_metrics})
