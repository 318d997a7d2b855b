"""The Fetch 4-goal tasks: real gymnasium-robotics environments, scripted experts, data.

Everything here runs the real MuJoCo model (about 1,000-1,500 steps/s on one
core), so the episode counts are small; the benchmark behind the reference
returns is `benchmarks/fetch_reference.py`.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from onemode.evaluate import rollout
from onemode.tasks import TASKS, fetch, get_task
from onemode.tasks.fetch import BEST_GOAL, HORIZON, KINDS, FetchFourGoalEnv

OBS_DIM = {"reach": 10, "push": 25, "pick": 25}


@pytest.fixture(scope="module", params=list(KINDS))
def kind(request):
    return request.param


# ----------------------------------------------------------------- registry
def test_registered(kind):
    for name in (f"fetch-{kind}-4goal", f"fetch-{kind}-4goal-expert"):
        task = get_task(name)
        assert TASKS[name] is task and task.env_id in gym.registry
        assert gym.registry[task.env_id].max_episode_steps == task.horizon == HORIZON
        assert task.normalized_score(task.expert_return) == pytest.approx(100.0)
        assert task.normalized_score(task.random_return) == pytest.approx(0.0)


def test_env_checker_and_spaces(kind):
    env = FetchFourGoalEnv(kind)
    try:
        check_env(env, skip_render_check=True)
        assert env.observation_space.shape == (OBS_DIM[kind],)   # no goal in it
        assert env.action_space.shape == (4,)
    finally:
        env.close()


def test_goals_are_symmetric_and_rewards_follow_them(kind):
    env = FetchFourGoalEnv(kind)
    try:
        offsets = env.goals - env.center
        np.testing.assert_allclose(offsets[:, :2], KINDS[kind].goal_offset * fetch.QUADRANTS)
        np.testing.assert_allclose(offsets[:, 2], 0.0)
        # within 0.05 of a goal it is that goal; the first quadrant pays 2
        for g, goal in enumerate(env.goals):
            assert fetch.goal_index(goal + [0.03, 0.03, 0.0], env.goals) == g
            assert fetch.GOAL_REWARDS[g] == (2.0 if g == BEST_GOAL else 1.0)
        assert fetch.goal_index(env.center, env.goals) == -1
        with pytest.raises(ValueError, match="start must be"):
            env.reset(options={"start": np.ones(7)})
    finally:
        env.close()


def test_observation_holds_no_goal():
    """The same start gives the same first observation whichever goal the episode is for."""
    episodes = fetch.generate_episodes("push", n_starts=1, seed=3, workers=1)
    first = episodes["observations"][:, 0]
    assert np.all(first == first[:1])


# ------------------------------------------------------------------ experts
@pytest.mark.parametrize("goal", range(4))
def test_scripted_expert_reaches_each_goal(kind, goal):
    """Noise-free, from 20 random starts: at the goal at the end in >= 95% of episodes."""
    episodes = fetch.generate_episodes(kind, n_starts=20, seed=goal, goal_indices=(goal,),
                                       noise_std=0.0, workers=1)
    assert (episodes["achieved"] == goal).mean() >= 0.95


def test_reference_returns_match_rollouts(kind):
    """`REFERENCE` (1,000 episodes, benchmarks/fetch_reference.py) against 20 fresh ones."""
    task = get_task(f"fetch-{kind}-4goal")
    seeds = np.arange(1000, 1020)
    expert = rollout(task, task.expert_policy, seeds).returns
    assert abs(expert.mean() - task.expert_return) < 3 * max(expert.std(), 1.0) / np.sqrt(20) + 1
    rng = np.random.default_rng(1)
    random = rollout(task, lambda obs: rng.uniform(-1, 1, (len(obs), 4)), seeds).returns
    assert random.mean() < 0.2 * task.expert_return
    assert task.random_return < 0.05 * task.expert_return


# ------------------------------------------------------------------ datasets
def test_dataset_recipe(kind):
    task = get_task(f"fetch-{kind}-4goal")
    size = 4 * HORIZON * 3
    data = task.make_dataset(size, 0)
    assert len(data) == size and data.obs_dim == OBS_DIM[kind] and data.act_dim == 4
    assert data.source == f"task:{task.name}" and not data.terminals.any()
    np.testing.assert_array_equal(np.flatnonzero(data.timeouts) + 1,
                                  np.arange(HORIZON, size + 1, HORIZON))
    assert np.all(np.abs(data.actions) <= 1)
    # one episode toward each goal per start, in goal order: the first-quadrant one pays most
    returns = data.episode_returns.reshape(-1, 4)
    assert np.all(returns[:, 0] > returns[:, 1:].max(axis=1))
    # from the shared start, the first motions head into the four quadrants
    first_rows = np.arange(0, size, HORIZON).reshape(-1, 4)
    if kind == "reach":
        quadrants = np.sign(data.actions[first_rows][..., :2])
        assert (quadrants == fetch.QUADRANTS[None]).all(axis=-1).mean() >= 0.9
    # the expert-only variant keeps the first-quadrant episodes alone
    expert = get_task(f"fetch-{kind}-4goal-expert").make_dataset(HORIZON * 2, 0)
    assert expert.episode_returns.min() > returns[:, 1:].max()


def test_dataset_is_deterministic_and_independent_of_workers():
    one = fetch.make_dataset_for("reach", "fetch-reach-4goal", 4 * HORIZON * 2, seed=5, workers=1)
    two = fetch.make_dataset_for("reach", "fetch-reach-4goal", 4 * HORIZON * 2, seed=5, workers=2)
    for key, value in one.arrays().items():
        np.testing.assert_array_equal(value, two.arrays()[key], err_msg=key)
    other = fetch.make_dataset_for("reach", "fetch-reach-4goal", 4 * HORIZON * 2, seed=6, workers=1)
    assert not np.array_equal(one.actions, other.actions)


def test_dataset_replays_exactly_in_env():
    """The data are real rollouts: the env, reset to the recorded start, reproduces them."""
    kind, seed = "push", 2
    data = fetch.make_dataset_for(kind, "fetch-push-4goal", 4 * HORIZON, seed=seed, workers=1)
    env = FetchFourGoalEnv(kind)
    try:
        start = env.sample_start(np.random.default_rng([seed, 0]))   # start 0's own stream
        for episode in data.episode_slices:
            obs, _ = env.reset(seed=0, options={"start": start})
            for row in range(episode.start, episode.stop):
                np.testing.assert_allclose(obs, data.observations[row], atol=1e-6)
                obs, reward, *_ = env.step(data.actions[row])
                assert reward == data.rewards[row], row
    finally:
        env.close()


# ------------------------------------------------------------------- figures
def test_action_figure_draws_the_xy_motion_of_fetch_actions(tmp_path):
    """4-d Fetch actions are drawn in their first two (x, y), mixture components included."""
    from onemode.algos import lom
    from onemode.targets import data_spec
    from onemode.figures import action_figure
    from onemode.runs import TrainConfig
    from onemode.train import train

    config = TrainConfig(steps=20, seeds=(0,), log_every=20, eval_every=20, eval_episodes=1,
                         checkpoint_every=20)
    train("lom", lom.Config(hidden=(16,), n_components=3, mdn_steps=20, hyper_q_samples=1),
          config, data_spec(task="fetch-reach-4goal", size=4 * HORIZON), tmp_path / "lom",
          show_progress=False)
    path = action_figure({"lom": tmp_path / "lom"}, tmp_path / "actions.png")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ learning
def _lom_and_bc(tmp_path, kind: str, starts: int, steps: int, lom_config):
    """Train LOM and BC (2 seeds, 128-128) on `starts` x 4 real episodes of fetch-KIND-4goal.

    Returns each seed's LOM and BC score and the goal each LOM episode ended at.
    """
    from onemode.algos import bc
    from onemode.data import save_dataset
    from onemode.targets import data_spec
    from onemode.runs import TrainConfig
    from onemode.train import train

    task = f"fetch-{kind}-4goal"
    dataset = tmp_path / f"{kind}.npz"
    save_dataset(get_task(task).make_dataset(4 * HORIZON * starts, 0), dataset)
    spec = data_spec(task=task, dataset=dataset)
    config = TrainConfig(steps=steps, seeds=(0, 1), log_every=5_000, eval_every=steps,
                         eval_episodes=20, checkpoint_every=steps)
    lom_run = train("lom", lom_config, config, spec, tmp_path / "lom", show_progress=False)
    bc_run = train("bc", bc.Config(hidden=(128, 128)), config, spec, tmp_path / "bc",
                   show_progress=False)

    env = FetchFourGoalEnv(kind)
    try:
        mover = fetch.BLOCK if env.kind.has_block else fetch.GRIP
        ends = fetch.goal_index(lom_run.final_eval.final_observations[..., mover], env.goals)
    finally:
        env.close()
    return (lom_run.final_eval.scores.mean(axis=1), bc_run.final_eval.scores.mean(axis=1),
            ends)


@pytest.mark.slow
def test_lom_heads_for_the_best_goal_on_fetch_reach(tmp_path):
    """LOM learns the reward-2 goal from four-mode data where BC, averaging, does not.

    Real MuJoCo data (200 starts x 4 goals) and real rollouts; a few minutes on 2 cores.
    """
    from onemode.algos import lom

    lom_scores, bc_scores, ends = _lom_and_bc(
        tmp_path, "reach", starts=200, steps=10_000,
        lom_config=lom.Config(hidden=(128, 128), hyper_q_samples=1, mdn_steps=5_000))
    assert np.all(lom_scores >= 85), lom_scores
    assert np.all((ends == BEST_GOAL).mean(axis=1) >= 0.9), ends
    assert lom_scores.min() > bc_scores.max() + 20, (lom_scores, bc_scores)


@pytest.mark.slow
def test_lom_pushes_the_block_to_the_best_goal(tmp_path):
    """On push, LOM's behaviour model needs the paper's I_M = 20,000 updates: with 5,000 it
    lost the block in half the episodes (experiments/2026-11-25-fetch-mdn-steps/). Real
    data and rollouts; about seven minutes on 2 cores.
    """
    from onemode.algos import lom

    lom_scores, bc_scores, ends = _lom_and_bc(
        tmp_path, "push", starts=1000, steps=15_000,
        lom_config=lom.Config(hidden=(128, 128), hyper_q_samples=1))
    # seeds vary (72-101 in the runs seen); with 5,000 MDN updates seeds 0 and 1 gave 64 and 40
    assert lom_scores.min() >= 60 and lom_scores.mean() >= 70, lom_scores
    assert np.all((ends == BEST_GOAL).mean(axis=1) >= 0.7), ends
    assert not np.any((ends >= 0) & (ends != BEST_GOAL)), ends   # never a reward-1 goal
    assert lom_scores.min() > bc_scores.max() + 20, (lom_scores, bc_scores)
