"""Evaluation in any registered gymnasium environment, with the score's reference.

A built-in task (`onemode.tasks`) normalises by its own random and expert
returns. Any other environment is named by its gymnasium id (`--env
Hopper-v5`), and its scores are normalised by the first reference found:

  1. `--ref-min` / `--ref-max`, when given;
  2. the Minari dataset's metadata (`ref_min_score`, `ref_max_score`);
  3. D4RL's reference returns for the environment's family (d4rl's infos.py:
     a random policy's and an expert's return on the gym v2 environments);
  4. none: the score is the raw return, and says so.

An OGBench environment (`cube-single-singletask-task2-v0`: its ids are registered when
the optional `ogbench` package is imported, which `make_env` does for such an id) is
scored as OGBench scores it instead: the success rate, the share of episodes whose last
step reports `info["success"]`, in percent.

The reference used is written in the run's config.json and printed with every score.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import gymnasium as gym
import numpy as np

from onemode.errors import ConfigError

# reset seed of evaluation episode 0: every evaluation, rendering and online test of a
# policy meets the same start states
EVAL_RESET_SEED = 100_000

# d4rl/infos.py REF_MIN_SCORE / REF_MAX_SCORE, the same for every dataset of a family
D4RL_REFERENCES = {
    "halfcheetah": (-280.178953, 12135.0),
    "hopper": (-20.272305, 3234.3),
    "walker2d": (1.629008, 4592.3),
    "ant": (-325.6, 3879.7),
}


class Reference(NamedTuple):
    """Returns that score 0 and 100, and where they come from; None: raw returns.
    `by="success"`: the score is 100 where an episode ends in success, 0 elsewhere."""

    min: float | None
    max: float | None
    source: str
    by: str = "return"   # "return" or "success"

    def normalize(self, returns):
        returns = np.asarray(returns, dtype=np.float64)
        if self.min is None:
            return returns
        return 100.0 * (returns - self.min) / (self.max - self.min)

    def score(self, returns, successes):
        """Each episode's score, from its return or (by success) whether it succeeded."""
        if self.by == "success":
            return 100.0 * np.asarray(successes, dtype=np.float64)
        return self.normalize(returns)

    @property
    def label(self) -> str:
        if self.by == "success":
            return "success rate"
        return "normalised score" if self.min is not None else "return"

    def describe(self) -> str:
        if self.by == "success":
            return f"success rate in %: episodes whose last step succeeded ({self.source})"
        if self.min is None:
            return f"raw return ({self.source})"
        return f"normalised: 0 = {self.min:g}, 100 = {self.max:g} ({self.source})"

    def to_dict(self) -> dict:
        values = {"min": self.min, "max": self.max, "source": self.source}
        return values if self.by == "return" else {**values, "by": self.by}

    @classmethod
    def from_dict(cls, values: dict) -> "Reference":
        return cls(values.get("min"), values.get("max"), values.get("source", ""),
                   values.get("by", "return"))


def d4rl_family(env_id: str) -> str | None:
    """'hopper' for Hopper-v5 (and hopper-medium-v2), None outside D4RL's families."""
    name = env_id.split("/")[-1].split("-")[0].lower()
    return name if name in D4RL_REFERENCES else None


def find_reference(env_id: str | None, ref_min: float | None = None,
                   ref_max: float | None = None, metadata: dict | None = None) -> Reference:
    """The first of: the given pair, a Minari dataset's metadata, D4RL's family, none."""
    if (ref_min is None) != (ref_max is None):
        raise ConfigError("give both --ref-min and --ref-max, or neither")
    if env_id is not None and is_ogbench(env_id):
        if ref_min is not None:
            raise ConfigError(f"'{env_id}' is an OGBench environment, scored by success "
                              "rate: --ref-min/--ref-max do not apply")
        return Reference(None, None, "OGBench's protocol: info['success'] at the episode's end",
                         by="success")
    if ref_min is not None:
        reference = Reference(float(ref_min), float(ref_max), "--ref-min/--ref-max")
    elif metadata and metadata.get("ref_min_score") is not None \
            and metadata.get("ref_max_score") is not None:
        reference = Reference(float(metadata["ref_min_score"]), float(metadata["ref_max_score"]),
                              "the Minari dataset's ref_min_score/ref_max_score")
    elif env_id is not None and d4rl_family(env_id):
        low, high = D4RL_REFERENCES[d4rl_family(env_id)]
        reference = Reference(low, high, f"D4RL's {d4rl_family(env_id)} references")
    else:
        return Reference(None, None, "no reference scores known")
    if not (np.isfinite(reference.min) and np.isfinite(reference.max)):
        raise ConfigError(f"the reference returns must be finite numbers, got "
                          f"{reference.min:g} and {reference.max:g} ({reference.source})")
    if not reference.max > reference.min:
        raise ConfigError(f"the reference max must exceed its min, got {reference.min:g} and "
                          f"{reference.max:g} ({reference.source})")
    return reference


