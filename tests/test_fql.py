"""FQL's own checks: its settings, the flow's pieces against their closed forms, and on
`multigoal` (four goals, the averaging trap) the one-step policy heading for the best goal
while the flow policy alone keeps the data's modes. (Contract, export and the expert's
score on `multigoal-expert`: test_contract.py and test_learning.py.)"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from onemode.algos import fql
from onemode.cli import main
from onemode.errors import ConfigError


# ------------------------------------------------------------------ settings
@pytest.mark.parametrize("option, value", [("actor_bc_weight", -1.0), ("flow_steps", 0),
                                           ("q_aggregation", "max"), ("flow_lr", 0.0),
                                           ("polyak", 1.0), ("critic_layer_norm", "perhaps"),
                                           ("normalize_q_loss", "perhaps")])
def test_a_bad_setting_is_refused_in_one_line_naming_the_option(option, value):
    with pytest.raises(ConfigError) as refusal:
        fql.Config.from_dict({option: value})
    assert option in str(refusal.value) and "\n" not in str(refusal.value)


def test_the_command_line_refuses_a_bad_setting_naming_it(capsys):
    assert main(["train", "--algo", "fql", "--task", "multigoal", "--set", "flow_steps=0"]) == 1
    error = capsys.readouterr().err.strip()
    assert "flow_steps must be >= 1" in error and len(error.splitlines()) == 1


def test_the_paper_preset_holds_the_published_alphas():
    from onemode.presets import configure, find_preset
    preset = find_preset("fql", "paper")
    assert len(preset.rows) == 78   # 10 OGBench defaults + their 50 tasks + 18 D4RL datasets
    for dataset, (alpha, discount, aggregation) in {
            "door-human-v1": (30000.0, 0.99, "min"),
            "pen-expert-v1": (3000.0, 0.99, "min"),
            "antmaze-large-diverse-v2": (3.0, 0.99, "mean"),
            "antmaze-giant-navigate-singletask-task3-v0": (10.0, 0.995, "min"),
            "humanoidmaze-medium-navigate-singletask-v0": (30.0, 0.995, "mean"),
            "puzzle-4x4-play-singletask-task5-v0": (1000.0, 0.99, "mean"),
            "multigoal": (10.0, 0.99, "mean")}.items():   # no row: the code's defaults
        config, note = configure("fql", {}, "paper", dataset)
        assert (config.actor_bc_weight, config.discount, config.q_aggregation) == \
            (alpha, discount, aggregation), dataset
        assert not config.normalize_q_loss and config.hidden == (512,) * 4, note


# ------------------------------------------------------------------ the flow
def test_the_straight_path_and_its_velocity_are_the_closed_form():
    rng = np.random.default_rng(0)
    noise, actions = (jnp.asarray(rng.normal(size=(5, 3)), jnp.float32) for _ in range(2))
    times = jnp.asarray(rng.uniform(size=(5, 1)), jnp.float32)
    x_t, velocity = fql.straight_path(noise, actions, times)
    np.testing.assert_allclose(x_t, noise + times * (actions - noise), atol=1e-6)
    np.testing.assert_allclose(velocity, actions - noise, atol=1e-6)
    np.testing.assert_allclose(fql.straight_path(noise, actions, jnp.zeros((5, 1)))[0], noise)
    np.testing.assert_allclose(fql.straight_path(noise, actions, jnp.ones((5, 1)))[0], actions)
    # the target is the path's derivative in t at every t
    _, d_dt = jax.jvp(lambda t: fql.straight_path(noise, actions, t)[0], (times,),
                      (jnp.ones_like(times),))
    np.testing.assert_allclose(d_dt, velocity, atol=1e-6)


@pytest.mark.parametrize("steps", [1, 4, 10])
def test_euler_integrates_known_fields_to_their_closed_form(steps):
    z = jnp.asarray(np.random.default_rng(1).normal(size=(6, 2)), jnp.float32)
    c = jnp.array([0.3, -0.7])
    # a constant field: exact for any K, x_1 = z + c
    np.testing.assert_allclose(fql.euler(lambda x, t: jnp.broadcast_to(c, x.shape), z, steps),
                               z + c, atol=1e-6)
    # v = 2t: Euler's left sums, sum_k 2 (k / K) / K = (K - 1) / K (the integral is 1)
    np.testing.assert_allclose(fql.euler(lambda x, t: jnp.broadcast_to(2 * t, x.shape), z,
                                         steps), z + (steps - 1) / steps, atol=1e-6)
    # v = x: x_K = z (1 + 1/K)^K (-> z e as K grows)
    np.testing.assert_allclose(fql.euler(lambda x, t: x, z, steps), z * (1 + 1 / steps) ** steps,
                               rtol=1e-5)


def test_the_euler_steps_are_one_loop_inside_the_jitted_update():
    """The update's program does not grow with the flow's steps: one lax loop, not K copies."""
    from onemode.data import to_device
    from onemode.tasks import get_task
    batch = to_device(get_task("multigoal").make_dataset(200, 0))

    def equations(flow_steps):
        config = fql.Config(hidden=(8, 8), flow_steps=flow_steps)
        state = fql.init(jax.random.PRNGKey(0), 2, 2, config)
        jaxpr = jax.make_jaxpr(lambda s, k: fql.update(s, batch, k, config))(
            state, jax.random.PRNGKey(1))
        text = str(jaxpr)
        return text.count(" = "), "scan[" in text or "while[" in text   # fori_loop: either

    (few, loops), (many, _) = equations(2), equations(50)
    assert loops and few == many


# ------------------------------------------------------------------ export
def test_the_numpy_forward_computes_flax_gelu():
    import flax.linen as nn

    from onemode import policy_forward
    x = np.linspace(-8.0, 8.0, 4001, dtype=np.float32)
    np.testing.assert_allclose(policy_forward.gelu(x), np.asarray(nn.gelu(jnp.asarray(x))),
                               atol=2e-6)


def test_the_exported_policy_is_mu_at_zero_noise_in_format_2(tmp_path):
    """mu(s, 0) as a GELU MLP of s; a relu policy's file stays format 1 (test_export.py)."""
    from onemode import policy_forward
    from onemode.export import check_observations, export, exported_actions
    from onemode.policy import load_policy, load_run
    from onemode.runs import TrainConfig
    from onemode.targets import data_spec
    from onemode.train import train
    config = fql.Config(hidden=(16, 16), batch_size=32)
    train_config = TrainConfig(steps=20, seeds=(0,), log_every=10, eval_every=20,
                               checkpoint_every=10, eval_episodes=1)
    run = train("fql", config, train_config, data_spec(task="multigoal", size=400),
                tmp_path / "run", show_progress=False).run_dir
    path = export(run, "npz")
    weights = policy_forward.load(path)
    assert str(weights["format"]) == policy_forward.FORMAT_WITH_ACTIVATION != "onemode-policy-1"
    assert str(weights["activation"]) == "gelu" and weights["hidden_0_kernel"].shape[0] == 2
    observations = check_observations(load_run(run), n=500)
    np.testing.assert_allclose(exported_actions(path, "npz", observations),
                               load_policy(run)(observations), atol=1e-5)


