"""OGBench files read as OGBench's own package relabels them, OGBench's environments scored
by success, and the refusals. The file read here was written by OGBench's own generator
script (tests/data/ogbench/README.md), not by onemode."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from onemode.data import load_dataset, split_holdout
from onemode.envs import EnvironmentTarget, find_reference, is_ogbench
from onemode.errors import ConfigError, DatasetError
from onemode.evaluate import rollout_seeds

ogbench = pytest.importorskip("ogbench")

FIXTURE = Path(__file__).parent / "data" / "ogbench" / "cube-single-play-v0.npz"
TASK5 = "cube-single-singletask-task5-v0"   # the fixture's one task with rows at its goal


def ogbench_own(task: int):
    """The fixture as OGBench's make_env_and_datasets gives it for `task`: (train, val)."""
    _, train, val = ogbench.make_env_and_datasets(
        f"cube-single-play-singletask-task{task}-v0", dataset_path=str(FIXTURE))
    return train, val


def test_relabelled_exactly_as_ogbench_relabels():
    dataset = load_dataset(FIXTURE, env=TASK5)
    train, val = ogbench_own(5)
    np.testing.assert_array_equal(dataset.observations, train["observations"])
    np.testing.assert_array_equal(dataset.next_observations, train["next_observations"])
    np.testing.assert_array_equal(dataset.actions, train["actions"])
    np.testing.assert_array_equal(dataset.rewards, train["rewards"])
    # onemode bootstraps where (1 - terminal) = OGBench's mask; trajectories end at timeouts
    np.testing.assert_array_equal(1.0 - dataset.terminals, train["masks"])
    np.testing.assert_array_equal(dataset.timeouts, train["terminals"] > 0)
    assert dataset.terminals.sum() > 0 and dataset.timeouts.sum() == 10
    assert len(dataset.held_out) == len(val["observations"])
    np.testing.assert_array_equal(1.0 - dataset.held_out.terminals, val["masks"])


def test_the_validation_file_is_the_held_out_split():
    dataset = load_dataset(FIXTURE, env=TASK5)
    train, held = split_holdout(dataset, 0.05, seed=0)
    assert train is dataset and held is dataset.held_out
    assert split_holdout(dataset, 0.0, seed=0) == (dataset, None)


def test_ogbench_environments_are_scored_by_success():
    assert is_ogbench(TASK5) and not is_ogbench("Hopper-v5")
    reference = find_reference(TASK5)
    assert reference.by == "success" and reference.label == "success rate"
    np.testing.assert_array_equal(reference.score([-50.0, -3.0], [False, True]), [0.0, 100.0])
    with pytest.raises(ConfigError, match="success rate"):
        find_reference(TASK5, ref_min=0.0, ref_max=1.0)


def test_rollouts_record_success_at_the_episode_end():
    """A policy that holds still fails task 5 in every episode, the same for both seeds;
    every episode runs to the environment's limit of 200 steps."""
    target = EnvironmentTarget(TASK5, find_reference(TASK5))
    rollouts = rollout_seeds(target, lambda obs: np.zeros(obs.shape[:-1] + (5,)), 2, 2)
    assert rollouts.successes.shape == (2, 2) and not rollouts.successes.any()
    np.testing.assert_array_equal(rollouts.scores, 0.0)
    np.testing.assert_array_equal(rollouts.lengths, 200)
    np.testing.assert_allclose(rollouts.final_observations[0], rollouts.final_observations[1],
                               atol=1e-9)


@pytest.mark.parametrize("env, expected", [
    (None, "give --env"),
    ("cube-single-v0", "single tasks"),
    ("Hopper-v5", "single tasks"),
    ("cube-double-singletask-task1-v0", "37 columns"),
])
def test_a_file_for_another_environment_is_refused(env, expected):
    with pytest.raises((ConfigError, DatasetError), match=expected):
        load_dataset(FIXTURE, env=env)


def _copy(tmp_path: Path, with_val: bool = True) -> Path:
    path = tmp_path / FIXTURE.name
    shutil.copy(FIXTURE, path)
    if with_val:
        shutil.copy(FIXTURE.with_name("cube-single-play-v0-val.npz"), tmp_path)
    return path


def test_a_file_without_its_validation_sibling_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="cube-single-play-v0-val.npz"):
        load_dataset(_copy(tmp_path, with_val=False), env=TASK5)


def test_a_file_without_qpos_is_refused(tmp_path):
    path = _copy(tmp_path)
    arrays = dict(np.load(path))
    del arrays["qpos"]
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match="key 'qpos'.*relabelling"):
        load_dataset(path, env=TASK5)


def test_a_cut_trajectory_is_refused(tmp_path):
    path = _copy(tmp_path)
    arrays = dict(np.load(path))
    np.savez(path, **{key: value[:-5] for key, value in arrays.items()})
    with pytest.raises(DatasetError, match="key 'terminals', row 1004"):
        load_dataset(path, env=TASK5)


def test_a_truncated_file_is_refused(tmp_path):
    path = _copy(tmp_path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DatasetError, match="truncated"):
        load_dataset(path, env=TASK5)


