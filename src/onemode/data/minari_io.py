"""Minari datasets (minari 0.5.x) to and from the flat `Dataset`.

On disk a Minari dataset is a directory `<root>/<dataset_id>/` whose `data/`
folder holds `metadata.json` and `main_data.hdf5`. An episode has T+1
observations and T actions, rewards, terminations and truncations.

Reading: an episode's T rows get observations[:-1] as observations and
observations[1:] as next_observations (exact, nothing derived); terminations
become terminals and truncations become timeouts. An episode that ends with
neither flag is, if it is the last one, kept as the flat dataset's incomplete
trailing episode; if it is not the last one, its last row is marked as a
timeout (a note on the Dataset says so), otherwise it would run into the next
episode. Episodes with no steps add no rows (also noted).

Writing: one Minari episode per Dataset episode (`Dataset.episode_slices`);
the episode's final observation is the `next_observations` of its last row.
The incomplete trailing episode, if any, is written as a last episode that
ends with neither flag, so it reads back as the same trailing rows. Inside an
episode Minari stores next_observations[t] as observations[t+1]: rows where
they differ are not representable, and a warning says how many there are.
The spaces are Box(-inf, inf, (obs_dim,)) and Box(-1, 1, (act_dim,)), float32.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from onemode.data.dataset import Dataset
from onemode.errors import DatasetError

_VERSIONED_ID = re.compile(r"(?:[-_\w][-_\w/]*[-_\w]+/)?[-_\w]+?-v\d+")
# What minari or h5py raise on a damaged or unsupported dataset directory.
_READ_ERRORS = (OSError, ValueError, KeyError, AssertionError, ImportError, TypeError,
                json.JSONDecodeError)


# ---------------------------------------------------------------- locating
def data_dir(path: Path) -> Path | None:
    """The folder holding metadata.json: `path/data`, or `path` itself; None if neither."""
    for candidate in (path / "data", path):
        if (candidate / "metadata.json").is_file():
            return candidate
    return None


def is_minari_dir(path: Path) -> bool:
    return path.is_dir() and data_dir(path) is not None


def datasets_root() -> Path:
    """MINARI_DATASETS_PATH, or minari's own default (~/.minari/datasets) when unset.

    The same rule as `minari.storage.datasets_root_dir.get_dataset_path`,
    without its side effect of creating the folder.
    """
    configured = os.environ.get("MINARI_DATASETS_PATH")
    if configured is not None:
        return Path(configured)
    return Path(os.path.expanduser("~")) / ".minari" / "datasets"


def find_by_id(dataset_id: str) -> Path | None:
    """The directory of a local Minari dataset id such as `ns/name-v0`, or None."""
    if not _VERSIONED_ID.fullmatch(dataset_id):
        return None
    directory = datasets_root() / dataset_id
    return directory if is_minari_dir(directory) else None


def dataset_id_for(path: Path) -> str:
    """A valid `name-vN` id for a dataset written at `path` (its name, made valid)."""
    if _VERSIONED_ID.fullmatch(path.name):
        return path.name
    name = re.sub(r"[^-_\w]+", "-", path.name).strip("-") or "dataset"
    return f"{name}-v0"


# ---------------------------------------------------------------- metadata
def read_environment(path: Path) -> dict:
    """What a Minari dataset records of its environment, read from data/metadata.json:

    {"env_id": the evaluation environment's id (`eval_env_spec`, else `env_spec`),
     "ref_min_score", "ref_max_score"}, each None where the metadata has none.
    """
    directory = data_dir(path)
    found = {"env_id": None, "ref_min_score": None, "ref_max_score": None}
    if directory is None:
        return found
    try:
        metadata = json.loads((directory / "metadata.json").read_text())
        for key in ("env_spec", "eval_env_spec"):  # the evaluation spec wins
            spec = metadata.get(key)
            spec = json.loads(spec) if isinstance(spec, str) else spec
            if isinstance(spec, dict) and spec.get("id"):
                found["env_id"] = spec["id"]
        for key in ("ref_min_score", "ref_max_score"):
            if metadata.get(key) is not None:
                found[key] = float(metadata[key])
    except (OSError, ValueError, TypeError) as error:
        raise DatasetError(str(path), "a readable Minari metadata.json",
                           found=f"{type(error).__name__}: {error}") from error
    return found


# ----------------------------------------------------------------- reading
def read_minari(path: Path, action_bounds=None) -> Dataset:
    """Load and validate the Minari dataset in directory `path`."""
    source = str(path)
    directory = data_dir(path)
    if directory is None:
        raise DatasetError(source, "a Minari dataset directory (data/metadata.json, "
                           "data/main_data.hdf5)", found="no metadata.json")
    episodes = _read_episodes(directory, source)
    arrays, notes = episodes_to_arrays(episodes, source)
    dataset = Dataset.from_arrays(arrays, source=source, action_bounds=action_bounds)
    return dataclasses.replace(dataset, notes=dataset.notes + tuple(notes))


def _read_episodes(directory: Path, source: str) -> list:
    import minari
    for name in ("metadata.json", "main_data.hdf5"):
        if not (directory / name).is_file():
            raise DatasetError(source, "a Minari dataset directory with data/metadata.json and "
                               "data/main_data.hdf5", found=f"no {directory.name}/{name}")
    minari_dataset = _guarded(lambda: minari.MinariDataset(directory.resolve()), source)
    _check_box_spaces({"observations": minari_dataset.observation_space,
                       "actions": minari_dataset.action_space}, source)
    return _guarded(lambda: list(minari_dataset.iterate_episodes()), source)


def _guarded(read, source: str):
    """Run `read`; what minari or h5py raise on damaged files becomes a DatasetError."""
    try:
        return read()
    except _READ_ERRORS as error:
        detail = str(error) or "minari gave no detail"
        raise DatasetError(source, "a readable Minari dataset (its files are missing, "
                           "truncated or corrupt)", found=f"{type(error).__name__}: {detail}"
                           ) from error


def _check_box_spaces(spaces: dict, source: str) -> None:
    import gymnasium as gym
    for key, space in spaces.items():
        if not isinstance(space, gym.spaces.Box):
            raise DatasetError(source, "a Box space", key=key, found=type(space).__name__)


def episodes_to_arrays(episodes: list, source: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """Flatten Minari episodes into the Dataset's arrays, plus notes on what changed."""
    rows, notes = [], []
    for index, episode in enumerate(episodes):
        _check_episode_lengths(episode, index, source)
        if len(episode.rewards) == 0:
            notes.append(f"Minari episode {index} has no steps and adds no rows")
            continue
        rows.append(_episode_rows(episode))
    if not rows:
        raise DatasetError(source, "at least one Minari episode with steps",
                           found=f"{len(episodes)} episodes, none with steps")
    for index, episode_rows in enumerate(rows[:-1]):
        if not (episode_rows["terminals"][-1] or episode_rows["timeouts"][-1]):
            episode_rows["timeouts"][-1] = True
            notes.append(f"Minari episode {index} ends with neither termination nor "
                         "truncation; its last row is marked as a timeout")
    arrays = {key: np.concatenate([r[key] for r in rows]) for key in rows[0]}
    return arrays, notes


