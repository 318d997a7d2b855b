"""Algorithms x tasks x seeds -> tables (mean ± std), learning curves and raw results.

    OUT/data/TASK-SIZE.npz each task's dataset, generated once and shared by every run
    OUT/runs/TASK/LABEL/   one training run per algorithm (and sweep value), seeds vmapped
    OUT/results.json       every run's per-seed final scores and its learning curve
    OUT/table.md, .csv     normalised score, mean ± std over seeds; the interquartile mean
                           over all runs with its bootstrap interval; each run's time
    OUT/iqm.png            that interquartile mean per algorithm
    OUT/curves-TASK.png    score against updates, mean ± std over seeds
    OUT/actions-TASK.png   the dataset's actions beside each policy's (see figures.py)

A finished run leaves `done.json`; running the same bench again skips it and
resumes a run that was cut off, so an interrupted bench continues where it stopped.
Before the first run, every run already in OUT is compared with what the bench asks:
one trained with other settings (another `--set`, `--steps`, seeds) is refused with
the differences named, never reported as this bench's; a cut-off one may go on to
another `--steps` or `--eval-every`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
from pathlib import Path
from typing import NamedTuple

import numpy as np

from onemode.aggregate import iqm_interval
from onemode.distributed import run_on_ray
from onemode.algos import get_algo
from onemode.data import DataSpec, save_dataset
from onemode.envs import Reference, find_reference
from onemode.errors import ConfigError, RunStopped
from onemode.figures import action_figure
from onemode.fileio import atomic_write
from onemode.presets import configure, find_preset
from onemode.runs import RESUMABLE_SETTINGS, RunDir, RunRecord, TrainConfig, config_differences
from onemode.targets import data_spec
from onemode.tasks import get_task
from onemode.tasks.ogbench_play import make_play_dataset
from onemode.tasks.ogbench_suite import (TRANSITIONS_PER_EPISODE, episodes_for, file_name,
                                         single_task_envs)
from onemode.train import train


@dataclasses.dataclass(frozen=True)
class BenchSpec:
    tasks: tuple[str, ...]
    algos: tuple[str, ...]
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    steps: int = 100_000
    eval_every: int = 10_000
    eval_episodes: int = 20
    size: int | None = None                  # transitions per dataset; None: the task's default
    options: tuple[tuple[str, str], ...] = ()  # applied to every algorithm that has the option
    preset: str | None = None                # likewise: every algorithm that has the preset
    sweep: tuple[str, tuple[str, ...]] | None = None  # (option, values)
    datasets: tuple[str, ...] = ()           # the user's files, beside or instead of tasks
    ogbench: tuple[str, ...] = ()            # OGBench play datasets: each of their five tasks
    env: str | None = None                   # where the files are evaluated (see data_spec)
    ref_min: float | None = None
    ref_max: float | None = None

    def sources(self, out: Path) -> dict[str, DataSpec]:
        """label -> data spec: each task (its data generated under OUT/data), each file."""
        sources = {task: data_spec(task=task, dataset=data_path(task, self.size, out))
                   for task in self.tasks}
        for name in self.ogbench:   # one file under OUT/data, relabelled for each task
            path = str(ogbench_data_path(name, self.size, out))
            for env_id in single_task_envs(name):
                source = DataSpec(dataset=path, env=env_id, reference=find_reference(env_id))
                sources[source.label] = source   # OGBench's name: NAME-singletask-taskN
        for path in self.datasets:
            label = Path(path).stem if Path(path).suffix else Path(path).name
            if label in sources:
                raise ConfigError(f"two bench entries are named '{label}'; rename one file")
            sources[label] = data_spec(dataset=path, env=self.env, ref_min=self.ref_min,
                                       ref_max=self.ref_max)
            if sources[label].env is None:
                raise ConfigError(f"{path}: a bench scores every run in an environment, and "
                                  f"this file records none: give --env ENV_ID")
        if not sources:
            raise ConfigError("give --tasks, or --dataset FILE (with --env ENV_ID)")
        return sources


def run_label(algo: str, sweep_value: str | None, sweep_name: str | None) -> str:
    return algo if sweep_value is None else f"{algo}-{sweep_name}={sweep_value}"


def algo_config(algo: str, spec: BenchSpec, sweep_value: str | None, dataset: str | None):
    """The algorithm's defaults, under the bench's preset's options for `dataset` where the
    algorithm has that preset, under the bench's options where it has them; and the
    preset's line saying which of its rows it used (None: no preset)."""
    known = {f.name for f in dataclasses.fields(get_algo(algo).Config)}
    values = {k: v for k, v in spec.options if k in known}
    if spec.sweep is not None:
        name = spec.sweep[0]
        if name not in known:
            raise ConfigError(f"--sweep {name}: {algo} has no option '{name}'")
        values[name] = sweep_value
    preset = spec.preset if spec.preset and find_preset(algo, spec.preset) else None
    return configure(algo, values, preset, dataset)


