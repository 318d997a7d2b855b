"""The Gaussian-mixture behaviour model (`nets.MixtureDensityNet`): fitting and reading it.

Equation numbers refer to the LOM paper (shared/paper/lom-paper.md):

  pi_rho(a | s) = sum_i alpha_i(s) N(a; mu_i(s), sigma_i(s))             (Eq. 2, 14)
  rho <- argmin -E_{(s, a) ~ D} [log pi_rho(a | s)]                      (Eq. 15)

The MDN baseline and LOM's behaviour phase both fit it with `fit_step`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from onemode.nets import Mixture, mixture_log_prob

# n_components=auto (onemode.components): the M it chooses among, its tolerance in nats
# of held-out NLL per action dimension, and each candidate's updates; chosen on the
# built-in tasks (experiments/2026-12-07-auto-m)
CANDIDATES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
TOLERANCE = 0.025
SELECTION_UPDATES = 4_000


def mixture_nll(mdn: TrainState, params, observations, actions):
    """-E[log pi_rho(a | s)], a log-sum-exp over the components (Eq. 15)."""
    return -mixture_log_prob(actions, mdn.apply_fn(params, observations)).mean()


def fit_step(mdn: TrainState, observations, actions):
    """One gradient step on Eq. 15; returns the model and its loss."""
    loss, grads = jax.value_and_grad(mixture_nll, argnums=1)(mdn, mdn.params, observations,
                                                              actions)
    return mdn.apply_gradients(grads=grads), loss


def holdout_nll(mdn: TrainState, holdout) -> dict:
    """The model's negative log-likelihood of held-out transitions."""
    return {"mdn_holdout_nll": mixture_nll(mdn, mdn.params, holdout.observations,
                                           holdout.actions)}


def component_mean(mixture: Mixture, component):
    """mu_u(s) for one component u per state: (..., M, A) means, (...) indices -> (..., A)."""
    return jnp.take_along_axis(mixture.means, component[..., None, None], axis=-2)[..., 0, :]


def most_probable_mean(mixture: Mixture):
    """mu_{u}(s) with u = argmax_i alpha_i(s): (..., M, A) means -> (..., A)."""
    return component_mean(mixture, jnp.argmax(mixture.logits, axis=-1))
