"""LOM: Weighted Imitation Learning on One Mode (Wang, Jin and Montana, 2024).

Equation numbers refer to the paper (shared/paper/lom-paper.md).

Phase 1, "behaviour": fit the MDN pi_rho by maximum likelihood (Eq. 14-15).
Phase 2, "main", every step (Algorithm 1):
  Q_psi   <- SARSA TD on dataset transitions, Polyak target          (Eq. 16)
  Q_phi   <- E_{a ~ phi_u(.|s)} Q_psi(s, a) for every mode u         (Eq. 17)
  u*      =  argmax_u Q_phi(s, u);  a_hat ~ phi_u*(.|s)              (Eq. 7)
  pi_theta <- -exp_clip(A / beta) log pi_theta(a_hat | s),
              A = Q_psi(s, a_hat) - Q_psi(s, mu_u*(s))               (Eq. 18)

Where the authors' public code differs, `lom_authors.py` holds the option (off by
default). The paper leaves open: Eq. 7's argmax over the modes the MDN weights at s
(`min_mode_weight`). Each default's evidence: docs/results.md, experiments/.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.algos import lom_authors
from onemode.algos.base import Phase
from onemode.algos.common import exp_clip_weight, make_state, polyak, weight_metrics
from onemode.algos.config import AlgoConfig, check, check_choice
from onemode.algos.critics import q_value, sarsa_target, td_metrics, td_update
from onemode.algos.gaussian import mean_action, mean_policy_mlp, weighted_imitation
from onemode.algos.mixture import (CANDIDATES, SELECTION_UPDATES, TOLERANCE, component_mean,
                                   fit_step, holdout_nll)
from onemode.errors import ConfigError
from onemode.nets import MLP, GaussianPolicy, Mixture, MixtureDensityNet, QEnsemble, sample_gaussian


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """LOM hyper-parameters; defaults from the paper's Table 3."""

    ACTING = ("act_by",)
    RETIRED = {"best_mode_by": ("hyper_q", "the actor learned the same taught by the critic's "
                                "pick (experiments/2026-11-27-actor-taught-by-critic)")}

    # ---- the paper
    n_components: int | str = 10      # M, or "auto" (onemode.components)
    candidate_components: tuple[int, ...] = CANDIDATES   # what "auto" chooses among, and how
    selection_tolerance: float = TOLERANCE
    selection_updates: int = SELECTION_UPDATES
    hidden: tuple[int, ...] = (512, 512)
    actor_hidden: tuple[int, ...] = ()   # pi_theta's own widths; empty: `hidden`
    batch_size: int = 256
    discount: float = 0.99
    beta: float = 5.0                 # advantage temperature, Eq. 18
    weight_clip: float = 50.0         # C, Eq. 18
    polyak: float = 0.995             # rho
    target_update_every: int = 2      # update_delay
    mdn_steps: int = 20_000           # I_M; 5,000 were too few on Fetch push
    mdn_lr: float = 1e-3
    critic_lr: float = 3e-4
    hyper_q_lr: float = 3e-4
    actor_lr: float = 3e-4
    # Monte-Carlo samples per mode in Eq. 17 (the paper gives none): 10 ranked the modes
    hyper_q_samples: int = 1          # hardly better than 1 at ~6x the cost of an update
    # Eq. 7 ranges over the modes with alpha_u(s) >= this: an empty component's Q-values
    # are extrapolation (with 0, LOM overshoots multigoal's goals)
    min_mode_weight: float = 0.05
    # acting: "actor", pi_theta's mean (the paper); "greedy_mode", mu_u*(s) itself;
    # "critic_mode", the eligible mu_u(s) with the highest Q_psi(s, mu_u(s))
    act_by: str = "actor"

    # ---- the authors' public code (lom_authors.py)
    mdn_hidden: tuple[int, ...] = ()
    mdn_tanh_means: bool = False
    hyper_q_batch_size: int = 0       # 0: batch_size
    hyper_q_input: str = "per_mode_outputs"   # or "one_hot"
    advantage_baseline: str = "mode_mean"     # or "policy"
    policy_loss: str = "log_likelihood"       # or "weighted_mse"
    target_noise: float = 0.0
    target_noise_clip: float = 0.5
    n_critics: int = 1
    imitation_noise: float = 0.0

    def validate(self):
        check(self.hyper_q_samples >= 1, "hyper_q_samples must be >= 1")
        check(0 <= self.min_mode_weight < 1, "min_mode_weight must be in [0, 1)")
        check_choice(self, "act_by", ("actor", "greedy_mode", "critic_mode"))
        lom_authors.validate(self)


class State(NamedTuple):
    mdn: TrainState        # pi_rho, frozen after the behaviour phase
    critic: TrainState     # Q_psi (an ensemble of n_critics)
    critic_target: dict    # Q_psi^-
    hyper_q: TrainState    # Q_phi
    actor: TrainState      # pi_theta
    step: jax.Array        # main-phase updates done