def task_data(task_name: str, size: int | None, out: Path, log=print) -> Path:
    """The task's dataset as a file under OUT/data, generated on first use.

    Every algorithm of a bench then trains on the same transitions, and the
    simulated tasks (Fetch: minutes of MuJoCo) are generated once, not per run.
    """
    path = data_path(task_name, size, out)
    if not path.exists():
        size = _size(task_name, size)
        log(f"generating {task_name} data ({size:,} transitions) -> {path}")
        save_dataset(get_task(task_name).make_dataset(size, 0), path)
    return path


def ogbench_data(name: str, size: int | None, out: Path, log=print) -> Path:
    """OGBench's play dataset `name` under OUT/data (with its -val sibling), generated here
    on first use; a user's own copy of OGBench's file may be put there under that name."""
    path = ogbench_data_path(name, size, out)
    if not path.exists():
        log(f"generating {name} ({episodes_for(size):,} episodes) -> {path}")
        make_play_dataset(name, path, episodes_for(size), log=log)
    return path


def ogbench_data_path(name: str, size: int | None, out: Path) -> Path:
    """OUT/data/ogbench-SIZE/NAME-v0.npz: OGBench's file name, which presets key on."""
    transitions = episodes_for(size) * TRANSITIONS_PER_EPISODE
    return out / "data" / f"ogbench-{transitions}" / file_name(name)


def data_path(task_name: str, size: int | None, out: Path) -> Path:
    return out / "data" / f"{task_name}-{_size(task_name, size)}.npz"


def _size(task_name: str, size: int | None) -> int:
    return size or get_task(task_name).default_size


BACKENDS = ("local", "ray")


class Job(NamedTuple):
    """One training run of a bench: a task or file, an algorithm (and sweep value), all seeds.

    Its configs are resolved here, once: a worker (that may run elsewhere) trains the record.
    """

    task: str
    run_dir: Path
    record: RunRecord     # the algorithm, its config, the training config and the data spec
    preset_note: str | None = None   # which row of the bench's preset the config took


