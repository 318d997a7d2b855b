"""A conditional VAE over actions: E(z|s,a), D(a|z,s), the prior N(0, I).

Used by the algorithms that model the behaviour policy through a latent
(WCVAE, LAPO). Each weights the evidence lower bound its own way.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.nets import MLP, clamp_log_std, gaussian_log_prob, mlp_output_size, sample_gaussian


def latent_size(latent_dim: int, act_dim: int) -> int:
    """The option `latent_dim`, or twice the action's dimensions where it is 0 (BCQ's rule)."""
    return latent_dim or 2 * act_dim


def latent_size_of(vae_params) -> int:
    """The latent size of a `ConditionalVAE`'s parameters."""
    return mlp_output_size(vae_params["params"]["encoder"]) // 2


def clamp_log_std_passing_gradient(log_std):
    """`clamp_log_std`'s value with the gradient of the identity.

    A hard clip has zero gradient outside its range, and the range's top, sigma = 1,
    is where the decoder's sigma starts and where the encoder's sigma meets the
    prior's: a log sigma pushed above it by one step would never come back, and a
    latent with sigma stuck at 1 carries nothing (posterior collapse).
    """
    return log_std + jax.lax.stop_gradient(clamp_log_std(log_std) - log_std)


class ConditionalVAE(nn.Module):
    """E(z|s,a) = N(mu_E(s,a), sigma_E(s,a)); D(a|z,s) = N(mu_D(z,s), sigma_D)."""

    hidden: tuple[int, ...]
    act_dim: int
    latent_dim: int
    decoder_std: float = 0.0  # 0: learned

    def setup(self):
        self.encoder = MLP(self.hidden, 2 * self.latent_dim)
        self.decoder = MLP(self.hidden, self.act_dim)
        if self.decoder_std == 0:
            self.decoder_log_std = self.param("decoder_log_std", nn.initializers.zeros,
                                              (self.act_dim,))

    def encode(self, observations, actions):
        out = self.encoder(jnp.concatenate([observations, actions], -1))
        return (out[..., : self.latent_dim],
                clamp_log_std_passing_gradient(out[..., self.latent_dim:]))

    def decode(self, latents, observations):
        mean = self.decoder(jnp.concatenate([observations, latents], -1))
        if self.decoder_std > 0:
            return mean, jnp.full_like(mean, math.log(self.decoder_std))
        return mean, jnp.broadcast_to(clamp_log_std_passing_gradient(self.decoder_log_std),
                                     mean.shape)

    def __call__(self, observations, actions):  # for `init`: touches every parameter
        mean, _ = self.encode(observations, actions)
        return self.decode(mean, observations)


def kl_to_unit_gaussian(mean, log_std):
    """KL(N(mean, diag(exp(log_std)^2)) || N(0, I)), summed over the last axis."""
    return 0.5 * jnp.sum(mean**2 + jnp.exp(2 * log_std) - 1.0 - 2 * log_std, axis=-1)


def negative_elbo(vae: TrainState, params, observations, actions, key):
    """Per pair: -log D(a|z,s) + KL(E(.|s,a) || N(0, I)), z ~ E(.|s,a) reparameterised."""
    z_mean, z_log_std = vae.apply_fn(params, observations, actions, method="encode")
    z = sample_gaussian(key, z_mean, z_log_std)
    a_mean, a_log_std = vae.apply_fn(params, z, observations, method="decode")
    reconstruction = -gaussian_log_prob(actions, a_mean, a_log_std)
    return reconstruction, kl_to_unit_gaussian(z_mean, z_log_std)
