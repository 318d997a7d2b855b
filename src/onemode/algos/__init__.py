"""Algorithms by name; each module fulfils the contract in `onemode.algos.base`."""

from __future__ import annotations

import importlib
from types import ModuleType

from onemode.algos.config import AlgoConfig
from onemode.errors import ConfigError

# name -> module; modules are imported when first asked for
ALGOS: dict[str, str] = {
    "lom": "onemode.algos.lom",
    "bc": "onemode.algos.bc",
    "mdn": "onemode.algos.mdn",
    "awac": "onemode.algos.awac",
    "onestep": "onemode.algos.onestep",
    "td3bc": "onemode.algos.td3bc",
    "iql": "onemode.algos.iql",
    "cql": "onemode.algos.cql",
    "wcgan": "onemode.algos.wcgan",
    "wcvae": "onemode.algos.wcvae",
    "dmpo": "onemode.algos.dmpo",
    "lapo": "onemode.algos.lapo",
    "rebrac": "onemode.algos.rebrac",
    "fql": "onemode.algos.fql",
}


def get_algo(name: str) -> ModuleType:
    if name not in ALGOS:
        raise ConfigError(f"unknown algorithm '{name}'; available: {', '.join(sorted(ALGOS))}")
    return importlib.import_module(ALGOS[name])


__all__ = ["ALGOS", "AlgoConfig", "ConfigError", "get_algo"]
