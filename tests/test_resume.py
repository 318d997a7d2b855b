"""A killed run resumes to the same result as an uninterrupted one."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from onemode.runs import RunDir

TRAIN = ["-m", "onemode.cli", "train", "--task", "bandit", "--size", "2000", "--steps", "1500",
         "--log-every", "100", "--checkpoint-every", "100", "--eval-every", "1500",
         "--eval-episodes", "5", "--seeds", "0,1", "--no-progress",
         "--set", "hidden=32,32", "--set", "n_components=4", "--set", "mdn_steps=500",
         "--set", "batch_size=64", "--set", "hyper_q_samples=2"]
TOTAL_STEPS = 2000  # mdn_steps + steps


def _train(out, *extra):
    return subprocess.run([sys.executable, *TRAIN, "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=300)


def _resume(out, *extra):
    """`onemode train --resume`: the settings come from the run's config.json."""
    return subprocess.run([sys.executable, "-m", "onemode.cli", "train", "--resume", "--out",
                           str(out), "--no-progress", *extra],
                          capture_output=True, text=True, timeout=300)


def _checkpoint_step(run: RunDir) -> int:
    try:
        with np.load(run.checkpoint_path) as f:
            return int(f["step"])
    except (FileNotFoundError, OSError, ValueError, KeyError):
        return -1


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> RunDir:
    """The run uninterrupted: what every interrupted and resumed run must end as."""
    out = tmp_path_factory.mktemp("whole") / "run"
    result = _train(out)
    assert result.returncode == 0, result.stderr
    return RunDir(out)


def assert_same_run(run: RunDir, whole: RunDir):
    """Bit-identical checkpoints, and the same log records (no step logged twice)."""
    with np.load(whole.checkpoint_path) as a, np.load(run.checkpoint_path) as b:
        assert int(a["step"]) == int(b["step"]) == TOTAL_STEPS
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    steps = [(r["step"], r["phase"]) for r in run.read_metrics()]
    assert len(steps) == len(set(steps)), "a resumed run must not log a step twice"
    assert steps == [(r["step"], r["phase"]) for r in whole.read_metrics()]


def _start(out) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *TRAIN, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, process, seconds=240):
    deadline = time.time() + seconds
    while not condition() and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)


