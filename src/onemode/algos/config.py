"""Typed algorithm configs that serialise to JSON and reject what makes no sense."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Mapping


class ConfigError(ValueError):
    """An option that does not exist, or a value that makes no sense."""


@dataclasses.dataclass(frozen=True)
class AlgoConfig:
    """Base of every algorithm's config: `from_dict` / `to_dict` and validation.

    Subclasses list their options as typed fields and check their values in
    `validate`, raising `ConfigError` with the option's name.
    """

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:  # overridden by each algorithm
        pass

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown option '{unknown[0]}' for {cls.__name__}; "
                              f"known options: {', '.join(sorted(names))}")
        hints = typing.get_type_hints(cls)
        return cls(**{k: _coerce(k, v, hints[k]) for k, v in values.items()})

    def replace(self, **changes):
        return self.from_dict({**self.to_dict(), **changes})


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _coerce(name: str, value, hint):
    """Turn JSON / command-line values into the field's declared type."""
    try:
        if hint is bool and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
        if typing.get_origin(hint) is tuple:
            items = value.split(",") if isinstance(value, str) else value
            return tuple(int(v) for v in items)
        if hint in (int, float, str):
            if hint is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return hint(value)
        return value
    except (TypeError, ValueError) as error:
        raise ConfigError(f"option '{name}' expects {getattr(hint, '__name__', hint)}, "
                          f"got {value!r}") from error


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