# ------------------------------------------------------------------ networks
class HyperQ(nn.Module):
    """Q_phi(s, .): one output per mode, or (one_hot) Q_phi(s, onehot(u)) per mode."""

    hidden: tuple[int, ...]
    n_modes: int
    one_hot: bool = False

    @nn.compact
    def __call__(self, observations):
        if not self.one_hot:
            return MLP(self.hidden, self.n_modes)(observations)
        m, batch_shape = self.n_modes, observations.shape[:-1]
        modes = jnp.broadcast_to(jnp.eye(m), batch_shape + (m, m))
        states = jnp.broadcast_to(observations[..., None, :], batch_shape + (m, observations.shape[-1]))
        return MLP(self.hidden, 1)(jnp.concatenate([states, modes], -1))[..., 0]


def _networks(act_dim: int, config: Config):
    return dict(
        mdn=MixtureDensityNet(config.mdn_hidden or config.hidden, act_dim, config.n_components,
                              tanh_means=config.mdn_tanh_means),
        critic=QEnsemble(config.hidden, config.n_critics),
        hyper_q=HyperQ(config.hidden, config.n_components,
                       one_hot=config.hyper_q_input == "one_hot"),
        actor=GaussianPolicy(config.actor_hidden or config.hidden, act_dim),
    )


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    nets = _networks(act_dim, config)
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    k_mdn, k_critic, k_hyper, k_actor = jax.random.split(key, 4)
    critic = make_state(nets["critic"], k_critic, config.critic_lr, obs, act)
    return State(
        mdn=make_state(nets["mdn"], k_mdn, config.mdn_lr, obs),
        critic=critic,
        critic_target=critic.params,
        hyper_q=make_state(nets["hyper_q"], k_hyper, config.hyper_q_lr, obs),
        actor=make_state(nets["actor"], k_actor, config.actor_lr, obs),
        step=jnp.zeros((), jnp.int32),
    )


# --------------------------------------------------- phase 1: behaviour policy
def update_behaviour(state: State, batch, key, config: Config):
    """Eq. 15: minimise -log pi_rho(a | s) over dataset pairs."""
    del key, config
    fitted, loss = fit_step(state.mdn, batch.observations, batch.actions)
    return state._replace(mdn=fitted), {"mdn_nll": loss}


def behaviour_holdout_metrics(state: State, holdout) -> dict:
    return holdout_nll(state.mdn, holdout)


# ------------------------------------------------------------ phase 2: LOM
def update_critic(state: State, batch, key, config: Config):
    """Eq. 16: SARSA TD, Q_psi(s, a) -> r + gamma Q_psi^-(s', a'), a' from the data."""
    target = sarsa_target(state.critic, state.critic_target, batch, config.discount, key,
                          config.target_noise, config.target_noise_clip)
    critic, loss = td_update(state.critic, batch, target)
    return critic, td_metrics(target, loss)


def mode_values(critic: TrainState, observations, mixture: Mixture, key, n_samples: int):
    """Monte-Carlo E_{a ~ phi_u(.|s)} Q_psi(s, a) for every mode u (Eq. 6): (B, M)."""
    actions = jnp.clip(sample_gaussian(key, mixture.means, mixture.log_stds, (n_samples,)),
                       -1.0, 1.0)                                   # (K, B, M, A)
    states = jnp.broadcast_to(observations[None, :, None, :],
                              actions.shape[:-1] + observations.shape[-1:])
    return q_value(critic, critic.params, states, actions).mean(axis=0)


def update_hyper_q(state: State, observations, targets):
    """Eq. 17: regress Q_phi(s, u) onto the mode values, u uniform over all M modes."""

    def loss_fn(params):
        return jnp.mean((state.hyper_q.apply_fn(params, observations) - targets) ** 2)

    loss, grads = jax.value_and_grad(loss_fn)(state.hyper_q.params)
    return state.hyper_q.apply_gradients(grads=grads), {"hyper_q_loss": loss}


def greedy_mode(values, mixture: Mixture, min_mode_weight: float):
    """Eq. 7: u* = argmax_u of the modes' values (Q_phi(s, u) in the paper) over the
    eligible modes (`eligible_modes`)."""
    eligible = eligible_modes(mixture, min_mode_weight)
    return jnp.argmax(jnp.where(eligible, values, -jnp.inf), axis=-1)


def eligible_modes(mixture: Mixture, min_mode_weight: float):
    """The modes with alpha_u(s) >= min_mode_weight, and the heaviest always (so every
    state has a u*): (..., M) booleans."""
    alpha = jax.nn.softmax(mixture.logits)
    return (alpha >= min_mode_weight) | (alpha == alpha.max(axis=-1, keepdims=True))


