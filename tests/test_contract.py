"""The algorithm contract (`onemode.algos.base`), checked for every name in `ALGOS`.

A new algorithm is covered by adding its name to `ALGOS`: each test here is
parametrised over the registry and uses nothing but the contract.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from configs import TINY

from onemode.algos import ALGOS, get_algo
from onemode.algos.base import MAIN_PHASE
from onemode.algos.config import shared_option
from onemode.errors import ConfigError
from onemode.algos.critics import bellman_target
from onemode.data import Dataset, load_dataset, to_device
from onemode.targets import data_spec
from onemode.export import FORMATS, check_observations, export, exported_actions
from onemode.policy import load_policy, load_run, make_act
from onemode.runs import RunDir, TrainConfig
from onemode.tasks import get_task
from onemode.train import train

NAMES = sorted(ALGOS)
PRE_STEPS = 50   # each pre-training phase, in the short runs (configs.TINY; a multiple of LOG_EVERY)
LOG_EVERY = 50
STEPS = 200      # the main phase


def small_config(name: str):
    """The algorithm at the tests' size (`configs.TINY`)."""
    return get_algo(name).Config.from_dict(TINY[name])


def test_every_algorithm_has_a_test_size():
    assert set(TINY) == set(ALGOS)
    for name in NAMES:
        config = small_config(name)
        steps = {phase.steps for phase in get_algo(name).phases(config)} - {None}
        assert steps <= {PRE_STEPS}, (name, steps)  # its pre-training phases stay short


def episodes_dataset(with_next_observations: bool) -> Dataset:
    """A terminal episode, a time-limit episode, a terminal one and two trailing rows."""
    rng = np.random.default_rng(0)
    terminals = np.array([0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0], bool)
    timeouts = np.array([0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], bool)
    n = len(terminals)
    arrays = {"observations": rng.normal(size=(n, 3)), "actions": rng.uniform(-1, 1, (n, 2)),
              "rewards": rng.normal(size=n), "terminals": terminals, "timeouts": timeouts}
    if with_next_observations:
        arrays["next_observations"] = rng.normal(size=(n, 3))
    return Dataset.from_arrays(arrays)


# ------------------------------------------------------------------- config
@pytest.mark.parametrize("name", NAMES)
def test_config_round_trips_through_json(name):
    config = small_config(name)
    assert set(config.to_dict()) == {f.name for f in dataclasses.fields(config)}
    assert type(config).from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ConfigError, match="unknown option 'temperature'"):
        type(config).from_dict({"temperature": 1.0})
    assert set(type(config).ACTING) <= set(config.to_dict())  # `onemode eval --set` options


INVALID = {"hidden": (0,), "actor_hidden": (8, 0), "batch_size": 0, "discount": 1.0, "beta": 0.0,
           "weight_clip": 0.0, "polyak": 1.0, "target_update_every": 0, "n_critics": 0,
           "n_components": 0, "value_samples": 0, "act_candidates": 0}


def test_an_option_two_algorithms_share_is_declared_once_and_checked_everywhere():
    owners: dict[str, list[str]] = {}
    for name in NAMES:
        for field in dataclasses.fields(get_algo(name).Config):
            owners.setdefault(field.name, []).append(name)
    shared = {option: algos for option, algos in owners.items() if len(algos) > 1}
    undeclared = sorted(option for option in shared if shared_option(option) is None)
    assert not undeclared, f"options of several algorithms without one declared meaning: " \
                           f"{[(o, shared[o]) for o in undeclared]}"
    for option, algos in shared.items():
        bad = INVALID.get(option, 0.0 if option.endswith("_lr") else -1)
        for name in algos:
            with pytest.raises(ConfigError, match=option):
                get_algo(name).Config.from_dict({option: bad})


def test_no_algorithm_module_imports_another():
    algorithm_modules = {module.rsplit(".", 1)[1] for module in ALGOS.values()}
    for name in NAMES:
        source = Path(get_algo(name).__file__).read_text()
        imported = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module == "onemode.algos":
                imported |= {alias.name for alias in node.names}
            elif (isinstance(node, ast.ImportFrom)
                  and (node.module or "").startswith("onemode.algos.")):
                imported.add(node.module.rsplit(".", 1)[1])
        assert not imported & algorithm_modules, f"{name} imports {imported & algorithm_modules}"


# ------------------------------------------------------- bootstrapping
@pytest.fixture(autouse=True, scope="module")
def quick_compiles():
    """Tiny networks and a few hundred updates: XLA's optimisations cost more than they save."""
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", False)


def _concatenate(*batches):
    return jax.tree.map(lambda *parts: jnp.concatenate(parts), *batches)


