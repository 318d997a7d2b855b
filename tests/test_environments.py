"""Any gymnasium environment, and the user's own D4RL and Minari files.

Real parts: a D4RL-layout file written here from a random policy in Hopper-v5, a
Minari dataset written by Minari's own DataCollector on HalfCheetah-v5, and an
environment registered by the test itself; each trains and evaluates in its
environment, scored against the reference the data or the flags give.
"""

from __future__ import annotations

import json

import gymnasium as gym
import h5py
import numpy as np
import pytest

from onemode.algos import get_algo
from onemode.errors import ConfigError
from onemode.cli import main
from onemode.targets import data_spec
from onemode.errors import DatasetError
from onemode.envs import find_reference
from onemode.export import export, exported_actions
from onemode.policy import load_policy
from onemode.runs import RunDir, TrainConfig
from onemode.train import train

SMALL_BC = dict(hidden=(32, 32), batch_size=64, actor_lr=1e-3)


def short_run(tmp_path, spec, name="run", steps=100, episodes=2, algo="bc", **values):
    config = TrainConfig(steps=steps, seeds=(0, 1), log_every=steps, eval_every=steps,
                         checkpoint_every=steps, eval_episodes=episodes)
    return train(algo, get_algo(algo).Config(**{**SMALL_BC, **values}), config, spec,
                 tmp_path / name, show_progress=False)


def random_episodes(env_id: str, transitions: int, seed: int = 0, **make_kwargs) -> dict:
    """D4RL's layout: flat arrays, terminals and timeouts as the environment says."""
    env = gym.make(env_id, **make_kwargs)
    env.action_space.seed(seed)
    rows = {k: [] for k in ("observations", "actions", "rewards", "terminals", "timeouts",
                            "next_observations")}
    observation, _ = env.reset(seed=seed)
    while len(rows["rewards"]) < transitions:
        action = env.action_space.sample()
        following, reward, terminated, truncated, _ = env.step(action)
        for key, value in zip(rows, (observation, action, reward, terminated, truncated,
                                     following)):
            rows[key].append(value)
        observation = env.reset()[0] if terminated or truncated else following
    env.close()
    return {k: np.asarray(v, np.float32 if k not in ("terminals", "timeouts") else bool)
            for k, v in rows.items()}


@pytest.fixture(scope="module")
def hopper_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("d4rl") / "hopper-random.hdf5"
    with h5py.File(path, "w") as file:
        for key, array in random_episodes("Hopper-v5", 1500).items():
            file.create_dataset(key, data=array)
    return path


# ---------------------------------------------------------------- references
def test_the_reference_comes_from_flags_then_minari_then_d4rl_then_none():
    metadata = {"ref_min_score": -5.0, "ref_max_score": 5.0}
    assert find_reference("Hopper-v5", 0.0, 10.0, metadata)[:2] == (0.0, 10.0)
    assert find_reference("Hopper-v5", metadata=metadata)[:2] == (-5.0, 5.0)
    assert find_reference("Hopper-v5")[:2] == (-20.272305, 3234.3)       # d4rl's infos.py
    assert find_reference("Walker2d-v5")[:2] == (1.629008, 4592.3)
    assert find_reference("HalfCheetah-v5")[:2] == (-280.178953, 12135.0)
    assert find_reference("Ant-v5")[:2] == (-325.6, 3879.7)
    raw = find_reference("Pendulum-v1")
    assert raw.min is None and raw.normalize([3.5]).tolist() == [3.5]
    with pytest.raises(ConfigError, match="give both --ref-min and --ref-max"):
        find_reference("Hopper-v5", ref_min=0.0)
    with pytest.raises(ConfigError, match="must exceed"):
        find_reference("Hopper-v5", 10.0, 10.0)


