"""The typed run record: config.json read once and validated once, old runs included.

`tests/data/old-runs/` holds run directories written by onemode 0.1.0 on 2026-12-07,
before the record was typed, with the actions their policies took then on 16
observations (`expected_actions.npz`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from onemode.cli import main
from onemode.data import DataSpec
from onemode.errors import CheckpointError
from onemode.policy import load_policy
from onemode.runs import RunDir, RunRecord

OLD_RUNS = Path(__file__).parent / "data" / "old-runs"
NAMES = sorted(p.name for p in OLD_RUNS.iterdir())


@pytest.mark.parametrize("name", NAMES)
def test_a_run_written_before_the_typed_record_loads_and_acts_as_it_did(name):
    stored = json.loads((OLD_RUNS / name / "config.json").read_text())
    record = RunDir(OLD_RUNS / name).read_record()
    assert isinstance(record.data, DataSpec) and record.algo == stored["algo"]
    if stored["algo"] == "lom":  # retired since, at the value kept: it changes nothing
        assert stored["algo_config"].pop("best_mode_by") == "hyper_q"
    again = record.to_dict()
    # options added to onemode since are read at their defaults: what the run did
    defaults = type(record.algo_config)().to_dict()
    added = set(again["algo_config"]) - set(stored["algo_config"])
    assert all(again["algo_config"].pop(option) == defaults[option] for option in added)
    assert again == stored   # nothing else lost, nothing added
    with np.load(OLD_RUNS / name / "expected_actions.npz") as expected:
        policy = load_policy(OLD_RUNS / name)
        np.testing.assert_array_equal(policy(expected["observations"]), expected["actions"])


def test_a_record_round_trips_through_json():
    record = RunDir(OLD_RUNS / "iql-hopper").read_record()
    again = RunRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again == record and again.data.reference == record.data.reference


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("algo_config"), "no 'algo_config'"),
    (lambda r: r.update(algo="sac"), "unknown algorithm 'sac'"),
    (lambda r: r["algo_config"].update(temperature=1), "unknown option 'temperature'"),
    (lambda r: r["train_config"].update(seeds=[0, 0]), "seeds repeat"),
    (lambda r: r.update(obs_dim=0), "'obs_dim' must be a positive integer"),
    (lambda r: r["data"].update(sauce=1), "unknown data spec key 'sauce'"),
    (lambda r: r["data"].update(task=None), "needs a task or a dataset"),
    (lambda r: r["algo_config"].update(best_mode_by="critic"), "best_mode_by=critic was retired"),
])
def test_a_bad_record_is_refused_in_one_line_naming_the_file(tmp_path, capsys, change, message):
    run = tmp_path / "run"
    shutil.copytree(OLD_RUNS / "lom-multigoal", run)
    record = json.loads((run / "config.json").read_text())
    change(record)
    (run / "config.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=f"config.json: .*{message}"):
        RunDir(run).read_record()
    assert main(["eval", str(run), "--episodes", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config.json" in err and "Traceback" not in err


def test_a_damaged_record_is_refused_naming_the_file(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(OLD_RUNS / "lom-multigoal", run)
    (run / "config.json").write_text('{"algo": "lom", ')
    with pytest.raises(CheckpointError, match="config.json: unreadable run record"):
        RunDir(run).read_record()
