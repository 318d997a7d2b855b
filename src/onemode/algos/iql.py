"""IQL: Offline Reinforcement Learning with Implicit Q-Learning (Kostrikov, Nair and Levine, 2021).

IQL never queries Q at an action outside the data. V estimates an upper
expectile of Q over the dataset's actions, which approaches max_a Q as tau -> 1;
Q is fitted to r + gamma V(s'); the policy is extracted by advantage-weighted
regression.

Every step (one "main" phase), in the order of the authors' code:
  L_V(psi)   = E[ L_2^tau(Q^-(s, a) - V(s)) ],
               L_2^tau(u) = |tau - 1(u < 0)| u^2                     (Eq. 5)
  L_pi(phi)  = -E[ min(exp(beta (Q^-(s, a) - V(s))), C) log pi(a | s) ]  (Eq. 7)
  L_Q(theta) = E[ (r + gamma (1 - d) V(s') - Q_i(s, a))^2 ], both Q_i   (Eq. 6)
  Q^-        <- Polyak average of Q,  Q^- = min over the two target critics

Q's target needs a real s'. As in `onemode.algos.td3bc`, the TD loss runs over
`batch.td_mask` (terminal rows, and rows whose successor is in the same
episode): a row at a time limit may carry a derived, not real, s'. The paper's
code trains on D4RL's `qlearning_dataset`, which leaves those rows out too.
V and the policy need only (s, a) and use every row.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.algos.base import Phase
from onemode.algos.common import exp_clip_weight, make_state, polyak, q_value, td_update
from onemode.algos.config import AlgoConfig, check
from onemode.nets import MLP, GaussianPolicy, QEnsemble, gaussian_log_prob


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """IQL hyper-parameters.

    Defaults are the paper's for the D4RL locomotion tasks (Kostrikov et al.,
    2021, Appendix B, and the authors' code, github.com/ikostrikov/implicit_q_learning):
    expectile tau = 0.7 and inverse temperature beta = 3.0 (AntMaze uses 0.9
    and 10.0), exp-advantage weights clipped at 100, two hidden layers of 256,
    Adam with learning rate 3e-4 for V, Q and the policy, batch 256, discount
    0.99, target rate 0.005 (polyak = 1 - 0.005), twin Q with the minimum taken.

    Left out: the authors' cosine decay of the policy's learning rate and their
    rescaling of locomotion rewards by 1000 / (max return - min return);
    onemode's rewards reach the algorithm as the data gives them.
    """

    hidden: tuple[int, ...] = (256, 256)
    batch_size: int = 256
    discount: float = 0.99
    expectile: float = 0.7        # tau, Eq. 5
    beta: float = 3.0             # inverse temperature, Eq. 7
    weight_clip: float = 100.0    # C: exp(beta A) clipped from above
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    value_lr: float = 3e-4
    polyak: float = 0.995         # 1 - tau_target, tau_target = 0.005

    def validate(self):
        check(len(self.hidden) >= 1 and min(self.hidden) >= 1,
              f"hidden needs positive widths, got {self.hidden}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(0 <= self.discount < 1, f"discount must be in [0, 1), got {self.discount}")
        check(0 < self.expectile < 1, f"expectile (tau) must be in (0, 1), got {self.expectile}")
        check(self.beta > 0, f"beta must be > 0, got {self.beta}")
        check(self.weight_clip > 0, f"weight_clip must be > 0, got {self.weight_clip}")
        for name in ("actor_lr", "critic_lr", "value_lr"):
            check(getattr(self, name) > 0, f"{name} must be > 0, got {getattr(self, name)}")
        check(0 <= self.polyak < 1, f"polyak must be in [0, 1), got {self.polyak}")


class State(NamedTuple):
    value: TrainState      # V_psi
    critic: TrainState     # Q_theta: two critics
    critic_target: dict    # Q^-
    actor: TrainState      # pi_phi: Gaussian, state-independent sigma
    step: jax.Array        # updates done


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    k_value, k_critic, k_actor = jax.random.split(key, 3)
    critic = make_state(QEnsemble(config.hidden, 2), k_critic, config.critic_lr, obs, act)
    return State(
        value=make_state(MLP(config.hidden, 1), k_value, config.value_lr, obs),
        critic=critic,
        critic_target=critic.params,
        actor=make_state(GaussianPolicy(config.hidden, act_dim), k_actor, config.actor_lr, obs),
        step=jnp.zeros((), jnp.int32),
    )


def value_of(value: TrainState, params, observations):
    """V(s): (..., obs_dim) -> (...)."""
    return value.apply_fn(params, observations)[..., 0]


# ------------------------------------------------------------------ pieces
def expectile_loss(diff, expectile: float):
    """L_2^tau(u) = |tau - 1(u < 0)| u^2, elementwise (Eq. 5's asymmetric square)."""
    return jnp.abs(expectile - (diff < 0).astype(diff.dtype)) * diff**2


def update_value(state: State, batch, config: Config):
    """Eq. 5: V(s) -> the tau-expectile of Q^-(s, a) over the dataset's actions."""
    q = q_value(state.critic, state.critic_target, batch.observations, batch.actions)

    def loss_fn(params):
        return jnp.mean(expectile_loss(q - value_of(state.value, params, batch.observations),
                                       config.expectile))

    loss, grads = jax.value_and_grad(loss_fn)(state.value.params)
    return state.value.apply_gradients(grads=grads), {"value_loss": loss}


def update_actor(state: State, batch, config: Config):
    """Eq. 7: advantage-weighted regression, weights exp(beta A) clipped at C."""
    q = q_value(state.critic, state.critic_target, batch.observations, batch.actions)
    advantage = q - value_of(state.value, state.value.params, batch.observations)
    weight = exp_clip_weight(advantage, 1.0 / config.beta, config.weight_clip)  # exp(beta A)

    def loss_fn(params):
        mean, log_std = state.actor.apply_fn(params, batch.observations)
        return -jnp.mean(weight * gaussian_log_prob(batch.actions, mean, log_std))

    loss, grads = jax.value_and_grad(loss_fn)(state.actor.params)
    metrics = {"actor_loss": loss, "advantage": advantage.mean(), "weight_mean": weight.mean(),
               "weight_clipped_frac": jnp.mean(weight >= config.weight_clip)}
    return state.actor.apply_gradients(grads=grads), metrics


def update_critic(state: State, batch, config: Config):
    """Eq. 6: Q_i(s, a) -> r + gamma (1 - d) V(s'), over rows with a real s'."""
    next_v = value_of(state.value, state.value.params, batch.next_observations)
    target = batch.rewards + config.discount * (1.0 - batch.terminals) * next_v
    critic, loss = td_update(state.critic, batch, target, batch.td_mask)
    return critic, {"td_loss": loss, "q_target_mean": target.mean()}


def update(state: State, batch, key, config: Config):
    """One IQL step: V, then the policy and Q with the new V, then the target."""
    del key
    value, value_metrics = update_value(state, batch, config)
    state = state._replace(value=value)
    actor, actor_metrics = update_actor(state, batch, config)
    critic, critic_metrics = update_critic(state, batch, config)
    step = state.step + 1
    critic_target = polyak(step, 1, critic.params, state.critic_target, config.polyak)
    return (State(value, critic, critic_target, actor, step),
            {**value_metrics, **actor_metrics, **critic_metrics})


def phases(config: Config) -> tuple[Phase, ...]:
    return (Phase("main", None, partial(update, config=config)),)


def act(state: State, observations, config: Config):
    """The policy's mean action (normalised observations in, actions in [-1, 1] out)."""
    del config
    return jnp.clip(state.actor.apply_fn(state.actor.params, observations)[0], -1.0, 1.0)
