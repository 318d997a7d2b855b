"""`onemode export`: a policy that runs without onemode (every algorithm: test_contract.py)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import jax
import numpy as np
import pytest

from onemode.algos import get_algo
from onemode.errors import ConfigError
from onemode.cli import main
from onemode.targets import data_spec
from onemode.export import export, exported_actions
from onemode.nets import MLP_HEADS
from onemode.policy import load_policy
from onemode.runs import TrainConfig
from onemode.train import train


def tiny_run(tmp_path, name: str, action_bounds=None, **options):
    config = get_algo(name).Config.from_dict({"hidden": (16, 16), "batch_size": 32, **options})
    pre_steps = {f.name: 10 for f in dataclasses.fields(config) if f.name.endswith("_steps")}
    config = dataclasses.replace(config, **pre_steps)
    train_config = TrainConfig(steps=20, seeds=(0, 1), log_every=10, eval_every=20,
                               checkpoint_every=10, eval_episodes=1)
    spec = data_spec(task="multigoal", size=400, action_bounds=action_bounds)
    return train(name, config, train_config, spec, tmp_path / name, show_progress=False).run_dir


@pytest.fixture(scope="module")
def mdn_run(tmp_path_factory):
    return tiny_run(tmp_path_factory.mktemp("runs"), "mdn", n_components=3)


def test_the_npz_runs_with_numpy_alone_beside_its_forward_file(mdn_run, tmp_path, capsys):
    out = tmp_path / "shipped" / "policy.npz"
    assert main(["export", str(mdn_run), "--format", "npz", "--seed-index", "1",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "largest difference from onemode's policy" in printed and str(out) in printed
    assert (out.parent / "policy_forward.py").exists()

    observations = np.random.default_rng(1).normal(size=(200, 2)).astype(np.float32)
    np.save(tmp_path / "observations.npy", observations)
    script = ("import sys, numpy as np; from policy_forward import load, forward; "
              f"a = forward(load('policy.npz'), np.load({str(tmp_path / 'observations.npy')!r})); "
              f"np.save({str(tmp_path / 'actions.npy')!r}, a); "
              "assert not [m for m in sys.modules if m.startswith(('onemode', 'jax'))]")
    subprocess.run([sys.executable, "-c", script], cwd=out.parent, check=True)
    np.testing.assert_allclose(np.load(tmp_path / "actions.npy"),
                               load_policy(mdn_run, 1)(observations), atol=1e-5)


def test_scalar_action_bounds_map_every_action_dimension(tmp_path):
    run = tiny_run(tmp_path, "bc", action_bounds=[-2.0, 2.0])   # as --action-low/-high give
    observations = np.random.default_rng(2).normal(size=(300, 2)).astype(np.float32)
    expected = load_policy(run)(observations)
    for fmt in ("onnx", "npz"):
        path = export(run, fmt)
        np.testing.assert_allclose(exported_actions(path, fmt, observations), expected,
                                   atol=1e-5)


@pytest.mark.parametrize("name", ["wcgan", "wcvae"])
def test_a_policy_that_is_no_single_mlp_is_refused_saying_why(name):
    algo = get_algo(name)
    config = algo.Config.from_dict({"hidden": (8, 8), "act_candidates": 2})
    state = algo.init(jax.random.PRNGKey(0), 2, 2, config)
    with pytest.raises(ConfigError, match=f"{name} with act_candidates = 2 acts by the best of "
                                          "several generated candidates by its critic's Q"):
        algo.policy_mlp(state, config)
    assert algo.policy_mlp(state, dataclasses.replace(config, act_candidates=1)).head in MLP_HEADS


def test_bad_requests_get_one_line(mdn_run, tmp_path, capsys):
    assert main(["export", str(tmp_path)]) == 1
    assert "not a run directory" in capsys.readouterr().err
    assert main(["export", str(mdn_run), "--seed-index", "2"]) == 1
    assert "seed index 2 out of range" in capsys.readouterr().err

    from onemode import policy_forward
    damaged = tmp_path / "damaged.npz"
    np.savez(damaged, obs_mean=np.zeros(2))
    with pytest.raises(ValueError, match="damaged.npz: not an exported onemode policy"):
        policy_forward.load(damaged)
