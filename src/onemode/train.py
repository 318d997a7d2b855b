"""The training engine shared by every algorithm.

The dataset goes to the device once. `update_many` runs n updates of every
seed in one jitted `lax.scan`, seeds being a `vmap` dimension; Python runs
only between chunks, to log, evaluate and checkpoint. A chunk ends at every
multiple of `log_every`, `eval_every` and `checkpoint_every` and at the end of
each phase, so a resumed run replays exactly the chunks of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from onemode.algos import get_algo
from onemode.algos.config import AlgoConfig, ConfigError, check
from onemode.data import Dataset, NormStats, Transitions, load_dataset, sample, to_device
from onemode.evaluate import Rollouts, rollout_seeds
from onemode.runs import RESUMABLE_SETTINGS, RunDir, config_differences, to_jsonable
from onemode.tasks import Task, get_task

EVAL_RESET_SEED = 100_000  # every evaluation meets the same start states


@dataclasses.dataclass(frozen=True)
class TrainConfig(AlgoConfig):
    steps: int = 100_000          # updates of the algorithm's main phase
    seeds: tuple[int, ...] = (0,)
    log_every: int = 1_000
    eval_every: int = 10_000
    eval_episodes: int = 10
    checkpoint_every: int = 10_000
    holdout_fraction: float = 0.05  # episodes kept out of training, to score the behaviour model

    def validate(self):
        check(self.steps >= 0, f"steps must be >= 0, got {self.steps}")
        check(len(self.seeds) >= 1, "give at least one seed")
        check(len(set(self.seeds)) == len(self.seeds), f"seeds repeat: {self.seeds}")
        for name in ("log_every", "eval_every", "checkpoint_every", "eval_episodes"):
            check(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        check(0 <= self.holdout_fraction < 1, "holdout_fraction must be in [0, 1)")


class TrainResult(NamedTuple):
    run_dir: Path
    state: Any                   # every seed's final state (leading axis: seeds)
    final_eval: Rollouts | None  # (n_seeds, n_episodes) rollouts after the last update


# ----------------------------------------------------------------------- data
def load_data(spec: dict) -> tuple[Dataset, Task | None]:
    """Dataset and evaluation task from a run's data spec (see `data_spec`)."""
    task = get_task(spec["task"]) if spec.get("task") else None
    if spec.get("dataset"):
        dataset = load_dataset(spec["dataset"], action_bounds=spec.get("action_bounds"))
    else:
        if task is None:
            raise ConfigError("give a task or a dataset")
        dataset = task.make_dataset(spec.get("size") or task.default_size, spec.get("data_seed", 0))
    return dataset, task


def data_spec(task: str | None = None, dataset: str | None = None, size: int | None = None,
              data_seed: int = 0, action_bounds=None) -> dict:
    """Where a run's data comes from: a task's recipe, or a file (evaluated on `task` if given)."""
    if task is None and dataset is None:
        raise ConfigError("give --task NAME or --dataset PATH")
    if task is not None:
        get_task(task)  # fail early on an unknown name
    return {"task": task, "dataset": str(Path(dataset).resolve()) if dataset else None,
            "size": size, "data_seed": data_seed, "action_bounds": action_bounds}


def run_record(algo_name: str, algo_config: AlgoConfig, config: TrainConfig, spec: dict,
               obs_dim: int | None = None, act_dim: int | None = None) -> dict:
    """What a run's config.json holds (the data's shapes once the data is loaded)."""
    record = {"algo": algo_name, "algo_config": algo_config.to_dict(),
              "train_config": config.to_dict(), "data": spec}
    if obs_dim is not None:
        record.update(obs_dim=obs_dim, act_dim=act_dim)
    return record


