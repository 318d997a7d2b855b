"""`bandit`: the one-step multi-modal problem of the paper's Appendix A (Figure 5).

A state s ~ U[-1, 1] is shown once; the agent answers with a scalar action a in
[-1, 1] and receives 1 when s * a > 0 (first or third quadrant of the (s, a)
plane), else 0. Every episode is a single step ending with `terminated=True`.

The dataset gives every sampled state four action branches, at offsets
-0.8, -0.4, +0.4, +0.8 plus a small smooth function of the state and a small
bounded noise. Averaging the branches leaves only the smooth term, whose sign
is unrelated to the state's, so a unimodal fit of the behaviour policy scores
like a random policy; the two rewarded branches are those with sign(a) ==
sign(s). The scripted expert takes the outermost rewarded branch, noise free.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from onemode.data.dataset import Dataset
from onemode.tasks.base import Task, register

NAME = "bandit"
ENV_ID = "onemode/Bandit-v0"
HORIZON = 1
DEFAULT_SIZE = 20_000          # transitions = 5000 states x 4 branches

BRANCH_OFFSETS = np.array([-0.8, -0.4, 0.4, 0.8], dtype=np.float32)
SMOOTH_AMPLITUDE = 0.1         # branch shift: SMOOTH_AMPLITUDE * cos(pi * s)
NOISE_STD = 0.03               # per-action Gaussian noise, truncated at +-NOISE_CLIP
NOISE_CLIP = 0.08              # 0.8 + 0.1 + 0.08 < 1: every branch stays inside [-1, 1]

# Reference scores. The closed forms (random: P(sign(a) = sign(s)) = 1/2 for
# a ~ U[-1, 1]; expert: the outermost right-sign branch always has the right
# sign) are checked against rollouts of the registered env in tests/test_tasks.py.
RANDOM_RETURN = 0.5
EXPERT_RETURN = 1.0
OPTIMAL_RETURN = 1.0           # choose sign(a) = sign(s)


# ------------------------------------------------------------------ dynamics
def reward(states: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """1 where s * a > 0, else 0; shared by the env and the dataset recipe.

    `states` and `actions` are (..., 1) arrays; returns float32 of shape (...).
    """
    s = np.asarray(states, dtype=np.float32)[..., 0]
    a = np.clip(np.asarray(actions, dtype=np.float32), -1.0, 1.0)[..., 0]
    return (s * a > 0).astype(np.float32)


def sample_states(rng: np.random.Generator, n: int) -> np.ndarray:
    """n states s ~ U[-1, 1], shape (n, 1) float32; shared by the env and the recipe."""
    return rng.uniform(-1.0, 1.0, size=(n, 1)).astype(np.float32)


def branch_centres(states: np.ndarray) -> np.ndarray:
    """(N, 4) noise-free branch actions of (N, 1) states: offset + smooth(s)."""
    s = np.asarray(states, dtype=np.float32)[:, :1]
    smooth = SMOOTH_AMPLITUDE * np.cos(np.pi * s)
    return (BRANCH_OFFSETS[None, :] + smooth).astype(np.float32)


def expert_policy(observations: np.ndarray) -> np.ndarray:
    """The outermost branch with the state's sign, noise free: (N, 1) -> (N, 1)."""
    obs = np.asarray(observations, dtype=np.float32)
    single = obs.ndim == 1
    s = obs.reshape(-1, 1)
    centres = branch_centres(s)
    actions = np.where(s >= 0, centres[:, -1:], centres[:, :1]).astype(np.float32)
    return actions[0] if single else actions


# ----------------------------------------------------------------------- env
class BanditEnv(gym.Env):
    """One-step bandit: observe s ~ U[-1, 1], act a in [-1, 1], reward 1 if s * a > 0.

    `reset(options={"start": s})` starts from a given state instead of sampling.
    After the single step the episode is terminated; the returned observation
    is the (unchanged) state.
    """

    metadata = {"render_modes": []}

    def __init__(self, render_mode: str | None = None):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.render_mode = render_mode
        self._state = np.zeros(1, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and options.get("start") is not None:
            start = np.asarray(options["start"], dtype=np.float32).reshape(1)
            if not self.observation_space.contains(start):
                raise ValueError(f"start state must lie in [-1, 1], got {start.tolist()}")
            self._state = start.copy()
        else:
            self._state = sample_states(self.np_random, 1)[0]
        return self._state.copy(), {}

    def step(self, action):
        a = np.asarray(action, dtype=np.float32).reshape(1)
        r = float(reward(self._state[None], a[None])[0])
        return self._state.copy(), r, True, False, {"is_success": r > 0}


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point=BanditEnv, max_episode_steps=HORIZON)


# ------------------------------------------------------------------- dataset
def make_dataset(size: int = DEFAULT_SIZE, seed: int = 0) -> Dataset:
    """`size` one-step transitions: ceil(size / 4) states x 4 branches, state-major.

    Rows 4k..4k+3 share the state and carry its four branches in the order of
    `BRANCH_OFFSETS` (the last group is cut when `size` is not a multiple of 4).
    Deterministic given `seed`.
    """
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    rng = np.random.default_rng(seed)
    n_branches = len(BRANCH_OFFSETS)
    n_states = -(-size // n_branches)
    states = sample_states(rng, n_states)
    noise = np.clip(rng.normal(0.0, NOISE_STD, size=(n_states, n_branches)),
                    -NOISE_CLIP, NOISE_CLIP).astype(np.float32)
    actions = (branch_centres(states) + noise).reshape(-1, 1)[:size]
    observations = np.repeat(states, n_branches, axis=0)[:size]
    return Dataset.from_arrays(
        {
            "observations": observations,
            "actions": actions,
            "rewards": reward(observations, actions),
            "terminals": np.ones(size, dtype=bool),
            "timeouts": np.zeros(size, dtype=bool),
            "next_observations": observations,
        },
        source=f"task:{NAME}",
    )


TASK = register(Task(
    name=NAME, env_id=ENV_ID, horizon=HORIZON,
    description="One-step bandit (paper Appendix A): state s ~ U[-1,1], action a in [-1,1], "
                "reward 1 when s*a > 0 (first or third quadrant), else 0.",
    recipe="Each state s ~ U[-1,1] carries 4 action branches a = o + 0.1*cos(pi*s) + noise, "
           "o in {-0.8,-0.4,+0.4,+0.8}, noise N(0,0.03) clipped to +-0.08; the two branches "
           "with sign(a) = sign(s) are rewarded. The branch mean carries no information about "
           "the rewarded sign.",
    default_size=DEFAULT_SIZE, make_dataset=make_dataset,
    expert_policy=expert_policy,
    random_return=RANDOM_RETURN, expert_return=EXPERT_RETURN, optimal_return=OPTIMAL_RETURN,
))
