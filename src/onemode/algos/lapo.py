"""LAPO: Latent-Variable Advantage-Weighted Policy Optimization (Chen et al., NeurIPS 2022).

A conditional VAE E(z|s,a), D(a|z,s) models the behaviour policy, its evidence
lower bound weighted by the sign of the advantage, so the decoder's latent
space covers the data's good actions; a deterministic latent policy
z = pi(s), bounded by tanh, picks the latent that the critic values most.
Every step:

  y_Q    = r + gamma (1 - d) V(s')                                   (V online)
  y_V    = min_i Q_i^-(s, D^-(s, pi^-(s) + clip(eps, -c, c)))        (latent noise)
  Q_i, V <- (Q_i(s, a) - y_Q)^2 + (V(s) - y_V)^2
  A      = r + gamma (1 - d) min_i Q_i^-(s', D^-(s', pi^-(s'))) - V(s)
  w      = positive_weight if A > 0 else 1 - positive_weight
  E, D   <- mean w (|D(s, z) - a|^2 + kl_weight KL(E(.|s, a) || N(0, I))),  z ~ E(.|s, a)
  pi     <- -Q_1(s, D^-(s, pi(s)))                        (through the target decoder)
  all targets <- Polyak averages
Acting: D^-(s, pi(s)), clipped to the action bounds.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.algos.base import Phase
from onemode.algos.common import make_state, polyak
from onemode.algos.config import AlgoConfig, check
from onemode.errors import ConfigError
from onemode.algos.critics import bellman_target, q_value, td_metrics, td_update
from onemode.algos.cvae import ConditionalVAE, latent_size, negative_elbo
from onemode.nets import DeterministicPolicy, QEnsemble, ValueNet

# D(a|z,s) with sigma^2 = 1/2: -log D = |a - mu_D|^2 + a constant, the code's squared error
DECODER_STD = math.sqrt(0.5)


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """LAPO hyper-parameters.

    Defaults are those the authors' code runs on D4RL locomotion
    (github.com/pcchenxi/LAPO-offlienRL, `main_d4rl.py` and `algos/algos_vae.py`):
    every network 256-256-256, Adam 2e-4 for the VAE, the latent policy and the
    critics, batch 512, discount 0.99, tau 0.005 on every target, each step; the
    latent has twice the action's dimensions (`latent_dim = 0`), the latent
    policy is bounded at 2, the V target's latent noise is N(0, 0.1^2) clipped at
    0.2; the weight is 0.9 where the advantage is positive and 0.1 elsewhere (the
    code's `--expectile 0.9`, which weights the VAE's loss and trains no
    expectile value), the KL weight 1.

    Where onemode differs from the code: observations are normalised as for
    every onemode algorithm, but actions are not z-scored (they stay in the
    data's [-1, 1]) and rewards are not divided by the data's largest reward,
    so the V target is not clipped to [r_min, r_max] / (1 - gamma) either (the
    update sees minibatches, not the dataset's range); the encoder's sigma is
    kept in onemode's [e^-5, 1]; time-limit rows without a real s' take the
    advantage Q^-(s, a) - V(s) instead of a bootstrapped one; and acting clips
    the decoded action to the bounds, where the code leaves it unclipped. The
    paper writes the weight as a function of the advantage; the code's binary
    weight is what runs.
    """

    hidden: tuple[int, ...] = (256, 256, 256)
    batch_size: int = 512
    discount: float = 0.99
    latent_dim: int = 0             # 0: twice the action's dimensions
    latent_bound: float = 2.0       # pi(s) = latent_bound tanh(.)
    positive_weight: float = 0.9    # w where A > 0; 1 - positive_weight elsewhere
    kl_weight: float = 1.0
    latent_noise: float = 0.1       # on pi^-(s) in the V target
    latent_noise_clip: float = 0.2
    vae_lr: float = 2e-4
    actor_lr: float = 2e-4          # the latent policy
    critic_lr: float = 2e-4
    value_lr: float = 2e-4
    n_critics: int = 2
    polyak: float = 0.995
    target_update_every: int = 1

    def validate(self):
        check(self.latent_bound > 0, f"latent_bound must be > 0, got {self.latent_bound}")
        check(0.5 <= self.positive_weight <= 1,
              f"positive_weight must be in [0.5, 1], got {self.positive_weight}")
        check(self.latent_noise >= 0, f"latent_noise must be >= 0, got {self.latent_noise}")
        check(self.latent_noise_clip >= 0,
              f"latent_noise_clip must be >= 0, got {self.latent_noise_clip}")


class State(NamedTuple):
    vae: TrainState          # encoder E and decoder D
    vae_target: dict         # D^- (and E^-, unused)
    latent_policy: TrainState
    latent_policy_target: dict
    critic: TrainState       # Q_1 .. Q_n
    critic_target: dict
    value: TrainState        # V(s)
    step: jax.Array


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    k_vae, k_policy, k_critic, k_value = jax.random.split(key, 4)
    latent_dim = latent_size(config.latent_dim, act_dim)
    vae = make_state(ConditionalVAE(config.hidden, act_dim, latent_dim, DECODER_STD), k_vae,
                     config.vae_lr, obs, act)
    latent_policy = make_state(DeterministicPolicy(config.hidden, latent_dim), k_policy,
                               config.actor_lr, obs)
    critic = make_state(QEnsemble(config.hidden, config.n_critics), k_critic, config.critic_lr,
                        obs, act)
    value = make_state(ValueNet(config.hidden), k_value, config.value_lr, obs)
    return State(vae, vae.params, latent_policy, latent_policy.params, critic, critic.params,
                 value, jnp.zeros((), jnp.int32))


# ------------------------------------------------------------------ pieces
def latent_action(state: State, policy_params, observations, config: Config):
    """z = latent_bound tanh(.) of the latent policy: (B, latent_dim)."""
    return config.latent_bound * state.latent_policy.apply_fn(policy_params, observations)


def decoded(state: State, observations, latents):
    """The target decoder's action D^-(s, z) (its mean; D is deterministic in the code)."""
    return state.vae.apply_fn(state.vae_target, latents, observations, method="decode")[0]


def target_policy_value(state: State, observations, config: Config, key=None):
    """min_i Q_i^-(s, D^-(s, pi^-(s) [+ clipped latent noise when `key` is given]))."""
    latents = latent_action(state, state.latent_policy_target, observations, config)
    if key is not None:
        noise = config.latent_noise * jax.random.normal(key, latents.shape)
        latents = latents + jnp.clip(noise, -config.latent_noise_clip, config.latent_noise_clip)
    return q_value(state.critic, state.critic_target, observations,
                   decoded(state, observations, latents))


def sign_weights(advantage, config: Config):
    """positive_weight where A > 0, 1 - positive_weight elsewhere."""
    return jnp.where(advantage > 0, config.positive_weight, 1.0 - config.positive_weight)


def update_critics(state: State, batch, key, config: Config):
    """Q onto r + gamma (1 - d) V(s'); V onto the target policy's noisy min-Q^-."""
    next_value = state.value.apply_fn(state.value.params, batch.next_observations)
    q_target = bellman_target(batch, next_value, config.discount)
    v_target = jax.lax.stop_gradient(target_policy_value(state, batch.observations, config, key))
    critic, td_loss = td_update(state.critic, batch, q_target)

    def value_loss(params):
        return jnp.mean((state.value.apply_fn(params, batch.observations) - v_target) ** 2)

    v_loss, grads = jax.value_and_grad(value_loss)(state.value.params)
    value = state.value.apply_gradients(grads=grads)
    return critic, value, td_metrics(q_target, td_loss) | {"value_loss": v_loss}


def advantage(state: State, batch, config: Config):
    """r + gamma (1 - d) min Q^-(s', D^-(s', pi^-(s'))) - V(s); Q^-(s, a) - V(s) on rows
    whose successor is no real state."""
    next_q = target_policy_value(state, batch.next_observations, config)
    target = bellman_target(batch, next_q, config.discount)
    data_q = q_value(state.critic, state.critic_target, batch.observations, batch.actions)
    value = state.value.apply_fn(state.value.params, batch.observations)
    return jax.lax.stop_gradient(jnp.where(target.defined > 0, target.values, data_q) - value)


def update_vae(state: State, batch, weights, key, config: Config):
    """The weighted ELBO: mean w (|D(s, z) - a|^2 + kl_weight KL), z ~ E(.|s, a)."""

    def loss_fn(params):
        reconstruction, kl = negative_elbo(state.vae, params, batch.observations, batch.actions,
                                           key)
        return jnp.mean(weights * (reconstruction + config.kl_weight * kl)), kl.mean()

    (loss, kl), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.vae.params)
    return state.vae.apply_gradients(grads=grads), {"vae_loss": loss, "kl": kl}


def update_latent_policy(state: State, batch, config: Config):
    """Climb Q_1(s, D^-(s, pi(s))): only the latent policy moves."""

    def loss_fn(params):
        latents = latent_action(state, params, batch.observations, config)
        actions = decoded(state, batch.observations, latents)
        return -jnp.mean(state.critic.apply_fn(state.critic.params, batch.observations,
                                               actions)[0])

    loss, grads = jax.value_and_grad(loss_fn)(state.latent_policy.params)
    return state.latent_policy.apply_gradients(grads=grads), {"actor_loss": loss}


def update(state: State, batch, key, config: Config):
    """One LAPO step: critics, the advantage's weights, the VAE, the latent policy, targets."""
    k_critic, k_vae = jax.random.split(key)
    step = state.step + 1
    critic, value, critic_metrics = update_critics(state, batch, k_critic, config)
    state = state._replace(critic=critic, value=value)
    adv = advantage(state, batch, config)
    weights = sign_weights(adv, config)
    vae, vae_metrics = update_vae(state, batch, weights, k_vae, config)
    latent_policy, policy_metrics = update_latent_policy(state, batch, config)

    def averaged(params, target):
        return polyak(step, config.target_update_every, params, target, config.polyak)

    state = State(vae, averaged(vae.params, state.vae_target), latent_policy,
                  averaged(latent_policy.params, state.latent_policy_target), critic,
                  averaged(critic.params, state.critic_target), value, step)
    return state, (critic_metrics | vae_metrics | policy_metrics
                   | {"advantage": adv.mean(), "positive_frac": jnp.mean(adv > 0)})


def phases(config: Config) -> tuple[Phase, ...]:
    return (Phase("main", None, partial(update, config=config)),)


def act(state: State, observations, config: Config):
    """D^-(s, pi(s)) clipped to [-1, 1] (observations normalised)."""
    latents = latent_action(state, state.latent_policy.params, observations, config)
    return jnp.clip(decoded(state, observations, latents), -1.0, 1.0)


def policy_mlp(state: State, config: Config):
    """LAPO acts through two networks: no single MLP."""
    raise ConfigError("lapo acts through two networks, the latent policy and the decoder "
                      "that takes the state again beside the latent: no single MLP to export")
