"""Rollouts in a task's environment, vectorised over episodes, and their scores."""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np

from onemode.envs import EVAL_RESET_SEED
from onemode.tasks.base import Task


class Rollouts(NamedTuple):
    returns: np.ndarray             # (..., ) undiscounted episode returns
    lengths: np.ndarray             # (..., )
    final_observations: np.ndarray  # (..., obs_dim): where each episode ended
    scores: np.ndarray              # (..., ) each episode's score, by the target's reference
    successes: np.ndarray           # (..., ) bool: the last step's info["success"] (False where
                                    # the environment reports none)


def rollout(task: Task, policy: Callable[[np.ndarray], np.ndarray],
            reset_seeds: Sequence[int]) -> Rollouts:
    """One episode per reset seed, all stepped side by side.

    `policy` maps a batch of observations (n, obs_dim) to actions (n, act_dim);
    it is called once per time step for every episode still running.
    """
    envs = [task.make_env() for _ in reset_seeds]
    try:
        observations = np.stack([env.reset(seed=int(s))[0] for env, s in zip(envs, reset_seeds)])
        n = len(envs)
        returns, lengths = np.zeros(n), np.zeros(n, dtype=np.int64)
        successes = np.zeros(n, dtype=bool)
        running = np.ones(n, dtype=bool)
        while running.any():
            actions = np.asarray(policy(observations.astype(np.float32)))
            for i in np.flatnonzero(running):
                obs, reward, terminated, truncated, info = envs[i].step(actions[i])
                successes[i] = bool(info.get("success", False))
                returns[i] += reward
                lengths[i] += 1
                observations[i] = obs
                running[i] = not (terminated or truncated)
        return Rollouts(returns, lengths, observations, task.score(returns, successes), successes)
    finally:
        for env in envs:
            env.close()


def rollout_seeds(task: Task, policy: Callable[[np.ndarray], np.ndarray], n_seeds: int,
                  n_episodes: int, seed: int = EVAL_RESET_SEED) -> Rollouts:
    """Evaluate a batch of `n_seeds` trained policies together.

    `policy` maps (n_seeds, n_episodes, obs_dim) -> (n_seeds, n_episodes, act_dim).
    Every seed's policy meets the same start states (reset seeds seed, seed+1, ...);
    every field of the result has leading shape (n_seeds, n_episodes).
    """
    def flat_policy(observations):
        actions = policy(observations.reshape(n_seeds, n_episodes, -1))
        return np.asarray(actions).reshape(n_seeds * n_episodes, -1)

    reset_seeds = np.tile(seed + np.arange(n_episodes), n_seeds)
    flat = rollout(task, flat_policy, reset_seeds)
    return Rollouts(*(x.reshape((n_seeds, n_episodes) + x.shape[1:]) for x in flat))


__all__ = ["Rollouts", "rollout", "rollout_seeds"]
