"""LOM: Weighted Imitation Learning on One Mode (Wang, Jin and Montana, 2024).

Equation numbers refer to the paper (shared/paper/lom-paper.md).

Phase 1, "behaviour": fit the MDN pi_rho by maximum likelihood (Eq. 14-15).
Phase 2, "main", every step (Algorithm 1):
  Q_psi   <- SARSA TD on dataset transitions, Polyak target          (Eq. 16)
  Q_phi   <- E_{a ~ phi_u(.|s)} Q_psi(s, a) for every mode u         (Eq. 17)
  u*      =  argmax_u Q_phi(s, u);  a_hat ~ phi_u*(.|s)              (Eq. 7)
  pi_theta <- -exp_clip(A / beta) log pi_theta(a_hat | s),
              A = Q_psi(s, a_hat) - Q_psi(s, mu_u*(s))               (Eq. 18)

The authors' public code differs in several places; each difference is an
option of `Config`, off by default, so both variants run and compare. One
choice the paper leaves open: Eq. 7's argmax ranges over the modes the MDN
gives weight at s (`min_mode_weight`); see `greedy_mode`.

Acting: the paper acts by pi_theta. `act_by="greedy_mode"` acts by mu_u*(s), the mean
of the mode pi_theta imitates, itself; `act_by="critic_mode"` by the mean mu_u(s) that
Q_psi values most, argmax_u Q_psi(s, mu_u(s)), without the hyper-Q's fitting error
(training unchanged for both; benchmarks/README.md). `best_mode_by="critic"` trains
pi_theta on that same pick: Eq. 7's argmax over Q_psi(s, mu_u(s)) instead of Q_phi.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.algos.base import Phase
from onemode.algos.common import exp_clip_weight, make_state, polyak, weight_metrics
from onemode.algos.config import AlgoConfig, ConfigError, check, check_choice
from onemode.algos.critics import q_value, sarsa_target, td_metrics, td_update
from onemode.algos.gaussian import IMITATION_LOSSES, mean_action, mean_policy_mlp, weighted_imitation
from onemode.algos.mixture import component_mean, fit_step, holdout_nll
from onemode.nets import MLP, GaussianPolicy, Mixture, MixtureDensityNet, QEnsemble, sample_gaussian


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """LOM hyper-parameters; defaults from the paper's Table 3.

    Variants of the authors' public code (github.com/MianchuWang/LOM), each
    switchable alone: `hyper_q_input="one_hot"` (Q_phi(s, onehot(u)) -> scalar),
    `advantage_baseline="policy"` (A = Q(s, a_hat) - Q(s, pi_theta(s))),
    `policy_loss="weighted_mse"`, `target_noise=0.2` (TD3 target smoothing),
    `n_critics=2` (a Q ensemble, minimum taken), `imitation_noise=0.2`, `mdn_hidden`,
    `mdn_tanh_means=True`, `hyper_q_batch_size=1024`.
    The preset "authors" sets those their code runs on D4RL locomotion by default.
    """

    # agents/lom.py of the authors' code; their M, critics and imitation noise vary per
    # dataset (M 5 or 10) and stay this config's; their weight exp(5 A) is beta = 0.2 here.
    # Their sizes: 256-256 networks beside a 512-512 mixture, 1,024 states for Q_phi.
    PRESETS = {"authors": {
        "hyper_q_samples": 1, "hyper_q_input": "one_hot", "advantage_baseline": "policy",
        "policy_loss": "weighted_mse", "target_noise": 0.2, "actor_lr": 1e-3,
        "hyper_q_lr": 1e-3, "beta": 0.2, "min_mode_weight": 0.0, "hidden": (256, 256),
        "mdn_hidden": (512, 512), "mdn_tanh_means": True, "hyper_q_batch_size": 1024}}
    ACTING = ("act_by",)

    n_components: int = 10            # M
    hidden: tuple[int, ...] = (512, 512)
    # pi_theta's own widths (empty: `hidden`, the paper's). On walker2d a 256-256 actor
    # averages across the pick's switches between modes; a deeper one follows them
    # closer (benchmarks/README.md, "Where the actor parts from its teacher").
    actor_hidden: tuple[int, ...] = ()
    # pi_rho's own widths (empty: `hidden`); the authors' code: 512-512 beside 256-256 nets
    mdn_hidden: tuple[int, ...] = ()
    # the authors' code bounds pi_rho's means with tanh; the paper's Eq. 14 does not
    mdn_tanh_means: bool = False
    batch_size: int = 256
    # Q_phi's minibatch (Eq. 17), drawn with Q_psi's and pi_theta's: 0 takes `batch_size`;
    # the authors' code: 1,024 states a step, 256 for the critic and the actor
    hyper_q_batch_size: int = 0
    discount: float = 0.99
    beta: float = 5.0                 # advantage temperature, Eq. 18
    weight_clip: float = 50.0         # C, Eq. 18
    polyak: float = 0.995             # rho
    target_update_every: int = 2      # update_delay
    # I_M: the behaviour model's training, then frozen. Keep 20,000 on a CPU budget too:
    # with 5,000, LOM scored 49 on Fetch push instead of 92 (benchmarks/README.md).
    mdn_steps: int = 20_000
    mdn_lr: float = 1e-3
    critic_lr: float = 3e-4
    hyper_q_lr: float = 3e-4
    actor_lr: float = 3e-4
    # Monte-Carlo samples per mode in Eq. 17's target (the paper gives no number; the
    # authors' code takes 1). 10 rank the modes hardly better per update (about 1% of the
    # picks), at ~6x the cost of a LOM update (benchmarks/README.md, lom_hyper_q_samples.py).
    hyper_q_samples: int = 1
    hyper_q_input: str = "per_mode_outputs"   # or "one_hot"
    advantage_baseline: str = "mode_mean"     # or "policy"
    policy_loss: str = "log_likelihood"       # or "weighted_mse"
    target_noise: float = 0.0
    target_noise_clip: float = 0.5
    n_critics: int = 1
    imitation_noise: float = 0.0
    # Eq. 7 ranges over the modes the behaviour policy uses at s: a component with
    # alpha_u(s) below this carries no data there, and its Q_psi values are extrapolation.
    min_mode_weight: float = 0.05
    # "actor": pi_theta's mean (the paper). "greedy_mode": mu_u*(s) of Eq. 7 itself, which
    # the actor follows loosely early in training. "critic_mode": the eligible mu_u(s) with
    # the highest Q_psi(s, mu_u(s)); Q_phi picks Q_psi's best mode at only 51-61% of states
    # after 50,000 updates on walker2d (benchmarks/README.md).
    act_by: str = "actor"
    # Eq. 7's ranking in training: "hyper_q" (the paper), or "critic": Q_psi(s, mu_u(s)),
    # M critic evaluations a state; the hyper-Q still trains but nothing reads it. The actor
    # scored the same taught either way on hopper and walker2d (benchmarks/README.md).
    best_mode_by: str = "hyper_q"

    def validate(self):
        check(self.hyper_q_samples >= 1, "hyper_q_samples must be >= 1")
        check(self.hyper_q_batch_size >= 0,
              f"hyper_q_batch_size must be >= 0 (0: batch_size), got {self.hyper_q_batch_size}")
        check(self.imitation_noise >= 0,
              f"imitation_noise must be >= 0, got {self.imitation_noise}")
        check(0 <= self.min_mode_weight < 1, "min_mode_weight must be in [0, 1)")
        check_choice(self, "hyper_q_input", ("per_mode_outputs", "one_hot"))
        check_choice(self, "advantage_baseline", ("mode_mean", "policy"))
        check_choice(self, "policy_loss", IMITATION_LOSSES)
        check_choice(self, "act_by", ("actor", "greedy_mode", "critic_mode"))
        check_choice(self, "best_mode_by", ("hyper_q", "critic"))


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
                          config.target_noise, config.target_noise_clip)  # smoothing: authors'
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
    """Eq. 7: u* = argmax_u of the modes' values (Q_phi(s, u) in the paper; `mode_ranking`)
    over the eligible modes (`eligible_modes`)."""
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
    if config.imitation_noise > 0:  # authors' code
        imitated = imitated + config.imitation_noise * jax.random.normal(k_noise, imitated.shape)
    imitated = jnp.clip(imitated, -1.0, 1.0)

    if config.advantage_baseline == "policy":  # authors' code: Q(s, pi_theta(s))
        baseline_action = mean_action(state.actor, observations)
    else:                                       # the paper: Q(s, mu_u*(s))
        baseline_action = jnp.clip(mode_mean, -1.0, 1.0)
    q = partial(q_value, state.critic, state.critic.params, observations)
    advantage = q(imitated) - q(baseline_action)
    weight = exp_clip_weight(advantage, config.beta, config.weight_clip)  # exp_clip, (0, C]
    # -weight log pi_theta(a_hat | s); weighted_mse: the authors' code
    actor, loss = weighted_imitation(state.actor, observations, imitated, weight,
                                     config.policy_loss)
    return actor, {"actor_loss": loss, **weight_metrics(advantage, weight, config.weight_clip)}


def main_batch_size(config: Config) -> int:
    """Rows drawn per main update: the first `batch_size` train Q_psi and pi_theta, the
    first `hyper_q_batch_size` (if set) Q_phi."""
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

    ranking = mode_ranking(state, batch.observations, mixture, config.best_mode_by)
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
    mixture = state.mdn.apply_fn(state.mdn.params, observations)
    values = mode_ranking(state, observations, mixture, _ranked_by(config))
    best_mode = greedy_mode(values, mixture, config.min_mode_weight)
    return jnp.clip(component_mean(mixture, best_mode), -1.0, 1.0)


def mean_values(critic: TrainState, observations, mixture: Mixture):
    """Q_psi(s, mu_u(s)) for every mode u: (B, M)."""
    means = jnp.clip(mixture.means, -1.0, 1.0)
    states = jnp.broadcast_to(observations[..., None, :],
                              means.shape[:-1] + observations.shape[-1:])
    return q_value(critic, critic.params, states, means)


def _ranked_by(config: Config) -> str:
    """The ranking the policy follows: the critic's when acting by it, else training's."""
    return "critic" if config.act_by == "critic_mode" else config.best_mode_by


def mode_ranking(state: State, observations, mixture: Mixture, ranked_by: str):
    """The values Eq. 7's argmax ranks the modes by: Q_phi(s, u), or Q_psi(s, mu_u(s))."""
    if ranked_by == "critic":
        return mean_values(state.critic, observations, mixture)
    return state.hyper_q.apply_fn(state.hyper_q.params, observations)


# ------------------------------------------------------------- introspection
def mode_report(state: State, observations, config: Config):
    """Per state: the mixture, every mode's value as the policy ranks them (`_ranked_by`)
    and the greedy mode."""
    mixture = state.mdn.apply_fn(state.mdn.params, observations)
    values = mode_ranking(state, observations, mixture, _ranked_by(config))
    return {"mixture": mixture, "mode_values": values,
            "best_mode": greedy_mode(values, mixture, config.min_mode_weight)}


def policy_mlp(state: State, config: Config):
    """`act` as layers, for export: the Gaussian's mean MLP, clipped."""
    if config.act_by != "actor":
        raise ConfigError(f"lom with act_by={config.act_by} acts by comparing its behaviour "
                          "model's modes: no single MLP to export")
    return mean_policy_mlp(state.actor)
