"""Networks and the densities they parameterise.

Every Gaussian in onemode keeps its log standard deviation in [LOG_STD_MIN,
LOG_STD_MAX]: policies clip it (`clamp_log_std`), the mixture density network
squashes its output smoothly into the range (`squash_log_std`). The bound is
applied where the network produces sigma, so a sigma means the same thing
wherever it is sampled, scored or imitated.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

LOG_STD_MIN, LOG_STD_MAX = -5.0, 0.0  # actions live in [-1, 1]: sigma in [0.0067, 1]


def clamp_log_std(log_std: jax.Array) -> jax.Array:
    return jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX)


def squash_log_std(raw: jax.Array) -> jax.Array:
    """A network output mapped smoothly onto [LOG_STD_MIN, LOG_STD_MAX].

    The same range as `clamp_log_std`, but with a gradient everywhere: a mixture
    component whose raw output left the clip range could never come back, and
    one broad component at sigma = 1 then swallowed every mode (seen on the
    Fetch tasks). Raw 0 gives log sigma -2.5 (sigma 0.08): components start narrow.
    """
    return LOG_STD_MIN + (LOG_STD_MAX - LOG_STD_MIN) * jax.nn.sigmoid(raw)


def spread_bias(low: float, high: float, n_spread: int):
    """Bias initialiser: the first `n_spread` entries uniform in [low, high), the rest 0."""
    def init(key, shape, dtype=jnp.float32):
        spread = jax.random.uniform(key, (n_spread,), dtype, low, high)
        return jnp.zeros(shape, dtype).at[:n_spread].set(spread)
    return init


class MLP(nn.Module):
    """Dense layers with `activation` between them; `layer_norm` normalises each hidden
    layer after its activation (the critics of ReBRAC and FQL, as both authors' code:
    DT6A/ReBRAC src/networks.py, seohongpark/fql utils/networks.py)."""

    hidden: Sequence[int]
    out_dim: int
    out_bias_init: Callable = nn.initializers.zeros
    activation: Callable = nn.relu
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x):
        for width in self.hidden:
            x = self.activation(nn.Dense(width)(x))
            if self.layer_norm:
                x = nn.LayerNorm()(x)
        return nn.Dense(self.out_dim, bias_init=self.out_bias_init)(x)


def mlp_output_size(mlp_params) -> int:
    """The output width of an `MLP`'s parameters (its last Dense layer)."""
    last = max(mlp_params, key=lambda name: int(name.rsplit("_", 1)[1]))
    return mlp_params[last]["bias"].shape[-1]


class MlpPolicy(NamedTuple):
    """A deterministic policy as plain layers, for export (`onemode.export`).

    h = act(h W + b) through `hidden`, act = `activation` ("relu", or "gelu": flax's
    nn.gelu, the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))),
    out = h W + b, then `head`:
      "clip"      a = clip(out, -1, 1)
      "tanh"      a = tanh(out)
      "mixture"   out = [means (M x A, component-major) | logits (M)]:
                  a = clip(means[argmax logits], -1, 1)   (the first maximum on ties)
    """

    hidden: tuple      # ((W, b), ...) numpy arrays, W: (in, out)
    output: tuple      # (W, b)
    head: str
    n_components: int = 0   # M, for "mixture"
    activation: str = "relu"


MLP_HEADS = ("clip", "tanh", "mixture")
MLP_ACTIVATIONS = ("relu", "gelu")


def mlp_policy(mlp_params, head: str, input_rows: int | None = None,
               output_columns: Callable[[int], np.ndarray] | None = None,
               n_components: int = 0, activation: str = "relu") -> MlpPolicy:
    """An `MLP`'s parameters as an `MlpPolicy`.

    `input_rows` keeps the first rows of the first kernel (an input tail held at 0,
    such as a latent z = 0, drops out); `output_columns(n_outputs)` picks the outputs
    the head reads; `activation` names the MLP's hidden activation (`MLP_ACTIVATIONS`).
    """
    names = sorted(mlp_params, key=lambda name: int(name.rsplit("_", 1)[1]))
    layers = [(np.asarray(mlp_params[n]["kernel"], np.float32),
               np.asarray(mlp_params[n]["bias"], np.float32)) for n in names]
    if input_rows is not None:
        layers[0] = (layers[0][0][:input_rows], layers[0][1])
    kernel, bias = layers[-1]
    if output_columns is not None:
        columns = output_columns(kernel.shape[1])
        kernel, bias = kernel[:, columns], bias[columns]
    return MlpPolicy(tuple(layers[:-1]), (kernel, bias), head, n_components, activation)


# ----------------------------------------------------------------- densities
class Mixture(NamedTuple):
    """A diagonal Gaussian mixture per state: logits (..., M), means/log_stds (..., M, A)."""

    logits: jax.Array
    means: jax.Array
    log_stds: jax.Array


def gaussian_log_prob(x, mean, log_std):
    """log N(x; mean, diag(exp(log_std)^2)), summed over the last axis."""
    z = (x - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi), axis=-1)