# ------------------------------------------------------------------ multigoal
MULTIGOAL = dict(hidden=(64, 64), actor_lr=1e-3, critic_lr=1e-3, flow_lr=1e-3, normalize_q_loss=True,
                 actor_bc_weight=0.1)
MULTIGOAL_STEPS = 6000


@pytest.fixture(scope="module")
def multigoal_run(tmp_path_factory):
    from onemode.runs import TrainConfig
    from onemode.targets import data_spec
    from onemode.train import train
    config = fql.Config(**MULTIGOAL)
    steps = MULTIGOAL_STEPS
    train_config = TrainConfig(steps=steps, seeds=(0, 1), log_every=steps, eval_every=steps,
                               eval_episodes=20, checkpoint_every=steps)
    result = train("fql", config, train_config, data_spec(task="multigoal", size=40_000),
                   tmp_path_factory.mktemp("runs") / "fql", show_progress=False)
    return config, result


@pytest.mark.slow  # their shared run: ~40 s alone, 75 s on a busy CPU; make test-slow
def test_the_one_step_policy_heads_for_the_best_goal_on_multigoal(multigoal_run):
    """Four goals, one worth twice the others, all four modes at every start state: mu(s, 0)
    ends >= 90% of its episodes at (+1, +1), each seed."""
    from onemode.tasks.multigoal import BEST_GOAL, goal_at
    _, result = multigoal_run
    at_best_goal = (goal_at(result.final_eval.final_observations) == BEST_GOAL).mean(axis=1)
    assert np.all(at_best_goal >= 0.9), at_best_goal


@pytest.mark.slow  # their shared run: ~40 s alone, 75 s on a busy CPU; make test-slow
def test_the_flow_policy_alone_keeps_the_data_modes_on_multigoal(multigoal_run):
    """100 actions of the flow policy at the start state (0, 0) point into >= 3 of the four
    goals' quadrants: the flow models the modes; the one-step policy chooses."""
    from onemode.policy import load_run
    from onemode.tasks.multigoal import GOALS
    config, result = multigoal_run
    start = jnp.asarray(load_run(result.run_dir).stats.normalize(np.zeros((1, 2), np.float32)))
    for seed in range(2):
        state = jax.tree.map(lambda x: x[seed], result.state)
        actions = np.asarray(fql.sample_flow_actions(state, start, jax.random.PRNGKey(seed), 100,
                                                     config))[:, 0]
        assert actions.shape == (100, 2) and np.all(np.abs(actions) <= 1.0)
        same_signs = np.sign(actions)[:, None, :] == np.sign(GOALS)[None]     # (100, 4, 2)
        quadrants = np.flatnonzero(same_signs.all(axis=-1).any(axis=0))
        assert len(quadrants) >= 3, (seed, quadrants)
