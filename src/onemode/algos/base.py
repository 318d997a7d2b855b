"""The contract every algorithm module fulfils, written once.

An algorithm module defines:
  Config                                 a frozen `AlgoConfig` dataclass of typed options;
                                         options shared with other algorithms keep the
                                         meaning `config.SHARED_OPTIONS` gives them
  State                                  a NamedTuple of the training state (a pytree of
                                         arrays: networks, optimisers, targets, counters)
  init(key, obs_dim, act_dim, config)    -> State
  phases(config)                         -> tuple of `Phase`, run in order; the last is
                                         "main", whose length is the run's --steps
  act(state, observations, config)       -> deterministic actions in [-1, 1], from
                                         normalised observations
and, optionally, introspection the figures use:
  mode_report(state, observations, config) -> {"mixture": nets.Mixture, "best_mode": (n,),
                                              ...}, for algorithms with a mixture model
and what `onemode export` needs:
  policy_mlp(state, config)              -> `nets.MlpPolicy`: `act` as one MLP and a
                                         head; raises `ConfigError` saying why where the
                                         policy is no single MLP

Each phase's `update(state, batch, key)` is a pure function of a minibatch of
`Transitions`, returning (state, metrics); the engine samples batches, scans
updates and vmaps seeds. Bellman targets come from `onemode.algos.critics`, so
every algorithm bootstraps only where the data has a real successor. An
algorithm module imports neutral modules (`common`, `critics`, `deterministic`, `gaussian`,
`mixture`, `behaviour_critic`, `nets`), never another algorithm.

`tests/test_contract.py` checks all of this for every name in `ALGOS`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

MAIN_PHASE = "main"


class Phase(NamedTuple):
    name: str
    steps: int | None  # None: the run's --steps
    update: Callable[[Any, Any, Any], tuple[Any, dict]]
    # metrics on held-out transitions (e.g. the behaviour model's NLL), or None
    holdout_metrics: Callable[[Any, Any], dict] | None = None
    # transitions in each minibatch of this phase; None: the config's `batch_size`
    batch_size: int | None = None
