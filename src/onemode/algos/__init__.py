"""Algorithms by name; each module fulfils the contract in `onemode.algos.base`."""

from __future__ import annotations

from types import ModuleType

from onemode.algos import lom
from onemode.algos.config import AlgoConfig, ConfigError

ALGOS: dict[str, ModuleType] = {"lom": lom}


def get_algo(name: str) -> ModuleType:
    if name not in ALGOS:
        raise ConfigError(f"unknown algorithm '{name}'; available: {', '.join(sorted(ALGOS))}")
    return ALGOS[name]


__all__ = ["ALGOS", "AlgoConfig", "ConfigError", "get_algo"]
