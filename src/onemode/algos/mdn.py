"""MDN: behaviour cloning with a Gaussian mixture (mixture density network, Bishop 1994).

Equation numbers refer to the LOM paper (shared/paper/lom-paper.md), whose
Section 5.1 fits the same model as LOM's behaviour policy:

  pi_rho(a | s) = sum_i alpha_i(s) N(a; mu_i(s), sigma_i(s))             (Eq. 2, 14)
  rho <- argmin -E_{(s, a) ~ D} [log pi_rho(a | s)]                      (Eq. 15)

Acting takes the mean of the most probable component, mu_{argmax_i alpha_i(s)}(s):
one mode's action rather than the average of all of them, but chosen by how
often the data takes it, not by its return (the MDN baseline of the LOM
paper's Table 2 and Figure 2c).
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from flax.training.train_state import TrainState

from onemode.algos import mixture
from onemode.algos.base import Phase
from onemode.algos.common import make_state
from onemode.algos.config import AlgoConfig
from onemode.algos.mixture import CANDIDATES, SELECTION_UPDATES, TOLERANCE
from onemode.nets import MixtureDensityNet, mlp_policy


@dataclasses.dataclass(frozen=True)
class Config(AlgoConfig):
    """MDN hyper-parameters: those of LOM's behaviour model, pi_rho.

    M = 10 components (LOM paper Section 6.3 / Figure 3: on the full-replay datasets
    performance rises up to M = 10 and no further; Table 3 defers M to that figure),
    hidden 512-512 (Table 3, pi_rho), batch 256 and Adam lr 1e-3 (`lom.Config.mdn_lr`,
    `lom.Config.batch_size`).
    """

    n_components: int | str = 10   # M, or "auto": chosen from the data (onemode.components)
    hidden: tuple[int, ...] = (512, 512)
    batch_size: int = 256
    mdn_lr: float = 1e-3
    candidate_components: tuple[int, ...] = CANDIDATES
    selection_tolerance: float = TOLERANCE
    selection_updates: int = SELECTION_UPDATES


class State(NamedTuple):
    mdn: TrainState        # pi_rho


def init(key, obs_dim: int, act_dim: int, config: Config) -> State:
    net = MixtureDensityNet(config.hidden, act_dim, config.n_components)
    return State(make_state(net, key, config.mdn_lr, jnp.zeros((1, obs_dim))))


def update(state: State, batch, key, config: Config):
    """Eq. 15: minimise -log pi_rho(a | s) (log-sum-exp over components) on dataset pairs."""
    del key, config
    mdn, loss = mixture.fit_step(state.mdn, batch.observations, batch.actions)
    return State(mdn), {"mdn_nll": loss}


def holdout_metrics(state: State, holdout) -> dict:
    return mixture.holdout_nll(state.mdn, holdout)


def phases(config: Config) -> tuple[Phase, ...]:
    return (Phase("main", None, partial(update, config=config), holdout_metrics),)


def act(state: State, observations, config: Config):
    """The most probable component's mean, clipped to [-1, 1] (observations normalised)."""
    del config
    return jnp.clip(mixture.most_probable_mean(state.mdn.apply_fn(state.mdn.params, observations)),
                    -1.0, 1.0)


def mode_report(state: State, observations, config: Config):
    """Per state: the mixture, and the component acting uses (the most probable)."""
    del config
    components = state.mdn.apply_fn(state.mdn.params, observations)
    return {"mixture": components, "best_mode": jnp.argmax(components.logits, axis=-1)}


def policy_mlp(state: State, config: Config):
    """`act` as layers, for export: the means and logits of the mixture, argmax, clip."""
    m = config.n_components

    def means_and_logits(n_outputs):   # outputs: [means M*A | log sigmas M*A | logits M]
        means = (n_outputs - m) // 2
        return np.concatenate([np.arange(means), np.arange(n_outputs - m, n_outputs)])

    return mlp_policy(state.mdn.params["params"]["MLP_0"], "mixture",
                      output_columns=means_and_logits, n_components=m)
