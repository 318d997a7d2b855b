"""The `onemode` command: data, train, eval, and clear errors without tracebacks."""

from __future__ import annotations

import numpy as np
import pytest

import onemode
from onemode.cli import main


def test_data_list_names_the_built_in_tasks(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "bandit" in out and "multigoal" in out and "reference returns" in out


@pytest.mark.parametrize("fmt, name", [("npz", "m.npz"), ("hdf5", "m.hdf5"), ("minari", "m-v0")])
def test_data_make_then_info(tmp_path, capsys, fmt, name):
    path = tmp_path / name
    assert main(["data", "make", "multigoal", "--out", str(path), "--size", "2000",
                 "--format", fmt]) == 0
    capsys.readouterr()
    assert main(["data", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "transitions   2,000   episodes 40" in out
    assert "actions       dim 2" in out


def test_bad_file_prints_the_problem_and_exits_non_zero(tmp_path, capsys):
    path = tmp_path / "broken.hdf5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 40)
    assert main(["data", "info", str(path)]) == 1
    err = capsys.readouterr().err
    assert "broken.hdf5" in err and "Traceback" not in err


def test_invalid_option_names_the_option(tmp_path, capsys):
    assert main(["train", "--task", "bandit", "--set", "beta=0", "--out",
                 str(tmp_path / "r")]) == 1
    assert "beta must be > 0" in capsys.readouterr().err
    assert main(["train", "--task", "bandit", "--set", "gamma=0.9", "--out",
                 str(tmp_path / "r")]) == 1
    assert "unknown option 'gamma'" in capsys.readouterr().err
    assert main(["train", "--task", "nowhere", "--out", str(tmp_path / "r")]) == 1
    assert "unknown task 'nowhere'" in capsys.readouterr().err


def test_train_eval_and_load_policy(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--task", "bandit", "--size", "2000", "--steps", "200",
                 "--seeds", "0,1", "--eval-every", "200", "--eval-episodes", "20", "--no-progress",
                 "--set", "hidden=32,32", "--set", "mdn_steps=100", "--set", "n_components=3",
                 "--set", "hyper_q_samples=2", "--out", str(out)]) == 0
    assert "normalised score" in capsys.readouterr().out
    assert main(["eval", str(out), "--episodes", "10"]) == 0
    out_text = capsys.readouterr().out
    assert "seed 0:" in out_text and "seed 1:" in out_text and "over 2 seeds" in out_text
    # acting options may change after training; training options may not
    assert main(["eval", str(out), "--episodes", "10", "--set", "act_by=greedy_mode"]) == 0
    out_text = capsys.readouterr().out
    assert "lom, act_by=greedy_mode on bandit" in out_text and "over 2 seeds" in out_text
    assert main(["eval", str(out), "--set", "beta=1"]) == 1
    assert "'beta' cannot change after training; options of lom that change only how it " \
        "acts: act_by" in capsys.readouterr().err
    assert main(["eval", str(out), "--set", "width=1"]) == 1
    assert "lom has no option 'width'" in capsys.readouterr().err

    policy = onemode.load_policy(out, seed_index=1)
    observations = np.linspace(-1, 1, 7, dtype=np.float32)[:, None]
    actions = policy(observations)
    assert actions.shape == (7, 1) and np.all(np.abs(actions) <= 1)
    assert policy(observations[0]).shape == (1,)
    with pytest.raises(IndexError):
        onemode.load_policy(out, seed_index=2)
    assert main(["train", "--task", "bandit", "--out", str(out)]) == 1  # never overwrite a run
    assert "already holds a run" in capsys.readouterr().err


def test_a_dataset_without_an_environment_trains_without_evaluation(tmp_path, capsys):
    data = tmp_path / "bandit.npz"
    assert main(["data", "make", "bandit", "--out", str(data), "--size", "1000"]) == 0
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(data), "--steps", "100", "--no-progress",
                 "--set", "hidden=16,16", "--set", "mdn_steps=50", "--set", "n_components=2",
                 "--set", "hyper_q_samples=1", "--out", str(out)]) == 0
    capsys.readouterr()
    from onemode.runs import RunDir
    records = RunDir(out).read_metrics()
    assert records and not any(r["phase"] == "eval" for r in records)
    assert main(["eval", str(out)]) == 1
    assert "give --task NAME" in capsys.readouterr().err
    assert main(["eval", str(out), "--task", "bandit", "--episodes", "5"]) == 0
    assert "normalised score" in capsys.readouterr().out


def test_bench_suite_selection_errors_are_one_line(tmp_path, capsys):
    out = str(tmp_path / "b")
    assert main(["bench", "--algos", "lom", "--datasets", "medium", "--out", out]) == 1
    assert "give --suite locomotion" in capsys.readouterr().err
    assert main(["bench", "--algos", "lom", "--suite", "locomotion", "--datasets", "hoper",
                 "--out", out]) == 1
    err = capsys.readouterr().err
    assert "'hoper' is none of the locomotion suite" in err and "Traceback" not in err
