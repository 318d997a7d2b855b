"""Where the LOM authors' public code (github.com/MianchuWang/LOM, agents/lom.py) departs
from the paper, as options of `lom.Config`, each off by default and switchable alone.

`lom.py` holds the paper's learning rule; it calls into this module at the few points
where an option changes it, so that the paper's path reads alone there. The per-dataset
settings of the authors' code are the preset file `presets/lom-authors.toml`.

  hyper_q_input="one_hot"        Q_phi(s, onehot(u)) -> one value, evaluated per mode,
                                 instead of one network output per mode
  advantage_baseline="policy"    A = Q_psi(s, a_hat) - Q_psi(s, pi_theta(s)),
                                 instead of Q_psi(s, mu_u*(s))
  policy_loss="weighted_mse"     w |pi_theta(s) - a_hat|^2 instead of -w log pi_theta(a_hat|s)
  target_noise=0.2               TD3's smoothing noise on Eq. 16's next action
  n_critics=K                    an ensemble of K critics, their minimum taken
  imitation_noise=0.2            Gaussian noise added to the imitated a_hat
  mdn_hidden, mdn_tanh_means     their behaviour model: 512-512 with tanh-bounded means
  hyper_q_batch_size=1024        Q_phi's own minibatch, drawn with the others' rows
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from onemode.algos.config import check, check_choice
from onemode.algos.gaussian import IMITATION_LOSSES, mean_action

__all__ = ["advantage_baseline", "noisy_imitation", "validate"]


def noisy_imitation(imitated, key, noise: float):
    """The authors' code adds N(0, noise^2) to the action it imitates."""
    if noise > 0:
        imitated = imitated + noise * jax.random.normal(key, imitated.shape)
    return imitated


def advantage_baseline(actor, observations, mode_mean, baseline: str):
    """The action Eq. 18's advantage subtracts the value of: mu_u*(s) (the paper), or
    pi_theta(s) (`policy`, the authors' code)."""
    if baseline == "policy":
        return mean_action(actor, observations)
    return jnp.clip(mode_mean, -1.0, 1.0)


def validate(config) -> None:
    check(config.hyper_q_batch_size >= 0,
          f"hyper_q_batch_size must be >= 0 (0: batch_size), got {config.hyper_q_batch_size}")
    check(config.imitation_noise >= 0, f"imitation_noise must be >= 0, got "
          f"{config.imitation_noise}")
    check_choice(config, "hyper_q_input", ("per_mode_outputs", "one_hot"))
    check_choice(config, "advantage_baseline", ("mode_mean", "policy"))
    check_choice(config, "policy_loss", IMITATION_LOSSES)