def run_bench(spec: BenchSpec, out, show_progress: bool = True, log=print,
              backend: str = "local", address: str | None = None,
              gpus_per_task: float = 0, report_only: bool = False) -> dict:
    """Train every run the bench asks for that OUT does not hold finished, then report.

    backend "local" trains the runs one after another in this process; "ray" sends
    each as a task to a Ray cluster (`address`, or a local instance), whose workers
    write into OUT (a filesystem they share with this machine). `report_only` trains
    nothing: the tables show the runs already finished, as a long bench goes on.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
    out = Path(out).absolute()
    if not spec.algos:
        raise ConfigError("give at least one algorithm: --algos NAME[,NAME...]")
    if spec.steps < 1:
        raise ConfigError(f"--steps must be >= 1 (a bench scores each run after its main "
                          f"phase), got {spec.steps}")
    for option, _ in spec.options:
        if not any(option in {f.name for f in dataclasses.fields(get_algo(a).Config)}
                   for a in spec.algos):
            raise ConfigError(f"--set {option}: none of {', '.join(spec.algos)} has that option")
    if spec.preset is not None and not any(find_preset(a, spec.preset) for a in spec.algos):
        raise ConfigError(f"--preset {spec.preset}: none of {', '.join(spec.algos)} has that "
                          "preset")
    jobs = plan(spec, out)
    for job in jobs:  # every earlier run, before the first long run
        _check_earlier_run(job.run_dir, job.record)
        if job.preset_note:
            log(f"{job.task} / {job.run_dir.name}: {job.preset_note}")
    pending = [job for job in jobs if not (job.run_dir / "done.json").exists()]
    for i, job in enumerate(jobs, 1):
        if job not in pending:
            log(f"[{i}/{len(jobs)}] {job.task} / {job.run_dir.name}: done, skipped")
        elif report_only:
            log(f"[{i}/{len(jobs)}] {job.task} / {job.run_dir.name}: not finished, left out")
    if report_only:
        if len(pending) == len(jobs):
            raise ConfigError(f"{out} holds no finished run of this bench yet")
        pending = []
    for task in sorted({job.task for job in pending} & set(spec.tasks)):
        task_data(task, spec.size, out, log)
    for name in spec.ogbench:
        if any(job.task.startswith(f"{name}-singletask-") for job in pending):
            ogbench_data(name, spec.size, out, log)
    failures = {}
    if backend == "local":
        for job in pending:
            log(f"[{jobs.index(job) + 1}/{len(jobs)}] {job.task} / {job.run_dir.name}")
            train_job(job, show_progress)
            report(spec, out, jobs)
    elif pending:
        failures = run_on_ray(train_job, out, pending, address=address,
                              gpus_per_task=gpus_per_task, log=log,
                              on_done=lambda: report(spec, out, jobs))
    results = report(spec, out, jobs)
    for task in results:
        run_dirs = {label: out / "runs" / task / label for label in results[task]}
        # runs kept without their checkpoints (a record of the logs alone) have no policy to draw
        drawable = {label: run_dir for label, run_dir in run_dirs.items()
                    if RunDir(run_dir).checkpoint_path.exists()}
        if drawable:  # no figure for 1-d actions of n-d states either
            action_figure(drawable, out / f"actions-{task}.png")
    if failures:
        raise BenchError(failures)
    return results


class BenchError(ConfigError):
    """Runs that failed (each after one retry); the finished runs are reported and kept."""

    def __init__(self, failures: dict[str, str]):
        self.failures = failures
        lines = [f"{len(failures)} run(s) failed twice and are missing from the tables; run the "
                 "bench again to retry them:"] + [f"  {run}: {error}"
                                                  for run, error in failures.items()]
        super().__init__("\n".join(lines))


def bench_train_config(spec: BenchSpec) -> TrainConfig:
    return TrainConfig(steps=spec.steps, seeds=spec.seeds, eval_every=spec.eval_every,
                       eval_episodes=spec.eval_episodes, log_every=min(1000, spec.eval_every),
                       checkpoint_every=spec.eval_every)


def plan(spec: BenchSpec, out: Path) -> list[Job]:
    sweep_name = spec.sweep[0] if spec.sweep else None
    train_config = bench_train_config(spec)
    sources = spec.sources(out)
    jobs = []
    for task, source in sources.items():
        for algo in spec.algos:
            for value in (spec.sweep[1] if spec.sweep else (None,)):
                config, note = algo_config(algo, spec, value, source.label)
                jobs.append(Job(task, out / "runs" / task / run_label(algo, value, sweep_name),
                                RunRecord(algo, config, train_config, source), note))
    return jobs


def train_job(job: Job, show_progress: bool = False, handle_signals: bool = True) -> Path:
    """Train (or resume) one run of the bench and mark it done: what a backend runs.

    A run stopped by SIGTERM or Ctrl-C (`handle_signals`, see `train`) saves its
    checkpoint at the end of its chunk; the same bench command run again continues it.
    """
    resume = (job.run_dir / "checkpoint.npz").exists()
    if not resume and job.run_dir.exists():
        shutil.rmtree(job.run_dir)  # cut off before its first checkpoint: start again
    record = job.record
    try:
        train(record.algo, record.algo_config, record.train_config, record.data, job.run_dir,
              resume=resume, show_progress=show_progress, handle_signals=handle_signals)
    except RunStopped as stopped:
        raise stopped.with_hint("the same onemode bench command again") from None
    atomic_write(job.run_dir / "done.json", lambda tmp: tmp.write_text("{}\n"))
    return job.run_dir


def report(spec: BenchSpec, out: Path, jobs: list[Job]) -> dict:
    """Tables, curves and results.json of the finished runs among `jobs`, in plan order."""
    results = {}
    for job in jobs:
        if (job.run_dir / "done.json").exists():
            results.setdefault(job.task, {})[job.run_dir.name] = collect(job.run_dir, spec.seeds)
    write_reports(results, out)
    return results


def _check_earlier_run(run_dir: Path, planned: RunRecord) -> None:
    """A run already in OUT counts for this bench only if this bench would train it the same way.

    A finished run must match in everything; a cut-off one may be resumed to another
    length or evaluation period. (log_every and checkpoint_every follow --eval-every.)
    """
    run = RunDir(run_dir)
    finished = (run_dir / "done.json").exists()
    if not run.exists() or not (finished or run.checkpoint_path.exists()):
        return  # nothing yet, or cut off before its first checkpoint: it starts again
    differences = config_differences(
        run.read_record(), planned,
        {"log_every", "checkpoint_every"} if finished else RESUMABLE_SETTINGS)
    if differences:
        raise ConfigError(f"{run_dir} was trained with other settings than this bench asks "
                          f"({'; '.join(differences)}); give the bench a new --out, or delete "
                          f"that run directory to train it again")


def collect(run_dir: Path, seeds) -> dict:
    """Per-seed final scores and the learning curve, from the run's evaluation log."""
    records = RunDir(run_dir).read_metrics()
    evals = [r for r in records if r["phase"] == "eval"]
    if not evals:
        raise ConfigError(f"{run_dir}: no evaluation in the log (does the task have an environment?)")
    reference = RunDir(run_dir).read_record().data.reference
    return {"seeds": list(seeds), "final_scores": evals[-1]["score"],
            "final_returns": evals[-1]["return"],
            "reference": reference.to_dict() if reference is not None else None,
            "curve": {"step": [r["step"] for r in evals], "score": [r["score"] for r in evals]},
            **timing(records)}


