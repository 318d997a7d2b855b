"""M, the Gaussian mixture's number of components, chosen from the data (n_components=auto).

Every candidate M is fitted by maximum likelihood (Eq. 15) on the training episodes, all
candidates together: one network with max(M) components per candidate, vmapped, each
using only its first M components (the others' mixing logits masked out), every
candidate seeing the same minibatches. Each is then scored by its negative
log-likelihood of the held-out episodes, per transition.

The rule: the smallest M whose held-out NLL is within `tolerance` nats per action
dimension of the best. A mixture with more components never fits the training data
worse, and on held-out data its gain flattens once the components cover the data's
modes: more components then split a mode for a sliver of likelihood. The tolerance
says how much held-out likelihood a smaller M may give up; per action dimension, so
that it means the same on 2-dimensional and 6-dimensional actions.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

from onemode.algos.config import AlgoConfig
from onemode.data import Transitions, sample
from onemode.errors import ConfigError
from onemode.nets import Mixture, MixtureDensityNet, mixture_log_prob

__all__ = ["candidate_nll", "choose", "describe", "envelope", "resolve_components", "selection_key"]

MASKED = -1e9  # the mixing logit of a component a candidate does not have
# Candidates' components are no narrower than sigma = 0.1 (a twentieth of the action
# range): narrower ones buy likelihood from the noise's shape (actions piled at the
# bounds by clipping), not from modes; modes farther apart than ~0.2 still separate
MIN_LOG_STD = float(np.log(0.1))
# Their own optimiser: Adam at 3e-3 decaying to 0 (cosine), on 128 rows an update. Ten
# candidates x 4,000 updates x 128 rows cost what LOM's behaviour phase costs (20,000 x 256)
SELECTION_LR, SELECTION_BATCH = 3e-3, 128


def selection_key(seed: int) -> jax.Array:
    """The key of a run's choice of M: its first seed's, apart from its training keys."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), 0x4D)


def candidate_nll(train: Transitions, holdout: Transitions, act_dim: int,
                  candidates: tuple[int, ...], hidden: tuple[int, ...], updates: int, key,
                  tanh_means: bool = False, lr: float = SELECTION_LR,
                  batch_size: int = SELECTION_BATCH) -> np.ndarray:
    """Held-out NLL per transition of a mixture with each candidate number of components."""
    net = MixtureDensityNet(hidden, act_dim, max(candidates), tanh_means=tanh_means)
    masks = jnp.arange(max(candidates))[None, :] < jnp.asarray(candidates)[:, None]
    k_init, k_batches = jax.random.split(key)
    observation = jnp.zeros((1, train.observations.shape[-1]))
    # the learning rate decays to 0: each candidate ends near its optimum, not jittering
    # around it by more than the differences the rule compares (a cut M = 1 fit scored
    # several nats worse than its converged one)
    schedule = optax.cosine_decay_schedule(lr, updates)
    states = jax.vmap(lambda k: TrainState.create(
        apply_fn=net.apply, params=net.init(k, observation), tx=optax.adam(schedule)))(
        jax.random.split(k_init, len(candidates)))

    def nll(params, mask, observations, actions):
        mixture = net.apply(params, observations)
        logits = jnp.where(mask, mixture.logits, MASKED)
        log_stds = jnp.maximum(mixture.log_stds, MIN_LOG_STD)
        return -mixture_log_prob(actions, Mixture(logits, mixture.means, log_stds)).mean()

    def fit_step(states, key):
        batch = sample(train, key, batch_size)  # the same minibatch for every candidate

        def one(state, mask):
            grads = jax.grad(nll)(state.params, mask, batch.observations, batch.actions)
            return state.apply_gradients(grads=grads)

        return jax.vmap(one)(states, masks), None

    @jax.jit
    def fit_and_score(states):
        states, _ = jax.lax.scan(fit_step, states, jax.random.split(k_batches, updates))
        # one candidate at a time: the held-out set may be large
        return jax.lax.map(lambda pair: nll(pair[0], pair[1], holdout.observations,
                                            holdout.actions), (states.params, masks))

    return np.asarray(fit_and_score(states), np.float64)


def envelope(nll) -> np.ndarray:
    """The held-out NLL of the best mixture with at most each candidate's M (candidates in
    increasing order): M components can do whatever fewer do, so a candidate that fits
    worse than a smaller one failed to optimise, and counts at the smaller one's level."""
    return np.minimum.accumulate(np.asarray(nll, np.float64))


def choose(nll, candidates, tolerance: float, act_dim: int) -> int:
    """The smallest candidate whose held-out NLL is within tolerance * act_dim of the best."""
    threshold = float(np.min(nll)) + tolerance * act_dim
    return min(m for m, value in zip(candidates, envelope(nll)) if value <= threshold)


def resolve_components(config: AlgoConfig, train: Transitions, holdout: Transitions | None,
                       act_dim: int, seed: int) -> tuple[AlgoConfig, dict]:
    """`config` with n_components=auto replaced by the M chosen, and the metrics record of
    the choice (every candidate's held-out NLL)."""
    if holdout is None:
        raise ConfigError("n_components=auto chooses M by the likelihood of held-out episodes: "
                          "it needs holdout_fraction > 0 and enough complete episodes to hold "
                          "some out")
    candidates = tuple(sorted(set(config.candidate_components)))
    hidden = getattr(config, "mdn_hidden", ()) or config.hidden
    tic = time.perf_counter()
    nll = candidate_nll(train, holdout, act_dim, candidates, hidden, config.selection_updates,
                        selection_key(seed), getattr(config, "mdn_tanh_means", False))
    seconds = time.perf_counter() - tic
    if not np.all(np.isfinite(nll)):
        raise ConfigError(f"n_components=auto: a candidate's held-out NLL is not finite "
                          f"({dict(zip(candidates, nll.tolist()))}); give n_components a number")
    chosen = choose(nll, candidates, config.selection_tolerance, act_dim)
    record = {"step": 0, "phase": "select_components", "candidates": list(candidates),
              "holdout_nll": nll.tolist(), "n_components": chosen, "act_dim": act_dim,
              "tolerance": config.selection_tolerance, "seconds": seconds,
              "updates_per_s": len(candidates) * config.selection_updates / seconds}
    return config.replace(n_components=chosen), record


def describe(record: dict) -> str:
    """The choice in one line."""
    nll = dict(zip(record["candidates"], record["holdout_nll"]))
    best = min(nll, key=nll.get)
    return (f"n_components=auto: M = {record['n_components']} of {len(nll)} candidates "
            f"(held-out NLL {nll[record['n_components']]:.3f} nats, the best {nll[best]:.3f} at "
            f"M = {best}; tolerance {record['tolerance']:g} nats per action dimension)")
