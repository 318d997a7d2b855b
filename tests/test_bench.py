"""The bench: tables, curves, figures, raw results; an interrupted bench resumes."""

from __future__ import annotations

import json

import pytest

import onemode.bench as bench
from onemode.algos.config import ConfigError
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
        calls.append(args[3]["task"])
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
    table = (tmp_path / "table.md").read_text()
    assert "| lom-n_components=2 |" in table and "mean ± std over 2 seeds" in table
    assert len((tmp_path / "table.csv").read_text().splitlines()) == 3
    for name in ("curves-bandit.png", "actions-bandit.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

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