def timing(records: list[dict]) -> dict:
    """The run's time from its log: updates (each chunk's length / its updates/s, compiling
    included) plus evaluations; start-up and data loading are not counted."""
    update_s, updates, step = 0.0, 0, 0
    for record in records:
        if record["phase"] == "eval":
            continue
        updates += record["step"] - step
        update_s += (record["step"] - step) / record["updates_per_s"]
        step = record["step"]
    eval_s = sum(r.get("eval_s", 0.0) for r in records if r["phase"] == "eval")
    return {"wall_s": update_s + eval_s,
            "updates_per_s": updates / update_s if update_s > 0 else float("nan")}


def write_reports(results: dict, out: Path) -> None:
    atomic_write(out / "results.json", lambda tmp: tmp.write_text(json.dumps(results, indent=1)))
    atomic_write(out / "table.md", lambda tmp: tmp.write_text(markdown_table(results)))
    atomic_write(out / "table.csv", lambda tmp: tmp.write_text(csv_table(results)))
    for task, runs in results.items():
        atomic_write(out / f"curves-{task}.png", lambda tmp: plot_curves(task, runs, tmp))
    if results:
        atomic_write(out / "iqm.png", lambda tmp: plot_iqm(iqm_by_label(results), tmp))


def _mean_std(scores) -> tuple[float, float]:
    return float(np.mean(scores)), float(np.std(scores))


