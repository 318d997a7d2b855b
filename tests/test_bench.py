"""The bench: tables, curves, figures, raw results; an interrupted bench resumes."""

from __future__ import annotations

import json

import pytest

import onemode.bench as bench
from onemode.aggregate import iqm_interval
from onemode.errors import ConfigError
from onemode.bench import BenchSpec, run_bench
from onemode.runs import RunDir

TINY = (("hidden", "16,16"), ("mdn_steps", "100"), ("hyper_q_samples", "1"),
        ("batch_size", "64"))


def _spec(**changes):
    values = dict(tasks=("bandit",), algos=("lom",), seeds=(0, 1), steps=100, eval_every=50,
                  eval_episodes=10, size=1000, options=TINY,
                  sweep=("n_components", ("2", "3")))
    values.update(changes)
    return BenchSpec(**values)


def test_bench_writes_tables_curves_figures_and_resumes_after_interruption(tmp_path, monkeypatch):
    real_train, calls = bench.train, []

    def train_then_die(*args, **kwargs):
        calls.append(args[3].task)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the bench is killed during its second run
        return real_train(*args, **kwargs)

    monkeypatch.setattr(bench, "train", train_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_bench(_spec(), tmp_path, show_progress=False, log=lambda *_: None)
    first = tmp_path / "runs/bandit/lom-n_components=2"
    assert (first / "done.json").exists()
    checkpoint_time = (first / "checkpoint.npz").stat().st_mtime_ns

    monkeypatch.setattr(bench, "train", real_train)
    lines = []
    results = run_bench(_spec(), tmp_path, show_progress=False, log=lines.append)
    assert "done, skipped" in lines[0] and "skipped" not in lines[1]
    assert (first / "checkpoint.npz").stat().st_mtime_ns == checkpoint_time  # not retrained

    raw = json.loads((tmp_path / "results.json").read_text())
    assert raw == json.loads(json.dumps(results))
    for label in ("lom-n_components=2", "lom-n_components=3"):
        run = raw["bandit"][label]
        assert len(run["final_scores"]) == 2 and run["curve"]["step"] == [150, 200]  # global steps: 100 MDN + 100 main
        assert run["wall_s"] > 0 and run["updates_per_s"] > 0
    table = (tmp_path / "table.md").read_text()
    assert "| lom-n_components=2 |" in table and "mean ± std over 2 seeds" in table
    scores = raw["bandit"]["lom-n_components=2"]["final_scores"]
    interval = iqm_interval([scores])
    assert f"| lom-n_components=2 | {interval.describe()} | 2 |" in table   # IQM section
    assert "min, " in table and "/s |" in table                             # time section
    assert len((tmp_path / "table.csv").read_text().splitlines()) == 3
    for name in ("curves-bandit.png", "actions-bandit.png", "iqm.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # a look at a bench under way: the finished runs are reported, nothing is trained
    def no_training(*args, **kwargs):
        raise AssertionError("--report-only trained a run")

    monkeypatch.setattr(bench, "train", no_training)
    lines = []
    shown = run_bench(_spec(tasks=("multigoal", "bandit")), tmp_path, show_progress=False,
                      log=lines.append, report_only=True)
    assert shown == raw and not list((tmp_path / "data").glob("multigoal-*"))
    assert sum("not finished, left out" in line for line in lines) == 2
    with pytest.raises(ConfigError, match="holds no finished run of this bench"):
        run_bench(_spec(tasks=("multigoal",)), tmp_path, show_progress=False,
                  log=lambda *_: None, report_only=True)

    # a record kept without checkpoints (logs and configs only) still gives the tables
    saved = {path: path.read_bytes() for path in tmp_path.glob("runs/*/*/checkpoint.npz")}
    for path in saved:
        path.unlink()
    (tmp_path / "table.md").unlink()
    assert run_bench(_spec(), tmp_path, show_progress=False, log=lambda *_: None,
                     report_only=True) == raw
    assert "| lom-n_components=2 |" in (tmp_path / "table.md").read_text()
    for path, content in saved.items():
        path.write_bytes(content)

    # the same folder, other settings: the finished runs are not passed off as this bench's
    with pytest.raises(ConfigError, match=r"algo_config.beta: 5.0 in the run, 2.0 asked"):
        run_bench(_spec(options=TINY + (("beta", "2.0"),)), tmp_path, show_progress=False,
                  log=lambda *_: None)
    calls.clear()
    monkeypatch.setattr(bench, "train", train_then_die)
    with pytest.raises(ConfigError, match=r"train_config.steps: 100 in the run, 300 asked"):
        run_bench(_spec(steps=300, tasks=("multigoal", "bandit")), tmp_path,
                  show_progress=False, log=lambda *_: None)
    assert calls == []  # refused before training the new task's runs


def test_bench_resumes_a_cut_off_run_to_another_length(tmp_path, monkeypatch):
    real_train = bench.train

    def train_then_die(*args, **kwargs):
        monkeypatch.setattr(bench, "train", real_train)
        real_train(*args, **kwargs)
        raise KeyboardInterrupt  # killed after the first run's checkpoint, before done.json

    monkeypatch.setattr(bench, "train", train_then_die)
    spec = _spec(sweep=None)
    with pytest.raises(KeyboardInterrupt):
        run_bench(spec, tmp_path, show_progress=False, log=lambda *_: None)
    results = run_bench(_spec(sweep=None, steps=150), tmp_path, show_progress=False,
                        log=lambda *_: None)
    assert results["bandit"]["lom"]["curve"]["step"] == [150, 200, 250]
    run = RunDir(tmp_path / "runs/bandit/lom")
    assert run.read_config()["train_config"]["steps"] == 150
    # the same command again finds the finished run as it asked for it
    again = run_bench(_spec(sweep=None, steps=150), tmp_path, show_progress=False,
                      log=lambda *_: None)
    assert again == results
    with pytest.raises(ConfigError, match=r"train_config.steps: 150 in the run, 100 asked"):
        run_bench(spec, tmp_path, show_progress=False, log=lambda *_: None)


def test_bench_refuses_options_no_algorithm_has(tmp_path):
    with pytest.raises(ConfigError, match="none of lom has"):
        run_bench(_spec(options=(("gamma", "0.9"),)), tmp_path, show_progress=False)
    with pytest.raises(ConfigError, match="no option 'width'"):
        run_bench(_spec(sweep=("width", ("1",))), tmp_path, show_progress=False)
    with pytest.raises(ConfigError, match="--preset authors: none of bc has that preset"):
        run_bench(_spec(algos=("bc",), preset="authors", sweep=None, options=()), tmp_path,
                  show_progress=False)


def test_a_preset_reaches_only_the_algorithms_that_have_it_with_each_datasets_row():
    spec = _spec(algos=("lom", "bc"), preset="authors", sweep=None)
    config, note = bench.algo_config("lom", spec, None, "multigoal")
    assert config.advantage_baseline == "policy" and "no row for multigoal" in note
    config, note = bench.algo_config("lom", spec, None, "hopper-medium-expert")
    assert (config.n_components, config.n_critics) == (2, 6) and "hopper-medium-expert" in note
    default, note = bench.algo_config("lom", _spec(sweep=None), None, "multigoal")
    assert default.advantage_baseline == "mode_mean" and note is None
    assert bench.algo_config("bc", spec, None, "multigoal") == \
        bench.algo_config("bc", _spec(sweep=None), None, "multigoal")


# ------------------------------------------------------------ aggregates
def test_iqm_is_the_mean_of_the_middle_half_as_scipys_trimmed_mean():
    import numpy as np
    from scipy.stats import trim_mean
    from onemode.aggregate import iqm
    assert iqm([8, 1, 7, 2, 6, 3, 5, 4]) == pytest.approx(4.5)      # mean of 3, 4, 5, 6
    assert iqm([0, 0, 0, 100]) == pytest.approx(0.0)                 # one outlier: cut
    rng = np.random.default_rng(0)
    for n in (5, 12, 24, 30):
        scores = rng.normal(50, 20, n)
        assert iqm(scores) == pytest.approx(trim_mean(scores, 0.25))


def test_the_table_says_when_iqm_rows_span_different_tasks():
    def run(*scores):
        return {"final_scores": list(scores)}
    results = {"hopper": {"lom": run(30.0, 32.0), "iql": run(33.0, 31.0)},
               "walker": {"iql": run(40.0, 50.0)}}
    table = bench.markdown_table(results)
    assert "| lom | " in table and "| 2 |" in table and "| 4 |" in table
    assert "lom lacks walker" in table and "not comparable" in table
    results["walker"]["lom"] = run(45.0, 55.0)
    assert "not comparable" not in bench.markdown_table(results)


def test_iqm_interval_resamples_seeds_within_each_task():
    import numpy as np
    # each task's seeds agree: every stratified resample is the same set of runs
    same = iqm_interval([[10.0] * 4, [20.0] * 4, [30.0] * 4, [40.0] * 4])
    assert same.value == same.low == same.high == pytest.approx(25.0) and same.n_runs == 16
    rng = np.random.default_rng(1)
    tasks = [rng.normal(mean, 10, 4) for mean in (20, 40, 60, 80, 30, 50)]
    interval = iqm_interval(tasks)
    assert interval.low < interval.value < interval.high and interval.n_runs == 24
    wider = iqm_interval([t + rng.normal(0, 30, 4) for t in tasks])
    assert wider.high - wider.low > interval.high - interval.low
    assert iqm_interval(tasks) == interval                              # seeded
    with pytest.raises(ValueError, match="at least one score"):
        iqm_interval([[1.0], []])


def test_locomotion_suite_selects_kinds_environments_and_datasets():
    from onemode.tasks import get_task
    from onemode.tasks.locomotion import table_tasks
    every = table_tasks()
    assert len(every) == 15 and all(get_task(t).env_id.endswith("-v5") for t in every)
    assert not any(t.endswith("-random") for t in every)
    assert table_tasks(("medium-replay", "full-replay")) == (
        "halfcheetah-medium-replay", "halfcheetah-full-replay", "hopper-medium-replay",
        "hopper-full-replay", "walker2d-medium-replay", "walker2d-full-replay")
    assert table_tasks(("hopper",)) == tuple(t for t in every if t.startswith("hopper-"))
    assert table_tasks(("walker2d-expert", "medium")) == (
        "halfcheetah-medium", "hopper-medium", "walker2d-medium", "walker2d-expert")
    with pytest.raises(ConfigError, match="'random' is none of the locomotion suite"):
        table_tasks(("random",))


# ---------------------------------------------------------- killed benches
KILL_BENCH = ["bench", "--tasks", "bandit", "--algos", "bc,mdn", "--seeds", "2", "--steps",
              "600", "--eval-every", "200", "--eval-episodes", "5", "--size", "2000",
              "--set", "hidden=16,16", "--no-progress"]


def _run_bench(out, *, kill_when=None, sig=None):
    """`onemode bench` in a process of its own; `kill_when(out)` true: send it `sig`."""
    import signal
    import subprocess
    import sys
    import time

    process = subprocess.Popen([sys.executable, "-m", "onemode.cli", *KILL_BENCH,
                                "--out", str(out)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    if kill_when is not None:
        deadline = time.time() + 240
        while not kill_when(out) and process.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, "the bench finished before it could be killed"
        process.send_signal(sig or signal.SIGKILL)
    _, err = process.communicate(timeout=300)
    return process.returncode, err


def _table_without_times(out) -> str:
    return (out / "table.md").read_text().split("Time of each run")[0]


def test_a_bench_killed_at_any_point_and_run_again_makes_the_uninterrupted_table(tmp_path):
    """kill -9 in the middle of the second run (after a checkpoint of it), and SIGTERM in
    the middle of the first; each time the same command run again finishes the bench: the
    table and the scores are those of the bench never interrupted."""
    import signal

    whole = tmp_path / "whole"
    assert _run_bench(whole)[0] == 0
    expected = json.loads((whole / "results.json").read_text())

    killed = tmp_path / "killed"
    code, _ = _run_bench(killed, kill_when=lambda out: (
        out / "runs/bandit/mdn/checkpoint.npz").exists(), sig=signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert (killed / "runs/bandit/bc/done.json").exists()
    assert not (killed / "runs/bandit/mdn/done.json").exists()
    assert _run_bench(killed)[0] == 0
    assert _table_without_times(killed) == _table_without_times(whole)

    stopped = tmp_path / "stopped"
    code, err = _run_bench(stopped, kill_when=lambda out: (
        out / "runs/bandit/bc/checkpoint.npz").exists(), sig=signal.SIGTERM)
    assert code == 143 and "stopped by SIGTERM" in err and "the same onemode bench" in err
    assert _run_bench(stopped)[0] == 0
    assert _table_without_times(stopped) == _table_without_times(whole)
    for out in (killed, stopped):
        got = json.loads((out / "results.json").read_text())
        assert {run: r["final_scores"] for run, r in got["bandit"].items()} == \
            {run: r["final_scores"] for run, r in expected["bandit"].items()}
