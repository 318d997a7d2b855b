"""`multigoal`: a planar analogue of the paper's 4-goal FetchReach (Section 6.2, Figure 2).

A point mass starts uniformly in [-0.1, 0.1]^2 and moves by
position <- clip(position + 0.1 * action, -1.5, 1.5) with action in [-1, 1]^2.
Four goals sit at (+-1, +-1). Each step pays 2 while the new position is within
0.1 of the first-quadrant goal (1, 1), 1 while within 0.1 of any other goal,
0 otherwise. The observation is the position only; episodes never terminate
and are cut by the 50-step time limit.

The dataset is multi-modal by construction: from every sampled start state the
recipe runs one noisy scripted trajectory toward EACH of the four goals, so the
start state (and the early states near it) carry four conflicting actions, one
per quadrant. The env and the generator step through the same `dynamics`
function, in float32, so the data replays exactly in the env.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import gymnasium as gym
import numpy as np

from onemode.data.dataset import Dataset
from onemode.tasks.base import Task, register

NAME = "multigoal"
ENV_ID = "onemode/MultiGoal-v0"
HORIZON = 50
N_GOALS = 4
DEFAULT_STARTS = 2000
DEFAULT_SIZE = DEFAULT_STARTS * N_GOALS * HORIZON   # 400,000 transitions

STEP_SIZE = np.float32(0.1)      # position += STEP_SIZE * action
BOUND = np.float32(1.5)          # positions are clipped to [-BOUND, BOUND]^2
START_RANGE = 0.1                # start ~ U[-START_RANGE, START_RANGE]^2
REACH = np.float32(0.1)          # "at a goal": Euclidean distance <= REACH
GAIN = np.float32(5.0)           # scripted controller: clip(GAIN * (goal - position), -1, 1)
NOISE_STD = 0.2                  # behaviour noise on each action component, before clipping

# Goals in quadrant order I, II, III, IV; the first one pays double.
GOALS = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]], dtype=np.float32)
GOAL_REWARDS = np.array([2.0, 1.0, 1.0, 1.0], dtype=np.float32)
BEST_GOAL = 0

# Reference scores, measured with `rollout` over 100,000 episodes from
# `sample_starts(np.random.default_rng(0), 100_000)`:
#   expert: the noise-free scripted controller toward (1, 1): mean 81.66, std 1.09
#           (first reward after 9, 10 or 11 steps, then 2 per step to the end:
#           returns 84, 82 or 80);
#   random: uniform random actions in [-1, 1]^2: mean 0.0034, std 0.147 (one
#           episode in a thousand touches a goal at all).
# tests/test_tasks.py re-measures both by rollouts of the registered env.
EXPERT_RETURN = 81.66
RANDOM_RETURN = 0.0034


# ------------------------------------------------------------------ geometry
def goal_positions() -> np.ndarray:
    """(4, 2) goal positions, quadrant order I, II, III, IV (a copy)."""
    return GOALS.copy()


def goal_at(positions: np.ndarray) -> np.ndarray:
    """Index (0..3) of the goal each position is within reach of, -1 where none.

    `positions` is (..., 2); returns int64 of shape (...). Goals are 2 apart
    and the reach is 0.1, so a position is at most at one goal.
    """
    p = np.asarray(positions, dtype=np.float32)
    diff = p[..., None, :] - GOALS                       # (..., 4, 2)
    d2 = diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1]
    within = d2 <= REACH * REACH
    return np.where(within.any(axis=-1), within.argmax(axis=-1), -1)


def goal_reward(positions: np.ndarray) -> np.ndarray:
    """Reward of being at `positions` (..., 2): 2 at goal I, 1 at the others, else 0."""
    idx = goal_at(positions)
    return np.where(idx >= 0, GOAL_REWARDS[np.maximum(idx, 0)], np.float32(0.0)).astype(np.float32)


# ------------------------------------------------------------------ dynamics
def dynamics(positions: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step for a batch: (N, 2) positions, (N, 2) actions -> (next positions, rewards).

    The single source of the task's dynamics: the env and the dataset
    generator both call it. Actions are clipped to [-1, 1]; all in float32.
    """
    p = np.asarray(positions, dtype=np.float32)
    a = np.clip(np.asarray(actions, dtype=np.float32), np.float32(-1.0), np.float32(1.0))
    nxt = np.clip(p + STEP_SIZE * a, -BOUND, BOUND).astype(np.float32)
    return nxt, goal_reward(nxt)


