"""A run's data and the target it is evaluated on, resolved from what the user named.

`data_spec` turns a task name, a file, an environment id and reference scores into a
`DataSpec` (checked once: the environment is opened here, its reference found here);
`load_data` loads a spec's data, and `evaluation_target` gives the task or environment a
spec, or a run with another target asked for, is evaluated and rendered on. This module
sits beside `onemode.tasks`: it needs the built-in tasks, which `onemode.data` must not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from onemode.data import Dataset, DataSpec, load_dataset
from onemode.data.io import dataset_environment, locate_dataset
from onemode.envs import (EnvironmentTarget, Reference, action_bounds, environment_shape,
                          find_reference)
from onemode.errors import ConfigError, DatasetError
from onemode.tasks import get_task

__all__ = ["check_fits", "data_spec", "evaluation_target", "load_data", "run_target"]


def data_spec(task: str | None = None, dataset: str | None = None, size: int | None = None,
              data_seed: int = 0, action_bounds=None, env: str | None = None,
              ref_min: float | None = None, ref_max: float | None = None) -> DataSpec:
    """A task's recipe, or a file evaluated on a task, an environment or nothing.

    A Minari dataset that records its environment is evaluated there without `env`.
    The scores' reference is resolved here (see `onemode.envs.find_reference`) and kept
    in the spec, so a run's config.json says what its scores mean. An environment whose
    actions are bounded other than [-1, 1] gives the data its bounds (`action_bounds`)
    unless they are declared.
    """
    if task is None and dataset is None:
        raise ConfigError("give --task NAME or --dataset PATH")
    if task is not None and env is not None:
        raise ConfigError("give --task or --env, not both: a task has its own environment")
    if dataset and (task is None or Path(dataset).exists()):
        dataset = str(locate_dataset(dataset))  # a Minari id: its directory
    elif dataset:
        dataset = str(Path(dataset).resolve())  # a task's data, to be generated there
    metadata = dataset_environment(dataset) if dataset and task is None else {}
    env = env or metadata.get("env_id")
    if task is not None:
        if ref_min is not None or ref_max is not None:
            raise ConfigError("--ref-min/--ref-max apply to --env; a task has its own references")
        reference = get_task(task).reference  # fails early on an unknown name
    elif env is not None:
        shape = environment_shape(env)
        # the dataset's own references hold for the environment it was recorded in only
        recorded = metadata if metadata.get("env_id") == env else None
        reference = find_reference(env, ref_min, ref_max, recorded)
        action_bounds = _bounds_within(env, shape, action_bounds)
    else:
        if ref_min is not None or ref_max is not None:
            raise ConfigError("--ref-min/--ref-max need an environment to evaluate in (--env)")
        reference = None
    return DataSpec(task=task, dataset=dataset, size=size, data_seed=data_seed,
                    action_bounds=None if action_bounds is None else tuple(action_bounds),
                    env=env, reference=reference)


def _bounds_within(env: str, shape: dict, declared):
    """The data's action bounds in environment `env`: its own where they are not [-1, 1]
    (None where they are), and declared bounds only where they are the environment's."""
    low, high = shape["action_low"], shape["action_high"]
    own = action_bounds(shape)
    if declared is None:
        return own
    if not all(np.allclose(np.broadcast_to(np.asarray(bound, np.float64), (shape["act_dim"],)),
                           env_bound) for bound, env_bound in zip(declared, (low, high))):
        raise ConfigError(f"the declared action bounds {list(declared)} are not those of "
                          f"environment '{env}' (low {low}, high {high}): the policy would act "
                          f"outside them")
    return declared


def evaluation_target(spec: DataSpec, task: str | None = None, env: str | None = None,
                      ref_min: float | None = None, ref_max: float | None = None):
    """The task or environment `spec` evaluates in (None: nowhere), or the one asked for
    instead: another task, another environment, or the spec's environment with other
    references."""
    if task is None and ref_min is None and ref_max is None and env in (None, spec.env):
        if spec.task:
            return get_task(spec.task)
        if spec.env:
            return EnvironmentTarget(spec.env, spec.reference or Reference(None, None, ""))
        return None
    if task is not None:
        if env is not None or ref_min is not None or ref_max is not None:
            raise ConfigError("give --task, or --env with --ref-min/--ref-max, not both")
        return get_task(task)
    env = env or spec.env
    if env is None:
        raise ConfigError("--ref-min/--ref-max need an environment to evaluate in (--env)")
    metadata = None
    if spec.dataset:
        try:
            metadata = dataset_environment(spec.dataset)
        except DatasetError:
            pass  # the run's data moved or went: the metadata's references are unknown
    recorded = metadata if metadata and metadata.get("env_id") == env else None
    return EnvironmentTarget(env, find_reference(env, ref_min, ref_max, recorded))


def run_target(run, task: str | None = None, env: str | None = None,
               ref_min: float | None = None, ref_max: float | None = None,
               verb: str = "evaluate"):
    """Where a loaded run (`onemode.policy.LoadedRun`) is evaluated or rendered: the target
    asked for, else its own; refused where there is none or the run does not fit it."""
    target = evaluation_target(run.record.data, task, env, ref_min, ref_max)
    if target is None:
        raise ConfigError(f"{run.path} trained on a dataset without an environment; "
                          f"give --task NAME or --env ENV_ID to {verb} it")
    check_fits(target, run.record.obs_dim, run.record.act_dim, f"the run in {run.path}")
    return target


def check_fits(target, obs_dim: int, act_dim: int, what: str) -> None:
    """`what` (a run) observes `obs_dim` numbers and acts with `act_dim`: so must the env."""
    env = target.make_env()
    try:
        shown, acted = env.observation_space.shape, env.action_space.shape
    finally:
        env.close()
    if shown != (obs_dim,) or acted != (act_dim,):
        raise ConfigError(f"'{target.name}' observes {shown[0] if shown else shown} numbers and "
                          f"takes {acted[0] if acted else acted} actions, but {what} was "
                          f"trained on {obs_dim} and {act_dim}")


def load_data(spec: DataSpec) -> tuple[Dataset, object]:
    """(Dataset, evaluation target or None) of a spec.

    A file evaluated in an environment must fit it: the observation and action sizes
    are checked before anything trains.
    """
    target = evaluation_target(spec)
    if spec.dataset:
        dataset = load_dataset(spec.dataset, action_bounds=spec.action_bounds, env=spec.env)
    else:
        dataset = target.make_dataset(spec.size or target.default_size, spec.data_seed)
    if spec.env:
        _check_fits_environment(dataset, spec.env)
    return dataset, target


def _check_fits_environment(dataset: Dataset, env_id: str) -> None:
    shape = environment_shape(env_id)
    for key, size, env_size in (("observations", dataset.obs_dim, shape["obs_dim"]),
                                ("actions", dataset.act_dim, shape["act_dim"])):
        if size != env_size:
            raise DatasetError(dataset.source, f"{env_size} columns, as environment '{env_id}' "
                               f"has", key=key, found=f"{size} columns")
