"""DMPO: Offline RL with Mixture of Deterministic Policies (Osa et al., TMLR 2023).

K deterministic sub-policies pi(s, z) share one network, conditioned on a one-hot
latent z; a posterior q(z | s, a) assigns each data action to a sub-policy; the
critics are TD3's. Every step:

  z*      = argmax_z min_i Q_i(s', pi^-(s', z))                 (the best sub-policy at s')
  a~'     = clip(pi^-(s', z*) + clip(eps, -c, c), -1, 1)        (TD3 target smoothing)
  Q_i     <- (Q_i(s, a) - (r + gamma (1 - d) min_i Q_i^-(s', a~')))^2
Every `actor_update_every`-th step:
  A       = min_i Q_i(s, a) - max_z min_i Q_i(s, pi^-(s, z))
  w       = exp(A~ / beta),  A~ = (A - max A) / (max A - min A) over the minibatch,
            divided by its minibatch mean (`normalize_weights`)
  z~      = softmax((log q(z | s, a) + g) / T),  g ~ Gumbel      (Gumbel-softmax)
  pi, q   <- mean w * (|pi(s, z~) - a|^2 + kl_weight KL(q(.|s, a) || p(.|s))),
            p(z|s) = softmax_z min_i Q_i(s, pi(s, z)), held constant
  pi^-, Q^- <- Polyak averages, on those steps
Acting: pi(s, z) of the sub-policy with the highest min_i Q_i(s, pi(s, z)).

The mutual-information regulariser (`info_regularizer`, off by default as in the
authors' code) keeps the sub-policies distinguishable: a second posterior
q_info(z | s, a) and the sub-policies take, before the step above, one step of
their own Adam (`info_lr`) on -log q_info(z | s, pi(s, z)), z uniform over the K.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

from onemode.algos.base import Phase
from onemode.algos.common import make_state, polyak
from onemode.algos.config import AlgoConfig, check
from onemode.errors import ConfigError
from onemode.algos.critics import bellman_target, q_value, smoothed, td_metrics, td_update
from onemode.nets import MLP, QEnsemble, mlp_output_size


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """DMPO hyper-parameters.

    Defaults are those of the authors' code (github.com/TakaOsa/DMPO,
    `main_training.py` and `DMPO.py`, run on D4RL MuJoCo with `--scale 10`):
    K = 8 sub-policies, 256-256 networks, Adam 3e-4 for every network, batch 256,
    discount 0.99, tau 0.005, TD3 target noise 0.2 clipped at 0.5, actor and targets
    every 2nd step, Gumbel-softmax temperature 0.67, KL weight 1. Their weight
    exp(scale (A - max A) / (max A - min A)) with scale 10 is `beta` = 1 / 10 here,
    beta being a temperature as everywhere in onemode. The code embeds the one-hot z
    through a layer of the observation's width before the sub-policy network, as here.
    The mutual-information regulariser (`--info-reg`, lr `--ilr` 5e-7) is
    `info_regularizer` and `info_lr`. Two details of the code differ here: its
    labels z come from randint(0, K - 1), which never draws the last sub-policy,
    and its cross-entropy takes q_info's probabilities as logits; onemode draws z
    from all K and scores log q_info.
    """

    hidden: tuple[int, ...] = (256, 256)
    batch_size: int = 256
    discount: float = 0.99
    n_subpolicies: int = 8        # K
    beta: float = 0.1             # temperature on the minibatch-normalised advantage
    normalize_weights: bool = True
    gumbel_temperature: float = 0.67
    kl_weight: float = 1.0
    actor_lr: float = 3e-4        # sub-policies and posterior, one Adam
    critic_lr: float = 3e-4
    n_critics: int = 2
    polyak: float = 0.995
    target_update_every: int = 2
    target_noise: float = 0.2
    target_noise_clip: float = 0.5
    actor_update_every: int = 2
    info_regularizer: bool = False
    info_lr: float = 5e-7         # sub-policies and q_info, their own Adam

    def validate(self):
        check(self.n_subpolicies >= 1, f"n_subpolicies must be >= 1, got {self.n_subpolicies}")
        check(self.gumbel_temperature > 0,
              f"gumbel_temperature must be > 0, got {self.gumbel_temperature}")


class SubPolicies(nn.Module):
    """pi(s, z) = tanh(MLP([s, relu(W z)])): K deterministic policies in one network."""

    hidden: tuple[int, ...]
    act_dim: int

    @nn.compact
    def __call__(self, observations, latents):
        embedded = nn.relu(nn.Dense(observations.shape[-1])(latents))
        return jnp.tanh(MLP(self.hidden, self.act_dim)(
            jnp.concatenate([observations, embedded], -1)))


class Posterior(nn.Module):
    """log q(z | s, a) over the K sub-policies."""

    hidden: tuple[int, ...]
    n_subpolicies: int

    @nn.compact
    def __call__(self, observations, actions):
        logits = MLP(self.hidden, self.n_subpolicies)(jnp.concatenate([observations, actions], -1))
        return jax.nn.log_softmax(logits)


class InfoRegularizer(NamedTuple):
    posterior: dict         # q_info(z | s, a)
    opt_state: tuple        # Adam over {"policies", "posterior"} at `info_lr`


class State(NamedTuple):
    actor: TrainState       # {"policies": pi(s, z), "posterior": q(z | s, a)}, one Adam
    actor_target: dict      # pi^- (the policies' parameters)
    critic: TrainState
    critic_target: dict
    info: InfoRegularizer | tuple   # () without the regulariser
    step: jax.Array


def _nets(config: Config, act_dim: int):
    return SubPolicies(config.hidden, act_dim), Posterior(config.hidden, config.n_subpolicies)


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    latent = jnp.zeros((1, config.n_subpolicies))
    k_policies, k_posterior, k_critic = jax.random.split(key, 3)
    policies, posterior = _nets(config, act_dim)
    params = {"policies": policies.init(k_policies, obs, latent),
              "posterior": posterior.init(k_posterior, obs, act)}
    actor = TrainState.create(apply_fn=None, params=params, tx=optax.adam(config.actor_lr))
    critic = make_state(QEnsemble(config.hidden, config.n_critics), k_critic, config.critic_lr,
                        obs, act)
    info = ()
    if config.info_regularizer:
        info_posterior = posterior.init(jax.random.fold_in(key, 1), obs, act)
        info = InfoRegularizer(info_posterior, optax.adam(config.info_lr).init(
            {"policies": params["policies"], "posterior": info_posterior}))
    return State(actor, params["policies"], critic, critic.params, info,
                 jnp.zeros((), jnp.int32))


# ------------------------------------------------------------------ pieces
def every_subpolicy(policy_params, observations, config: Config, act_dim: int):
    """pi(s, z) for every one-hot z: (K, B, A)."""
    policies, _ = _nets(config, act_dim)
    k = config.n_subpolicies
    latents = jnp.broadcast_to(jnp.eye(k)[:, None, :], (k,) + observations.shape[:-1] + (k,))
    states = jnp.broadcast_to(observations, (k,) + observations.shape)
    return policies.apply(policy_params, states, latents)


def subpolicy_values(critic: TrainState, critic_params, observations, actions):
    """min_i Q_i(s, pi(s, z)) for every z: (K, B)."""
    states = jnp.broadcast_to(observations, actions.shape[:-1] + observations.shape[-1:])
    return q_value(critic, critic_params, states, actions)


def best_subpolicy_action(critic, critic_params, policy_params, observations, config, act_dim):
    """The action of the sub-policy with the highest min-Q at each state: (B, A)."""
    actions = every_subpolicy(policy_params, observations, config, act_dim)
    best = jnp.argmax(subpolicy_values(critic, critic_params, observations, actions), axis=0)
    return jnp.take_along_axis(actions, best[None, :, None], axis=0)[0]


def advantage_weights(advantage, config: Config):
    """exp(A~ / beta) on the minibatch-normalised advantage, optionally mean-normalised."""
    spread = jnp.maximum(advantage.max() - advantage.min(), 1e-6)
    weights = jnp.exp((advantage - advantage.max()) / spread / config.beta)
    if config.normalize_weights:
        weights = weights / weights.mean()
    return jax.lax.stop_gradient(weights)


def update_critic(state: State, batch, key, config: Config):
    act_dim = batch.actions.shape[-1]
    next_actions = best_subpolicy_action(state.critic, state.critic.params, state.actor_target,
                                         batch.next_observations, config, act_dim)
    next_actions = smoothed(next_actions, key, config.target_noise, config.target_noise_clip)
    next_q = q_value(state.critic, state.critic_target, batch.next_observations, next_actions)
    target = bellman_target(batch, next_q, config.discount)
    critic, loss = td_update(state.critic, batch, target)
    return critic, td_metrics(target, loss)


def update_info(state: State, batch, key, config: Config):
    """One step of the sub-policies and q_info on -log q_info(z | s, pi(s, z)), z ~ U{1..K}."""
    act_dim = batch.actions.shape[-1]
    policies, posterior = _nets(config, act_dim)
    labels = jax.random.randint(key, batch.observations.shape[:1], 0, config.n_subpolicies)
    latents = jax.nn.one_hot(labels, config.n_subpolicies)

    def loss_fn(params):
        actions = policies.apply(params["policies"], batch.observations, latents)
        log_q = posterior.apply(params["posterior"], batch.observations, actions)
        return -jnp.mean(jnp.take_along_axis(log_q, labels[:, None], axis=-1))

    params = {"policies": state.actor.params["policies"], "posterior": state.info.posterior}
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = optax.adam(config.info_lr).update(grads, state.info.opt_state, params)
    params = optax.apply_updates(params, updates)
    actor = state.actor.replace(params=state.actor.params | {"policies": params["policies"]})
    return actor, InfoRegularizer(params["posterior"], opt_state), {"info_loss": loss}


def update_actor(state: State, batch, key, do_update, config: Config):
    act_dim = batch.actions.shape[-1]
    target_actions = every_subpolicy(state.actor_target, batch.observations, config, act_dim)
    baseline = subpolicy_values(state.critic, state.critic.params, batch.observations,
                                target_actions).max(axis=0)
    advantage = q_value(state.critic, state.critic.params, batch.observations,
                        batch.actions) - baseline
    weights = advantage_weights(advantage, config)
    policies, posterior = _nets(config, act_dim)
    # p(z|s) = softmax_z min_i Q_i(s, pi(s, z)), of the current sub-policies, held constant
    current = every_subpolicy(state.actor.params["policies"], batch.observations, config,
                              act_dim)
    log_prior = jax.nn.log_softmax(subpolicy_values(state.critic, state.critic.params,
                                                    batch.observations, current), axis=0).T

    def loss_fn(params):
        log_q = posterior.apply(params["posterior"], batch.observations, batch.actions)
        gumbel = jax.random.gumbel(key, log_q.shape)
        latents = jax.nn.softmax((log_q + gumbel) / config.gumbel_temperature)
        imitation = jnp.sum((policies.apply(params["policies"], batch.observations, latents)
                             - batch.actions) ** 2, axis=-1)
        kl = jnp.sum(jnp.exp(log_q) * (log_q - log_prior), axis=-1)
        loss = jnp.mean(weights * (imitation + config.kl_weight * kl))
        return loss, (imitation.mean(), kl.mean())

    (loss, (imitation, kl)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.actor.params)
    actor = jax.lax.cond(do_update, lambda: state.actor.apply_gradients(grads=grads),
                         lambda: state.actor)
    return actor, {"actor_loss": loss, "imitation": imitation, "posterior_kl": kl,
                   "advantage": advantage.mean(), "weight_max": weights.max()}


def update(state: State, batch, key, config: Config):
    """One DMPO step: critics every step; sub-policies, posterior (after the optional
    information step) every `actor_update_every`, the targets every `target_update_every`."""
    k_critic, k_actor = jax.random.split(key)
    step = state.step + 1
    do_actor = step % config.actor_update_every == 0
    critic, critic_metrics = update_critic(state, batch, k_critic, config)
    state = state._replace(critic=critic)
    info_metrics = {}
    if config.info_regularizer:
        actor, info, info_metrics = update_info(state, batch, jax.random.fold_in(key, 1),
                                                config)
        state = jax.lax.cond(do_actor, lambda: state._replace(actor=actor, info=info),
                             lambda: state)
    actor, actor_metrics = update_actor(state, batch, k_actor, do_actor, config)
    actor_target = polyak(step, config.target_update_every, actor.params["policies"],
                          state.actor_target, config.polyak)
    critic_target = polyak(step, config.target_update_every, critic.params, state.critic_target,
                           config.polyak)
    return (State(actor, actor_target, critic, critic_target, state.info, step),
            critic_metrics | actor_metrics | info_metrics)


def phases(config: Config) -> tuple[Phase, ...]:
    return (Phase("main", None, partial(update, config=config)),)


def act(state: State, observations, config: Config):
    """The action of the sub-policy with the highest min-Q (observations normalised)."""
    act_dim = mlp_output_size(state.actor.params["policies"]["params"]["MLP_0"])
    return best_subpolicy_action(state.critic, state.critic.params,
                                 state.actor.params["policies"], observations, config, act_dim)


def policy_mlp(state: State, config: Config):
    """DMPO acts by comparing its sub-policies with the critic: no single MLP."""
    raise ConfigError("dmpo acts by the sub-policy of highest Q, which compares all its "
                      "sub-policies with the critic: no single MLP to export")