@dataclass(frozen=True)
class EnvironmentTarget:
    """A gymnasium environment to evaluate in: what `onemode.evaluate` rolls out."""

    env_id: str
    reference: Reference

    @property
    def name(self) -> str:
        return self.env_id

    def make_env(self, **kwargs) -> gym.Env:
        return make_env(self.env_id, **kwargs)

    def normalized_score(self, returns):
        return self.reference.normalize(returns)

    def score(self, returns, successes):
        return self.reference.score(returns, successes)


# the first word of OGBench's environment ids (ogbench/__init__.py and its suites' register
# calls); the package registers them with gymnasium when it is imported
OGBENCH_PREFIXES = ("cube", "scene", "puzzle", "pointmaze", "antmaze", "humanoidmaze",
                    "antsoccer", "powderworld", "visual")


def is_ogbench(env_id: str) -> bool:
    """Whether `env_id` names an OGBench environment (imported on the way, if it is one)."""
    _register_ogbench(env_id)
    spec = gym.registry.get(env_id)
    return spec is not None and str(spec.entry_point).startswith("ogbench.")


def _register_ogbench(env_id: str) -> None:
    if env_id.split("-")[0] not in OGBENCH_PREFIXES:
        return
    # its action_space property builds a float64-bounded Box at every read, and gymnasium
    # warns each time: a filter for that message alone (set again, as test runners reset
    # the filters)
    warnings.filterwarnings("ignore", message=".*Box (low|high)'s precision lowered")
    if env_id in gym.registry:
        return
    try:
        with warnings.catch_warnings():   # glfw warns that a headless machine has no display
            warnings.simplefilter("ignore")
            import ogbench  # noqa: F401  (registers its environments)
    except ImportError:
        raise ConfigError(f"environment '{env_id}' is OGBench's: install onemode's ogbench "
                          "extra (pip install 'onemode[ogbench]')") from None


def make_env(env_id: str, **kwargs) -> gym.Env:
    """gym.make, with an unknown id refused in one line (an OGBench id imports OGBench)."""
    _register_ogbench(env_id)
    try:
        with warnings.catch_warnings():
            # OGBench's environments: glfw finds no display on a headless machine (nothing
            # here opens a window); they draw frames without declaring a render mode
            warnings.filterwarnings("ignore", message=".*DISPLAY.*")
            warnings.filterwarnings("ignore", message=".*not in the possible render_modes")
            return gym.make(env_id, **kwargs)
    except gym.error.Error as error:
        raise ConfigError(f"environment '{env_id}' cannot be made: {error}") from None


def box_bounds(space, what: str, env_id: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ConfigError(f"environment '{env_id}': onemode needs a flat Box {what} space, "
                          f"it has {space}")
    return np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)


def environment_shape(env_id: str) -> dict:
    """The environment's observation size, action size and action bounds."""
    env = make_env(env_id)
    try:
        box_bounds(env.observation_space, "observation", env_id)
        low, high = box_bounds(env.action_space, "action", env_id)
        return {"obs_dim": int(env.observation_space.shape[0]),
                "act_dim": int(env.action_space.shape[0]),
                "action_low": low.tolist(), "action_high": high.tolist()}
    finally:
        env.close()


__all__ = ["D4RL_REFERENCES", "EVAL_RESET_SEED", "EnvironmentTarget", "Reference",
           "box_bounds", "d4rl_family", "environment_shape", "find_reference", "is_ogbench",
           "make_env"]


def action_bounds(shape: dict):
    """An environment's action bounds [low, high] (from `environment_shape`), or None where
    they are [-1, 1]: the bounds a dataset recorded in it is rescaled from."""
    low, high = shape["action_low"], shape["action_high"]
    if np.all(np.equal(low, -1.0)) and np.all(np.equal(high, 1.0)):
        return None
    return [low, high]
