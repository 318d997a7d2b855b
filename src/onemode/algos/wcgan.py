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

The behaviour critic is `onemode.algos.behaviour_critic`, shared with WCVAE.
The authors' code estimates the advantage instead as
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
from onemode.algos.behaviour_critic import (BehaviourCritic, WeightedModelConfig,
                                            act_by_candidates, advantage_weights,
                                            candidate_latents, init_behaviour_critic,
                                            update_behaviour_critic, zero_latent_policy_mlp)
from onemode.algos.common import make_state
from onemode.algos.config import check
from onemode.nets import MLP


@dataclasses.dataclass(frozen=True)
class Config(WeightedModelConfig):
    """WCGAN hyper-parameters (the weight's and the critic's: `WeightedModelConfig`).

    The objective is the LOM paper's Eq. 39 (App. C.1) with GOPlan's weight
    w = exp_clip(A / beta) (Wang et al., 2024b). `noise_dim` (10) and the
    learning rates (1e-4) are the authors' (github.com/MianchuWang/LOM,
    agents/wcgan.py; that code weights by exp(2 A), clipped at 50).

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

    noise_dim: int = 10               # z ~ N(0, I_noise_dim)
    generator_lr: float = 1e-4
    discriminator_lr: float = 1e-4
    adam_beta1: float = 0.5           # of the generator's and discriminator's Adam
    generator_ema: float = 0.995      # acting and sampling use this average of pi's weights

    def validate(self):
        check(self.noise_dim >= 1, f"noise_dim must be >= 1, got {self.noise_dim}")
        check(0 <= self.generator_ema < 1,
              f"generator_ema must be in [0, 1), got {self.generator_ema}")
        check(0 <= self.adam_beta1 < 1, f"adam_beta1 must be in [0, 1), got {self.adam_beta1}")


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
        critic=init_behaviour_critic(k_critic, obs_dim, act_dim, config),
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


def candidates(state: State, observations, config: Config):
    """The acting candidates (K, B, A): pi(s, 0), then pi(s, z_k) for K - 1 fixed draws z_k."""
    k = config.act_candidates
    noise = candidate_latents(k, observations.shape[:-1], config.noise_dim)
    states = jnp.broadcast_to(observations, (k,) + observations.shape)
    return jnp.clip(state.generator.apply_fn(state.generator_ema, states, noise), -1.0, 1.0)


def act(state: State, observations, config: Config):
    """pi(s, 0), or the best of `act_candidates` by Q (observations normalised, in [-1, 1])."""
    return act_by_candidates(state.critic, observations, candidates(state, observations, config))


def sample_actions(state: State, observations, key, n_samples: int, config: Config):
    """n_samples draws of pi(.|s) per state, z ~ N(0, I): (n_samples, B, A)."""
    return generate(state.generator, state.generator_ema, observations, key, config.noise_dim,
                    (n_samples,))


def policy_mlp(state: State, config: Config):
    """`act` as layers, for export (refused with act_candidates > 1)."""
    return zero_latent_policy_mlp("wcgan", state.generator_ema["params"]["MLP_0"], "tanh", config.noise_dim,
                                  config.act_candidates)
