"""WCVAE: advantage-weighted conditional VAE, a baseline of the LOM paper (App. C.1, Eq. 40).

An encoder E(z|s,a), a decoder D(a|z,s) and the prior p(z|s) = N(0, I) maximise

  E_{(s,a)~D, z~E(.|s,a)}[w(s,a) log D(a|z,s) - w(s,a) KL(E(.|s,a) || p(.|s))]        (Eq. 40)

  w(s,a) = exp_clip(A^{pi_b}(s,a) / beta),  clipped to (0, C]

Eq. 40 is E_{pi_b}[w ELBO] = Z E_{w pi_b / Z}[ELBO]: maximum likelihood (through
its evidence lower bound) on the behaviour data reweighted by w, so the
model's marginal pi(a|s) = E_{z~p} D(a|z,s) fits w(s,a) pi_b(a|s), every mode
kept. This weighting is GOPlan's (Wang et al., 2024b).

Every step (one "main" phase):
  Q, V   <- the behaviour critic shared with WCGAN (`onemode.algos.behaviour_critic`):
            SARSA Q of pi_b, V(s) regressed onto Q(s, a) so V = E_{a~pi_b} Q
  A      =  Q(s, a) - V(s),  w = exp_clip(A / beta)
  E, D   <- -Eq. 40: E[w (-log D(a|z,s))] + E[w KL(E(.|s,a) || N(0, I))],
            one reparameterised z ~ E(.|s,a) per pair

E(z|s,a) and D(a|z,s) are diagonal Gaussians with MLP means; E's sigma is an
MLP output, D's sigma is fixed (`decoder_std`) or learned state-independent.

Acting is deterministic: the decoder's mean at the prior's mean, mu_D(0, s)
(the usual rule of VAE-based offline RL policies); or, with
`act_candidates = K > 1`, the decoded mean of highest Q among z = 0 and K - 1
fixed draws of z ~ N(0, I). (The authors' CVAE baseline,
github.com/MianchuWang/LOM agents/cvae.py, decodes a random z ~ N(0, I) at
every step, which is not deterministic.)
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
from onemode.algos.behaviour_critic import (BehaviourCritic, WeightedModelConfig,
                                            act_by_candidates, advantage_weights,
                                            candidate_latents, init_behaviour_critic,
                                            update_behaviour_critic, zero_latent_policy_mlp)
from onemode.algos.common import make_state
from onemode.algos.config import check
from onemode.algos.cvae import ConditionalVAE, latent_size, latent_size_of, negative_elbo
from onemode.nets import LOG_STD_MIN, sample_gaussian


@dataclasses.dataclass(frozen=True)
class Config(WeightedModelConfig):
    """WCVAE's own hyper-parameters; the weight's and the critic's are inherited.

    The latent: the authors' CVAE
    (github.com/MianchuWang/LOM) has 64 dimensions, BCQ's VAE (Fujimoto et al.,
    2019) 2 x act_dim; a dimension the data does not need costs nothing, the KL
    term returns it to the prior.

    `decoder_std` fixes D's sigma (the authors' CVAE, with its squared-error
    reconstruction, fixes it too). A learned sigma (`decoder_std=0`) lets the
    decoder explain several action modes as one wide Gaussian and ignore z
    (posterior collapse): on the `bandit` task it fits the four branches as one
    Gaussian, where a fixed sigma of 0.1 separates them.

    `normalize_weights` divides w by its minibatch mean: a constant factor on
    w leaves Eq. 40's optimum unchanged, and the step size then does not
    depend on the advantages' scale.
    """

    latent_dim: int = 8               # z ~ N(0, I_latent_dim); 0: twice the action's dims
    decoder_std: float = 0.1          # sigma of D(a|z,s); 0: learned (state-independent)
    vae_lr: float = 3e-4              # encoder and decoder

    def validate(self):
        check(self.decoder_std == 0 or math.exp(LOG_STD_MIN) <= self.decoder_std <= 1,
              f"decoder_std must be 0 (learned) or in [{math.exp(LOG_STD_MIN):.4f}, 1], "
              f"got {self.decoder_std}")


class State(NamedTuple):
    critic: BehaviourCritic
    vae: TrainState        # encoder E and decoder D
    step: jax.Array        # updates done


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    k_critic, k_vae = jax.random.split(key)
    return State(
        critic=init_behaviour_critic(k_critic, obs_dim, act_dim, config),
        vae=make_state(ConditionalVAE(config.hidden, act_dim,
                                      latent_size(config.latent_dim, act_dim), config.decoder_std),
                       k_vae, config.vae_lr, obs, act),
        step=jnp.zeros((), jnp.int32),
    )


def update_vae(state: State, batch, weight, key):
    """-Eq. 40: E[w (-log D(a|z,s)) + w KL(E(.|s,a) || p(.|s))]."""

    def loss_fn(params):
        reconstruction, kl = negative_elbo(state.vae, params, batch.observations, batch.actions,
                                           key)
        return jnp.mean(weight * (reconstruction + kl)), (reconstruction, kl)

    (loss, (reconstruction, kl)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.vae.params)
    metrics = {"vae_loss": loss, "reconstruction_nll": reconstruction.mean(), "kl": kl.mean()}
    return state.vae.apply_gradients(grads=grads), metrics


def update(state: State, batch, key, config: Config):
    """Behaviour critic, then one step on the weighted ELBO (Eq. 40)."""
    critic, critic_metrics = update_behaviour_critic(state.critic, batch, state.step, config)
    weight, weight_metrics = advantage_weights(critic, batch, config)
    vae, vae_metrics = update_vae(state._replace(critic=critic), batch, weight, key)
    return State(critic, vae, state.step + 1), {**critic_metrics, **weight_metrics, **vae_metrics}


def phases(config: Config) -> tuple[Phase, ...]:
    return (Phase("main", None, partial(update, config=config)),)


def decode_mean(state: State, latents, observations):
    """The decoder's mean action mu_D(z, s), broadcast over leading axes of `latents`."""
    states = jnp.broadcast_to(observations, latents.shape[:-1] + observations.shape[-1:])
    return state.vae.apply_fn(state.vae.params, latents, states, method="decode")[0]