@pytest.mark.parametrize("name", NAMES)
def test_a_row_without_a_real_successor_never_bootstraps(name):
    """Poison s' where it is no real successor and a' where the episode has no next action:
    every phase's update must come out bit-identical to the one on the clean batch.

    Rows of a file without next_observations (an episode's last s' is a stand-in) and of
    one with them (a time-limit row has a real s' but no next action) are in the batch.
    """
    algo, config = get_algo(name), small_config(name)
    derived, given = episodes_dataset(False), episodes_dataset(True)
    clean = _concatenate(to_device(derived), to_device(given))
    no_next_obs = np.concatenate([~derived.has_next_observation, ~given.has_next_observation])
    no_next_action = np.concatenate([~derived.has_next_action, ~given.has_next_action])
    assert (no_next_action & ~no_next_obs).any() and no_next_obs.any()
    # and a row with a real s' does bootstrap off-policy, even at a time limit
    time_limit = np.concatenate([np.zeros(len(derived), bool), given.timeouts])
    values = jnp.arange(len(time_limit), dtype=jnp.float32)
    off_policy = bellman_target(clean, values, 0.5)
    sarsa = bellman_target(clean, values, 0.5, sarsa=True)
    assert np.all(np.asarray(off_policy.defined)[time_limit] == 1)
    np.testing.assert_allclose(np.asarray(off_policy.values)[time_limit],
                               np.asarray(clean.rewards + 0.5 * values)[time_limit])
    assert np.all(np.asarray(sarsa.defined)[time_limit] == 0)
    poisoned = clean._replace(
        next_observations=jnp.where(no_next_obs[:, None], jnp.nan, clean.next_observations),
        next_actions=jnp.where(no_next_action[:, None], jnp.nan, clean.next_actions))
    state = jax.jit(lambda key: algo.init(key, derived.obs_dim, derived.act_dim, config))(
        jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(2)
    for phase in algo.phases(config):
        update = jax.jit(phase.update)
        for _ in range(2):  # the second step sees targets moved by the first
            expected, _ = update(state, clean, key)
            got, metrics = update(state, poisoned, key)
            for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(got)):
                np.testing.assert_array_equal(a, b, err_msg=f"{name} {phase.name}")
            for metric, value in metrics.items():
                assert np.all(np.isfinite(np.asarray(value))), (phase.name, metric)
            state = expected


# ---------------------------------------------------------- train, load, resume
@pytest.fixture(scope="module")
def file_without_next_observations(tmp_path_factory):
    dataset = get_task("multigoal").make_dataset(2000, 0)
    arrays = {k: v for k, v in dataset.arrays().items() if k != "next_observations"}
    path = tmp_path_factory.mktemp("data") / "multigoal-no-next.npz"
    np.savez(path, **arrays)
    return path


def _train(name, spec, out, steps, resume=False):
    config = TrainConfig(steps=steps, seeds=(0, 1), log_every=LOG_EVERY, eval_every=STEPS,
                         checkpoint_every=LOG_EVERY, eval_episodes=2)
    return train(name, small_config(name), config, spec, out, resume=resume,
                 show_progress=False)


@pytest.mark.parametrize("name", NAMES)
def test_train_save_load_act_and_resume(name, file_without_next_observations, tmp_path):
    """Every phase runs in the engine, jitted and vmapped over two seeds; the run reloads
    and acts as in memory, and exports to ONNX and npz acting the same; a run cut
    halfway resumes to the same parameters."""
    algo, config = get_algo(name), small_config(name)
    spec = data_spec(task="multigoal", dataset=str(file_without_next_observations))
    whole = _train(name, spec, tmp_path / "whole", STEPS)
    assert whole.final_eval is not None and np.all(np.isfinite(whole.final_eval.returns))

    phases = algo.phases(config)
    assert phases[-1].name == MAIN_PHASE and phases[-1].steps is None
    log = _training_log(whole.run_dir)
    assert {r["phase"] for r in log} == {phase.name for phase in phases}
    for record in log:
        for metric, value in record.items():
            if metric not in ("step", "phase"):
                assert np.shape(value)[0] == 2, (record["phase"], metric)  # one per seed
                assert np.all(np.isfinite(value)), (record["phase"], metric, value)
    # (the engine's lax.scan refuses an update that changes the state's structure)
    dataset = load_dataset(file_without_next_observations)

    # the reloaded run acts exactly as the trained state in memory
    act = make_act(algo, config, dataset.obs_stats)
    observations = np.random.default_rng(0).uniform(-1.5, 1.5, (64, 2)).astype(np.float32)
    for seed_index in (0, 1):
        in_memory = jax.tree.map(lambda x: x[seed_index:seed_index + 1], whole.state)
        expected = np.asarray(act(in_memory, jnp.asarray(observations[None])))[0]
        np.testing.assert_array_equal(load_policy(whole.run_dir, seed_index)(observations),
                                      expected)
        assert expected.shape == (64, dataset.act_dim) and np.all(np.abs(expected) <= 1.0)
    assert not np.array_equal(load_policy(whole.run_dir, 0)(observations),
                              load_policy(whole.run_dir, 1)(observations))

    # the policy leaves onemode: ONNX (run by onnxruntime) and npz (plain numpy) act alike,
    # or the algorithm says why its policy is no single MLP
    check = check_observations(load_run(whole.run_dir), n=1000)
    expected = load_policy(whole.run_dir, 1)(check)
    try:
        algo.policy_mlp(jax.tree.map(lambda x: x[1], whole.state), config)
        exportable = True
    except ConfigError as refusal:
        assert name in str(refusal) and "MLP" in str(refusal)
        exportable = False
    for fmt in FORMATS if exportable else ():
        path = export(whole.run_dir, fmt, tmp_path / f"policy.{fmt}", seed_index=1)
        assert np.max(np.abs(exported_actions(path, fmt, check) - expected)) < 1e-5, fmt

    # a run cut halfway resumes to bit-identical parameters
    cut = _train(name, spec, tmp_path / "cut", STEPS // 2)
    resumed = _train(name, spec, cut.run_dir, STEPS, resume=True)
    for a, b in zip(jax.tree.leaves(whole.state), jax.tree.leaves(resumed.state)):
        np.testing.assert_array_equal(a, b)
    assert _training_log(resumed.run_dir) == _training_log(whole.run_dir)


def _training_log(run_dir) -> list[dict]:
    """The logged training metrics, without timings and evaluations (the cut run evaluated
    at its end)."""
    return [{k: v for k, v in r.items() if k != "updates_per_s"}
            for r in RunDir(run_dir).read_metrics() if r["phase"] != "eval"]