def test_train_info_and_eval_on_an_ogbench_file(tmp_path, capsys):
    from onemode.cli import main

    assert main(["data", "info", str(FIXTURE), "--env", TASK5]) in (None, 0)
    out = capsys.readouterr().out
    assert "held out" in out and "success rate" in out and "100 rows at the task's goal" in out
    run_dir = tmp_path / "run"
    assert main(["train", "--algo", "td3bc", "--dataset", str(FIXTURE), "--env", TASK5,
                 "--steps", "20", "--eval-every", "20", "--eval-episodes", "1",
                 "--set", "hidden=16,16", "--no-progress", "--out", str(run_dir)]) in (None, 0)
    assert "success rate" in capsys.readouterr().out
    assert main(["eval", str(run_dir), "--episodes", "1"]) in (None, 0)
    assert "seed 0: success rate" in capsys.readouterr().out


def test_the_suite_names_each_dataset_s_five_tasks():
    from onemode.data import DataSpec
    from onemode.tasks.ogbench_suite import episodes_for, single_task_envs, suite_datasets
    envs = single_task_envs("puzzle-3x3-play")
    assert envs == [f"puzzle-3x3-singletask-task{i}-v0" for i in range(1, 6)]
    assert all(is_ogbench(env) for env in envs)
    # OGBench's name for a file on a task, the key of the presets' rows
    assert DataSpec(dataset="/d/puzzle-3x3-play-v0.npz", env=envs[1]).label \
        == "puzzle-3x3-play-singletask-task2"
    assert episodes_for(None) == 1000 and episodes_for(2500) == 3 and episodes_for(1) == 1
    assert suite_datasets(()) == ("cube-single-play", "cube-double-play", "scene-play",
                                  "puzzle-3x3-play")
    with pytest.raises(ConfigError, match="'cube-triple-play' is not one of"):
        suite_datasets(("cube-single-play", "cube-triple-play"))


def test_the_bench_table_gives_each_dataset_s_mean_over_its_tasks():
    from onemode.bench import markdown_table, task_groups

    def run(scores):
        return {"final_scores": scores, "curve": {"step": [1], "score": [scores]}}

    results = {f"cube-single-play-singletask-task{i}": {"lom": run([10.0 * i, 0.0])}
               for i in (1, 2)}
    results["hopper-medium"] = {"lom": run([50.0, 50.0])}
    assert task_groups(results) == {"cube-single-play": ["cube-single-play-singletask-task1",
                                                         "cube-single-play-singletask-task2"]}
    assert "| lom | 7.5 |" in markdown_table(results)   # (5 + 10) / 2


def test_data_make_writes_ogbench_s_layout_only(tmp_path, capsys):
    from onemode.cli import main

    assert main(["data", "make", "cube-single-play", "--out", str(tmp_path / "x.hdf5")]) == 1
    assert "must be a .npz path" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_runs_an_ogbench_dataset_on_its_five_tasks(tmp_path, capsys):
    from onemode.cli import main

    out = tmp_path / "bench"
    assert main(["bench", "--suite", "ogbench", "--datasets", "cube-single-play", "--algos",
                 "td3bc", "--seeds", "1", "--steps", "10", "--eval-every", "10",
                 "--eval-episodes", "1", "--size", "1000", "--set", "hidden=16,16",
                 "--no-progress", "--out", str(out)]) in (None, 0)
    table = (out / "table.md").read_text()
    assert all(f"cube-single-play-singletask-task{i}" in table for i in range(1, 6))
    assert "cube-single-play (5 tasks)" in table and "success rate" in table
    assert sorted(p.name for p in (out / "data" / "ogbench-1000").iterdir()) == [
        "cube-single-play-v0-val.npz", "cube-single-play-v0.npz"]


@pytest.mark.parametrize("name, env_id", [("puzzle-3x3-play", "puzzle-3x3-singletask-task4-v0"),
                                          ("cube-single-play", TASK5)])
def test_a_file_made_here_reads_as_ogbench_reads_it(tmp_path, name, env_id):
    """onemode's generator, then onemode's reader and OGBench's own loader on the file:
    equal rewards, masks (terminals) and trajectory ends (timeouts)."""
    from onemode.tasks.ogbench_play import make_play_dataset

    path, _ = make_play_dataset(name, tmp_path / f"{name}-v0.npz", episodes=2, workers=1,
                                episode_steps=60, log=lambda line: None)
    dataset = load_dataset(path, env=env_id)
    task = env_id.split("-")[-2]
    _, train, _ = ogbench.make_env_and_datasets(
        f"{name}-singletask-{task}-v0", dataset_path=str(path))
    assert len(dataset) == len(train["rewards"]) == 2 * 59
    np.testing.assert_array_equal(dataset.rewards, train["rewards"])
    np.testing.assert_array_equal(1.0 - dataset.terminals, train["masks"])
    np.testing.assert_array_equal(dataset.timeouts, train["terminals"] > 0)
    assert len(np.unique(dataset.rewards)) > 1 or name == "cube-single-play"
