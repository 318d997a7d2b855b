"""The built-in tasks `bandit` and `multigoal`: envs, scripted experts, data, reference scores."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from onemode.tasks import TASKS, get_task
from onemode.tasks import bandit, multigoal


def env_returns(env_id: str, policy, n_episodes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns and final observations of `n_episodes` rollouts of the registered env."""
    env = gym.make(env_id)
    returns = np.zeros(n_episodes)
    finals = []
    obs, _ = env.reset(seed=seed)
    for episode in range(n_episodes):
        if episode:
            obs, _ = env.reset()
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            returns[episode] += reward
            done = terminated or truncated
        finals.append(obs)
    env.close()
    return returns, np.array(finals)


def uniform_policy(space: gym.spaces.Box, seed: int):
    """Uniform random actions. Use a seed unlike the env's: the env's `np_random` is
    the same generator, and equal seeds would make actions copy the states."""
    rng = np.random.default_rng(seed)
    return lambda obs: rng.uniform(-1.0, 1.0, size=space.shape).astype(np.float32)


# ----------------------------------------------------------------- registry
@pytest.mark.parametrize("name, module", [("bandit", bandit), ("multigoal", multigoal)])
def test_registered(name, module):
    task = get_task(name)
    assert TASKS[name] is task is module.TASK
    assert task.env_id in gym.registry
    assert gym.registry[task.env_id].max_episode_steps == task.horizon
    assert task.normalized_score(task.expert_return) == pytest.approx(100.0)
    assert task.normalized_score(task.random_return) == pytest.approx(0.0)
    # running the module a second time (under another name) must not register the env twice;
    # the registry of tasks is restored so no other test sees the second copy
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"_second_{name}", module.__file__)
    saved, entry = dict(TASKS), gym.registry[task.env_id]
    try:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        assert gym.registry[task.env_id] is entry
    finally:
        TASKS.clear()
        TASKS.update(saved)
    assert get_task(name) is task


# --------------------------------------------------------------------- envs
@pytest.mark.parametrize("env_cls", [bandit.BanditEnv, multigoal.MultiGoalEnv])
def test_env_checker(env_cls):
    check_env(env_cls(), skip_render_check=True)


def test_bandit_env_is_one_step():
    env = gym.make(bandit.ENV_ID)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (1,) and obs.dtype == np.float32 and -1 <= obs[0] <= 1
    _, reward, terminated, _, _ = env.step(np.sign(obs) * 0.5)
    assert terminated and reward == 1.0
    env.reset(options={"start": [-0.3]})
    assert env.step(np.array([0.7], np.float32))[1] == 0.0
    env.reset(options={"start": [-0.3]})
    assert env.step(np.array([-0.7], np.float32))[1] == 1.0


def test_multigoal_env_time_limit_and_rewards():
    env = gym.make(multigoal.ENV_ID)
    obs, info = env.reset(seed=0)
    assert obs.shape == (2,) and np.all(np.abs(obs) <= multigoal.START_RANGE)
    assert info["goal"] == -1
    for t in range(multigoal.HORIZON):
        obs, reward, terminated, truncated, _ = env.step(np.zeros(2, np.float32))
        assert not terminated and truncated == (t == multigoal.HORIZON - 1)
        assert reward == 0.0
    for goal, pay in zip(multigoal.goal_positions(), [2.0, 1.0, 1.0, 1.0]):
        env.reset(options={"start": goal * 0.95})
        obs, reward, _, _, info = env.step(np.zeros(2, np.float32))
        assert reward == pay and info["goal"] == multigoal.goal_at(goal)
    env.reset(options={"start": [1.45, 1.45]})
    obs, _, _, _, _ = env.step(np.ones(2, np.float32))
    assert np.all(obs == multigoal.BOUND)


def test_multigoal_goal_helpers():
    goals = multigoal.goal_positions()
    assert goals.shape == (4, 2) and set(map(tuple, np.sign(goals))) == {(1, 1), (-1, 1), (-1, -1), (1, -1)}
    assert goals[0].tolist() == [1.0, 1.0]
    assert multigoal.goal_at(goals).tolist() == [0, 1, 2, 3]
    assert multigoal.goal_at(goals + [0.0, 0.099]).tolist() == [0, 1, 2, 3]
    assert multigoal.goal_at(goals * 0.8).tolist() == [-1] * 4
    assert multigoal.goal_at(np.zeros(2)) == -1
    assert multigoal.goal_reward(goals).tolist() == [2.0, 1.0, 1.0, 1.0]


