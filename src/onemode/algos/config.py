"""Typed algorithm configs that serialise to JSON and reject what makes no sense.

An option that more than one algorithm has means the same thing in each: its
meaning and its check are declared once, in `SHARED_OPTIONS`, and every config
runs the check for each shared option it has. A config's own `validate` checks
only the options that are its alone.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Callable, ClassVar, Mapping, NamedTuple

from onemode.errors import ConfigError

AUTO = "auto"  # an option's value that the run resolves from the data before training


class SharedOption(NamedTuple):
    meaning: str
    valid: Callable[[Any], bool]
    expected: str


def _positive(value) -> bool:
    return value > 0


def _unit_interval(value) -> bool:
    return 0 <= value < 1


SHARED_OPTIONS: dict[str, SharedOption] = {
    "hidden": SharedOption("hidden-layer widths of every network of the algorithm that has no "
                           "widths of its own", lambda v: len(v) >= 1 and min(v) >= 1,
                           "at least one positive width"),
    "actor_hidden": SharedOption("hidden-layer widths of the policy network pi_theta; empty: "
                                 "`hidden`", lambda v: min(v, default=1) >= 1,
                                 "positive widths, or none to take `hidden`"),
    "mdn_hidden": SharedOption("hidden-layer widths of the behaviour model pi_rho; empty: "
                               "`hidden`", lambda v: min(v, default=1) >= 1,
                               "positive widths, or none to take `hidden`"),
    "batch_size": SharedOption("transitions per update", lambda v: v >= 1, ">= 1"),
    "discount": SharedOption("gamma of every Bellman target", _unit_interval, "in [0, 1)"),
    "beta": SharedOption("advantage temperature: actions weighted by exp(A / beta)", _positive,
                         "> 0"),
    "weight_clip": SharedOption("exp(A / beta) clipped to (0, weight_clip]", _positive, "> 0"),
    "polyak": SharedOption("target <- polyak target + (1 - polyak) online (1 - tau)",
                           _unit_interval, "in [0, 1)"),
    "target_update_every": SharedOption("updates between two Polyak steps of the targets",
                                        lambda v: v >= 1, ">= 1"),
    "n_critics": SharedOption("Q-networks in the critic ensemble, the minimum taken",
                              lambda v: v >= 1, ">= 1"),
    "n_components": SharedOption("M, the Gaussian mixture's components; auto: chosen from the "
                                 "data by held-out likelihood before training "
                                 "(onemode.components)",
                                 lambda v: v == AUTO or (isinstance(v, int) and v >= 1),
                                 "an integer >= 1 or auto"),
    "candidate_components": SharedOption("the M that n_components=auto chooses among",
                                         lambda v: len(v) >= 1 and min(v) >= 1,
                                         "at least one integer >= 1"),
    "selection_tolerance": SharedOption("n_components=auto takes the smallest M whose held-out "
                                        "NLL is within this many nats per action dimension "
                                        "of the best", lambda v: v >= 0, ">= 0"),
    "selection_updates": SharedOption("updates of each candidate's fit when n_components=auto "
                                      "chooses M", lambda v: v >= 1, ">= 1"),
    "target_noise": SharedOption("sigma of TD3's smoothing noise on the target's next action",
                                 lambda v: v >= 0, ">= 0"),
    "target_noise_clip": SharedOption("that noise clipped to [-c, c]", lambda v: v >= 0, ">= 0"),
    "normalize_weights": SharedOption("divide the advantage weights by their minibatch mean",
                                      lambda v: isinstance(v, bool), "true or false"),
    "value_samples": SharedOption("actions sampled to estimate V(s) = E_a Q(s, a)",
                                  lambda v: v >= 1, ">= 1"),
    "actor_update_every": SharedOption("critic updates per actor update (TD3's delay)",
                                       lambda v: v >= 1, ">= 1"),
    "latent_dim": SharedOption("dimensions of the latent z of a conditional VAE (0: twice the "
                               "action's)", lambda v: v >= 0, ">= 0"),
    "kl_weight": SharedOption("weight of the KL term of a latent model's loss", lambda v: v >= 0,
                              ">= 0"),
    "actor_bc_weight": SharedOption("weight of the actor's squared distance to the behaviour's "
                                    "action (the data's, or a behaviour model's), beside -Q",
                                    lambda v: v >= 0, ">= 0"),
    "critic_bc_weight": SharedOption("weight of the squared distance between the target's next "
                                     "action and the data's, subtracted inside the Bellman "
                                     "target", lambda v: v >= 0, ">= 0"),
    "critic_layer_norm": SharedOption("LayerNorm after each hidden activation of the critics",
                                      lambda v: isinstance(v, bool), "true or false"),
    "act_candidates": SharedOption("1: act with the model's mean action; K > 1: the best of K "
                                   "candidates by Q", lambda v: v >= 1, ">= 1"),
}
# By suffix: `<network>_lr` is that network's Adam learning rate, `<phase>_steps`
# the updates of a pre-training phase that runs before the main one.
SHARED_SUFFIXES: dict[str, SharedOption] = {
    "_lr": SharedOption("Adam learning rate of the named network", _positive, "> 0"),
    "_steps": SharedOption("updates of the named pre-training phase", lambda v: v >= 0, ">= 0"),
}


def shared_option(name: str) -> SharedOption | None:
    """The declaration of option `name` if it is shared, else None."""
    if name in SHARED_OPTIONS:
        return SHARED_OPTIONS[name]
    return next((o for suffix, o in SHARED_SUFFIXES.items() if name.endswith(suffix)), None)


@dataclasses.dataclass(frozen=True)
class AlgoConfig:
    """Base of every algorithm's config: `from_dict` / `to_dict` and validation.

    Subclasses list their options as typed fields; the shared ones are checked
    here, and `validate` checks the rest, raising `ConfigError` with the option's name.
    `ACTING` names the options that change only how a trained state acts, which
    `onemode eval --set` may change. `RETIRED` maps an option that was removed to the
    value it had on the path that stayed, and why it went: a record that holds it at
    that value still loads, any other value is refused in one line.
    (Named sets of options per dataset are preset files: `onemode.presets`.)
    """

    ACTING: ClassVar[tuple[str, ...]] = ()
    RETIRED: ClassVar[Mapping[str, tuple[Any, str]]] = {}

    def __post_init__(self):
        for f in dataclasses.fields(self):
            option, value = shared_option(f.name), getattr(self, f.name)
            if option is not None and not option.valid(value):
                raise ConfigError(f"{f.name} must be {option.expected} ({option.meaning}), "
                                  f"got {value!r}")
        self.validate()

    def validate(self) -> None:  # overridden by algorithms with options of their own
        pass

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]):
        values = {k: v for k, v in values.items() if not cls._retired(k, v)}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown option '{unknown[0]}' for {cls.__name__}; "
                              f"known options: {', '.join(sorted(names))}")
        hints = typing.get_type_hints(cls)
        return cls(**{k: _coerce(k, v, hints[k]) for k, v in values.items()})

    @classmethod
    def _retired(cls, name: str, value) -> bool:
        """True for a retired option at the value the code kept (dropped as it changes
        nothing); a retired option at any other value is refused."""
        if name not in cls.RETIRED:
            return False
        kept, reason = cls.RETIRED[name]
        if value != kept:
            raise ConfigError(f"option {name}={value} was retired ({reason}); only "
                              f"{name}={kept} is still read: train again without it")
        return True

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
            if isinstance(value, str):  # "512,512"; "" is the empty tuple
                value = value.split(",") if value.strip() else ()
            items = value
            return tuple(int(v) for v in items)
        if typing.get_args(hint) == (int, str):  # an integer, or a word such as "auto"
            if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
                return value.strip()
            return _coerce(name, value, int)
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


def check_choice(config: AlgoConfig, name: str, allowed: tuple[str, ...]) -> None:
    """The option `name` of `config` must be one of `allowed`."""
    value = getattr(config, name)
    check(value in allowed, f"{name} must be one of {', '.join(allowed)}, got {value!r}")
