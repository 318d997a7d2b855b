"""OGBench's dataset files, relabelled for one of its single tasks by the `ogbench` package.

An OGBench file (`cube-single-play-v0.npz`, beside its `cube-single-play-v0-val.npz`)
holds trajectories without rewards: observations, actions, `terminals` (1 on each
trajectory's last row) and the simulator's state (`qpos`, `qvel`, `button_states`). A
single task (`--env cube-single-singletask-task2-v0`) gives it rewards: OGBench's own
`load_dataset` and `relabel_dataset` compute, from each row's state, the reward and the
`masks` its agents bootstrap with (0 where the row's state reaches the task's goal; the
trajectory goes on past it). onemode maps them onto its data contract:

  terminals  = masks == 0     no bootstrap from s' there, as OGBench's agents
  timeouts   = OGBench's terminals: where a trajectory ends (a time limit)

so that a row at the goal closes an onemode episode and the next row opens another.
The `-val` file, relabelled the same way, is the held-out split (`Dataset.held_out`).
"""

from __future__ import annotations

import dataclasses
import zipfile
import zlib
from pathlib import Path

import numpy as np

from onemode.data.dataset import Dataset
from onemode.envs import is_ogbench, make_env
from onemode.errors import ConfigError, DatasetError

# what a trajectory file holds; button_states only where the environment has buttons
TRAJECTORY_KEYS = ("observations", "actions", "terminals", "qpos")
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error)


def is_ogbench_archive(path: Path, env_id: str | None = None) -> bool:
    """An `.npz` in OGBench's layout: trajectories without rewards, with the simulator's
    state (or meant for an OGBench environment, which then says what the file lacks)."""
    try:
        archive = np.load(path, allow_pickle=False)
    except _READ_ERRORS:
        return False   # the npz reader reports what is wrong with it
    if not isinstance(archive, np.lib.npyio.NpzFile):
        return False   # a single .npy array: likewise
    with archive:
        files = archive.files
    return "rewards" not in files and (
        "qpos" in files or (env_id is not None and is_ogbench(env_id)))


def val_path(path: Path) -> Path:
    """OGBench's name for a file's validation split: X.npz -> X-val.npz."""
    return path.with_name(path.name[: -len(".npz")] + "-val.npz")


def read_ogbench(path: Path, env_id: str | None, action_bounds=None) -> Dataset:
    """The file relabelled for the single task `env_id`, its -val sibling held out."""
    path = Path(path)
    if env_id is None:
        raise DatasetError(str(path), "an OGBench single-task environment to take its rewards "
                           "from: give --env, e.g. cube-single-singletask-task1-v0",
                           key="rewards", found="none (an OGBench trajectory file)")
    if not is_ogbench(env_id) or "singletask" not in env_id.split("-"):
        raise ConfigError(f"{path} is an OGBench file: its rewards come from one of OGBench's "
                          f"single tasks (e.g. cube-single-singletask-task1-v0), not from "
                          f"'{env_id}'")
    validation = val_path(path)
    if not validation.exists():
        raise DatasetError(str(path), f"its validation split {validation.name} beside it (as "
                           "OGBench writes and reads them)", found="no such file")
    env = make_env(env_id)
    try:
        train = _relabelled(path, env_id, env, action_bounds)
        held_out = _relabelled(validation, env_id, env, action_bounds)
    finally:
        env.close()
    return dataclasses.replace(train, held_out=held_out)


def _relabelled(path: Path, env_id: str, env, action_bounds) -> Dataset:
    from ogbench.relabel_utils import relabel_dataset
    from ogbench.utils import load_dataset

    _check_fits(path, env_id, env)
    try:
        data = load_dataset(str(path), add_info=True)   # s' from the next row, in-trajectory
    except _READ_ERRORS as error:
        raise DatasetError(str(path), "a readable OGBench .npz file (it is truncated, empty "
                           "or corrupt)", found=f"{type(error).__name__}: {error}") from error
    relabel_dataset(env_id, env, data)
    at_goal, trajectories = int((data["masks"] == 0).sum()), int(data["terminals"].sum())
    dataset = Dataset.from_arrays({
        "observations": data["observations"],
        "actions": data["actions"],
        "rewards": data["rewards"],
        "terminals": data["masks"] == 0,
        "timeouts": data["terminals"] > 0,
        "next_observations": data["next_observations"],
    }, source=str(path), action_bounds=action_bounds)
    note = (f"OGBench trajectories relabelled for {env_id} by the ogbench package: "
            f"{trajectories:,} trajectories (timeouts); {at_goal:,} rows at the task's goal "
            "(terminals: each closes an onemode episode, its trajectory goes on)")
    return dataclasses.replace(dataset, notes=dataset.notes + (note,))


def _check_fits(path: Path, env_id: str, env) -> None:
    """The file is trajectories of `env_id`'s environment: what relabelling needs is there,
    and the state it reads has the environment's sizes."""
    model = env.unwrapped
    expected = {"observations": env.observation_space.shape[0], "qpos": model._model.nq}
    if hasattr(model, "_num_buttons"):
        expected["button_states"] = model._num_buttons
    checked = TRAJECTORY_KEYS + tuple(k for k in expected if k not in TRAJECTORY_KEYS)
    try:   # only what is checked: OGBench's loader reads the whole file next
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in checked if key in archive.files}
    except _READ_ERRORS as error:
        raise DatasetError(str(path), "a readable OGBench .npz file (it is truncated, empty "
                           "or corrupt)", found=f"{type(error).__name__}: {error}") from error
    for key in checked:
        if key not in arrays:
            raise DatasetError(str(path), f"OGBench's key '{key}', which relabelling for "
                               f"{env_id} reads", key=key, found="the key is missing")
    rows = len(arrays["observations"])
    if rows == 0:
        raise DatasetError(str(path), "at least one trajectory", key="observations",
                           found="0 rows")
    for key, value in arrays.items():
        if len(value) != rows:
            raise DatasetError(str(path), f"{rows} rows (as many as 'observations')", key=key,
                               found=f"{len(value)} rows")
    for key, columns in expected.items():
        found = arrays[key].shape[1] if arrays[key].ndim == 2 else None
        if found != columns:
            raise DatasetError(str(path), f"{columns} columns, as environment '{env_id}' has "
                               "(is the file another environment's?)", key=key,
                               found=f"shape {arrays[key].shape}")
    if not arrays["terminals"][-1]:
        raise DatasetError(str(path), "a last row that ends its trajectory (terminals 1)",
                           key="terminals", row=rows - 1, found="0 (the file is cut short?)")