def candidates(state: State, observations, config: Config):
    """The acting candidates (K, B, A): mu_D(0, s), then mu_D(z_k, s) for K - 1 fixed draws z_k."""
    latents = candidate_latents(config.act_candidates, observations.shape[:-1],
                                latent_size_of(state.vae.params))
    return jnp.clip(decode_mean(state, latents, observations), -1.0, 1.0)


def act(state: State, observations, config: Config):
    """mu_D(0, s), or the best of `act_candidates` decoded means by Q (actions in [-1, 1])."""
    return act_by_candidates(state.critic, observations, candidates(state, observations, config))


def sample_actions(state: State, observations, key, n_samples: int, config: Config):
    """n_samples draws of the model's pi(.|s): z ~ N(0, I), a ~ D(.|z, s): (n_samples, B, A)."""
    k_latent, k_action = jax.random.split(key)
    latents = jax.random.normal(k_latent, (n_samples,) + observations.shape[:-1]
                                + (latent_size_of(state.vae.params),))
    states = jnp.broadcast_to(observations, latents.shape[:-1] + observations.shape[-1:])
    mean, log_std = state.vae.apply_fn(state.vae.params, latents, states, method="decode")
    return jnp.clip(sample_gaussian(k_action, mean, log_std), -1.0, 1.0)


def policy_mlp(state: State, config: Config):
    """`act` as layers, for export (refused with act_candidates > 1)."""
    return zero_latent_policy_mlp("wcvae", state.vae.params["params"]["decoder"], "clip",
                                  latent_size_of(state.vae.params),
                                  config.act_candidates)
