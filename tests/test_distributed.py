"""`onemode bench --backend ray` on a real local Ray instance with two workers."""

from __future__ import annotations

import json
import shutil

import pytest
import ray

from onemode.cli import main

BENCH = ["bench", "--tasks", "bandit", "--algos", "bc,mdn", "--seeds", "2", "--steps", "200",
         "--eval-every", "100", "--eval-episodes", "5", "--size", "2000", "--no-progress"]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _scores(out):
    results = json.loads((out / "results.json").read_text())
    return {task: {run: r["final_scores"] for run, r in runs.items()}
            for task, runs in results.items()}


def _table_without_times(out) -> str:
    """table.md up to its section of run times (which differ between any two runs)."""
    return (out / "table.md").read_text().split("Time of each run")[0]


def test_ray_runs_the_bench_as_the_local_backend_and_survives_a_failing_run(
        local_ray, tmp_path, capsys):
    local, distributed = tmp_path / "local", tmp_path / "ray"
    assert main(BENCH + ["--out", str(local)]) == 0
    assert main(BENCH + ["--out", str(distributed), "--backend", "ray"]) == 0
    printed = capsys.readouterr().out
    assert "ray: 2 run(s) sent to 2 CPU(s)" in printed and "bandit / mdn done on" in printed
    assert _table_without_times(distributed) == _table_without_times(local)
    assert _scores(distributed) == _scores(local)

    # a run whose checkpoint was damaged fails, is tried once more, and is reported;
    # the finished run stays in OUT and in the table
    damaged = distributed / "runs" / "bandit" / "mdn"
    (damaged / "done.json").unlink()
    (damaged / "checkpoint.npz").write_bytes(b"not a checkpoint")
    assert main(BENCH + ["--out", str(distributed), "--backend", "ray"]) == 1
    captured = capsys.readouterr()
    assert "bandit / bc: done, skipped" in captured.out
    assert "ray: bandit / mdn failed (CheckpointError" in captured.out
    assert "trying once more" in captured.out
    assert "1 run(s) failed twice" in captured.err and "unreadable checkpoint" in captured.err
    assert "Traceback" not in captured.err
    assert list(_scores(distributed)["bandit"]) == ["bc"]

    # the bench run again, with the damaged run removed, completes the same table
    shutil.rmtree(damaged)
    assert main(BENCH + ["--out", str(distributed), "--backend", "ray"]) == 0
    assert _table_without_times(distributed) == _table_without_times(local)
