"""CQL: Conservative Q-Learning for Offline Reinforcement Learning (Kumar et al., 2020).

CQL(H) on soft actor-critic (Haarnoja et al., 2018), the variant of the
paper's D4RL experiments. The critic's loss adds to the Bellman error a
penalty that pushes Q down on actions the data does not take and up on those
it does (Eq. 4):

  L(Q_i) = alpha E_s[ log sum_a exp Q_i(s, a) - E_{a ~ data} Q_i(s, a) ]   (alpha:
           `conservative_weight`)
           + E[ (Q_i(s, a) - y)^2 ],
  y      = r + gamma (1 - d) min_j Q_j^-(s', a'),  a' ~ pi(.|s')

with no entropy term in y (the authors' `deterministic_backup`, which their
launcher describes as the backup of the paper's Eq. 3). log sum_a exp Q(s, a)
is estimated by importance sampling (Appendix F): n_actions uniform actions,
n_actions from pi(.|s) and n_actions from pi(.|s'), all scored at s, each term
weighted by its proposal's density:

  log sum_a exp Q(s, a) ~ logsumexp_k [Q(s, a_k) - log q_k(a_k)] - log(3 n_actions)

(the last constant, left out by the authors' code, changes no gradient).
The actor and the entropy temperature are SAC's:

  pi      <- E_s[ alpha_H log pi(a~|s) - min_i Q_i(s, a~) ],  a~ = tanh(mu + sigma eps)
  alpha_H <- -log alpha_H (log pi(a~|s) + H_target),  H_target = -act_dim

then Polyak targets. (The authors' code steps the actor before the critics,
both from the same networks; here the actor sees the updated critics, as in
the other baselines.) As in the other baselines, the Bellman error runs over
the rows where `bellman_target` says y exists; the penalty and the actor need
only s (and a real s' as a proposal; s stands in where there is none) and use
every row.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax.training.train_state import TrainState

from onemode.algos.base import Phase
from onemode.algos.common import make_state, polyak
from onemode.algos.config import AlgoConfig, check
from onemode.algos.critics import bellman_target, masked_mean, q_value
from onemode.algos.soft_actor import make_temperature, sample_tanh_actions, soft_actor_step
from onemode.nets import QEnsemble, TanhGaussianPolicy, mlp_policy


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """CQL(H) hyper-parameters.

    Defaults follow the paper's D4RL Gym setting (Kumar et al., 2020,
    Appendix F) and the authors' launcher `d4rl/examples/cql_mujoco_new.py`
    (github.com/aviralkumar2907/CQL): a fixed alpha = 5.0 (`conservative_weight`) (the launcher:
    "set to 5.0 or 10.0 if not using lagrange"; 10.0 is the other fixed value
    the authors use, the Lagrange variant with a threshold is not
    implemented), n_actions = 10 sampled actions per proposal, three hidden
    layers of 256 for actor and critics, critic learning rate 3e-4, policy
    learning rate 1e-4 (also the entropy temperature's), batch 256, discount
    0.99, target rate 0.005 (polyak = 1 - 0.005), twin critics, automatic
    entropy tuning towards -act_dim.

    Left out: the authors' optional behaviour-cloning warm start of the
    actor (`policy_eval_start`, which their code notes makes little difference).
    """

    hidden: tuple[int, ...] = (256, 256, 256)
    batch_size: int = 256
    discount: float = 0.99
    conservative_weight: float = 5.0   # alpha, the weight of the conservative penalty, Eq. 4
    n_actions: int = 10           # sampled actions per proposal (uniform, pi(s), pi(s'))
    actor_lr: float = 1e-4        # also the entropy temperature's
    critic_lr: float = 3e-4
    n_critics: int = 2
    polyak: float = 0.995         # 1 - tau, tau = 0.005
    target_update_every: int = 1
    init_log_entropy_temp: float = 0.0   # log alpha_H at the start (alpha_H = 1)

    def validate(self):
        check(self.conservative_weight >= 0,
              f"conservative_weight must be >= 0 (0: plain SAC), got {self.conservative_weight}")
        check(self.n_actions >= 1, f"n_actions must be >= 1, got {self.n_actions}")
        check(math.isfinite(self.init_log_entropy_temp),
              f"init_log_entropy_temp must be finite, got {self.init_log_entropy_temp}")


class State(NamedTuple):
    actor: TrainState          # tanh-squashed Gaussian pi
    critic: TrainState         # Q_1 ... Q_n
    critic_target: dict        # Q^-
    log_entropy_temp: TrainState   # log alpha_H, a scalar with its own Adam
    step: jax.Array            # updates done


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    k_actor, k_critic = jax.random.split(key)
    critic = make_state(QEnsemble(config.hidden, config.n_critics), k_critic, config.critic_lr,
                        obs, act)
    log_temp = make_temperature(config.init_log_entropy_temp, config.actor_lr)
    return State(
        actor=make_state(TanhGaussianPolicy(config.hidden, act_dim), k_actor, config.actor_lr, obs),
        critic=critic,
        critic_target=critic.params,
        log_entropy_temp=log_temp,
        step=jnp.zeros((), jnp.int32),
    )


# ------------------------------------------------------------------ pieces
def conservative_penalty(q_sampled, log_density, q_data, n_total: int):
    """Eq. 4's regulariser for every critic: logsumexp estimate minus Q on data actions.

    q_sampled (n_critics, K, B) at K sampled actions, log_density (K, B) their
    proposals' log densities, q_data (n_critics, B). Returns (n_critics,).
    """
    log_sum_exp = jax.nn.logsumexp(q_sampled - log_density, axis=1) - math.log(n_total)
    return (log_sum_exp - q_data).mean(axis=-1)


def update_critic(state: State, batch, key, config: Config):
    """Eq. 4: Bellman error plus alpha times the conservative penalty, per critic."""
    k_next, k_uniform, k_now, k_later = jax.random.split(key, 4)
    n, (batch_size, act_dim) = config.n_actions, batch.actions.shape

    # y = r + gamma (1 - d) min_j Q_j^-(s', a'), a' ~ pi(.|s'), no entropy term (Eq. 3)
    next_actions, _ = sample_tanh_actions(state.actor, state.actor.params,
                                          batch.next_observations, k_next)
    next_q = q_value(state.critic, state.critic_target, batch.next_observations, next_actions)
    target = bellman_target(batch, next_q, config.discount)

    # proposals for log sum_a exp Q(s, a): uniform on [-1, 1]^A, pi(.|s) and pi(.|s')
    uniform = jax.random.uniform(k_uniform, (n, batch_size, act_dim), minval=-1.0, maxval=1.0)
    uniform_log_density = jnp.full((n, batch_size), -act_dim * math.log(2.0))
    at_s, at_s_log_pi = sample_tanh_actions(state.actor, state.actor.params,
                                            batch.observations, k_now, (n,))
    real_next = jnp.where(batch.has_next_observation[:, None] > 0, batch.next_observations,
                          batch.observations)
    at_next, at_next_log_pi = sample_tanh_actions(state.actor, state.actor.params, real_next,
                                                  k_later, (n,))
    sampled = jnp.concatenate([uniform, at_s, at_next], axis=0)                 # (3n, B, A)
    log_density = jax.lax.stop_gradient(
        jnp.concatenate([uniform_log_density, at_s_log_pi, at_next_log_pi], axis=0))
    sampled = jax.lax.stop_gradient(sampled)
    states = jnp.broadcast_to(batch.observations,
                              sampled.shape[:-1] + batch.observations.shape[-1:])

    def loss_fn(params):
        q_data = state.critic.apply_fn(params, batch.observations, batch.actions)   # (n, B)
        bellman = masked_mean((q_data - target.values) ** 2, target.defined)
        penalty = conservative_penalty(state.critic.apply_fn(params, states, sampled),
                                       log_density, q_data, 3 * n)
        return (jnp.sum(bellman + config.conservative_weight * penalty),
                (bellman.mean(), penalty.mean()))

    (_, (bellman, penalty)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.critic.params)
    metrics = {"td_loss": bellman, "cql_penalty": penalty,
               "q_target_mean": masked_mean(target.values, target.defined)}
    return state.critic.apply_gradients(grads=grads), metrics


def update(state: State, batch, key, config: Config):
    """One CQL step: critics (with the current policy's samples), actor and temperature, targets."""
    k_critic, k_actor = jax.random.split(key)
    critic, critic_metrics = update_critic(state, batch, k_critic, config)
    actor, log_temp, actor_metrics = soft_actor_step(state.actor, critic, state.log_entropy_temp,
                                                     batch.observations, k_actor)
    step = state.step + 1
    critic_target = polyak(step, config.target_update_every, critic.params, state.critic_target,
                           config.polyak)
    return State(actor, critic, critic_target, log_temp, step), critic_metrics | actor_metrics


def phases(config: Config) -> tuple[Phase, ...]:
    return (Phase("main", None, partial(update, config=config)),)


def act(state: State, observations, config: Config):
    """tanh(mu(s)): the squashed Gaussian's deterministic action, in (-1, 1)."""
    del config
    return jnp.tanh(state.actor.apply_fn(state.actor.params, observations)[0])


def policy_mlp(state: State, config: Config):
    """`act` as layers, for export: tanh of the MLP's first half of outputs (the mean)."""
    del config
    return mlp_policy(state.actor.params["params"]["MLP_0"], "tanh",
                      output_columns=lambda n_outputs: np.arange(n_outputs // 2))