def update_actor(state: State, observations, mixture: Mixture, best_mode, key, config: Config):
    """Eq. 18: advantage-weighted imitation of actions sampled from the best mode."""
    k_sample, k_noise = jax.random.split(key)
    take = partial(jnp.take_along_axis, indices=best_mode[:, None, None], axis=1)
    mode_mean, mode_log_std = take(mixture.means)[:, 0], take(mixture.log_stds)[:, 0]
    imitated = sample_gaussian(k_sample, mode_mean, mode_log_std)          # a_hat ~ phi_u*
    imitated = jnp.clip(lom_authors.noisy_imitation(imitated, k_noise, config.imitation_noise),
                        -1.0, 1.0)
    baseline_action = lom_authors.advantage_baseline(state.actor, observations, mode_mean,
                                                     config.advantage_baseline)  # mu_u*(s)
    q = partial(q_value, state.critic, state.critic.params, observations)
    advantage = q(imitated) - q(baseline_action)
    weight = exp_clip_weight(advantage, config.beta, config.weight_clip)  # exp_clip, (0, C]
    # -weight log pi_theta(a_hat | s)
    actor, loss = weighted_imitation(state.actor, observations, imitated, weight,
                                     config.policy_loss)
    return actor, {"actor_loss": loss, **weight_metrics(advantage, weight, config.weight_clip)}


def main_batch_size(config: Config) -> int:
    """Rows drawn per main update: the first `batch_size` train Q_psi and pi_theta, the
    first `hyper_q_batch_size` (the authors' code, if set) Q_phi."""
    return max(config.batch_size, config.hyper_q_batch_size)


def update(state: State, batch, key, config: Config):
    """One step of Algorithm 1 (lines 6-20)."""
    k_critic, k_modes, k_actor = jax.random.split(key, 3)
    mixture = jax.lax.stop_gradient(state.mdn.apply_fn(state.mdn.params, batch.observations))
    hyper_observations, hyper_mixture = jax.tree.map(
        lambda rows: rows[:config.hyper_q_batch_size or config.batch_size],
        (batch.observations, mixture))
    batch, mixture = jax.tree.map(lambda rows: rows[:config.batch_size], (batch, mixture))
    critic, critic_metrics = update_critic(state, batch, k_critic, config)
    state = state._replace(critic=critic)

    targets = mode_values(state.critic, hyper_observations, hyper_mixture, k_modes,
                          config.hyper_q_samples)
    hyper_q, hyper_metrics = update_hyper_q(state, hyper_observations, targets)
    state = state._replace(hyper_q=hyper_q)

    ranking = state.hyper_q.apply_fn(state.hyper_q.params, batch.observations)   # Q_phi(s, .)
    best_mode = greedy_mode(ranking, mixture, config.min_mode_weight)
    actor, actor_metrics = update_actor(state, batch.observations, mixture, best_mode, k_actor,
                                        config)

    step = state.step + 1
    critic_target = polyak(step, config.target_update_every, critic.params, state.critic_target,
                           config.polyak)
    mode_frequency = jnp.bincount(best_mode, length=config.n_components) / best_mode.shape[0]
    metrics = {**critic_metrics, **hyper_metrics, **actor_metrics,
               "mode_frequency": mode_frequency}
    return State(state.mdn, critic, critic_target, hyper_q, actor, step), metrics


def phases(config: Config) -> tuple[Phase, ...]:
    return (
        Phase("behaviour", config.mdn_steps, partial(update_behaviour, config=config),
              behaviour_holdout_metrics),
        Phase("main", None, partial(update, config=config), batch_size=main_batch_size(config)),
    )


def act(state: State, observations, config: Config):
    """pi_theta's mean, or a mode's mean mu_u(s) (normalised observations in, actions in
    [-1, 1] out)."""
    if config.act_by == "actor":
        return mean_action(state.actor, observations)
    report = mode_report(state, observations, config)
    return jnp.clip(component_mean(report["mixture"], report["best_mode"]), -1.0, 1.0)


def mean_values(critic: TrainState, observations, mixture: Mixture):
    """Q_psi(s, mu_u(s)) for every mode u: (B, M)."""
    means = jnp.clip(mixture.means, -1.0, 1.0)
    states = jnp.broadcast_to(observations[..., None, :],
                              means.shape[:-1] + observations.shape[-1:])
    return q_value(critic, critic.params, states, means)


# ------------------------------------------------------------- introspection
def mode_report(state: State, observations, config: Config):
    """Per state: the mixture, every mode's value as the policy ranks them (Q_psi(s, mu_u(s))
    when acting by the critic's mode, else Q_phi(s, u)) and the greedy mode."""
    mixture = state.mdn.apply_fn(state.mdn.params, observations)
    if config.act_by == "critic_mode":
        values = mean_values(state.critic, observations, mixture)
    else:
        values = state.hyper_q.apply_fn(state.hyper_q.params, observations)
    return {"mixture": mixture, "mode_values": values,
            "best_mode": greedy_mode(values, mixture, config.min_mode_weight)}


def policy_mlp(state: State, config: Config):
    """`act` as layers, for export: the Gaussian's mean MLP, clipped."""
    if config.act_by != "actor":
        raise ConfigError(f"lom with act_by={config.act_by} acts by comparing its behaviour "
                          "model's modes: no single MLP to export")
    return mean_policy_mlp(state.actor)