def sample_starts(rng: np.random.Generator, n: int) -> np.ndarray:
    """n start positions ~ U[-0.1, 0.1]^2, (n, 2) float32."""
    return rng.uniform(-START_RANGE, START_RANGE, size=(n, 2)).astype(np.float32)


def scripted_actions(positions: np.ndarray, goals) -> np.ndarray:
    """Noise-free controller toward goal index `goals` (int or (N,) ints): (N, 2) actions.

    Proportional control clip(5 * (goal - position), -1, 1): full speed until
    0.2 from the goal per axis, then the error halves every step; from a start
    it is within reach of its goal after 9 to 11 steps and stays there.
    """
    p = np.asarray(positions, dtype=np.float32)
    target = GOALS[np.asarray(goals)]
    return np.clip(GAIN * (target - p), np.float32(-1.0), np.float32(1.0)).astype(np.float32)


def expert_policy(observations: np.ndarray) -> np.ndarray:
    """The noise-free scripted controller toward the best goal (1, 1): (N, 2) -> (N, 2)."""
    obs = np.asarray(observations, dtype=np.float32)
    if obs.ndim == 1:
        return scripted_actions(obs[None], BEST_GOAL)[0]
    return scripted_actions(obs, BEST_GOAL)


def rollout(policy: Callable[[np.ndarray], np.ndarray], starts: np.ndarray,
            horizon: int = HORIZON) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised episodes with `dynamics`: returns (final positions (N, 2), returns (N,)).

    A fast stand-in for stepping N envs; `policy` maps (N, 2) positions to (N, 2) actions.
    """
    pos = np.asarray(starts, dtype=np.float32).reshape(-1, 2)
    returns = np.zeros(len(pos), dtype=np.float64)
    for _ in range(horizon):
        pos, r = dynamics(pos, policy(pos))
        returns += r
    return pos, returns


# ------------------------------------------------------------------- drawing
# Colours of `draw_scene` (RGB).
BACKGROUND = (250, 250, 250)
ARENA = (205, 205, 205)              # the [-1.5, 1.5]^2 box positions are clipped to
START_AREA = (228, 228, 228)         # where episodes start
BEST_GOAL_COLOUR = (230, 160, 20)    # pays 2 per step
GOAL_COLOUR = (120, 140, 200)        # pay 1 per step
TRAIL_COLOUR = (90, 150, 230)
POINT_COLOUR = (210, 40, 40)


def draw_scene(trail: np.ndarray, width: int = 320, height: int = 320) -> np.ndarray:
    """An RGB image (height, width, 3) uint8 of the arena, the goals and the path so far.

    `trail` is (T, 2) positions, oldest first; the last one is drawn as the mass.
    Goals are drawn at their true reach (0.1); the best goal has a ring around it.
    """
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = BACKGROUND
    scale = 0.95 * min(width, height) / (2 * float(BOUND))    # pixels per unit, 5% margin
    centre = np.array([width / 2, height / 2])

    def to_pixels(points):  # world (x, y), y up -> image (column, row), row down
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return centre + scale * points * np.array([1.0, -1.0])

    rows, cols = np.mgrid[0:height, 0:width]

    def fill_box(low, high, colour):
        (c0, r1), (c1, r0) = to_pixels([low, high])
        image[(cols >= c0) & (cols <= c1) & (rows >= r0) & (rows <= r1)] = colour

    def disc(point, radius):
        c, r = to_pixels(point)[0]
        return (cols - c) ** 2 + (rows - r) ** 2 <= radius ** 2

    fill_box((-BOUND, -BOUND), (BOUND, BOUND), ARENA)
    inset = 1.0 / scale     # one pixel: leaves the arena's edge as its outline
    fill_box((-BOUND + inset, -BOUND + inset), (BOUND - inset, BOUND - inset), BACKGROUND)
    fill_box((-START_RANGE, -START_RANGE), (START_RANGE, START_RANGE), START_AREA)

    goal_radius = max(3.0, float(REACH) * scale)
    for i, goal in enumerate(GOALS):
        if i == BEST_GOAL:
            ring = disc(goal, goal_radius + 4) & ~disc(goal, goal_radius + 2)
            image[ring] = BEST_GOAL_COLOUR
        image[disc(goal, goal_radius)] = BEST_GOAL_COLOUR if i == BEST_GOAL else GOAL_COLOUR

    trail = np.asarray(trail, dtype=np.float64).reshape(-1, 2)
    _draw_polyline(image, to_pixels(trail), TRAIL_COLOUR)
    if len(trail):
        image[disc(trail[-1], max(3.0, 0.05 * scale))] = POINT_COLOUR
    return image


def _draw_polyline(image: np.ndarray, points: np.ndarray, colour) -> None:
    """Paint straight segments between consecutive pixel positions, 2 pixels wide."""
    if len(points) < 2:
        return
    samples = [np.linspace(a, b, int(np.ceil(np.abs(b - a).max())) + 2)
               for a, b in zip(points[:-1], points[1:])]
    pixels = np.rint(np.concatenate(samples)).astype(np.int64)
    pixels = np.concatenate([pixels, pixels + [1, 0], pixels + [0, 1], pixels + [1, 1]])
    height, width = image.shape[:2]
    inside = ((pixels[:, 0] >= 0) & (pixels[:, 0] < width)
              & (pixels[:, 1] >= 0) & (pixels[:, 1] < height))
    image[pixels[inside, 1], pixels[inside, 0]] = colour


# ----------------------------------------------------------------------- env
class MultiGoalEnv(gym.Env):
    """Point mass in the plane with four goals; see the module docstring.

    `reset(options={"start": (x, y)})` starts from a given position instead of
    sampling one. The env itself never terminates; `gym.make` adds the 50-step
    time limit. `info["goal"]` is the index of the goal the mass is at, or -1.
    With `render_mode="rgb_array"`, `render()` draws the goals and the path
    since the last reset (`draw_scene`) in a `width` x `height` image.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, width: int = 320, height: int = 320):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or one of "
                             f"{self.metadata['render_modes']}, got {render_mode!r}")
        self.observation_space = gym.spaces.Box(-float(BOUND), float(BOUND), shape=(2,),
                                                dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.render_mode = render_mode
        self.width, self.height = int(width), int(height)
        self._position = np.zeros(2, dtype=np.float32)
        self._trail: list[np.ndarray] = []    # positions since reset, kept only to render

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and options.get("start") is not None:
            start = np.asarray(options["start"], dtype=np.float32).reshape(2)
            if not self.observation_space.contains(start):
                raise ValueError(f"start position must lie in [-{BOUND}, {BOUND}]^2, "
                                 f"got {start.tolist()}")
            self._position = start.copy()
        else:
            self._position = sample_starts(self.np_random, 1)[0]
        self._trail = [self._position.copy()] if self.render_mode else []
        return self._position.copy(), {"goal": int(goal_at(self._position))}

    def step(self, action):
        a = np.asarray(action, dtype=np.float32).reshape(1, 2)
        nxt, r = dynamics(self._position[None], a)
        self._position = nxt[0]
        if self.render_mode:
            self._trail.append(self._position.copy())
        goal = int(goal_at(self._position))
        return self._position.copy(), float(r[0]), False, False, {"goal": goal,
                                                                  "is_success": goal == BEST_GOAL}

    def render(self):
        if self.render_mode is None:
            return None
        return draw_scene(np.array(self._trail).reshape(-1, 2), self.width, self.height)


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point=MultiGoalEnv, max_episode_steps=HORIZON)


