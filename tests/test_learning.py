"""Every algorithm learns: on unimodal expert data it reaches the expert's score, and
where it has a critic, reward flows back through its TD targets.

`multigoal-expert`: every episode of the data heads for the best goal; the expert scores
100, the noisy data itself about 98, a random policy 0. Settings: `configs.EXPERT`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from configs import EXPERT

from onemode.algos import get_algo
from onemode.algos.critics import q_value
from onemode.policy import load_run
from onemode.runs import RunDir, TrainConfig
from onemode.targets import data_spec
from onemode.train import train

WITH_CRITIC = ("td3bc", "iql", "cql", "dmpo", "lapo", "rebrac", "fql")


@pytest.fixture(scope="module")
def expert_run(request, tmp_path_factory):
    name = request.param
    values, steps = EXPERT[name]
    algo = get_algo(name)
    config = algo.Config(**values)
    # one chunk per phase (one compilation each): every period is the whole run
    total = sum(steps if phase.steps is None else phase.steps for phase in algo.phases(config))
    train_config = TrainConfig(steps=steps, seeds=(0, 1), log_every=total, eval_every=total,
                               checkpoint_every=total, eval_episodes=20)
    result = train(name, config, train_config, data_spec(task="multigoal-expert", size=10_000),
                   tmp_path_factory.mktemp("runs") / name, show_progress=False)
    return name, config, result


@pytest.mark.parametrize("expert_run", sorted(EXPERT), indirect=True)
def test_reaches_the_expert_score_on_unimodal_expert_data(expert_run):
    name, config, result = expert_run
    scores = result.final_eval.scores.mean(axis=1)
    assert scores.shape == (2,)
    assert np.all(scores >= 90), (name, scores)
    records = RunDir(result.run_dir).read_metrics()
    assert [r["phase"] for r in records] == [p.name for p in get_algo(name).phases(config)] \
        + ["eval"]


def state_value(name: str, state, observations, config):
    """The critic's value of a state under the learned policy (IQL: V(s))."""
    if name == "iql":
        return state.value.apply_fn(state.value.params, observations)
    actions = get_algo(name).act(state, observations, config)
    return q_value(state.critic, state.critic.params, observations, actions)


@pytest.mark.parametrize("expert_run", WITH_CRITIC, indirect=True)
def test_the_critic_values_the_rewarded_goal_above_the_start(expert_run):
    """Reward flows back through the TD targets: V(goal (1, 1)) well above V(start (0, 0))."""
    name, config, result = expert_run
    states = load_run(result.run_dir).stats.normalize(np.array([[0.0, 0.0], [1.0, 1.0]],
                                                                np.float32))
    for seed in range(2):
        state = jax.tree.map(lambda x: x[seed], result.state)
        start, goal = np.asarray(state_value(name, state, jnp.asarray(states), config))
        assert goal > start + 3.0, (name, seed, start, goal)
    records = [r for r in RunDir(result.run_dir).read_metrics() if r["phase"] == "main"]
    assert np.all(np.isfinite(records[-1]["td_loss"]))


def test_every_algorithm_has_a_learning_setting():
    from onemode.algos import ALGOS
    assert set(EXPERT) | {"lom"} == set(ALGOS)  # LOM's learning tests: test_lom.py
