"""Where a run's data comes from and where it is evaluated (a data spec), and the
episodes it holds out of training."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from onemode.algos.config import ConfigError
from onemode.data.dataset import Dataset, DatasetError
from onemode.data.io import dataset_environment, load_dataset, locate_dataset


def data_spec(task: str | None = None, dataset: str | None = None, size: int | None = None,
              data_seed: int = 0, action_bounds=None, env: str | None = None,
              ref_min: float | None = None, ref_max: float | None = None) -> dict:
    """A task's recipe, or a file evaluated on a task, an environment or nothing: a JSON dict.

    A Minari dataset that records its environment is evaluated there without `env`.
    The scores' reference is resolved here (see `onemode.envs.find_reference`) and kept
    in the spec, so a run's config.json says what its scores mean. An environment whose
    actions are bounded other than [-1, 1] gives the data its bounds (`action_bounds`)
    unless they are declared.
    """
    from onemode.envs import environment_shape, find_reference
    from onemode.tasks import get_task

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
        env_bounds = environment_bounds(shape)
        if action_bounds is None:
            action_bounds = env_bounds
        elif not all(np.allclose(np.broadcast_to(np.asarray(declared, np.float64),
                                                 (shape["act_dim"],)), own)
                     for declared, own in zip(action_bounds, (shape["action_low"],
                                                              shape["action_high"]))):
            raise ConfigError(f"the declared action bounds {action_bounds} are not those of "
                              f"environment '{env}' (low {shape['action_low']}, high "
                              f"{shape['action_high']}): the policy would act outside them")
    else:
        if ref_min is not None or ref_max is not None:
            raise ConfigError("--ref-min/--ref-max need an environment to evaluate in (--env)")
        reference = None
    return {"task": task, "dataset": dataset,
            "size": size, "data_seed": data_seed, "action_bounds": action_bounds, "env": env,
            "reference": reference.to_dict() if reference is not None else None}


def environment_bounds(shape: dict):
    """An environment's action bounds [low, high], or None where they are [-1, 1]."""
    if np.all(np.equal(shape["action_low"], -1.0)) and np.all(np.equal(shape["action_high"],
                                                                       1.0)):
        return None
    return [shape["action_low"], shape["action_high"]]


def evaluation_target(spec: dict):
    """The task or environment a spec evaluates in, or None."""
    from onemode.envs import EnvironmentTarget, Reference
    from onemode.tasks import get_task

    if spec.get("task"):
        return get_task(spec["task"])
    if spec.get("env"):
        return EnvironmentTarget(spec["env"], Reference.from_dict(spec.get("reference") or {}))
    return None


def evaluation_target_for(spec: dict, task: str | None = None, env: str | None = None,
                          ref_min: float | None = None, ref_max: float | None = None):
    """A run's own evaluation target (see `evaluation_target`), or the one asked for instead:
    another task, another environment, or the run's environment with other references."""
    from onemode.envs import EnvironmentTarget, find_reference

    if task is None and ref_min is None and ref_max is None and env in (None, spec.get("env")):
        return evaluation_target(spec)  # with the reference the run recorded
    if task is not None:
        if env is not None or ref_min is not None or ref_max is not None:
            raise ConfigError("give --task, or --env with --ref-min/--ref-max, not both")
        return evaluation_target({"task": task})
    env = env or spec.get("env")
    if env is None:
        raise ConfigError("--ref-min/--ref-max need an environment to evaluate in (--env)")
    metadata = None
    if spec.get("dataset"):
        try:
            metadata = dataset_environment(spec["dataset"])
        except DatasetError:
            pass  # the run's data moved or went: the metadata's references are unknown
    recorded = metadata if metadata and metadata.get("env_id") == env else None
    return EnvironmentTarget(env, find_reference(env, ref_min, ref_max, recorded))


def load_data(spec: dict):
    """(Dataset, evaluation target or None) from a data spec (see `data_spec`).

    A file evaluated in an environment must fit it: the observation and action sizes
    are checked before anything trains.
    """
    target = evaluation_target(spec)
    if spec.get("dataset"):
        dataset = load_dataset(spec["dataset"], action_bounds=spec.get("action_bounds"))
    else:
        if target is None:
            raise ConfigError("give a task or a dataset")
        dataset = target.make_dataset(spec.get("size") or target.default_size,
                                      spec.get("data_seed", 0))
    if spec.get("env"):
        check_fits_environment(dataset, spec["env"])
    return dataset, target


def check_fits_environment(dataset: Dataset, env_id: str) -> None:
    from onemode.envs import environment_shape

    shape = environment_shape(env_id)
    for key, size, env_size in (("observations", dataset.obs_dim, shape["obs_dim"]),
                                ("actions", dataset.act_dim, shape["act_dim"])):
        if size != env_size:
            raise DatasetError(dataset.source, f"{env_size} columns, as environment '{env_id}' "
                               f"has", key=key, found=f"{size} columns")


def split_holdout(dataset: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """Keep a random `fraction` of complete episodes out of training: (train, held out or None)."""
    complete = dataset.episode_slices[: dataset.num_complete_episodes]
    n_held = int(round(fraction * len(complete)))
    if n_held == 0 or n_held == len(complete):
        return dataset, None
    held = set(np.random.default_rng(seed).choice(len(complete), n_held, replace=False).tolist())

    def rows(slices):
        return np.concatenate([np.arange(s.start, s.stop) for s in slices])

    train_slices = [s for i, s in enumerate(complete) if i not in held]
    train_slices += dataset.episode_slices[len(complete):]  # the incomplete trailing rows
    return (dataset.subset(rows(train_slices)),
            dataset.subset(rows([complete[i] for i in sorted(held)])))
