"""OneStep RL (Brandfonbrener, Whitney, Ranganath and Bruna, 2021, "Offline RL Without
Off-Policy Evaluation", NeurIPS; arXiv:2106.08909).

One round of the paper's evaluate-then-improve template (one step, rather than
the iterative or multi-step variants it compares against), each stage trained
to completion before the next, as the authors' code runs it:

Phase 1, "behaviour": beta_hat <- argmax E_{(s, a) ~ D} [log beta_hat(a | s)]
          (behaviour cloning, a Gaussian); pi_theta starts as a copy of beta_hat.
Phase 2, "critic":    Q_hat^beta <- SARSA TD on dataset transitions,
          y = r + gamma (1 - d) Q^-(s', a'), a' the dataset's next action
          (on-policy evaluation of the behaviour policy: no off-policy evaluation).
Phase 3, "main":      one exponentially weighted improvement step, Q_hat and
          beta_hat frozen:
            pi_theta <- argmax E_{(s, a) ~ D} [exp(A(s, a) / beta) log pi_theta(a | s)],
            A(s, a) = Q_hat(s, a) - V(s),  V(s) = mean_k Q_hat(s, a_k),  a_k ~ beta_hat(.|s),
          weights clipped to (0, weight_clip].

The paper and the authors' code write the weight as exp(tau A); here
`beta` = 1 / tau, so that every advantage-weighted method in onemode (LOM,
AWAC, OneStep) reads exp(A / beta) and a bench's `beta` means the same to each.
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
from onemode.algos.config import AlgoConfig
from onemode.algos.critics import sampled_advantage, sarsa_target, td_metrics, td_update
from onemode.algos.gaussian import (act_by_actor_mean, actor_mean_policy_mlp,
                                   gaussian_nll, weighted_imitation)
from onemode.nets import GaussianPolicy, QEnsemble


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """OneStep hyper-parameters: the authors' released settings
    (github.com/davidbrandfonbrener/onestep-rl, config/), except `beta`.

    beta_hat, Q and pi: MLPs 1024-1024 (`width`, `depth`), Adam lr 1e-4, batch 512;
    500k behaviour-cloning steps, 2M SARSA steps, then 100k improvement steps (the
    run's --steps; `betasteps`, `qsteps`, `pisteps` of their README's one-step
    recipe); Q target: tau 0.005 every 2 steps (polyak 0.995), a single Q-network
    (`n_critics=2`, minimum taken, is their "double_sarsa" variant); V(s) from 10
    samples of beta_hat (their SampledValueBaseline); weights clipped at 100 (their
    `max_weight`); discount 0.99.

    `beta` (= 1 / tau): the paper tunes the temperature per dataset by a sweep and
    the released config file holds a placeholder; beta = 1 is our choice, the same
    temperature as AWAC's lambda. The authors' pi is a truncated Gaussian; here
    beta_hat and pi_theta are the same Gaussian policy as every onemode imitation.
    """

    hidden: tuple[int, ...] = (1024, 1024)
    batch_size: int = 512
    discount: float = 0.99
    beta: float = 1.0                 # 1 / tau, the advantage temperature
    weight_clip: float = 100.0        # exp(A / beta) clipped to (0, weight_clip]
    value_samples: int = 10           # a_k ~ beta_hat(.|s) averaged for V(s)
    polyak: float = 0.995
    target_update_every: int = 2
    n_critics: int = 1
    behaviour_steps: int = 500_000    # phase 1: fit beta_hat
    critic_steps: int = 2_000_000     # phase 2: SARSA Q of the behaviour policy
    behaviour_lr: float = 1e-4
    critic_lr: float = 1e-4
    actor_lr: float = 1e-4


class State(NamedTuple):
    behaviour: TrainState  # beta_hat, frozen after phase 1
    critic: TrainState     # Q_hat^beta, frozen after phase 2
    critic_target: dict    # Q^-
    actor: TrainState      # pi_theta
    step: jax.Array        # critic updates done (for the target schedule)


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    k_behaviour, k_critic, k_actor = jax.random.split(key, 3)
    policy = GaussianPolicy(config.hidden, act_dim)
    critic = make_state(QEnsemble(config.hidden, config.n_critics), k_critic, config.critic_lr,
                        obs, act)
    return State(
        behaviour=make_state(policy, k_behaviour, config.behaviour_lr, obs),
        critic=critic,
        critic_target=critic.params,
        actor=make_state(policy, k_actor, config.actor_lr, obs),
        step=jnp.zeros((), jnp.int32),
    )


# ------------------------------------------------ phase 1: behaviour cloning
def update_behaviour(state: State, batch, key, config: Config):
    """beta_hat <- maximum likelihood on dataset pairs; pi_theta follows it (its init)."""
    del key, config
    behaviour, loss = weighted_imitation(state.behaviour, batch.observations, batch.actions)
    # the improvement step starts from beta_hat, with a fresh optimiser (authors' code)
    actor = state.actor.replace(params=behaviour.params)
    return state._replace(behaviour=behaviour, actor=actor), {"behaviour_nll": loss}


def behaviour_holdout_metrics(state: State, holdout) -> dict:
    return {"behaviour_holdout_nll": gaussian_nll(state.behaviour, holdout.observations,
                                                  holdout.actions)}


# ---------------------------------------------- phase 2: SARSA Q of beta
def update_critic(state: State, batch, key, config: Config):
    """Q_hat(s, a) -> r + gamma (1 - d) Q^-(s', a'), a' the data's next action in the episode."""
    del key
    target = sarsa_target(state.critic, state.critic_target, batch, config.discount)
    critic, loss = td_update(state.critic, batch, target)
    step = state.step + 1
    critic_target = polyak(step, config.target_update_every, critic.params, state.critic_target,
                           config.polyak)
    return (state._replace(critic=critic, critic_target=critic_target, step=step),
            td_metrics(target, loss))


# --------------------------------------- phase 3: one step of improvement
def update_actor(state: State, batch, key, config: Config):
    """exp(A / beta)-weighted likelihood of dataset actions, A against V from beta_hat samples."""
    adv = sampled_advantage(state.critic, state.behaviour, batch.observations, batch.actions,
                            key, config.value_samples)
    weight = exp_clip_weight(adv, config.beta, config.weight_clip)
    actor, loss = weighted_imitation(state.actor, batch.observations, batch.actions, weight)
    return (state._replace(actor=actor),
            {"actor_loss": loss, **weight_metrics(adv, weight, config.weight_clip)})


def phases(config: Config) -> tuple[Phase, ...]:
    return (
        Phase("behaviour", config.behaviour_steps, partial(update_behaviour, config=config),
              behaviour_holdout_metrics),
        Phase("critic", config.critic_steps, partial(update_critic, config=config)),
        Phase("main", None, partial(update_actor, config=config)),
    )


# Acting and export: pi_theta's mean action (`algos.gaussian`).
act = act_by_actor_mean
policy_mlp = actor_mean_policy_mlp