def _episode_rows(episode) -> dict[str, np.ndarray]:
    observations = np.asarray(episode.observations)
    return {"observations": observations[:-1], "next_observations": observations[1:],
            "actions": np.asarray(episode.actions), "rewards": np.asarray(episode.rewards),
            "terminals": np.array(episode.terminations, dtype=bool),
            "timeouts": np.array(episode.truncations, dtype=bool)}


def _check_episode_lengths(episode, index: int, source: str) -> None:
    steps = len(episode.actions)
    if len(episode.observations) != steps + 1:
        raise DatasetError(source, f"{steps + 1} observations in Minari episode {index} "
                           f"(one more than its {steps} actions)", key="observations",
                           found=f"{len(episode.observations)}")
    for key in ("rewards", "terminations", "truncations"):
        if len(getattr(episode, key)) != steps:
            raise DatasetError(source, f"{steps} values in Minari episode {index}",
                               key=key, found=f"{len(getattr(episode, key))}")


# ----------------------------------------------------------------- writing
def write_minari(dataset: Dataset, root: Path, dataset_id: str,
                 environment: dict | None = None) -> Path:
    """Create the Minari dataset `dataset_id` under `root`; return its directory.

    `environment`: {"env_id", "ref_min_score", "ref_max_score"} for the metadata; the
    environment's spec is recorded where Minari can store it and its spaces are the
    data's (flat boxes).

    Minari resolves ids under MINARI_DATASETS_PATH, so the variable points at
    `root` during the call (process-wide) and is restored afterwards. `root`
    is made absolute: minari 0.5.4 mis-joins relative paths when sizing files.
    """
    root = root.resolve()
    import gymnasium as gym
    import minari
    _warn_unrepresentable_next_observations(dataset)
    observation_space = gym.spaces.Box(-np.inf, np.inf, (dataset.obs_dim,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (dataset.act_dim,), np.float32)
    environment = environment or {}
    env_id = environment.get("env_id")
    if env_id is not None and not _recordable(env_id, dataset):
        env_id = None
    with _datasets_path(root), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # minari nags about missing metadata
        minari.create_dataset_from_buffers(
            dataset_id, dataset_to_buffers(dataset), observation_space=observation_space,
            action_space=action_space, algorithm_name="onemode", env=env_id,
            ref_min_score=environment.get("ref_min_score"),
            ref_max_score=environment.get("ref_max_score"),
            description=f"converted by onemode from {dataset.source}",
            data_format="hdf5", jpeg_encoding=False)
    return root / dataset_id


def _recordable(env_id: str, dataset: Dataset) -> bool:
    """Whether Minari can store the environment's spec (its entry point is a string) and its
    spaces are flat boxes of the data's sizes, actions in [-1, 1]."""
    import gymnasium as gym
    if not isinstance(gym.spec(env_id).entry_point, str):
        return False
    env = gym.make(env_id)
    try:
        obs, act = env.observation_space, env.action_space
        return (isinstance(obs, gym.spaces.Box) and obs.shape == (dataset.obs_dim,)
                and isinstance(act, gym.spaces.Box) and act.shape == (dataset.act_dim,)
                and np.all(act.low == -1.0) and np.all(act.high == 1.0))
    finally:
        env.close()


def dataset_to_buffers(dataset: Dataset) -> list:
    """One `EpisodeBuffer` per episode, the incomplete trailing one included."""
    from minari.data_collector import EpisodeBuffer
    buffers = []
    for rows in dataset.episode_slices:
        last = rows.stop - 1
        observations = np.concatenate([dataset.observations[rows],
                                       dataset.next_observations[last:last + 1]])
        buffers.append(EpisodeBuffer(
            observations=observations, actions=dataset.actions[rows],
            rewards=dataset.rewards[rows], terminations=dataset.terminals[rows],
            truncations=dataset.timeouts[rows]))
    return buffers


def _warn_unrepresentable_next_observations(dataset: Dataset) -> None:
    inside = dataset.has_next_action
    differ = inside[:-1] & np.any(dataset.next_observations[:-1] != dataset.observations[1:],
                                  axis=1)
    if differ.any():
        warnings.warn(f"{dataset.source}: {int(differ.sum())} rows have next_observations "
                      "different from the following row's observation; Minari stores the "
                      "following observation for them", UserWarning, stacklevel=3)


@contextmanager
def _datasets_path(root: Path):
    previous = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["MINARI_DATASETS_PATH"]
        else:
            os.environ["MINARI_DATASETS_PATH"] = previous