def test_killed_run_resumes_to_the_uninterrupted_result(whole, tmp_path):
    killed = RunDir(tmp_path / "killed")
    process = _start(killed.path)
    _wait_for(lambda: _checkpoint_step(killed) >= 700, process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    step_at_kill = _checkpoint_step(killed)
    if step_at_kill >= TOTAL_STEPS:
        pytest.fail("the run finished before it could be killed; lengthen it")
    assert 700 <= step_at_kill < TOTAL_STEPS

    refused = _resume(killed.path, "--set", "beta=2.0", "--seeds", "0")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "--seeds, --set cannot change them" in refused.stderr, refused.stderr
    assert _checkpoint_step(killed) == step_at_kill

    # a kill in the middle of appending a log line leaves it cut short
    with open(killed.metrics_path, "a") as log:
        log.write('{"step": 99999, "phase": "ma')
    resumed = _resume(killed.path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(killed, whole)


def test_a_run_killed_before_its_first_checkpoint_resumes_from_its_config(whole, tmp_path):
    """kill -9 before any checkpoint: `--resume` trains the run from step 0 with the settings
    its config.json records, says so in one line, and ends where the uninterrupted run did."""
    killed = RunDir(tmp_path / "killed")
    process = _start(killed.path)
    _wait_for(killed.exists, process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert killed.exists() and not killed.checkpoint_path.exists()
    resumed = _resume(killed.path)
    assert resumed.returncode == 0, resumed.stderr
    said = [line for line in resumed.stdout.splitlines() if "no checkpoint yet" in line]
    assert len(said) == 1 and "from step 0 with the settings its config.json records" in said[0]
    assert_same_run(killed, whole)


def test_sigterm_stops_at_the_end_of_a_chunk_with_a_checkpoint_and_resumes_exactly(whole,
                                                                                  tmp_path):
    stopped = RunDir(tmp_path / "stopped")
    process = _start(stopped.path)
    _wait_for(lambda: _checkpoint_step(stopped) >= 300, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    step = _checkpoint_step(stopped)
    assert process.returncode == 143, err
    assert 300 <= step < TOTAL_STEPS and step % 100 == 0  # a chunk's end (log_every 100)
    assert f"stopped by SIGTERM after {step:,} updates" in err
    assert f"onemode train --resume --out {stopped.path}" in err and "Traceback" not in err
    assert max(r["step"] for r in stopped.read_metrics()) == step
    resumed = _resume(stopped.path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(stopped, whole)


def test_a_damaged_log_line_is_refused_naming_the_file_and_line(tmp_path):
    from onemode.errors import CheckpointError
    run = RunDir(tmp_path)
    run.metrics_path.write_text('{"step": 1, "phase": "main"}\nnot json\n{"step": 2, '
                                '"phase": "main"}\n')
    with pytest.raises(CheckpointError, match=r"metrics.jsonl, line 2: expected one JSON"):
        run.read_metrics()
    run.metrics_path.write_text('{"step": 1, "phase": "main"}\n{"step": 2, "pha')
    assert run.read_metrics() == [{"step": 1, "phase": "main"}]  # the cut last line: dropped


@pytest.mark.parametrize("name", ["lom", "dmpo"])
def test_each_seed_starts_where_the_vmapped_init_puts_it(name):
    """`init_seeds` compiles one seed's init and calls it per seed (XLA compiles that faster
    than the vmapped init); the states must be bitwise those of jit(vmap(init)), where runs
    started before, so that old runs and the seeds' vmapped code see the same states."""
    import jax

    from onemode.algos import get_algo
    from onemode.train import init_seeds

    algo = get_algo(name)
    config = algo.Config(hidden=(8,))
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    vmapped = jax.jit(jax.vmap(lambda key: algo.init(key, 5, 2, config)))(keys)
    per_seed = init_seeds(algo, config, 5, 2, keys)

    def paths(state):  # the treedefs hold each init's own module objects, so compare paths
        return [jax.tree_util.keystr(path) for path, _ in
                jax.tree_util.tree_flatten_with_path(state)[0]]

    assert paths(per_seed) == paths(vmapped)
    for a, b in zip(jax.tree.leaves(vmapped), jax.tree.leaves(per_seed)):
        assert a.shape[0] == 3
        np.testing.assert_array_equal(a, b)
    kernel = next(leaf for leaf in jax.tree.leaves(per_seed) if leaf.ndim == 3)  # (seed, in, out)
    assert not np.array_equal(kernel[0], kernel[1])  # each seed its own draw


def test_resume_without_a_run_is_a_clear_error(tmp_path):
    result = _resume(tmp_path / "nothing")
    assert result.returncode == 1
    assert "not a run directory" in result.stderr and "Traceback" not in result.stderr


def test_resume_with_other_settings_is_refused_and_leaves_the_run(tmp_path):
    from onemode.algos import get_algo
    from onemode.errors import ConfigError
    from onemode.targets import data_spec
    from onemode.runs import TrainConfig
    from onemode.train import train

    config = get_algo("bc").Config(hidden=(8,), batch_size=16)
    train_config = TrainConfig(steps=20, seeds=(0,), log_every=10, eval_every=20,
                               checkpoint_every=10, eval_episodes=2)
    spec = data_spec(task="bandit", size=500)
    run = train("bc", config, train_config, spec, tmp_path / "run", show_progress=False)
    before = (run.run_dir / "checkpoint.npz").read_bytes()
    with pytest.raises(ConfigError, match=r"algo_config.actor_lr: 0.0003 in the run, 0.01 asked"):
        train("bc", config.__class__(hidden=(8,), batch_size=16, actor_lr=1e-2), train_config, spec,
              run.run_dir, resume=True, show_progress=False)
    assert (run.run_dir / "checkpoint.npz").read_bytes() == before
    # a longer run of the same settings resumes
    longer = dataclasses.replace(train_config, steps=30)
    resumed = train("bc", config, longer, spec, run.run_dir, resume=True, show_progress=False)
    assert int(np.load(resumed.run_dir / "checkpoint.npz")["step"]) == 30
    assert RunDir(run.run_dir).read_config()["train_config"]["steps"] == 30  # says what it ran


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    from onemode.algos import get_algo
    from onemode.targets import data_spec
    from onemode.runs import TrainConfig
    from onemode.train import train

    config = TrainConfig(steps=20, seeds=(0,), log_every=10, eval_every=20,
                         checkpoint_every=10, eval_episodes=2)
    run = train("bc", get_algo("bc").Config(hidden=(8,), batch_size=16), config,
                data_spec(task="bandit", size=500), tmp_path_factory.mktemp("run") / "bc",
                show_progress=False)
    return run.run_dir


def test_an_option_newer_than_the_run_counts_only_away_from_its_default(small_run):
    """A run trained before an option existed is the same run while the option is asked
    at its default (which keeps the old behaviour), and another one otherwise."""
    from onemode.runs import RunRecord, config_differences

    values = RunDir(small_run).read_config()
    del values["algo_config"]["actor_lr"], values["train_config"]["holdout_fraction"]
    stored = RunRecord.from_dict(values)
    asked = RunDir(small_run).read_record()
    assert config_differences(stored, asked) == []
    asked = dataclasses.replace(asked, algo_config=asked.algo_config.replace(actor_lr=1e-2))
    assert config_differences(stored, asked) == [
        "algo_config.actor_lr: 0.0003 in the run, 0.01 asked"]


def _rewrite_checkpoint(path, change):
    with np.load(path) as f:
        arrays = change({k: f[k] for k in f.files})
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def _old_format(arrays):
    """As onemode wrote checkpoints before named leaves: by position, no version."""
    leaves = [v for k, v in arrays.items() if k.startswith("state/")]
    return {"step": arrays["step"], "keys": arrays["keys"],
            **{f"leaf_{i:05d}": leaf for i, leaf in enumerate(leaves)}}


def _renamed_leaf(arrays):
    name = next(k for k in arrays if k.startswith("state/actor.params"))
    arrays["state/actor.params.renamed"] = arrays.pop(name)
    return arrays


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "unreadable checkpoint"),
    (lambda p: p.write_bytes(b""), "unreadable checkpoint"),
    (lambda p: _rewrite_checkpoint(p, _old_format), "checkpoint format 1"),
    (lambda p: _rewrite_checkpoint(p, _renamed_leaf), "does not match the run's config"),
])
def test_a_damaged_or_older_checkpoint_is_refused_in_one_line(small_run, tmp_path, capsys,
                                                              damage, message):
    import shutil

    from onemode.cli import main

    run_dir = tmp_path / "run"
    shutil.copytree(small_run, run_dir)
    damage(run_dir / "checkpoint.npz")
    for argv in (["eval", str(run_dir), "--episodes", "1"],
                 ["train", "--resume", "--out", str(run_dir), "--no-progress"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert message in err and str(run_dir / "checkpoint.npz") in err, err