def mixture_log_prob(x, mixture: Mixture):
    """log sum_i alpha_i N(x; mu_i, sigma_i) with a log-sum-exp (Eq. 2, 15)."""
    component = gaussian_log_prob(x[..., None, :], mixture.means, mixture.log_stds)
    return jax.nn.logsumexp(jax.nn.log_softmax(mixture.logits) + component, axis=-1)


def sample_gaussian(key, mean, log_std, sample_shape=()):
    noise = jax.random.normal(key, sample_shape + mean.shape)
    return mean + jnp.exp(log_std) * noise


# ------------------------------------------------------------------ networks
class MixtureDensityNet(nn.Module):
    """MDN behaviour policy (Eq. 14): state -> M diagonal Gaussians and mixing logits.

    Components start narrow (see `squash_log_std`) and at different places: the
    means' biases are spread uniformly over the action box [-1, 1]. Started equal,
    the components stay interchangeable, one takes all the weight, and the others,
    weighted ~0, get no gradient to move to the modes it leaves uncovered.
    `tanh_means` bounds the means in (-1, 1) with tanh, as the LOM authors' code does.
    """

    hidden: Sequence[int]
    act_dim: int
    n_components: int
    tanh_means: bool = False

    @nn.compact
    def __call__(self, observations) -> Mixture:
        m, a = self.n_components, self.act_dim
        out = MLP(self.hidden, m * (2 * a + 1), spread_bias(-1.0, 1.0, m * a))(observations)
        means = out[..., : m * a].reshape(out.shape[:-1] + (m, a))
        if self.tanh_means:
            means = jnp.tanh(means)
        log_stds = out[..., m * a: 2 * m * a].reshape(out.shape[:-1] + (m, a))
        return Mixture(out[..., 2 * m * a:], means, squash_log_std(log_stds))


class GaussianPolicy(nn.Module):
    """pi_theta: a state-dependent mean and a learned state-independent sigma."""

    hidden: Sequence[int]
    act_dim: int

    @nn.compact
    def __call__(self, observations):
        mean = MLP(self.hidden, self.act_dim)(observations)
        log_std = self.param("log_std", nn.initializers.zeros, (self.act_dim,))
        return mean, jnp.broadcast_to(clamp_log_std(log_std), mean.shape)


class QNetwork(nn.Module):
    hidden: Sequence[int]
    layer_norm: bool = False
    activation: Callable = nn.relu

    @nn.compact
    def __call__(self, observations, actions):
        x = jnp.concatenate([observations, actions], axis=-1)
        return MLP(self.hidden, 1, activation=self.activation, layer_norm=self.layer_norm)(x)[..., 0]


class QEnsemble(nn.Module):
    """n independent Q-networks evaluated together: output (n, ...)."""

    hidden: Sequence[int]
    n: int
    layer_norm: bool = False
    activation: Callable = nn.relu

    @nn.compact
    def __call__(self, observations, actions):
        ensemble = nn.vmap(QNetwork, variable_axes={"params": 0}, split_rngs={"params": True},
                           in_axes=None, out_axes=0, axis_size=self.n)
        return ensemble(self.hidden, self.layer_norm, self.activation)(observations, actions)


class ValueNet(nn.Module):
    """V(s): (..., obs_dim) -> (...)."""

    hidden: Sequence[int]

    @nn.compact
    def __call__(self, observations):
        return MLP(self.hidden, 1)(observations)[..., 0]


class DeterministicPolicy(nn.Module):
    """pi(s) = tanh(MLP(s)): a deterministic action in (-1, 1)."""

    hidden: Sequence[int]
    act_dim: int

    @nn.compact
    def __call__(self, observations):
        return jnp.tanh(MLP(self.hidden, self.act_dim)(observations))


class TanhGaussianPolicy(nn.Module):
    """SAC's policy: a = tanh(u), u ~ N(mu(s), sigma(s)^2); returns (mu, log sigma) of u.

    `log_std_max` lifts the upper clip of log sigma: online SAC explores with
    pre-tanh sigma up to e^2 (the usual [-5, 2]); offline users keep [-5, 0].
    """

    hidden: Sequence[int]
    act_dim: int
    log_std_max: float = LOG_STD_MAX

    @nn.compact
    def __call__(self, observations):
        out = MLP(self.hidden, 2 * self.act_dim)(observations)
        log_std = jnp.clip(out[..., self.act_dim:], LOG_STD_MIN, self.log_std_max)
        return out[..., :self.act_dim], log_std


def tanh_log_prob(pre_tanh, mean, log_std):
    """log density of a = tanh(u), u ~ N(mean, sigma^2): log N(u) - sum log(1 - tanh(u)^2).

    log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), stable for large |u|.
    """
    log_det = 2.0 * (math.log(2.0) - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh))
    return gaussian_log_prob(pre_tanh, mean, log_std) - log_det.sum(axis=-1)