def split_holdout(dataset: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """Keep a random `fraction` of complete episodes out of training."""
    complete = dataset.episode_slices[: dataset.num_complete_episodes]
    n_held = int(round(fraction * len(complete)))
    if n_held == 0 or n_held == len(complete):
        return dataset, None
    held = set(np.random.default_rng(seed).choice(len(complete), n_held, replace=False).tolist())

    def subset(slices):
        rows = np.concatenate([np.arange(s.start, s.stop) for s in slices])
        return Dataset.from_arrays({k: v[rows] for k, v in dataset.arrays().items()},
                                   source=dataset.source)

    train_slices = [s for i, s in enumerate(complete) if i not in held]
    train_slices += dataset.episode_slices[len(complete):]  # the incomplete trailing rows
    return subset(train_slices), subset([complete[i] for i in sorted(held)])


# --------------------------------------------------------------------- engine
def make_update_many(update: Callable, batch_size: int):
    """jit(vmap over seeds(scan of n updates)); metrics are averaged over the chunk."""

    def one_seed(state, key, data: Transitions, n: int):
        def step(carry, _):
            state, key = carry
            key, k_batch, k_update = jax.random.split(key, 3)
            state, metrics = update(state, sample(data, k_batch, batch_size), k_update)
            return (state, key), metrics

        (state, key), metrics = jax.lax.scan(step, (state, key), None, length=n)
        return state, key, jax.tree.map(lambda m: m.mean(axis=0), metrics)

    return jax.jit(jax.vmap(one_seed, in_axes=(0, 0, None, None)), static_argnums=3)


def make_act(algo, config, stats: NormStats):
    """Batched acting for every seed: (S, n, obs_dim) raw observations -> (S, n, act_dim)."""
    mean, std = jnp.asarray(stats.mean), jnp.asarray(stats.std)

    @jax.jit
    def act(state, observations):
        return jax.vmap(lambda st, obs: algo.act(st, (obs - mean) / std, config))(state, observations)

    return act


def chunk_ends(start: int, end: int, config: TrainConfig) -> list[int]:
    """Global steps in (start, end] where a chunk stops."""
    periods = (config.log_every, config.eval_every, config.checkpoint_every)
    stops = {end} | {s for p in periods for s in range((start // p + 1) * p, end, p)}
    return sorted(stops)


def train(algo_name: str, algo_config: AlgoConfig, config: TrainConfig, spec: dict, out,
          resume: bool = False, show_progress: bool = True) -> TrainResult:
    """Train `algo_name` on the data of `spec`; see `data_spec`."""
    run = RunDir(out)
    algo = get_algo(algo_name)
    dataset, task = load_data(spec)
    stats = dataset.obs_stats
    train_set, holdout_set = split_holdout(dataset, config.holdout_fraction, spec.get("data_seed", 0))
    data = to_device(train_set, stats)
    holdout = to_device(holdout_set, stats) if holdout_set is not None else None
    n_seeds = len(config.seeds)

    keys = jax.vmap(lambda s: jax.random.split(jax.random.PRNGKey(s)))(jnp.asarray(config.seeds))
    init = jax.jit(jax.vmap(partial(algo.init, obs_dim=dataset.obs_dim, act_dim=dataset.act_dim,
                                    config=algo_config)))
    state, keys = init(keys[:, 0]), keys[:, 1]
    step = 0
    record = run_record(algo_name, algo_config, config, spec, dataset.obs_dim, dataset.act_dim)
    if resume and run.checkpoint_path.exists():
        differences = config_differences(run.read_config(), record, RESUMABLE_SETTINGS)
        if differences:
            raise ConfigError(f"{run.path}: cannot resume with other settings than the run's "
                              f"({'; '.join(differences)}); train into a new --out instead")
        step, state, keys = run.load_checkpoint(state)
        run.write_config(record)  # the run now goes on to the new length and log periods
        run.truncate_metrics(step)
    elif resume:
        raise FileNotFoundError(f"{run.path}: nothing to resume (no checkpoint.npz)")
    else:
        if run.exists():
            raise FileExistsError(f"{run.path} already holds a run; pass --resume or another --out")
        run.write_config(record)
        run.write_stats(stats)

    act = make_act(algo, algo_config, stats)
    schedule, start = [], 0
    for phase in algo.phases(algo_config):
        length = config.steps if phase.steps is None else phase.steps
        schedule.append((phase, start, start + length))
        start += length
    total = start
    last_phase = schedule[-1][0].name

    def evaluate(state) -> Rollouts:
        return rollout_seeds(task, lambda obs: np.asarray(act(state, jnp.asarray(obs))), n_seeds,
                             config.eval_episodes, EVAL_RESET_SEED)

    final_eval, latest_score = None, None
    with _Progress(total, step, show_progress) as progress, contextlib.closing(run):
        for phase, begin, end in schedule:
            if end <= step:
                continue
            update_many = make_update_many(phase.update, algo_config.batch_size)
            for stop in chunk_ends(max(step, begin), end, config):
                tic = time.perf_counter()
                state, keys, metrics = update_many(state, keys, data, stop - step)
                jax.block_until_ready(keys)
                rate = (stop - step) / (time.perf_counter() - tic)
                step = stop
                entry = {"step": step, "phase": phase.name, "updates_per_s": rate,
                         **{k: to_jsonable(v) for k, v in metrics.items()}}
                if holdout is not None and phase.holdout_metrics is not None:
                    held = jax.vmap(phase.holdout_metrics, in_axes=(0, None))(state, holdout)
                    entry.update({k: to_jsonable(v) for k, v in held.items()})
                run.append_metrics(entry)
                if task is not None and phase.name == last_phase and (
                        step % config.eval_every == 0 or step == end):
                    final_eval = evaluate(state)
                    latest_score = final_eval.scores.mean(axis=1)
                    run.append_metrics({"step": step, "phase": "eval",
                                        "score": latest_score.tolist(),
                                        "return": final_eval.returns.mean(axis=1).tolist()})
                if step % config.checkpoint_every == 0 or step == end:
                    run.save_checkpoint(step, state, keys)
                progress.update(step, phase.name, rate, latest_score)
    if task is not None and final_eval is None and total > 0:
        final_eval = evaluate(state)  # resumed after the last evaluation
    return TrainResult(run.path, state, final_eval)


class _Progress:
    """A rich progress bar: phase, updates/s and the latest normalised score."""

    def __init__(self, total: int, done: int, enabled: bool):
        self.enabled = enabled
        if enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeRemainingColumn)
            self.bar = Progress(TextColumn("{task.fields[phase]:>9}"), BarColumn(),
                                MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                                TextColumn("{task.fields[score]}"), TimeRemainingColumn())
            self.task = self.bar.add_task("train", total=total, completed=done, phase="",
                                          rate="", score="")

    def __enter__(self):
        if self.enabled:
            self.bar.start()
        return self

    def update(self, step, phase, rate, scores):
        if self.enabled:
            score = "" if scores is None else f"score {np.mean(scores):.1f} ± {np.std(scores):.1f}"
            self.bar.update(self.task, completed=step, phase=phase, rate=f"{rate:,.0f} upd/s",
                            score=score)

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()
