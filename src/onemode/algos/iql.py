"""IQL: Offline Reinforcement Learning with Implicit Q-Learning (Kostrikov, Nair and Levine, 2021).

IQL never queries Q at an action outside the data. V estimates an upper
expectile of Q over the dataset's actions, which approaches max_a Q as tau -> 1;
Q is fitted to r + gamma V(s'); the policy is extracted by advantage-weighted
regression.

Every step (one "main" phase), in the order of the authors' code:
  L_V(psi)   = E[ L_2^tau(Q^-(s, a) - V(s)) ],
               L_2^tau(u) = |tau - 1(u < 0)| u^2                     (Eq. 5)
  L_pi(phi)  = -E[ min(exp((Q^-(s, a) - V(s)) / beta), C) log pi(a | s) ]  (Eq. 7)
  L_Q(theta) = E[ (r + gamma (1 - d) V(s') - Q_i(s, a))^2 ], both Q_i   (Eq. 6)
  Q^-        <- Polyak average of Q,  Q^- = min over the two target critics

Q's target needs a real s': the TD loss runs over the rows where
`bellman_target` says it exists. V and the policy need only (s, a) and use
every row.

The paper writes Eq. 7's weight exp(beta' A) with an inverse temperature
beta' = 3; here `beta` is a temperature, exp(A / beta), as in every onemode
algorithm, so the paper's beta' = 3 is beta = 1/3.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.algos.base import Phase
from onemode.algos.common import exp_clip_weight, make_state, polyak, weight_metrics
from onemode.algos.config import AlgoConfig, check
from onemode.algos.critics import bellman_target, q_value, td_metrics, td_update
from onemode.algos.gaussian import act_by_actor_mean, actor_mean_policy_mlp, weighted_imitation
from onemode.nets import GaussianPolicy, QEnsemble, ValueNet


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """IQL hyper-parameters.

    Defaults are the paper's for the D4RL locomotion tasks (Kostrikov et al.,
    2021, Appendix B, and the authors' code, github.com/ikostrikov/implicit_q_learning):
    expectile tau = 0.7 and inverse temperature 3.0, i.e. `beta` = 1/3 (AntMaze
    uses 0.9 and 10.0, beta = 0.1), exp-advantage weights clipped at 100, two hidden layers of 256,
    Adam with learning rate 3e-4 for V, Q and the policy, batch 256, discount
    0.99, target rate 0.005 (polyak = 1 - 0.005), twin Q with the minimum taken.

    Left out: the authors' cosine decay of the policy's learning rate and their
    rescaling of locomotion rewards by 1000 / (max return - min return);
    onemode's rewards reach the algorithm as the data gives them.
    """

    hidden: tuple[int, ...] = (256, 256)
    actor_hidden: tuple[int, ...] = ()    # pi_theta's own widths; empty: `hidden`
    batch_size: int = 256
    discount: float = 0.99
    expectile: float = 0.7        # tau, Eq. 5
    beta: float = 1.0 / 3.0       # temperature of Eq. 7's weight, the paper's 1 / 3.0
    weight_clip: float = 100.0    # C: exp(A / beta) clipped from above
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    value_lr: float = 3e-4
    n_critics: int = 2
    polyak: float = 0.995         # 1 - tau_target, tau_target = 0.005
    target_update_every: int = 1

    def validate(self):
        check(0 < self.expectile < 1, f"expectile (tau) must be in (0, 1), got {self.expectile}")


class State(NamedTuple):
    value: TrainState      # V_psi
    critic: TrainState     # Q_theta: n_critics critics
    critic_target: dict    # Q^-
    actor: TrainState      # pi_phi: Gaussian, state-independent sigma
    step: jax.Array        # updates done


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    k_value, k_critic, k_actor = jax.random.split(key, 3)
    critic = make_state(QEnsemble(config.hidden, config.n_critics), k_critic, config.critic_lr,
                        obs, act)
    return State(
        value=make_state(ValueNet(config.hidden), k_value, config.value_lr, obs),
        critic=critic,
        critic_target=critic.params,
        actor=make_state(GaussianPolicy(config.actor_hidden or config.hidden, act_dim), k_actor,
                         config.actor_lr, obs),
        step=jnp.zeros((), jnp.int32),
    )


# ------------------------------------------------------------------ pieces
def expectile_loss(diff, expectile: float):
    """L_2^tau(u) = |tau - 1(u < 0)| u^2, elementwise (Eq. 5's asymmetric square)."""
    return jnp.abs(expectile - (diff < 0).astype(diff.dtype)) * diff**2


def update_value(state: State, batch, config: Config):
    """Eq. 5: V(s) -> the tau-expectile of Q^-(s, a) over the dataset's actions."""
    q = q_value(state.critic, state.critic_target, batch.observations, batch.actions)

    def loss_fn(params):
        return jnp.mean(expectile_loss(q - state.value.apply_fn(params, batch.observations),
                                       config.expectile))

    loss, grads = jax.value_and_grad(loss_fn)(state.value.params)
    return state.value.apply_gradients(grads=grads), {"value_loss": loss}


def update_actor(state: State, batch, config: Config):
    """Eq. 7: advantage-weighted regression, weights exp(A / beta) clipped at C."""
    q = q_value(state.critic, state.critic_target, batch.observations, batch.actions)
    advantage = q - state.value.apply_fn(state.value.params, batch.observations)
    weight = exp_clip_weight(advantage, config.beta, config.weight_clip)
    actor, loss = weighted_imitation(state.actor, batch.observations, batch.actions, weight)
    return actor, {"actor_loss": loss, **weight_metrics(advantage, weight, config.weight_clip)}


def update_critic(state: State, batch, config: Config):
    """Eq. 6: Q_i(s, a) -> r + gamma (1 - d) V(s'), over rows with a real s'."""
    next_v = state.value.apply_fn(state.value.params, batch.next_observations)
    target = bellman_target(batch, next_v, config.discount)
    critic, loss = td_update(state.critic, batch, target)
    return critic, td_metrics(target, loss)


def update(state: State, batch, key, config: Config):
    """One IQL step: V, then the policy and Q with the new V, then the target."""
    del key
    value, value_metrics = update_value(state, batch, config)
    state = state._replace(value=value)
    actor, actor_metrics = update_actor(state, batch, config)
    critic, critic_metrics = update_critic(state, batch, config)
    step = state.step + 1
    critic_target = polyak(step, config.target_update_every, critic.params, state.critic_target,
                           config.polyak)
    return (State(value, critic, critic_target, actor, step),
            {**value_metrics, **actor_metrics, **critic_metrics})


def phases(config: Config) -> tuple[Phase, ...]:
    return (Phase("main", None, partial(update, config=config)),)


# Acting and export: the policy's mean action (`algos.gaussian`).
act = act_by_actor_mean
policy_mlp = actor_mean_policy_mlp
