"""n_components=auto: M chosen from the data by held-out likelihood, before training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from onemode.algos import lom, mdn
from onemode.algos.mixture import CANDIDATES, SELECTION_UPDATES, TOLERANCE
from onemode.cli import main
from onemode.components import candidate_nll, choose, envelope, selection_key
from onemode.data import split_holdout, to_device
from onemode.errors import ConfigError
from onemode.runs import RunDir
from onemode.tasks import get_task


def test_the_rule_takes_the_smallest_m_within_the_tolerance_of_the_best():
    candidates = (1, 2, 3, 4, 5)
    nll = [1.0, 0.5, 0.31, 0.30, 0.29]
    assert choose(nll, candidates, 0.01, act_dim=2) == 3    # 0.31 <= 0.29 + 0.02
    assert choose(nll, candidates, 0.001, act_dim=2) == 5
    assert choose(nll, candidates, 1.0, act_dim=1) == 1     # everything is within 1 nat
    # a candidate that fits worse than a smaller one failed to optimise: the envelope
    np.testing.assert_array_equal(envelope([1.0, 1.4, 0.3, 0.5]), [1.0, 1.0, 0.3, 0.3])
    assert choose([1.0, 1.4, 0.3, 0.5], (1, 2, 3, 4), 0.0, act_dim=1) == 3


def test_n_components_takes_an_integer_or_auto_and_nothing_else():
    assert lom.Config.from_dict({"n_components": "auto"}).n_components == "auto"
    assert mdn.Config.from_dict({"n_components": "4"}).n_components == 4
    for bad in ("ten", 0, 2.5, "-1"):
        with pytest.raises(ConfigError, match="n_components"):
            lom.Config.from_dict({"n_components": bad})
    with pytest.raises(ConfigError, match="candidate_components"):
        lom.Config.from_dict({"candidate_components": "0,2"})
    with pytest.raises(ConfigError, match="selection_tolerance"):
        mdn.Config.from_dict({"selection_tolerance": -0.1})


def _held_out_nll(task: str, seed: int = 0, hidden=(128, 128), updates=SELECTION_UPDATES,
                  candidates=CANDIDATES):
    dataset = get_task(task).make_dataset(get_task(task).default_size, 0)
    train, holdout = split_holdout(dataset, 0.05, 0)
    stats = dataset.obs_stats
    return candidate_nll(to_device(train, stats), to_device(holdout, stats), dataset.act_dim,
                         candidates, hidden, updates, selection_key(seed)), dataset.act_dim


@pytest.mark.slow  # ten candidates on three tasks: ~45 s alone; make test-slow
def test_the_choice_on_tasks_whose_modes_are_known():
    """multigoal (four goals from each start): at least 4; multigoal-expert (one goal):
    fewer; bandit (four action branches per state): at least 4. The defaults, 128-128."""
    chosen = {}
    for task in ("multigoal", "multigoal-expert", "bandit"):
        nll, act_dim = _held_out_nll(task)
        chosen[task] = choose(nll, CANDIDATES, TOLERANCE, act_dim)
    assert chosen["multigoal"] >= 4, chosen
    assert chosen["multigoal-expert"] < chosen["multigoal"], chosen
    assert chosen["bandit"] >= 4, chosen


def test_the_choice_is_deterministic_for_a_seed():
    first, _ = _held_out_nll("bandit", seed=3, hidden=(16,), updates=200, candidates=(1, 2, 4))
    again, _ = _held_out_nll("bandit", seed=3, hidden=(16,), updates=200, candidates=(1, 2, 4))
    np.testing.assert_array_equal(first, again)


AUTO_RUN = ["train", "--algo", "lom", "--task", "bandit", "--size", "4000", "--seeds", "0,1",
            "--steps", "40", "--log-every", "20", "--eval-every", "40", "--checkpoint-every",
            "20", "--eval-episodes", "2", "--no-progress", "--set", "n_components=auto",
            "--set", "hidden=16,16", "--set", "mdn_steps=20", "--set", "selection_updates=300",
            "--set", "candidate_components=1,2,4,6"]


def test_an_auto_run_records_its_choice_and_is_an_ordinary_run_after_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(AUTO_RUN + ["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    line = [text for text in printed.splitlines() if text.startswith("n_components=auto")]
    assert len(line) == 1 and "M = " in line[0]
    record = json.loads((out / "config.json").read_text())
    chosen = record["algo_config"]["n_components"]
    assert chosen in (1, 2, 4, 6) and record["chosen_by_run"] == ["n_components"]
    choice = [r for r in RunDir(out).read_metrics() if r["phase"] == "select_components"]
    assert len(choice) == 1 and choice[0]["candidates"] == [1, 2, 4, 6]
    assert len(choice[0]["holdout_nll"]) == 4 and choice[0]["n_components"] == chosen
    # eval and resume see an ordinary run; a longer resume keeps the choice, selects nothing
    assert main(["eval", str(out), "--episodes", "2"]) == 0
    assert main(["train", "--resume", "--out", str(out), "--steps", "60", "--no-progress"]) == 0
    assert "n_components=auto" not in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["algo_config"]["n_components"] == chosen
    # the same choice, and training, as the run asked with that M outright
    fixed = tmp_path / "fixed"
    argv = [a if a != "n_components=auto" else f"n_components={chosen}" for a in AUTO_RUN]
    assert main(argv + ["--out", str(fixed), "--steps", "60"]) == 0
    with np.load(out / "checkpoint.npz") as a, np.load(fixed / "checkpoint.npz") as b:
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_bench_runs_auto_beside_fixed_m_and_resumes(tmp_path, capsys):
    bench = ["bench", "--tasks", "bandit", "--algos", "mdn", "--seeds", "2", "--steps", "100",
             "--eval-every", "50", "--eval-episodes", "2", "--size", "3000", "--set",
             "hidden=16,16", "--set", "selection_updates=200", "--set",
             "candidate_components=1,2,4", "--sweep", "n_components=auto,2", "--no-progress",
             "--out", str(tmp_path)]
    assert main(bench) == 0
    assert main(bench) == 0  # run again: both runs finished, skipped, not refused
    out = capsys.readouterr().out
    assert out.count("done, skipped") == 2
    assert "| mdn-n_components=auto |" in (tmp_path / "table.md").read_text()


def test_data_modes_prints_the_curve_and_saves_its_plot(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["data", "modes", "--task", "bandit", "--hidden", "16", "--updates", "200",
                 "--candidates", "1,2,4"]) == 0
    printed = capsys.readouterr().out
    assert "held-out NLL" in printed and "<- chosen" in printed
    assert (tmp_path / "bandit-modes.png").stat().st_size > 1000
