"""The `Dataset`: N transitions, their episode structure, and its validation.

Every loader builds its `Dataset` through `Dataset.from_arrays`, so every
format is validated by the same code and fails with the same kind of message.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping, NamedTuple

import numpy as np

from onemode.errors import DatasetError

REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals", "timeouts")
OPTIONAL_KEYS = ("next_observations",)
ACTION_TOLERANCE = 1e-5  # float error allowed around [-1, 1] after a rescale


class NormStats(NamedTuple):
    """Observation normalisation statistics, computed once from a dataset."""

    mean: np.ndarray
    std: np.ndarray

    def normalize(self, observations):
        return (observations - self.mean) / self.std

    @classmethod
    def identity(cls, obs_dim: int) -> "NormStats":
        return cls(np.zeros(obs_dim, np.float32), np.ones(obs_dim, np.float32))

    @classmethod
    def of(cls, observations: np.ndarray, min_std: float = 1e-3) -> "NormStats":
        mean = observations.mean(axis=0).astype(np.float32)
        std = np.maximum(observations.std(axis=0), min_std).astype(np.float32)
        return cls(mean, std)


@dataclass(frozen=True, eq=False)
class Dataset:
    """N transitions, following the data contract of DESIGN.md.

    observations (N, obs_dim) float32, actions (N, act_dim) float32 in [-1, 1],
    rewards (N,) float32, terminals (N,) bool, timeouts (N,) bool,
    next_observations (N, obs_dim) float32. An episode ends at a row that is a
    terminal or a timeout; rows after the last end form an incomplete episode.
    Build one with `Dataset.from_arrays`, which validates.

    `next_observations_derived` records that the data gave no next_observations:
    they were read off the following row, and an episode's last row has none
    (see `has_next_observation`).
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    timeouts: np.ndarray
    next_observations: np.ndarray
    source: str = "<memory>"
    notes: tuple[str, ...] = field(default=())
    next_observations_derived: bool = False
    # a split the data brings along (an OGBench file's -val sibling): held out instead of
    # a fraction of this data's own episodes
    held_out: "Dataset | None" = field(default=None, repr=False)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], source: str = "<memory>",
                    action_bounds: tuple | None = None) -> "Dataset":
        """Validate and cast `arrays` into a Dataset.

        `action_bounds=(low, high)` declares the actions' native bounds (scalars
        or per-dimension arrays); actions are then rescaled linearly to [-1, 1].
        Without it, actions outside [-1, 1] are an error: nothing is clipped.
        """
        missing = [k for k in REQUIRED_KEYS if k not in arrays]
        if missing:
            raise DatasetError(source, f"keys {', '.join(REQUIRED_KEYS)}", key=missing[0],
                               found="the key is missing")
        notes: list[str] = []
        obs = _as_float_matrix(arrays["observations"], "observations", source)
        actions = _as_float_matrix(arrays["actions"], "actions", source)
        n = len(obs)
        if n == 0:
            raise DatasetError(source, "at least one transition", key="observations",
                               found="0 rows")
        rewards = _as_vector(arrays["rewards"], "rewards", source, np.float32)
        terminals = _as_vector(arrays["terminals"], "terminals", source, bool)
        timeouts = _as_vector(arrays["timeouts"], "timeouts", source, bool)
        has_next_obs = arrays.get("next_observations") is not None
        next_obs = (_as_float_matrix(arrays["next_observations"], "next_observations", source)
                    if has_next_obs else None)

        for key, value in (("actions", actions), ("rewards", rewards), ("terminals", terminals),
                           ("timeouts", timeouts), ("next_observations", next_obs)):
            if value is not None and len(value) != n:
                raise DatasetError(source, f"{n} rows (as many as 'observations')", key=key,
                                   found=f"{len(value)} rows")
        if next_obs is not None and next_obs.shape[1] != obs.shape[1]:
            raise DatasetError(source, f"{obs.shape[1]} columns (as 'observations')",
                               key="next_observations", found=f"{next_obs.shape[1]} columns")
        for key, value in (("observations", obs), ("actions", actions), ("rewards", rewards),
                           ("next_observations", next_obs)):
            if value is not None:
                _check_finite(value, key, source)

        if action_bounds is not None:
            actions = rescale_actions(actions, action_bounds, source)
            notes.append(f"actions rescaled from bounds {action_bounds} to [-1, 1]")
        _check_action_bounds(actions, source, action_bounds)
        actions = np.clip(actions, -1.0, 1.0)  # a new array; only float error within tolerance

        ends = terminals | timeouts
        if not ends.any():
            raise DatasetError(source, "at least one complete episode (a row with a terminal "
                               "or a timeout)", key="terminals/timeouts", found="none")
        if next_obs is None:
            next_obs = _derive_next_observations(obs, ends)
            notes.append("next_observations derived from the episode structure")
        return cls(obs, actions, rewards, terminals, timeouts, next_obs, source, tuple(notes),
                   next_observations_derived=not has_next_obs)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays the data gave, keyed as in every file format.

        Derived next_observations are left out: written to a file, their stand-ins
        at episode ends would read back as real successor states.
        """
        keys = REQUIRED_KEYS + (() if self.next_observations_derived else OPTIONAL_KEYS)
        return {k: getattr(self, k) for k in keys}

    def subset(self, rows: np.ndarray) -> "Dataset":
        """The given rows, in order: whole episodes, already validated."""
        return dataclasses.replace(self, **{k: getattr(self, k)[rows] for k in
                                            REQUIRED_KEYS + OPTIONAL_KEYS})

    # -------------------------------------------------------- episode structure
    def __len__(self) -> int:
        return len(self.observations)

    @property
    def obs_dim(self) -> int:
        return self.observations.shape[1]

    @property
    def act_dim(self) -> int:
        return self.actions.shape[1]

    @cached_property
    def episode_ends(self) -> np.ndarray:
        """(N,) bool: the row closes an episode (terminal or timeout)."""
        return self.terminals | self.timeouts

    @cached_property
    def episode_slices(self) -> list[slice]:
        """One slice per episode, the incomplete trailing one included."""
        stops = np.flatnonzero(self.episode_ends) + 1
        starts = np.concatenate([[0], stops[:-1]])
        slices = [slice(int(a), int(b)) for a, b in zip(starts, stops)]
        if stops[-1] < len(self):
            slices.append(slice(int(stops[-1]), len(self)))
        return slices

    @property
    def num_complete_episodes(self) -> int:
        return int(self.episode_ends.sum())

    @cached_property
    def episode_returns(self) -> np.ndarray:
        """Undiscounted return of every complete episode."""
        ends = np.flatnonzero(self.episode_ends)
        return np.array([self.rewards[s].sum() for s in self.episode_slices[: len(ends)]],
                        dtype=np.float64)

    @cached_property
    def has_next_action(self) -> np.ndarray:
        """(N,) bool: the next row continues this episode, so its action is a'."""
        valid = ~self.episode_ends
        valid[-1] = False  # the last row has no successor in the data
        return valid

    @cached_property
    def has_next_observation(self) -> np.ndarray:
        """(N,) bool: `next_observations` holds a real successor state s'.

        Every row where the data gave next_observations; where they were derived,
        only the rows whose episode goes on in the data.
        """
        if self.next_observations_derived:
            return self.has_next_action.copy()
        return np.ones(len(self), bool)

    @cached_property
    def next_actions(self) -> np.ndarray:
        """a_{t+1} within the episode; zeros where `has_next_action` is False.

        A next action is never borrowed from the following episode.
        """
        nxt = np.zeros_like(self.actions)
        nxt[:-1] = self.actions[1:]
        nxt[~self.has_next_action] = 0.0
        return nxt

    @cached_property
    def obs_stats(self) -> NormStats:
        return NormStats.of(self.observations)

    def summary(self) -> dict:
        """Plain statistics for `onemode data info`."""
        returns = self.episode_returns
        return {
            "source": self.source,
            "transitions": len(self),
            "episodes": self.num_complete_episodes,
            "incomplete_trailing_rows": len(self) - (int(np.flatnonzero(self.episode_ends)[-1]) + 1),
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "terminals": int(self.terminals.sum()),
            "timeouts": int(self.timeouts.sum()),
            "return_mean": float(returns.mean()),
            "return_std": float(returns.std()),
            "return_min": float(returns.min()),
            "return_max": float(returns.max()),
            "obs_min": self.observations.min(axis=0).tolist(),
            "obs_max": self.observations.max(axis=0).tolist(),
            "action_min": self.actions.min(axis=0).tolist(),
            "action_max": self.actions.max(axis=0).tolist(),
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------- validation
def _cast(value, key: str, source: str, dtype) -> np.ndarray:
    expected = f"a numeric array castable to {np.dtype(dtype).name}"
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise DatasetError(source, expected, key=key, found="a ragged array") from error
    if array.dtype.kind not in "biuf":
        raise DatasetError(source, expected, key=key, found=f"dtype {array.dtype}")
    return array.astype(dtype, copy=False)


def _as_float_matrix(value, key: str, source: str) -> np.ndarray:
    array = _cast(value, key, source, np.float32)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise DatasetError(source, "a 2-D array (rows, features)", key=key,
                           found=f"shape {array.shape}")
    return np.array(array, order="C", copy=True)  # never share memory with the caller


def _as_vector(value, key: str, source: str, dtype) -> np.ndarray:
    array = _cast(value, key, source, dtype if dtype is not bool else np.float64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DatasetError(source, "a 1-D array (rows,)", key=key, found=f"shape {array.shape}")
    if dtype is bool:
        _check_finite(array, key, source)
        bad = np.flatnonzero((array != 0) & (array != 1))
        if bad.size:
            raise DatasetError(source, "0/1 or boolean flags", key=key, row=int(bad[0]),
                               found=repr(array[bad[0]]))
        return array.astype(bool)
    return np.array(array, order="C", copy=True)


def _check_finite(array: np.ndarray, key: str, source: str) -> None:
    finite = np.isfinite(array)
    if not finite.all():
        flat = finite.reshape(len(array), -1).all(axis=1)
        row = int(np.flatnonzero(~flat)[0])
        raise DatasetError(source, "finite values", key=key, row=row,
                           found=f"{array[row].tolist()}")


def _check_action_bounds(actions: np.ndarray, source: str, bounds=None) -> None:
    outside = np.abs(actions) > 1.0 + ACTION_TOLERANCE
    if outside.any():
        row = int(np.flatnonzero(outside.any(axis=1))[0])
        if bounds is not None:
            low, high = (np.broadcast_to(np.asarray(b, np.float64), actions.shape[1:])
                         for b in bounds)
            native = native_actions(actions[row], (low, high))
            raise DatasetError(
                source, f"actions within the bounds low={low.tolist()}, high={high.tolist()} "
                "(the environment's, or --action-low/--action-high)", key="actions", row=row,
                found=f"{np.round(native, 6).tolist()}")
        raise DatasetError(
            source, "actions in [-1, 1] (declare the native bounds to rescale them, "
            "e.g. --action-low/--action-high)", key="actions", row=row,
            found=f"{actions[row].tolist()}")


def native_actions(actions, bounds):
    """The inverse of `rescale_actions`: [-1, 1] back to the bounds (low, high)."""
    low, high = (np.asarray(b, np.float32) for b in bounds)
    return low + (actions + 1.0) * (high - low) / 2.0


def rescale_actions(actions: np.ndarray, bounds, source: str = "<memory>") -> np.ndarray:
    """Map actions linearly from declared bounds (low, high) onto [-1, 1]."""
    low, high = (np.broadcast_to(np.asarray(b, np.float32), actions.shape[1:]) for b in bounds)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low)):
        raise DatasetError(source, "finite action bounds with high > low in every dimension",
                           key="actions", found=f"low={low.tolist()}, high={high.tolist()}")
    return (2.0 * (actions - low) / (high - low) - 1.0).astype(np.float32)


def _derive_next_observations(obs: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """s_{t+1} = observations[t+1] inside an episode.

    At an episode's last row the successor is not in the data; the row's own
    observation stands in, and `has_next_observation` is False there, so no
    Bellman target bootstraps from it.
    """
    nxt = obs.copy()
    inside = ~ends
    inside[-1] = False
    nxt[:-1][inside[:-1]] = obs[1:][inside[:-1]]
    return nxt
