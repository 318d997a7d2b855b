"""The contract every algorithm module fulfils for the training engine.

An algorithm module defines:
  Config                                 an `AlgoConfig` dataclass
  init(key, obs_dim, act_dim, config)    -> state (a pytree)
  phases(config)                         -> tuple of `Phase`, run in order
  act(state, observations, config)       -> deterministic actions in [-1, 1]

Each phase's `update(state, batch, key)` is a pure function of a minibatch of
`Transitions`; the engine samples batches, scans updates and vmaps seeds.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple


class Phase(NamedTuple):
    name: str
    steps: int | None  # None: the run's --steps
    update: Callable[[Any, Any, Any], tuple[Any, dict]]
    # metrics on held-out transitions (e.g. the behaviour model's NLL), or None
    holdout_metrics: Callable[[Any, Any], dict] | None = None