# ---------------------------------------------------------------- D4RL files
def test_a_d4rl_file_trains_and_scores_against_d4rl_references(hopper_file, tmp_path):
    spec = data_spec(dataset=str(hopper_file), env="Hopper-v5")
    result = short_run(tmp_path, spec)
    low, high = -20.272305, 3234.3  # d4rl's infos.py, hopper
    rollouts = result.final_eval
    np.testing.assert_allclose(rollouts.scores, 100 * (rollouts.returns - low) / (high - low))
    assert rollouts.returns.shape == (2, 2)
    recorded = RunDir(result.run_dir).read_config()["data"]
    assert recorded["env"] == "Hopper-v5"
    assert recorded["reference"] == {"min": low, "max": high, "source": "D4RL's hopper references"}


def test_the_command_line_prints_the_reference_with_every_score(hopper_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--algo", "bc", "--dataset", str(hopper_file), "--env", "Hopper-v5",
                 "--steps", "50", "--eval-every", "50", "--eval-episodes", "2", "--no-progress",
                 "--set", "hidden=16,16", "--out", str(out)]) == 0
    assert "D4RL's hopper references" in capsys.readouterr().out
    assert main(["eval", str(out), "--episodes", "2", "--ref-min", "0", "--ref-max", "1000"]) == 0
    printed = capsys.readouterr().out
    assert "0 = 0, 100 = 1000 (--ref-min/--ref-max)" in printed and "Hopper-v5" in printed
    gif = tmp_path / "hopper.gif"
    assert main(["render", str(out), "--episodes", "1", "--width", "64", "--height", "64",
                 "--out", str(gif)]) == 0
    assert gif.read_bytes()[:6] == b"GIF89a" and "D4RL's hopper" in capsys.readouterr().out


def test_a_file_that_does_not_fit_the_environment_is_refused_before_training(hopper_file,
                                                                             tmp_path, capsys):
    spec = data_spec(dataset=str(hopper_file), env="HalfCheetah-v5")
    with pytest.raises(DatasetError, match=r"17 columns, as environment 'HalfCheetah-v5' "
                                           r"has.*found 11 columns"):
        short_run(tmp_path, spec)
    assert not (tmp_path / "run" / "checkpoint.npz").exists()
    declared = data_spec(dataset=str(hopper_file), env="Hopper-v5", action_bounds=[-1.0, 1.0])
    assert declared.action_bounds == (-1.0, 1.0)  # the environment's own: accepted
    with pytest.raises(ConfigError, match="not those of environment 'Hopper-v5'"):
        data_spec(dataset=str(hopper_file), env="Hopper-v5", action_bounds=[-2.0, 2.0])
    assert main(["train", "--dataset", str(hopper_file), "--env", "Nowhere-v0", "--out",
                 str(tmp_path / "other")]) == 1
    assert "environment 'Nowhere-v0' cannot be made" in capsys.readouterr().err


# ------------------------------------------------------------ Minari datasets
@pytest.fixture(scope="module")
def cheetah_minari(tmp_path_factory):
    """Written by Minari's DataCollector, not by onemode, with reference scores."""
    import os

    import minari
    root = tmp_path_factory.mktemp("minari")
    previous = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        env = minari.DataCollector(gym.make("HalfCheetah-v5", max_episode_steps=100))
        env.action_space.seed(0)
        env.reset(seed=0)
        for _ in range(600):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()
        with pytest.warns(UserWarning):  # minari: no eval_env given, the data's is used
            env.create_dataset(dataset_id="test/cheetah-random-v0", ref_min_score=-300.0,
                               ref_max_score=1500.0, algorithm_name="random policy",
                               author="onemode tests", author_email="tests@onemode",
                               code_permalink="tests/test_environments.py",
                               description="uniform random actions")
        env.close()
    finally:
        if previous is None:
            del os.environ["MINARI_DATASETS_PATH"]
        else:
            os.environ["MINARI_DATASETS_PATH"] = previous
    return root / "test" / "cheetah-random-v0"