def markdown_table(results: dict) -> str:
    tasks = list(results)
    labels = list(dict.fromkeys(label for runs in results.values() for label in runs))
    n_seeds = {len(r["final_scores"]) for runs in results.values() for r in runs.values()}
    lines = [f"Score, mean ± std over {'/'.join(map(str, sorted(n_seeds)))} seeds; "
             "what 0 and 100 are, under the table.", "",
             "| algorithm | " + " | ".join(tasks) + " |",
             "|---|" + "---|" * len(tasks)]
    for label in labels:
        cells = []
        for task in tasks:
            run = results[task].get(label)
            if run is None:
                cells.append("")
                continue
            mean, std = _mean_std(run["final_scores"])
            best = max(_mean_std(r["final_scores"])[0] for r in results[task].values())
            cell = f"{mean:.1f} ± {std:.1f}"
            cells.append(f"**{cell}**" if mean == best else cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += _task_means_table(results, labels)
    lines.append("")
    for task, runs in results.items():
        reference = next(iter(runs.values())).get("reference")
        if reference:
            lines.append(f"- {task}: {Reference.from_dict(reference).describe()}")
    intervals = iqm_by_label(results)
    if any(interval.n_runs > 1 for interval in intervals.values()):
        lines += ["", "Interquartile mean of every run's final score (tasks x seeds), with the "
                  "95% stratified-bootstrap interval (seeds resampled within each task):", "",
                  "| algorithm | IQM [95% CI] | runs |", "|---|---|---|"]
        lines += [f"| {label} | {interval.describe()} | {interval.n_runs} |"
                  for label, interval in intervals.items()]
        lines += _unequal_tasks_note(results, labels)
    lines += ["", "Time of each run (all seeds together): wall-clock of updates and "
              "evaluations, and updates/s.", "",
              "| algorithm | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
    for label in labels:
        cells = [_time_cell(results[task].get(label)) for task in tasks]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def task_groups(tasks) -> dict[str, list[str]]:
    """OGBench's way of naming a dataset's tasks, "NAME-singletask-taskN": NAME -> its
    tasks, for every NAME with two or more."""
    groups: dict[str, list[str]] = {}
    for task in tasks:
        name, sep, number = task.rpartition("-singletask-task")
        if sep and number.isdigit():
            groups.setdefault(name, []).append(task)
    return {name: members for name, members in groups.items() if len(members) > 1}


def _task_means_table(results: dict, labels: list) -> list:
    """Each dataset's score as OGBench reports it: the mean over its tasks (each task's
    mean over seeds), for the algorithms that finished all of them."""
    groups = task_groups(results)
    if not groups:
        return []
    lines = ["", "Mean over each dataset's tasks (each task's mean over seeds):", "",
             "| algorithm | " + " | ".join(f"{name} ({len(tasks)} tasks)"
                                          for name, tasks in groups.items()) + " |",
             "|---|" + "---|" * len(groups)]
    for label in labels:
        cells = []
        for tasks in groups.values():
            runs = [results[task].get(label) for task in tasks]
            cells.append("" if None in runs else
                         f"{np.mean([np.mean(run['final_scores']) for run in runs]):.1f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _unequal_tasks_note(results: dict, labels: list) -> list:
    """A warning line when the IQM rows span different tasks: they are then not comparable."""
    missing = {label: [task for task, runs in results.items() if label not in runs]
               for label in labels}
    missing = {label: tasks for label, tasks in missing.items() if tasks}
    if not missing:
        return []
    listed = "; ".join(f"{label} lacks {', '.join(tasks)}" for label, tasks in missing.items())
    return ["", f"The rows cover different tasks ({listed}), so their IQMs are not "
            "comparable; compare them over the tasks every algorithm finished (`--datasets`)."]


def _time_cell(run: dict | None) -> str:
    if run is None or "wall_s" not in run:
        return ""
    return f"{run['wall_s'] / 60:.1f} min, {run['updates_per_s']:,.0f}/s"


def iqm_by_label(results: dict) -> dict:
    """label -> the IQM interval over the tasks it finished (each task's seeds a stratum)."""
    labels = dict.fromkeys(label for runs in results.values() for label in runs)
    return {label: iqm_interval([runs[label]["final_scores"] for runs in results.values()
                                 if label in runs]) for label in labels}


def csv_table(results: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["task", "algorithm", "mean", "std", "n_seeds", "per_seed_scores",
                     "wall_s", "updates_per_s"])
    for task, runs in results.items():
        for label, run in runs.items():
            mean, std = _mean_std(run["final_scores"])
            writer.writerow([task, label, f"{mean:.3f}", f"{std:.3f}", len(run["final_scores"]),
                             " ".join(f"{s:.3f}" for s in run["final_scores"]),
                             f"{run.get('wall_s', float('nan')):.1f}",
                             f"{run.get('updates_per_s', float('nan')):.1f}"])
    return buffer.getvalue()


def plot_iqm(intervals: dict, path: Path) -> None:
    """Each algorithm's IQM as a point with its bootstrap interval as a bar."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(intervals)
    figure, axis = plt.subplots(figsize=(6, 0.8 + 0.45 * len(labels)))
    for row, label in enumerate(labels):
        interval = intervals[label]
        axis.plot([interval.low, interval.high], [row, row], linewidth=6, alpha=0.4,
                  solid_capstyle="butt")
        axis.plot([interval.value], [row], marker="|", markersize=14, color="black")
    axis.set_yticks(range(len(labels)), labels)
    axis.invert_yaxis()
    axis.set_xlabel("score: IQM with 95% bootstrap interval")
    axis.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    with open(path, "wb") as f:
        figure.savefig(f, format="png", dpi=120)
    plt.close(figure)


def plot_curves(task: str, runs: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for label, run in runs.items():
        steps = np.asarray(run["curve"]["step"])
        scores = np.asarray(run["curve"]["score"])  # (evaluations, seeds)
        mean, std = scores.mean(axis=1), scores.std(axis=1)
        axis.plot(steps, mean, label=label, marker="o", markersize=3)
        axis.fill_between(steps, mean - std, mean + std, alpha=0.2)
    axis.set_xlabel("updates (pre-training phases included)")
    axis.set_ylabel("score")
    axis.set_title(task)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    with open(path, "wb") as f:
        figure.savefig(f, format="png", dpi=120)
    plt.close(figure)