# ------------------------------------------------------------------- dataset
def make_dataset(size: int = DEFAULT_SIZE, seed: int = 0, noise_std: float = NOISE_STD,
                 goal_indices: tuple[int, ...] = tuple(range(N_GOALS)),
                 name: str = NAME) -> Dataset:
    """`size` transitions: per start state, one noisy scripted episode toward each goal.

    Episodes are 50 steps, stored consecutively; episodes 4g..4g+3 share start
    state g and head for goals I, II, III, IV in that order. Each action is
    clip(scripted_actions(position, goal) + N(0, noise_std^2), -1, 1). The last
    step of every episode is a timeout; nothing is terminal. When `size` is not
    a multiple of 200 the last group is cut (a trailing incomplete episode).
    Generated for all episodes at once, one `dynamics` call per time step.
    """
    size = int(size)
    if size < HORIZON:
        raise ValueError(f"size must be at least one episode ({HORIZON} transitions), got {size}")
    rng = np.random.default_rng(seed)
    per_start = len(goal_indices)
    n_starts = -(-size // (per_start * HORIZON))
    starts = sample_starts(rng, n_starts)
    n_episodes = n_starts * per_start
    goals = np.tile(np.asarray(goal_indices), n_starts)
    noise = rng.normal(0.0, noise_std, size=(HORIZON, n_episodes, 2)).astype(np.float32)

    observations = np.empty((HORIZON, n_episodes, 2), dtype=np.float32)
    actions = np.empty((HORIZON, n_episodes, 2), dtype=np.float32)
    rewards = np.empty((HORIZON, n_episodes), dtype=np.float32)
    next_observations = np.empty((HORIZON, n_episodes, 2), dtype=np.float32)
    pos = np.repeat(starts, per_start, axis=0)
    for t in range(HORIZON):
        act = np.clip(scripted_actions(pos, goals) + noise[t], np.float32(-1.0), np.float32(1.0))
        nxt, r = dynamics(pos, act)
        observations[t], actions[t], rewards[t], next_observations[t] = pos, act, r, nxt
        pos = nxt

    def flat(x):  # (T, E, ...) -> (E * T, ...), episode-major, cut to size
        return np.swapaxes(x, 0, 1).reshape(n_episodes * HORIZON, *x.shape[2:])[:size]

    timeouts = np.zeros((n_episodes, HORIZON), dtype=bool)
    timeouts[:, -1] = True
    return Dataset.from_arrays(
        {
            "observations": flat(observations),
            "actions": flat(actions),
            "rewards": flat(rewards),
            "terminals": np.zeros(size, dtype=bool),
            "timeouts": timeouts.reshape(-1)[:size],
            "next_observations": flat(next_observations),
        },
        source=f"task:{name}",
    )


TASK = register(Task(
    name=NAME, env_id=ENV_ID, horizon=HORIZON,
    description="Planar 4-goal reach (analogue of the paper's multi-modal FetchReach): a point "
                "mass starting near the origin moves by 0.1*action per step; reward 2 per step "
                "within 0.1 of goal (1,1), 1 within 0.1 of (-1,1), (-1,-1) or (1,-1), else 0; "
                "50 steps; the observation is the position only.",
    recipe="For each start ~ U[-0.1,0.1]^2, one 50-step episode toward each of the four goals "
           "with the scripted controller clip(5*(goal - position), -1, 1) plus Gaussian noise "
           "(std 0.2, then clipped to [-1,1]); 2000 starts x 4 goals x 50 steps. Every start "
           "state carries four conflicting action modes, one per quadrant.",
    default_size=DEFAULT_SIZE, make_dataset=make_dataset,
    expert_policy=expert_policy,
    random_return=RANDOM_RETURN, expert_return=EXPERT_RETURN,   # no closed-form optimum
))


def make_expert_dataset(size: int = DEFAULT_SIZE // N_GOALS, seed: int = 0) -> Dataset:
    """Unimodal data: the same noisy controller, every episode toward the best goal."""
    return make_dataset(size, seed, goal_indices=(BEST_GOAL,), name=f"{NAME}-expert")


# The same environment and reference scores as `TASK`, other data.
EXPERT_TASK = register(dataclasses.replace(
    TASK,
    name=f"{NAME}-expert",
    description="The multigoal environment with unimodal expert data (a check that an "
                "algorithm learns at all, not a multi-modal test).",
    recipe="For each start ~ U[-0.1,0.1]^2, one noisy scripted episode toward goal (1,1) "
           "only; 2000 starts x 50 steps.",
    default_size=DEFAULT_SIZE // N_GOALS,
    make_dataset=make_expert_dataset,
))
