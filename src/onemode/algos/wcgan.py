"""WCGAN: advantage-weighted conditional GAN, a baseline of the LOM paper (App. C.1, Eq. 39).

A discriminator D(s, a) and a generator pi(s, z), z ~ N(0, I), play

  max_D min_pi  E_{(s,a)~D}[w(s,a) log D(s,a)] + E_{s~D, a'~pi(.|s)}[log(1 - D(s,a'))]   (Eq. 39)

  w(s,a) = exp_clip(A^{pi_b}(s,a) / beta),  clipped to (0, C]

For a fixed generator the best discriminator is D = w pi_b / (w pi_b + pi),
and against it the generator's optimum is pi(a|s) proportional to
w(s,a) pi_b(a|s): the behaviour policy reweighted toward high-advantage
actions, every mode kept. This weighting is GOPlan's prior policy (Wang et
al., 2024b).

Every step (one "main" phase):
  Q      <- SARSA TD on dataset transitions, Polyak target        (Q of pi_b)
  V      <- regression of V(s) onto Q(s, a), a from the data       (V = E_{a~pi_b} Q)
  A      =  Q(s, a) - V(s)                                         (advantage of pi_b)
  D      <- Eq. 39's max over D, as a loss:
            -E[w log D(s, a)] - E[log(1 - D(s, pi(s, z)))]
  pi     <- the non-saturating form of Eq. 39's min over pi:
            -E[log D(s, pi(s, z))] (same fixed point, no vanishing gradient
            while D wins; Goodfellow et al., 2014)

The behaviour critic (`BehaviourCritic`, `update_behaviour_critic`,
`behaviour_advantage`, `advantage_weights`) is shared with
`onemode.algos.wcvae`. The authors' code estimates the advantage instead as
r + gamma V(s') - V(s) with V fitted by TD(0); Q - V with V = E_{a~pi_b} Q is
the same quantity in expectation over s', with less variance from s'.

Acting is deterministic: pi(s, 0), the generator at the noise's mean (the
authors' WCGAN and GOPlan, github.com/MianchuWang/LOM agents/wcgan.py, act
this way), with the exponential moving average of the generator's weights;
or, with `act_candidates = K > 1`, the candidate of highest Q among z = 0
and K - 1 fixed draws of z.
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
from onemode.algos.common import (exp_clip_weight, make_state, polyak, q_value, sarsa_target,
                                  td_update)
from onemode.algos.config import AlgoConfig, check
from onemode.nets import MLP, QEnsemble

ACT_KEY = 0  # the fixed PRNG key of the K - 1 latent draws when acting by best-of-K


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """WCGAN hyper-parameters.

    The objective is the LOM paper's Eq. 39 (App. C.1) with GOPlan's weight
    w = exp_clip(A / beta) (Wang et al., 2024b). The paper states no
    hyper-parameters for its baselines, so: `beta`, `weight_clip`, `polyak`,
    `target_update_every` and `discount` are LOM's (Table 3), so that WCGAN
    weights advantages as LOM does; `noise_dim` (10), the learning rates
    (1e-4) and the widths (256) are the authors' (github.com/MianchuWang/LOM,
    agents/wcgan.py, networks/networks.py; that code weights by exp(2 A),
    clipped at 50).

    Two standard GAN stabilisers, not in the authors' code: Adam with
    beta1 = 0.5 (`adam_beta1`; Radford et al., 2016) and acting with an
    exponential moving average of the generator's weights (`generator_ema`;
    Yazici et al., 2019), which removes most of the step-to-step wander of
    pi(s, 0). Set them to 0.9 and 0 for the authors' variant.

    `normalize_weights` divides w by its minibatch mean. Eq. 39's optimum,
    pi proportional to w pi_b, is unchanged by a constant factor on w, and the
    division keeps the data and generated terms of D's loss on one scale, as
    the authors' code does by multiplying the generated term by the mean weight.
    """

    hidden: tuple[int, ...] = (256, 256)
    batch_size: int = 256
    discount: float = 0.99
    beta: float = 5.0                 # advantage temperature of w
    weight_clip: float = 50.0         # C
    normalize_weights: bool = True
    noise_dim: int = 10               # z ~ N(0, I_noise_dim)
    generator_lr: float = 1e-4
    discriminator_lr: float = 1e-4
    adam_beta1: float = 0.5           # of the generator's and discriminator's Adam
    generator_ema: float = 0.995      # acting and sampling use this average of pi's weights
    critic_lr: float = 3e-4           # Q and V
    polyak: float = 0.995             # rho
    target_update_every: int = 2
    act_candidates: int = 1           # 1: pi(s, 0); K > 1: best of K by Q

    def validate(self):
        check(len(self.hidden) >= 1 and min(self.hidden) >= 1,
              f"hidden needs positive widths, got {self.hidden}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(0 <= self.discount < 1, f"discount must be in [0, 1), got {self.discount}")
        check(self.beta > 0, f"beta must be > 0, got {self.beta}")
        check(self.weight_clip > 0, f"weight_clip (C) must be > 0, got {self.weight_clip}")
        check(self.noise_dim >= 1, f"noise_dim must be >= 1, got {self.noise_dim}")
        for name in ("generator_lr", "discriminator_lr", "critic_lr"):
            check(getattr(self, name) > 0, f"{name} must be > 0, got {getattr(self, name)}")
        check(0 <= self.generator_ema < 1,
              f"generator_ema must be in [0, 1), got {self.generator_ema}")
        check(0 <= self.adam_beta1 < 1, f"adam_beta1 must be in [0, 1), got {self.adam_beta1}")
        check(0 <= self.polyak < 1, f"polyak (rho) must be in [0, 1), got {self.polyak}")
        check(self.target_update_every >= 1,
              f"target_update_every must be >= 1, got {self.target_update_every}")
        check(self.act_candidates >= 1, f"act_candidates must be >= 1, got {self.act_candidates}")


# ====================================================== the behaviour critic
# Shared by WCGAN and WCVAE: the advantage A^{pi_b}(s, a) that weights Eq. 39 and 40.
class BehaviourCritic(NamedTuple):
    q: TrainState       # Q^{pi_b}(s, a), a one-member `QEnsemble`
    q_target: dict      # Q^-
    v: TrainState       # V^{pi_b}(s)


class ValueNet(nn.Module):
    hidden: tuple[int, ...]

    @nn.compact
    def __call__(self, observations):
        return MLP(self.hidden, 1)(observations)[..., 0]


def init_behaviour_critic(key, obs_dim: int, act_dim: int, hidden, lr: float) -> BehaviourCritic:
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    k_q, k_v = jax.random.split(key)
    q = make_state(QEnsemble(hidden, 1), k_q, lr, obs, act)
    return BehaviourCritic(q, q.params, make_state(ValueNet(hidden), k_v, lr, obs))


def update_behaviour_critic(critic: BehaviourCritic, batch, step, config):
    """One step of both regressions; `step` counts updates done, for the target's delay.

      Q(s, a) -> r + gamma (1 - d) Q^-(s', a'), a' the data's next action (SARSA)
      V(s)    -> Q(s, a), a the data's action: the minimiser is E_{a~pi_b(.|s)} Q(s, a)

    `config` gives discount, polyak and target_update_every.
    """
    target = sarsa_target(critic.q, critic.q_target, batch, config.discount)
    q, td_loss = td_update(critic.q, batch, target, batch.td_mask)
    q_data = jax.lax.stop_gradient(q_value(q, q.params, batch.observations, batch.actions))

    def value_loss(params):
        return jnp.mean((critic.v.apply_fn(params, batch.observations) - q_data) ** 2)

    v_loss, grads = jax.value_and_grad(value_loss)(critic.v.params)
    q_target = polyak(step + 1, config.target_update_every, q.params, critic.q_target,
                      config.polyak)
    return (BehaviourCritic(q, q_target, critic.v.apply_gradients(grads=grads)),
            {"td_loss": td_loss, "v_loss": v_loss, "q_mean": q_data.mean()})


def behaviour_advantage(critic: BehaviourCritic, observations, actions):
    """A^{pi_b}(s, a) = Q(s, a) - V(s)."""
    return (q_value(critic.q, critic.q.params, observations, actions)
            - critic.v.apply_fn(critic.v.params, observations))


def advantage_weights(critic: BehaviourCritic, batch, config):
    """w(s, a) = exp_clip(A^{pi_b}(s, a) / beta), then (optionally) over its batch mean."""
    advantage = behaviour_advantage(critic, batch.observations, batch.actions)
    weight = exp_clip_weight(advantage, config.beta, config.weight_clip)
    metrics = {"advantage": advantage.mean(), "weight_mean": weight.mean(),
               "weight_clipped_frac": jnp.mean(weight >= config.weight_clip)}
    if config.normalize_weights:  # (all weights underflowing to 0 leaves them 0, not NaN)
        weight = weight / jnp.maximum(weight.mean(), jnp.finfo(weight.dtype).tiny)
    return jax.lax.stop_gradient(weight), metrics


def best_by_q(critic: BehaviourCritic, observations, candidates):
    """The candidate (K, B, A) of highest Q(s, a) per state: (B, A)."""
    states = jnp.broadcast_to(observations, candidates.shape[:-1] + observations.shape[-1:])
    best = jnp.argmax(q_value(critic.q, critic.q.params, states, candidates), axis=0)
    return jnp.take_along_axis(candidates, best[None, :, None], axis=0)[0]


# ================================================================== WCGAN
class State(NamedTuple):
    critic: BehaviourCritic
    generator: TrainState      # pi(s, z)
    generator_ema: dict        # the exponential moving average of pi's parameters
    discriminator: TrainState  # D(s, a), as a logit
    step: jax.Array            # updates done


class Generator(nn.Module):
    """pi(s, z) = tanh(MLP([s, z])): an action in (-1, 1) for every noise z."""

    hidden: tuple[int, ...]
    act_dim: int

    @nn.compact
    def __call__(self, observations, noise):
        return jnp.tanh(MLP(self.hidden, self.act_dim)(jnp.concatenate([observations, noise], -1)))


class Discriminator(nn.Module):
    """logit D(s, a); D = sigmoid(logit)."""

    hidden: tuple[int, ...]

    @nn.compact
    def __call__(self, observations, actions):
        return MLP(self.hidden, 1)(jnp.concatenate([observations, actions], -1))[..., 0]


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    k_critic, k_gen, k_dis = jax.random.split(key, 3)
    generator = make_state(Generator(config.hidden, act_dim), k_gen, config.generator_lr, obs,
                           jnp.zeros((1, config.noise_dim)), b1=config.adam_beta1)
    return State(
        critic=init_behaviour_critic(k_critic, obs_dim, act_dim, config.hidden, config.critic_lr),
        generator=generator,
        generator_ema=generator.params,
        discriminator=make_state(Discriminator(config.hidden), k_dis, config.discriminator_lr,
                                 obs, act, b1=config.adam_beta1),
        step=jnp.zeros((), jnp.int32),
    )


def generate(generator: TrainState, params, observations, key, noise_dim: int, sample_shape=()):
    """a' = pi(s, z), z ~ N(0, I): shape sample_shape + observations' batch + (act_dim,)."""
    noise = jax.random.normal(key, sample_shape + observations.shape[:-1] + (noise_dim,))
    states = jnp.broadcast_to(observations, noise.shape[:-1] + observations.shape[-1:])
    return generator.apply_fn(params, states, noise)


def update_discriminator(state: State, observations, actions, weight, key, config: Config):
    """Eq. 39, the max over D, as a loss: -E[w log D(s, a)] - E[log(1 - D(s, a'))], a' ~ pi."""
    fake = jax.lax.stop_gradient(generate(state.generator, state.generator.params, observations,
                                          key, config.noise_dim))

    def loss_fn(params):
        real_logit = state.discriminator.apply_fn(params, observations, actions)
        fake_logit = state.discriminator.apply_fn(params, observations, fake)
        # log D = log_sigmoid(l), log(1 - D) = log_sigmoid(-l)
        return (-jnp.mean(weight * jax.nn.log_sigmoid(real_logit))
                - jnp.mean(jax.nn.log_sigmoid(-fake_logit))), (real_logit, fake_logit)

    (loss, (real_logit, fake_logit)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.discriminator.params)
    metrics = {"discriminator_loss": loss, "d_real": jax.nn.sigmoid(real_logit).mean(),
               "d_fake": jax.nn.sigmoid(fake_logit).mean()}
    return state.discriminator.apply_gradients(grads=grads), metrics


def update_generator(state: State, observations, key, config: Config):
    """Eq. 39, the min over pi, in its non-saturating form: -E[log D(s, pi(s, z))]."""

    def loss_fn(params):
        fake = generate(state.generator, params, observations, key, config.noise_dim)
        logit = state.discriminator.apply_fn(state.discriminator.params, observations, fake)
        return -jnp.mean(jax.nn.log_sigmoid(logit))

    loss, grads = jax.value_and_grad(loss_fn)(state.generator.params)
    return state.generator.apply_gradients(grads=grads), {"generator_loss": loss}


def update(state: State, batch, key, config: Config):
    """Behaviour critic, then one discriminator and one generator step on Eq. 39."""
    k_dis, k_gen = jax.random.split(key)
    critic, critic_metrics = update_behaviour_critic(state.critic, batch, state.step, config)
    state = state._replace(critic=critic)
    weight, weight_metrics = advantage_weights(critic, batch, config)
    discriminator, dis_metrics = update_discriminator(state, batch.observations, batch.actions,
                                                      weight, k_dis, config)
    state = state._replace(discriminator=discriminator)
    generator, gen_metrics = update_generator(state, batch.observations, k_gen, config)
    ema = optax.incremental_update(generator.params, state.generator_ema,
                                   1.0 - config.generator_ema)
    state = state._replace(generator=generator, generator_ema=ema, step=state.step + 1)
    return state, {**critic_metrics, **weight_metrics, **dis_metrics, **gen_metrics}


def phases(config: Config) -> tuple[Phase, ...]:
    return (Phase("main", None, partial(update, config=config)),)


def candidate_latents(k: int, batch_shape, dim: int):
    """(k, *batch_shape, dim): z = 0 first, then k - 1 fixed draws, the same for every state."""
    latents = jax.random.normal(jax.random.PRNGKey(ACT_KEY), (k,) + (1,) * len(batch_shape) + (dim,))
    return jnp.broadcast_to(latents.at[0].set(0.0), (k,) + tuple(batch_shape) + (dim,))


def candidates(state: State, observations, config: Config):
    """The acting candidates (K, B, A): pi(s, 0), then pi(s, z_k) for K - 1 fixed draws z_k."""
    k = config.act_candidates
    noise = candidate_latents(k, observations.shape[:-1], config.noise_dim)
    states = jnp.broadcast_to(observations, (k,) + observations.shape)
    return jnp.clip(state.generator.apply_fn(state.generator_ema, states, noise), -1.0, 1.0)


def act(state: State, observations, config: Config):
    """pi(s, 0), or the best of `act_candidates` by Q (observations normalised, in [-1, 1])."""
    actions = candidates(state, observations, config)
    if config.act_candidates > 1:
        return best_by_q(state.critic, observations, actions)
    return actions[0]


def sample_actions(state: State, observations, key, n_samples: int, config: Config):
    """n_samples draws of pi(.|s) per state, z ~ N(0, I): (n_samples, B, A)."""
    return generate(state.generator, state.generator_ema, observations, key, config.noise_dim,
                    (n_samples,))