def test_a_minari_dataset_evaluates_in_its_environment_with_no_flag(cheetah_minari, tmp_path,
                                                                     capsys):
    assert main(["data", "info", str(cheetah_minari)]) == 0
    printed = capsys.readouterr().out
    assert "environment   HalfCheetah-v5" in printed
    assert "0 = -300, 100 = 1500 (the Minari dataset's ref_min_score/ref_max_score)" in printed

    spec = data_spec(dataset=str(cheetah_minari))
    assert spec.env == "HalfCheetah-v5"
    result = short_run(tmp_path, spec, algo="iql", steps=200, episodes=1)
    rollouts = result.final_eval
    assert np.all(rollouts.lengths == 1000)  # the environment's own limit, not the data's 100
    np.testing.assert_allclose(rollouts.scores, 100 * (rollouts.returns + 300) / 1800)


# ------------------------------------------------------ any registered environment
class ReachLevel(gym.Env):
    """One number to hold at 1.5 with actions bounded in [-2, 2]: reward -|a - 1.5|."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.state = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        return self.state.copy(), {}

    def step(self, action):
        reward = -abs(float(action[0]) - 1.5)
        return self.state.copy(), reward, False, False, {}


def test_a_registered_environment_with_other_action_bounds_works_end_to_end(tmp_path):
    gym.register("OnemodeTestReachLevel-v0", entry_point=ReachLevel, max_episode_steps=10)
    rng = np.random.default_rng(0)
    n = 2000
    arrays = {"observations": rng.uniform(-1, 1, (n, 3)).astype(np.float32),
              "actions": np.clip(1.5 + 0.1 * rng.normal(size=(n, 1)), -2, 2),  # native units
              "rewards": np.zeros(n), "terminals": np.zeros(n, bool),
              "timeouts": (np.arange(n) % 10) == 9}
    path = tmp_path / "level.npz"
    np.savez(path, **arrays)

    spec = data_spec(dataset=str(path), env="OnemodeTestReachLevel-v0")
    assert spec.action_bounds == ([-2.0], [2.0])  # the environment's, not [-1, 1]
    assert spec.reference.min is None           # raw returns, labelled as such
    result = short_run(tmp_path, spec, steps=400, episodes=3)
    returns = result.final_eval.returns
    np.testing.assert_array_equal(result.final_eval.scores, returns)
    assert np.all(returns > -1.5), returns  # a policy stuck at the box's edge, 1, scores -5
    actions = load_policy(result.run_dir)(arrays["observations"][:50])
    assert np.all(np.abs(actions - 1.5) < 0.3), actions  # mapped back to the env's bounds
    for fmt in ("onnx", "npz"):  # exported policies map them back too
        exported = export(result.run_dir, fmt)
        np.testing.assert_allclose(exported_actions(exported, fmt, arrays["observations"][:50]),
                                   actions, atol=1e-5)

    with pytest.raises(ConfigError, match=r"declared action bounds \[-1.0, 1.0\] are not those"):
        data_spec(dataset=str(path), env="OnemodeTestReachLevel-v0", action_bounds=[-1.0, 1.0])
    outside = {**arrays, "actions": np.full((n, 1), 2.5)}
    np.savez(path, **outside)
    with pytest.raises(DatasetError, match=r"row 0: expected actions within the bounds "
                                           r"low=\[-2.0\], high=\[2.0\].*found \[2.5\]"):
        short_run(tmp_path, spec, name="outside")


def test_bench_runs_a_users_file_in_its_environment(hopper_file, tmp_path, capsys):
    assert main(["bench", "--dataset", str(hopper_file), "--env", "Hopper-v5", "--algos", "bc",
                 "--seeds", "1", "--steps", "40", "--eval-every", "40", "--eval-episodes", "1",
                 "--set", "hidden=16,16", "--no-progress", "--out", str(tmp_path / "b")]) == 0
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    assert list(results) == ["hopper-random"] and "bc" in results["hopper-random"]
    assert "hopper-random: normalised: 0 = -20.2723" in (tmp_path / "b" / "table.md").read_text()
