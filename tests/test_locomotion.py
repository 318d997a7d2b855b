"""Behaviour policies (online SAC, snapshots, shipping) and the D4RL-style recipes.

A short real SAC run on Hopper-v5 stands in for the hours-long runs whose
snapshots the package ships: the machinery is the same, the levels are not.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from onemode.errors import ConfigError
from onemode.behaviour.online import OnlineRun, OnlineSettings
from onemode.behaviour.snapshots import (
    logged_returns,
    measure,
    medium_candidates,
    read_manifest,
    shipped_actor,
)
from onemode.cli import main
from onemode.data import load_dataset, save_dataset
from onemode.data.io import dataset_environment
from onemode.tasks import get_task
from onemode.tasks.locomotion import KINDS, dataset_parts, make_dataset

SETTINGS = dict(env_id="Hopper-v5", random_steps=200, snapshot_every=200, checkpoint_every=300,
                eval_episodes=3, seed=3)
STEPS = 800


def _train(out, steps):
    return main(["behaviour", "train", "Hopper-v5", "--out", str(out), "--steps", str(steps),
                 "--seed", "3", "--random-steps", "200", "--snapshot-every", "200",
                 "--checkpoint-every", "300"])


@pytest.fixture(scope="module")
def sac_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("behaviour")
    assert _train(root / "whole", STEPS) == 0
    assert _train(root / "cut", STEPS // 2 + 100) == 0   # stopped between checkpoints
    assert _train(root / "cut", STEPS) == 0
    # killed after a checkpoint while its logs and snapshots went further
    crash = root / "crash"
    assert _train(crash, 300) == 0
    checkpoint = (crash / "checkpoint.npz").read_bytes()
    assert _train(crash, 500) == 0
    (crash / "checkpoint.npz").write_bytes(checkpoint)
    assert _train(crash, STEPS) == 0
    return root


@pytest.fixture(scope="module")
def weights(sac_run, tmp_path_factory):
    weights_dir = tmp_path_factory.mktemp("weights")
    assert main(["behaviour", "ship", str(sac_run / "whole"), "--weights-dir", str(weights_dir),
                 "--episodes", "3", "--replay-every", "200", "--later-every", "400"]) == 0
    return weights_dir


@pytest.mark.parametrize("stopped", ["cut", "crash"])
def test_a_stopped_sac_run_continues_to_the_same_result(sac_run, stopped):
    whole, resumed = sac_run / "whole", sac_run / stopped
    for step in range(200, STEPS + 1, 200):
        a = np.load(whole / "snapshots" / f"step_{step:07d}.npz")
        b = np.load(resumed / "snapshots" / f"step_{step:07d}.npz")
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])
    assert (whole / "episodes.jsonl").read_text() == (resumed / "episodes.jsonl").read_text()
    assert (whole / "snapshots.jsonl").read_text() == (resumed / "snapshots.jsonl").read_text()


def test_a_behaviour_run_refuses_other_settings_and_non_mujoco_environments(sac_run, tmp_path):
    with pytest.raises(ConfigError, match="settings.seed: 3 in the run, 4 asked"):
        OnlineRun(sac_run / "whole", OnlineSettings(steps=STEPS, **{**SETTINGS, "seed": 4})).run()
    with pytest.raises(ConfigError, match="Pendulum-v1: .*no gymnasium MuJoCo environment"):
        OnlineRun(tmp_path, OnlineSettings(env_id="Pendulum-v1", random_steps=10, steps=100))


def test_shipping_records_what_each_snapshot_returns_and_who_trained_it(weights):
    entry = read_manifest(weights)["Hopper-v5"]
    assert entry["trained_by"]["command"] == f"onemode behaviour train Hopper-v5 --steps {STEPS} --seed 3"
    steps = [s["step"] for s in entry["snapshots"]]
    assert steps == sorted(steps) and steps[-1] == entry["expert_step"] == STEPS
    assert entry["medium_step"] in steps
    with np.load(weights / entry["file"]) as f:
        assert {f[name].dtype for name in f.files} == {np.dtype(np.float16)}
    # the shipped weights reproduce the recorded return (same episodes: exactly)
    recorded = entry["snapshots"][-1]
    assert measure("Hopper-v5", shipped_actor("Hopper-v5", "expert", weights), True, 3)[0] == \
        pytest.approx(recorded["return"], rel=1e-6)


def test_shipping_a_run_as_it_stood_at_an_earlier_snapshot(sac_run, tmp_path, capsys):
    assert main(["behaviour", "ship", str(sac_run / "whole"), "--weights-dir", str(tmp_path),
                 "--expert-step", "500"]) == 1
    assert "no snapshot at step 500 (it has 200 to 800)" in capsys.readouterr().err
    assert main(["behaviour", "ship", str(sac_run / "whole"), "--weights-dir", str(tmp_path),
                 "--episodes", "2", "--expert-step", "600"]) == 0
    entry = read_manifest(tmp_path)["Hopper-v5"]
    assert entry["expert_step"] == entry["snapshots"][-1]["step"] == 600
    assert entry["trained_by"]["command"].endswith("--steps 600 --seed 3")


def test_shipping_measures_only_the_likeliest_mediums(sac_run, tmp_path, capsys):
    run = sac_run / "whole"
    assert main(["behaviour", "ship", str(run), "--weights-dir", str(tmp_path), "--episodes", "2",
                 "--replay-every", "400", "--later-every", "800", "--medium-candidates", "1"]) == 0
    entry = read_manifest(tmp_path)["Hopper-v5"]
    # the one candidate: the snapshot whose logged return is nearest a third of the expert's
    target = entry["snapshots"][-1]["deterministic_return"] / 3
    logged = logged_returns(run)
    assert entry["medium_step"] == min(logged, key=lambda step: abs(logged[step] - target))
    measured = [line for line in capsys.readouterr().out.splitlines()
                if "deterministic return" in line]
    shipped = {s["step"] for s in entry["snapshots"]}
    assert len(measured) == len(shipped) < len(logged) == STEPS // 200
    assert main(["behaviour", "ship", str(run), "--weights-dir", str(tmp_path),
                 "--medium-candidates", "0"]) == 1
    assert "--medium-candidates must be >= 1, got 0" in capsys.readouterr().err
    assert "among the 1 whose return logged" in entry["medium_rule"]
    # a damaged log line (a run killed while writing it) leaves nothing to narrow with
    damaged = tmp_path / "damaged"
    shutil.copytree(run, damaged)
    with open(damaged / "snapshots.jsonl", "a") as f:
        f.write('{"step": 10')
    lines = (damaged / "snapshots.jsonl").read_text().splitlines()
    (damaged / "snapshots.jsonl").write_text("\n".join(lines[1:]) + "\n")
    assert min(logged_returns(damaged)) == 400
    assert medium_candidates(range(200, STEPS + 1, 200), logged_returns(damaged), 0.0, 1) == \
        list(range(200, STEPS + 1, 200))


def test_the_recipes_mix_the_policies_d4rl_mixes(weights):
    entry = read_manifest(weights)["Hopper-v5"]
    shipped = [s["step"] for s in entry["snapshots"]]
    full = dataset_parts("hopper", "full-replay", 10_000, weights)
    assert sum(count for _, count, _ in full) == 10_000
    # the uniform warm-up, then every snapshot past it
    assert len(full) == 1 + sum(step > SETTINGS["random_steps"] for step in shipped)
    # each part in proportion to the training steps it covered
    assert full[0][1] == round(10_000 * SETTINGS["random_steps"] / STEPS)
    medium = dataset_parts("hopper", "medium-replay", 10_000, weights)
    assert len(medium) == 1 + sum(SETTINGS["random_steps"] < step <= entry["medium_step"]
                                  for step in shipped)
    assert [count for _, count, _ in dataset_parts("hopper", "medium-expert", 10_001,
                                                   weights)] == [5_000, 5_001]
    with pytest.raises(ConfigError, match="hopper-medium: size must be at least 1"):
        make_dataset("hopper", "medium", 0, 0, weights)


def test_datasets_are_the_same_for_a_seed_whatever_the_workers(weights):
    one = make_dataset("hopper", "full-replay", 3_000, 0, weights, workers=1)
    two = make_dataset("hopper", "full-replay", 3_000, 0, weights, workers=2)
    for key, value in one.arrays().items():
        np.testing.assert_array_equal(value, two.arrays()[key])
    assert len(one.rewards) == 3_000 and one.summary()["episodes"] > 1
    assert np.all(np.abs(one.actions) <= 1.0)
    other = make_dataset("hopper", "full-replay", 3_000, 1, weights, workers=1)
    assert not np.array_equal(one.observations, other.observations)


def test_the_locomotion_tasks_are_listed_and_missing_weights_say_what_to_do(tmp_path, capsys):
    for family in ("halfcheetah", "hopper", "walker2d"):
        for kind in KINDS:
            assert get_task(f"{family}-{kind}").env_id.endswith("-v5")
    assert main(["data", "list"]) == 0
    assert "walker2d-full-replay" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="onemode behaviour train Walker2d-v5"):
        make_dataset("walker2d", "medium", 1000, 0, tmp_path)


def test_a_minari_dataset_carries_its_environment_and_d4rl_references(weights, tmp_path):
    dataset = make_dataset("hopper", "medium", 2_000, 0, weights, workers=1)
    task = get_task("hopper-medium")
    path = save_dataset(dataset, tmp_path / "hopper-medium", "minari",
                        environment={"env_id": task.env_id, "ref_min_score": task.random_return,
                                     "ref_max_score": task.expert_return})
    found = dataset_environment(path)
    assert found == {"env_id": "Hopper-v5", "ref_min_score": -20.272305,
                     "ref_max_score": 3234.3}
    np.testing.assert_array_equal(load_dataset(path).actions, dataset.actions)