# ----------------------------------------------------------- scripted experts
def test_bandit_expert_is_optimal():
    states = np.linspace(-1, 1, 2001, dtype=np.float32)[:, None]
    states = states[states[:, 0] != 0]
    actions = bandit.expert_policy(states)
    assert actions.shape == states.shape and np.all(np.abs(actions) <= 1)
    assert bandit.reward(states, actions).mean() == bandit.OPTIMAL_RETURN
    returns, _ = env_returns(bandit.ENV_ID, bandit.expert_policy, 500, seed=1)
    assert returns.mean() == bandit.TASK.optimal_return == bandit.TASK.expert_return


@pytest.mark.parametrize("goal", range(4))
def test_multigoal_controller_reaches_each_goal(goal):
    starts = multigoal.sample_starts(np.random.default_rng(goal), 1000)
    finals, returns = multigoal.rollout(lambda p: multigoal.scripted_actions(p, goal), starts)
    assert (multigoal.goal_at(finals) == goal).mean() >= 0.95
    # the noisy behaviour controller of the data recipe reaches its goal too
    rng = np.random.default_rng(10 + goal)
    noisy = lambda p: multigoal.scripted_actions(p, goal) + rng.normal(0, multigoal.NOISE_STD, p.shape)
    finals, _ = multigoal.rollout(noisy, starts)
    assert (multigoal.goal_at(finals) == goal).mean() >= 0.95


def test_multigoal_expert_reaches_best_goal_in_env():
    _, finals = env_returns(multigoal.ENV_ID, multigoal.expert_policy, 100, seed=2)
    assert (multigoal.goal_at(finals) == multigoal.BEST_GOAL).mean() >= 0.95


# ------------------------------------------------------ reference constants
def test_bandit_reference_scores_match_rollouts():
    """Random: 4000 env episodes, std of the mean 0.008; tolerance 0.05 (6 std)."""
    space = gym.spaces.Box(-1, 1, (1,), np.float32)
    returns, _ = env_returns(bandit.ENV_ID, uniform_policy(space, 103), 4000, seed=3)
    assert abs(returns.mean() - bandit.TASK.random_return) <= 0.05
    assert bandit.TASK.expert_return == 1.0  # measured exactly in test_bandit_expert_is_optimal


def test_multigoal_reference_scores_match_rollouts():
    """Expert: 200 env episodes (per-episode std 1.1, std of the mean 0.08), tolerance 0.5.
    Random: 600 env episodes (per-episode std 0.15, std of the mean 0.006), tolerance 0.05.
    Both tolerances are under 1% of expert_return - random_return."""
    task = get_task("multigoal")
    expert, _ = env_returns(task.env_id, task.expert_policy, 200, seed=4)
    assert abs(expert.mean() - task.expert_return) <= 0.5
    space = gym.spaces.Box(-1, 1, (2,), np.float32)
    random, _ = env_returns(task.env_id, uniform_policy(space, 105), 600, seed=5)
    assert abs(random.mean() - task.random_return) <= 0.05
    # the vectorised `rollout` agrees with the constant to its own precision
    starts = multigoal.sample_starts(np.random.default_rng(6), 20_000)
    _, vec = multigoal.rollout(task.expert_policy, starts)
    assert abs(vec.mean() - task.expert_return) <= 0.05


# ------------------------------------------------------------------- datasets
@pytest.mark.parametrize("name", ["bandit", "multigoal"])
def test_dataset_is_deterministic(name):
    task = get_task(name)
    size = 4 * 50 * 10
    a, b, c = task.make_dataset(size, 7), task.make_dataset(size, 7), task.make_dataset(size, 8)
    for key, value in a.arrays().items():
        np.testing.assert_array_equal(value, b.arrays()[key], err_msg=key)
    assert not np.array_equal(a.actions, c.actions)
    assert a.source == f"task:{name}"


