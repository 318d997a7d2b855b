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
import signal
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from onemode.algos import get_algo
from onemode.algos.config import AUTO, AlgoConfig
from onemode.components import describe as describe_choice
from onemode.components import resolve_components
from onemode.data import DataSpec, Transitions, sample, split_holdout, to_device
from onemode.errors import ConfigError, RunStopped
from onemode.evaluate import Rollouts, rollout_seeds
from onemode.policy import make_act
from onemode.runs import (RESUMABLE_SETTINGS, RunDir, RunRecord, TrainConfig, config_differences,
                          to_jsonable)
from onemode.targets import load_data


class TrainResult(NamedTuple):
    run_dir: Path
    state: Any                   # every seed's final state (leading axis: seeds)
    final_eval: Rollouts | None  # (n_seeds, n_episodes) rollouts after the last update


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


def init_seeds(algo, algo_config: AlgoConfig, obs_dim: int, act_dim: int, keys) -> Any:
    """Every seed's initial state (leading axis: seeds), one per key of `keys`.

    One seed's init is compiled once and called per seed: bitwise the states of
    jit(vmap(init)), which XLA compiles more slowly (LOM 256-256, 4 seeds, a 2-core CPU
    shared with a bench: 6.5-6.7 s against 9.6-12.0 s).
    """
    init_one = jax.jit(partial(algo.init, obs_dim=obs_dim, act_dim=act_dim, config=algo_config))
    return jax.tree.map(lambda *seeds: jnp.stack(seeds), *[init_one(key) for key in keys])


def chunk_ends(start: int, end: int, config: TrainConfig) -> list[int]:
    """Global steps in (start, end] where a chunk stops."""
    periods = (config.log_every, config.eval_every, config.checkpoint_every)
    stops = {end} | {s for p in periods for s in range((start // p + 1) * p, end, p)}
    return sorted(stops)


def train(algo_name: str, algo_config: AlgoConfig, config: TrainConfig, spec: DataSpec, out,
          resume: bool = False, show_progress: bool = True,
          handle_signals: bool = True) -> TrainResult:
    """Train `algo_name` on the data of `spec` (see `onemode.targets.data_spec`) into `out`.

    `resume` continues the run in `out` from its checkpoint, or, where it stopped before
    its first one, trains it again from step 0 (its config.json must match the one asked).
    With `handle_signals` (in the main thread), SIGTERM and a first Ctrl-C stop the run at
    the end of its current chunk with its checkpoint saved there (`RunStopped`), so that a
    resumed run replays exactly; a second Ctrl-C stops it at once.
    """
    run = RunDir(out)
    algo = get_algo(algo_name)
    dataset, task = load_data(spec)
    stats = dataset.obs_stats
    train_set, holdout_set = split_holdout(dataset, config.holdout_fraction, spec.data_seed)
    data = to_device(train_set, stats)
    holdout = to_device(holdout_set, stats) if holdout_set is not None else None
    n_seeds = len(config.seeds)

    keys = jax.vmap(lambda s: jax.random.split(jax.random.PRNGKey(s)))(jnp.asarray(config.seeds))
    init_keys, keys = keys[:, 0], keys[:, 1]
    step = 0
    record = RunRecord(algo_name, algo_config, config, spec, dataset.obs_dim, dataset.act_dim)
    if resume:
        stored = run.read_record()
        differences = config_differences(stored, record, RESUMABLE_SETTINGS)
        if differences:
            raise ConfigError(f"{run.path}: cannot resume with other settings than the run's "
                              f"({'; '.join(differences)}); train into a new --out instead")
        # what the run chose itself (n_components=auto) stays chosen
        algo_config = stored.algo_config
        record = dataclasses.replace(record, algo_config=algo_config,
                                     chosen_by_run=stored.chosen_by_run)
    if resume and run.checkpoint_path.exists():
        # the checkpoint replaces the initial state: its shapes suffice, nothing is compiled
        template = jax.eval_shape(jax.vmap(partial(algo.init, obs_dim=dataset.obs_dim,
                                                   act_dim=dataset.act_dim, config=algo_config)),
                                  init_keys)
        step, state, keys = run.load_checkpoint(template)
        run.write_record(record)  # the run now goes on to the new length and log periods
        run.truncate_metrics(step)
    elif resume:  # stopped before its first checkpoint: the run from step 0, as recorded
        state = init_seeds(algo, algo_config, dataset.obs_dim, dataset.act_dim, init_keys)
        run.write_record(record)
        run.write_stats(stats)
        run.truncate_metrics(0)
    else:
        if run.exists():
            raise FileExistsError(f"{run.path} already holds a run; pass --resume or another --out")
        selection = None
        if getattr(algo_config, "n_components", None) == AUTO:
            algo_config, selection = resolve_components(algo_config, data, holdout,
                                                        dataset.act_dim, config.seeds[0])
            record = dataclasses.replace(record, algo_config=algo_config,
                                         chosen_by_run=("n_components",))
            print(describe_choice(selection))
        state = init_seeds(algo, algo_config, dataset.obs_dim, dataset.act_dim, init_keys)
        run.write_record(record)
        run.write_stats(stats)
        if selection is not None:
            run.append_metrics(selection)

    act = make_act(algo, algo_config, stats, spec.action_bounds)
    schedule, start = [], 0
    for phase in algo.phases(algo_config):
        length = config.steps if phase.steps is None else phase.steps
        schedule.append((phase, start, start + length))
        start += length
    total = start
    last_phase = schedule[-1][0].name

    def evaluate(state) -> Rollouts:
        return rollout_seeds(task, lambda obs: np.asarray(act(state, jnp.asarray(obs))), n_seeds,
                             config.eval_episodes)

    final_eval, latest_score = None, None
    with _Progress(total, step, show_progress) as progress, contextlib.closing(run), \
            _stop_requests(handle_signals) as stop_requested:
        for phase, begin, end in schedule:
            if end <= step:
                continue
            update_many = make_update_many(phase.update,
                                           phase.batch_size or algo_config.batch_size)
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
                    tic = time.perf_counter()
                    final_eval = evaluate(state)
                    latest_score = final_eval.scores.mean(axis=1)
                    run.append_metrics({"step": step, "phase": "eval",
                                        "score": latest_score.tolist(),
                                        "return": final_eval.returns.mean(axis=1).tolist(),
                                        "eval_s": time.perf_counter() - tic})
                if step % config.checkpoint_every == 0 or step == end or stop_requested:
                    run.save_checkpoint(step, state, keys)
                progress.update(step, phase.name, rate, latest_score)
                if stop_requested and step < total:
                    raise RunStopped(stop_requested[0], step, run.path,
                                     f"onemode train --resume --out {run.path}")
    if task is not None and final_eval is None and total > 0:
        final_eval = evaluate(state)  # resumed after the last evaluation
    return TrainResult(run.path, state, final_eval)


@contextlib.contextmanager
def _stop_requests(enabled: bool):
    """A list that SIGTERM and a first Ctrl-C append their signal's name to, while the run
    goes on to the end of its chunk; a second Ctrl-C interrupts at once. Signal handlers
    exist in the main thread only: elsewhere (a Ray worker's task) nothing is installed."""
    requested: list[str] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield requested
        return

    def ask_to_stop(signum, frame):
        if requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        requested.append(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, ask_to_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield requested
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Progress:
    """A rich progress bar: phase, updates/s and the latest normalised score."""

    def __init__(self, total: int, done: int, enabled: bool):
        self.enabled = enabled
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )
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


__all__ = ["TrainResult", "chunk_ends", "init_seeds", "make_update_many", "train"]
