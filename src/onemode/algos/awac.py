"""AWAC: Advantage-Weighted Actor-Critic (Nair, Gupta, Dalal and Levine, 2020,
"AWAC: Accelerating Online Reinforcement Learning with Offline Datasets", arXiv:2006.09359).

The offline part of the method (the same updates run online afterwards), every
step on a minibatch of dataset transitions:

  Q_phi    <- TD on off-policy data, the next action from the current policy:
              y = r + gamma (1 - d) min_j Q^-_j(s', a'),  a' ~ pi_theta(.|s')
  A(s, a)  =  Q_phi(s, a) - V(s),  V(s) = E_{a'' ~ pi_theta(.|s)} Q_phi(s, a'')
  pi_theta <- argmax E_{(s, a) ~ D} [exp(A(s, a) / lambda) log pi_theta(a | s)]

The last line projects the closed-form solution of the KL-constrained
improvement step, pi* ~ pi_beta exp(A / lambda), onto pi_theta by weighted
maximum likelihood of the dataset's own actions, so no behaviour model is
needed. The per-state normaliser Z(s) is dropped (the authors' code normalises
over the batch instead: `weight_normalisation="batch"`). V(s) is a Monte-Carlo
mean over `value_samples` actions from pi_theta: 1 sample by default, as in the
authors' code (rlkit AWACTrainer, vf_K = 1). Twin critics, minimum taken
(`n_critics=2`), Polyak-averaged targets.

Because every dataset action is imitated in proportion to exp(A / lambda) by a
single Gaussian, AWAC on multi-modal data weights the modes but still averages
what weight remains across them (LOM paper Figure 2d: mostly the best mode,
with out-of-distribution actions between modes).
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
from onemode.algos.config import AlgoConfig, check_choice
from onemode.algos.critics import bellman_target, q_value, sampled_advantage, td_metrics, td_update
from onemode.algos.gaussian import (act_by_actor_mean, actor_mean_policy_mlp,
                                   sample_actions, weighted_imitation)
from onemode.nets import GaussianPolicy, QEnsemble


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """AWAC hyper-parameters: the authors' MuJoCo settings (rlkit, examples/awac/mujoco/awac1.py).

    lambda = 1 (`beta`: the `beta` of the authors' AWACTrainer, its default and the
    example's base setting; the example's sweep runs 2); discount 0.99; Adam lr
    3e-4 for policy and Q; target rate 5e-3 every step (polyak 0.995); batch 1024;
    two Q-networks of 256-256. The authors' policy is 4 x 256 with a
    state-independent log-sigma clipped to [-6, 0]; here one `hidden` serves both
    networks and sigma is clamped as everywhere in onemode (`nets.clamp_log_std`).

    Not in the authors' settings: `weight_clip` caps exp(A / lambda) at 100 against
    overflow (the cap OneStep's code uses). The authors' code instead normalises
    the weights over the batch, B * softmax(A / lambda): `weight_normalisation="batch"`.
    Also not reproduced: the authors' policy weight decay 1e-4.
    """

    hidden: tuple[int, ...] = (256, 256)
    batch_size: int = 1024
    discount: float = 0.99
    beta: float = 1.0                 # lambda, the advantage temperature
    weight_clip: float = 100.0        # exp(A / lambda) clipped to (0, weight_clip]
    weight_normalisation: str = "none"   # or "batch": B * softmax_batch(A / lambda), authors' code
    polyak: float = 0.995             # 1 - tau, tau = 5e-3
    target_update_every: int = 1
    critic_lr: float = 3e-4
    actor_lr: float = 3e-4
    n_critics: int = 2                # twin Q, minimum taken
    value_samples: int = 1            # actions from pi_theta averaged for V(s)

    def validate(self):
        check_choice(self, "weight_normalisation", ("none", "batch"))


class State(NamedTuple):
    critic: TrainState     # Q_phi (an ensemble of n_critics)
    critic_target: dict    # Q_phi^-
    actor: TrainState      # pi_theta
    step: jax.Array


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    k_critic, k_actor = jax.random.split(key)
    critic = make_state(QEnsemble(config.hidden, config.n_critics), k_critic, config.critic_lr,
                        obs, act)
    actor = make_state(GaussianPolicy(config.hidden, act_dim), k_actor, config.actor_lr, obs)
    return State(critic, critic.params, actor, jnp.zeros((), jnp.int32))


def update_critic(state: State, batch, key, config: Config):
    """Off-policy TD: y = r + gamma (1 - d) min_j Q^-_j(s', a'), a' ~ pi_theta(.|s')."""
    next_actions = sample_actions(state.actor, key, batch.next_observations)
    next_q = q_value(state.critic, state.critic_target, batch.next_observations, next_actions)
    target = bellman_target(batch, next_q, config.discount)  # rows with a real s', or terminal
    critic, loss = td_update(state.critic, batch, target)
    return critic, td_metrics(target, loss)


def advantage_weights(adv, config: Config):
    """exp(A / lambda), clipped; or (authors' code) B * softmax over the batch."""
    if config.weight_normalisation == "batch":
        return adv.shape[0] * jax.nn.softmax(adv / config.beta)
    return exp_clip_weight(adv, config.beta, config.weight_clip)


def update(state: State, batch, key, config: Config):
    k_next, k_value = jax.random.split(key)
    critic, critic_metrics = update_critic(state, batch, k_next, config)

    adv = sampled_advantage(critic, state.actor, batch.observations, batch.actions, k_value,
                            config.value_samples)
    weight = advantage_weights(adv, config)
    actor, actor_loss = weighted_imitation(state.actor, batch.observations, batch.actions, weight)

    step = state.step + 1
    critic_target = polyak(step, config.target_update_every, critic.params, state.critic_target,
                           config.polyak)
    metrics = {**critic_metrics, "actor_loss": actor_loss, "weight_max": weight.max(),
               **weight_metrics(adv, weight, config.weight_clip)}
    return State(critic, critic_target, actor, step), metrics


def phases(config: Config) -> tuple[Phase, ...]:
    return (Phase("main", None, partial(update, config=config)),)


# Acting and export: the policy's mean action (`algos.gaussian`).
act = act_by_actor_mean
policy_mlp = actor_mean_policy_mlp