def test_bandit_dataset():
    data = bandit.make_dataset(bandit.DEFAULT_SIZE, 0)
    assert len(data) == bandit.TASK.default_size == 20_000
    assert data.obs_dim == 1 and data.act_dim == 1
    assert data.num_complete_episodes == len(data) and data.terminals.all() and not data.timeouts.any()
    assert np.all(np.abs(data.actions) < 1)
    # four branches per state; rewarded exactly where sign(a) == sign(s): two per state
    s = data.observations[:, 0].reshape(-1, 4)
    a = data.actions[:, 0].reshape(-1, 4)
    assert np.all(s == s[:, :1])
    np.testing.assert_array_equal(data.rewards.reshape(-1, 4), (np.sign(a) == np.sign(s)) & (s != 0))
    assert np.all(data.rewards.reshape(-1, 4).sum(axis=1) == 2)
    assert np.all(np.diff(np.sign(a), axis=1) >= 0) and np.all(a[:, :2] < 0) and np.all(a[:, 2:] > 0)
    # averaging the branches gives ~0, and its sign carries nothing about the reward
    mean_action = a.mean(axis=1, keepdims=True)
    assert np.abs(mean_action).max() < 0.2
    assert abs(bandit.reward(s[:, :1], mean_action).mean() - 0.5) < 0.05
    assert data.episode_returns.mean() == pytest.approx(0.5)
    # size not a multiple of 4 still gives exactly `size` rows
    assert len(bandit.make_dataset(1001, 0)) == 1001


def test_multigoal_dataset():
    size = 4 * multigoal.HORIZON * 50
    data = multigoal.make_dataset(size, 0)
    H = multigoal.HORIZON
    assert len(data) == size and data.obs_dim == 2 and data.act_dim == 2
    assert data.num_complete_episodes == size // H
    assert not data.terminals.any()
    np.testing.assert_array_equal(np.flatnonzero(data.timeouts) + 1, np.arange(H, size + 1, H))
    assert np.all(np.abs(data.actions) <= 1)
    np.testing.assert_array_equal(data.next_observations[:-1][~data.timeouts[:-1]],
                                  data.observations[1:][~data.timeouts[:-1]])
    # every episode ends at its own goal: I, II, III, IV in turn
    finals = data.next_observations[data.timeouts]
    goals = np.tile(np.arange(4), len(finals) // 4)
    assert (multigoal.goal_at(finals) == goals).mean() >= 0.95
    returns = data.episode_returns.reshape(-1, 4)
    assert returns[:, 0].mean() > 1.8 * returns[:, 1:].mean()
    assert multigoal.TASK.default_size == multigoal.DEFAULT_SIZE == 400_000
    with pytest.raises(ValueError):
        multigoal.make_dataset(H - 1, 0)
    # a size that cuts a group keeps exactly `size` rows and a trailing incomplete episode
    cut = multigoal.make_dataset(5 * H + 7, 0)
    assert len(cut) == 5 * H + 7 and cut.num_complete_episodes == 5


def test_multigoal_start_state_carries_four_modes():
    data = multigoal.make_dataset(4 * multigoal.HORIZON * 100, 1)
    firsts = np.flatnonzero(np.concatenate([[True], data.timeouts[:-1]]))  # first row of each episode
    start_obs = data.observations[firsts].reshape(-1, 4, 2)
    first_actions = data.actions[firsts].reshape(-1, 4, 2)
    # the four episodes of a group share their start state exactly
    assert np.all(start_obs == start_obs[:, :1])
    # ... and their first actions point into the four quadrants, in goal order
    quadrants = np.sign(first_actions)
    expected = np.sign(multigoal.goal_positions())
    assert (quadrants == expected[None]).all(axis=2).mean() >= 0.95
    assert all(len({tuple(q) for q in group}) == 4 for group in quadrants)


# --------------------------------------------- generator and env share dynamics
@pytest.mark.parametrize("name", ["bandit", "multigoal"])
def test_dataset_replays_exactly_in_env(name):
    task = get_task(name)
    data = task.make_dataset(4 * 50 * 3, 11)
    env = task.make_env()
    env.reset(seed=0)
    for episode in data.episode_slices[:12]:
        obs, _ = env.reset(options={"start": data.observations[episode.start]})
        for row in range(episode.start, episode.stop):
            np.testing.assert_array_equal(obs, data.observations[row])
            obs, reward, terminated, truncated, _ = env.step(data.actions[row])
            assert reward == data.rewards[row], (name, row)
            np.testing.assert_array_equal(obs, data.next_observations[row])
            assert terminated == data.terminals[row]
            assert truncated == (data.timeouts[row] or (terminated and task.horizon == 1))
        assert terminated or truncated
