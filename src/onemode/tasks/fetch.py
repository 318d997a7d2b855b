"""The multi-modal Fetch tasks of the paper's Table 2 (Section 6.2), which were never published.

`fetch-reach-4goal`, `fetch-push-4goal` and `fetch-pick-4goal` run on
gymnasium-robotics' Fetch arm (FetchReach-v4, FetchPush-v4,
FetchPickAndPlace-v4 underneath). Four goals sit symmetrically in the
xy-plane: at CENTER + (+-d, +-d) around the gripper's start (reach) or the
block's (push, pick), at the height of what has to reach them. Each step pays
2 while the gripper (reach) or block (push, pick) is within 0.05 of the
first-quadrant goal (+x, +y), 1 within 0.05 of any other goal, 0 otherwise.
The observation is the Fetch `observation` vector alone (10 numbers for reach,
25 with the block): no goal. Episodes never terminate and end after 50 steps.

Starts vary: the gripper starts within 3 cm of its home position (reach) or the
block within 2.5 cm of the centre (push, pick). From each start the dataset
holds one noisy scripted episode toward EACH goal, so the early states carry
four conflicting actions. The scripted experts are stateless functions of the
observation (reach: proportional control; push: get behind the block, lower,
push; pick: hover, descend open, close, carry over the goal, lower), and they
are what the reference score 100 means, heading for the first-quadrant goal.

Simulation is the real MuJoCo model: about 1,000 steps/s per core, so the data
recipe runs start states in worker processes (`workers`), each start with its
own random stream, and the result does not depend on the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from onemode.data.dataset import Dataset
from onemode.parallel import default_workers, map_in_processes
from onemode.tasks.base import Task, register

HORIZON = 50
N_GOALS = 4
BEST_GOAL = 0
GOAL_REWARDS = np.array([2.0, 1.0, 1.0, 1.0], dtype=np.float32)
QUADRANTS = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])  # I, II, III, IV
REACH = 0.05            # "achieved": within Fetch's own distance threshold of a goal
GAIN = 10.0             # scripted controllers: action = clip(GAIN * position error, -1, 1)

# Observation layout of gymnasium-robotics' Fetch `observation` vector.
GRIP = slice(0, 3)
BLOCK = slice(3, 6)
FINGERS = slice(9, 11)

PUSH_BACK = 0.06        # push: where the gripper lines up, behind the block's centre
HOVER = 0.08            # push and pick: height above the block when moving around it
CARRY = 0.08            # pick: height above the goal while carrying


@dataclass(frozen=True)
class FetchKind:
    """What differs between reach, push and pick."""

    name: str
    env_class: str          # gymnasium_robotics.envs.fetch.<module>.<class>
    has_block: bool
    goal_offset: float      # goals at CENTER + (+-goal_offset, +-goal_offset)
    start_range: float      # start perturbation: gripper (reach) or block (push, pick)
    noise_std: float        # behaviour noise on the three motion components, before clipping


# Noise 0.2 makes push and pick miss 5-30% of episodes (measured, 50 starts); at 0.1 the
# noisy experts reach every goal, as the paper's expert data do. Reach stays 100% at 0.2.
KINDS = {
    "reach": FetchKind("reach", "reach.MujocoFetchReachEnv", False, 0.15, 0.03, 0.2),
    "push": FetchKind("push", "push.MujocoFetchPushEnv", True, 0.10, 0.025, 0.1),
    "pick": FetchKind("pick", "pick_and_place.MujocoFetchPickAndPlaceEnv", True, 0.10, 0.025, 0.1),
}


def _inner_env(kind: FetchKind, render_mode: str | None, width: int, height: int):
    import contextlib
    import importlib
    import io

    module, cls = kind.env_class.split(".")
    # gymnasium_robotics prints a notice about its Adroit envs to stderr on import
    with contextlib.redirect_stderr(io.StringIO()):
        env_module = importlib.import_module(f"gymnasium_robotics.envs.fetch.{module}")
    env_cls = getattr(env_module, cls)
    return env_cls(render_mode=render_mode, width=width, height=height)


# ------------------------------------------------------------------ geometry
def goal_positions(center: np.ndarray, kind: FetchKind) -> np.ndarray:
    """(4, 3) goals, quadrant order I, II, III, IV, at the centre's height."""
    goals = np.repeat(np.asarray(center, dtype=np.float64)[None], N_GOALS, axis=0)
    goals[:, :2] += kind.goal_offset * QUADRANTS
    return goals


def goal_index(achieved: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """Index of the goal each achieved position (..., 3) is within REACH of, -1 where none."""
    dist = np.linalg.norm(np.asarray(achieved)[..., None, :] - goals, axis=-1)
    within = dist <= REACH
    return np.where(within.any(axis=-1), within.argmax(axis=-1), -1)


# ------------------------------------------------------------ scripted experts
def _toward(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.clip(GAIN * (target - position), -1.0, 1.0)


def reach_expert(obs: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """(N, 10) observations, (N, 3) goals -> (N, 4) actions: straight to the goal."""
    motion = _toward(obs[:, GRIP], goal)
    return np.concatenate([motion, np.zeros((len(obs), 1))], axis=1)


def push_expert(obs: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Push the block to `goal` with the closed gripper, a stateless controller.

    Lined up behind the block (on the far side from the goal) at block height,
    it drives toward the goal; otherwise it rises above the block, moves over
    the line-up point, and comes down there.
    """
    grip, block = obs[:, GRIP], obs[:, BLOCK]
    to_goal = goal[:, :2] - block[:, :2]
    direction = to_goal / np.maximum(np.linalg.norm(to_goal, axis=1, keepdims=True), 1e-6)
    lineup = block[:, :2] - PUSH_BACK * direction
    rel = grip[:, :2] - block[:, :2]
    along = np.sum(rel * direction, axis=1)
    lateral = np.linalg.norm(rel - along[:, None] * direction, axis=1)
    low = grip[:, 2] < block[:, 2] + 0.015
    lined_up = low & (along < -0.035) & (lateral < 0.02)
    over_lineup = np.linalg.norm(grip[:, :2] - lineup, axis=1) < 0.015
    clear = grip[:, 2] > block[:, 2] + HOVER - 0.02

    push_target = np.concatenate([goal[:, :2] - PUSH_BACK * direction, block[:, 2:3]], axis=1)
    descend_target = np.concatenate([lineup, block[:, 2:3]], axis=1)
    move_target = np.concatenate([np.where(clear[:, None], lineup, grip[:, :2]),
                                  block[:, 2:3] + HOVER], axis=1)
    target = np.where(lined_up[:, None], push_target,
                      np.where(over_lineup[:, None], descend_target, move_target))
    delivered = np.linalg.norm(to_goal, axis=1) < 0.015     # hold still, do not fuss
    motion = np.where(delivered[:, None], 0.0, _toward(grip, target))
    return np.concatenate([motion, -np.ones((len(obs), 1))], axis=1)


def pick_expert(obs: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Pick the block up and place it on `goal`, a stateless controller.

    Open and away from the block: hover above it, then descend. At the block:
    close. Holding it: lift, carry above the goal, lower it onto the goal.
    """
    grip, block = obs[:, GRIP], obs[:, BLOCK]
    fingers = obs[:, FINGERS].sum(axis=1)
    rel = block - grip
    at_block = np.linalg.norm(rel, axis=1) < 0.02
    holding = (np.linalg.norm(rel, axis=1) < 0.03) & (fingers < 0.06) & (fingers > 0.02)
    above_block = np.linalg.norm(rel[:, :2], axis=1) < 0.01

    over_goal = np.linalg.norm(goal[:, :2] - block[:, :2], axis=1) < 0.02
    carry_target = np.where(over_goal[:, None], goal,
                            np.concatenate([goal[:, :2], goal[:, 2:3] + CARRY], axis=1))
    hover_target = np.concatenate([block[:, :2], block[:, 2:3] + HOVER], axis=1)
    target = np.where(holding[:, None], carry_target,
                      np.where((at_block | above_block)[:, None], block, hover_target))
    gripper = np.where(holding | at_block, -1.0, 1.0)
    # Close in place before moving off: while at the block and not yet holding it.
    closing = at_block & ~holding
    motion = np.where(closing[:, None], _toward(grip, block), _toward(grip, target))
    return np.concatenate([motion, gripper[:, None]], axis=1)


EXPERTS = {"reach": reach_expert, "push": push_expert, "pick": pick_expert}


# ----------------------------------------------------------------------- env
class FetchFourGoalEnv(gym.Env):
    """A Fetch task with four goals and no goal in the observation; see the module docstring.

    `reset(options={"start": offset})` starts from a given perturbation (3
    numbers for reach: the gripper's offset from home; 2 for push and pick: the
    block's offset from the centre) instead of sampling one. `info["goal"]` is
    the index of the goal achieved, or -1.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, kind: str = "reach", render_mode: str | None = None,
                 width: int = 480, height: int = 480):
        self.kind = KINDS[kind]
        self.render_mode = render_mode
        self._inner = _inner_env(self.kind, render_mode, width, height)
        dim = self._inner.observation_space["observation"].shape[0]
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        self._inner.reset(seed=0)
        home = self._inner.initial_gripper_xpos.copy()
        if self.kind.has_block:
            home[2] = self._inner.height_offset      # the block's resting height
        self.center = home
        self.goals = goal_positions(home, self.kind)

    def start_dim(self) -> int:
        return 2 if self.kind.has_block else 3

    def sample_start(self, rng: np.random.Generator) -> np.ndarray:
        r = self.kind.start_range
        return rng.uniform(-r, r, size=self.start_dim())

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and options.get("start") is not None:
            start = np.asarray(options["start"], dtype=np.float64).reshape(-1)
            if start.shape != (self.start_dim(),) or not np.all(np.abs(start) <= 0.1):
                raise ValueError(f"start must be {self.start_dim()} offsets within +-0.1 m, "
                                 f"got {start.tolist()}")
        else:
            start = self.sample_start(self.np_random)
        inner = self._inner
        inner.reset(seed=int(self.np_random.integers(2**31)))
        utils, mujoco = inner._utils, inner._mujoco
        gripper_start = inner.initial_gripper_xpos.copy()
        if self.kind.has_block:
            # FetchPush's gripper rests at block height: lift it clear of the block
            gripper_start[2] = max(gripper_start[2], self.center[2] + HOVER)
        else:
            gripper_start += start
        if np.any(gripper_start != inner.initial_gripper_xpos):
            utils.set_mocap_pos(inner.model, inner.data, "robot0:mocap", gripper_start)
            for _ in range(5):     # let the arm follow the mocap to its start
                mujoco.mj_step(inner.model, inner.data, nstep=inner.n_substeps)
        if self.kind.has_block:    # placed after the arm has moved, at rest
            qpos = utils.get_joint_qpos(inner.model, inner.data, "object0:joint").copy()
            qpos[:3] = [*(self.center[:2] + start), self.center[2]]
            qpos[3:] = [1.0, 0.0, 0.0, 0.0]
            utils.set_joint_qpos(inner.model, inner.data, "object0:joint", qpos)
            utils.set_joint_qvel(inner.model, inner.data, "object0:joint", np.zeros(6))
        mujoco.mj_forward(inner.model, inner.data)
        inner.goal = self.goals[BEST_GOAL].copy()    # the target marker in renders
        obs = inner._get_obs()
        return obs["observation"].astype(np.float32), {"goal": int(goal_index(
            obs["achieved_goal"], self.goals))}

    def step(self, action):
        obs, _, _, _, _ = self._inner.step(np.asarray(action, dtype=np.float64).reshape(4))
        goal = int(goal_index(obs["achieved_goal"], self.goals))
        reward = float(GOAL_REWARDS[goal]) if goal >= 0 else 0.0
        return (obs["observation"].astype(np.float32), reward, False, False,
                {"goal": goal, "is_success": goal == BEST_GOAL})

    def render(self):
        return self._inner.render()

    def close(self):
        self._inner.close()


def expert_action(kind: str, observations: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """Noise-free scripted actions (N, 4) toward `goals` (N, 3) from observations (N, obs_dim)."""
    obs = np.asarray(observations, dtype=np.float64)
    return np.clip(EXPERTS[kind](obs, np.asarray(goals, dtype=np.float64)), -1.0, 1.0)


# ------------------------------------------------------------------- dataset
def _episodes_for_starts(kind: str, seed: int, first: int, count: int, goal_indices: tuple,
                         noise_std: float) -> dict[str, np.ndarray]:
    """Run starts first..first+count-1: per start, one noisy episode toward each goal.

    Start i draws its perturbation and noise from default_rng([seed, i]), so the
    data do not depend on how starts are split between workers.
    """
    env = FetchFourGoalEnv(kind)
    n_eps = count * len(goal_indices)
    obs_dim = env.observation_space.shape[0]
    out = {"observations": np.empty((n_eps, HORIZON, obs_dim), np.float32),
           "actions": np.empty((n_eps, HORIZON, 4), np.float32),
           "rewards": np.empty((n_eps, HORIZON), np.float32),
           "next_observations": np.empty((n_eps, HORIZON, obs_dim), np.float32),
           "goals": np.empty((n_eps,), np.int64), "achieved": np.empty((n_eps,), np.int64)}
    episode = 0
    for i in range(first, first + count):
        rng = np.random.default_rng([seed, i])
        start = env.sample_start(rng)
        for g in goal_indices:
            obs, _ = env.reset(seed=0, options={"start": start})
            goal = env.goals[g][None]
            for t in range(HORIZON):
                action = expert_action(kind, obs[None], goal)[0]
                action[:3] += rng.normal(0.0, noise_std, size=3)
                action = np.clip(action, -1.0, 1.0).astype(np.float32)
                next_obs, reward, _, _, info = env.step(action)
                out["observations"][episode, t] = obs
                out["actions"][episode, t] = action
                out["rewards"][episode, t] = reward
                out["next_observations"][episode, t] = next_obs
                obs = next_obs
            out["goals"][episode], out["achieved"][episode] = g, info["goal"]
            episode += 1
    env.close()
    return out


def generate_episodes(kind: str, n_starts: int, seed: int, goal_indices: tuple = tuple(range(4)),
                      noise_std: float | None = None, workers: int | None = None) -> dict:
    """Episodes for `n_starts` start states, in start order, arrays shaped (episode, t, ...).

    `noise_std` defaults to the kind's behaviour noise.
    """
    noise_std = KINDS[kind].noise_std if noise_std is None else noise_std
    workers = min(workers or default_workers(), n_starts)
    bounds = np.linspace(0, n_starts, workers + 1).astype(int)
    jobs = [(kind, seed, int(a), int(b - a), goal_indices, noise_std)
            for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    parts = map_in_processes(_episodes_for_starts, jobs, len(jobs), what="fetch data")
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def make_dataset_for(kind: str, name: str, size: int, seed: int,
                     goal_indices: tuple = tuple(range(4)), workers: int | None = None) -> Dataset:
    size = int(size)
    if size < HORIZON:
        raise ValueError(f"size must be at least one episode ({HORIZON} transitions), got {size}")
    n_starts = -(-size // (len(goal_indices) * HORIZON))
    eps = generate_episodes(kind, n_starts, seed, goal_indices, workers=workers)
    n_eps = len(eps["goals"])
    timeouts = np.zeros((n_eps, HORIZON), dtype=bool)
    timeouts[:, -1] = True

    def flat(x):
        return x.reshape(n_eps * HORIZON, *x.shape[2:])[:size]

    return Dataset.from_arrays(
        {"observations": flat(eps["observations"]), "actions": flat(eps["actions"]),
         "rewards": flat(eps["rewards"]), "next_observations": flat(eps["next_observations"]),
         "terminals": np.zeros(size, dtype=bool), "timeouts": timeouts.reshape(-1)[:size]},
        source=f"task:{name}")


# ------------------------------------------------------------------ registry
def expert_policy_for(kind: str):
    """The noise-free scripted expert toward the first-quadrant goal, on observation batches."""
    goals = {}      # built on first use: making the env at import would load MuJoCo

    def policy(observations: np.ndarray) -> np.ndarray:
        if not goals:
            env = FetchFourGoalEnv(kind)
            goals["best"] = env.goals[BEST_GOAL]
            env.close()
        obs = np.asarray(observations, dtype=np.float32)
        single = obs.ndim == 1
        obs = obs.reshape(-1, obs.shape[-1])
        goal = np.repeat(goals["best"][None], len(obs), axis=0)
        actions = expert_action(kind, obs, goal).astype(np.float32)
        return actions[0] if single else actions

    return policy


def make_expert_dataset_for(kind: str, name: str, size: int, seed: int) -> Dataset:
    return make_dataset_for(kind, name, size, seed, goal_indices=(BEST_GOAL,))


# Reference returns over 50 steps, measured by `rollout` of the registered envs
# (`benchmarks/fetch_reference.py --episodes 1000`: reset seeds 0..999; printed
# mean +- std, standard error in brackets); tests/test_fetch.py re-measures them.
#   expert: the noise-free scripted controller toward the first-quadrant goal
#           (reach 92.07 +- 0.94 [0.03], push 79.42 +- 4.78 [0.15], pick 72.79 +- 1.95 [0.06]);
#   random: uniform random actions in [-1, 1]^4, which now and then knock the
#           gripper or block into a goal (reach 0.74 +- 2.44 [0.08], push 2.12 +- 9.34
#           [0.30], pick 1.21 +- 7.16 [0.23]).
REFERENCE = {
    "reach": {"expert": 92.07, "random": 0.735},
    "push": {"expert": 79.42, "random": 2.12},
    "pick": {"expert": 72.79, "random": 1.21},
}

TITLES = {"reach": ("FetchReach", "the gripper", "FetchReach-v4"),
          "push": ("FetchPush", "the block, pushed by the closed gripper,", "FetchPush-v4"),
          "pick": ("FetchPickAndPlace", "the block, picked up and placed,", "FetchPickAndPlace-v4")}
DEFAULT_SIZE = 200_000            # 1,000 starts x 4 goals x 50 steps


def _register(kind: str) -> None:
    from functools import partial

    title, mover, base_env = TITLES[kind]
    name = f"fetch-{kind}-4goal"
    env_id = f"onemode/{title}4Goal-v0"
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=FetchFourGoalEnv, kwargs={"kind": kind},
                     max_episode_steps=HORIZON)
    spec = KINDS[kind]
    description = (f"{title} with four goals ({base_env} underneath): {mover} must reach one of "
                   f"four goals at +-{spec.goal_offset} m in x and y around its start; reward 2 "
                   "per step within 0.05 m of the (+x, +y) goal, 1 at the others, else 0; "
                   "50 steps; no goal in the observation.")
    recipe = (f"For each start (the {'gripper' if kind == 'reach' else 'block'} perturbed "
              f"uniformly by up to {spec.start_range} m), one 50-step episode toward each of "
              f"the four goals by the scripted {kind} controller with Gaussian noise (std "
              f"{spec.noise_std}) on its motion; 1,000 starts x 4 goals x 50 steps by default.")
    register(Task(name=name, env_id=env_id, description=description, recipe=recipe,
                  horizon=HORIZON, default_size=DEFAULT_SIZE,
                  random_return=REFERENCE[kind]["random"],
                  expert_return=REFERENCE[kind]["expert"],
                  make_dataset=partial(make_dataset_for, kind, name),
                  expert_policy=expert_policy_for(kind)))
    register(Task(name=f"{name}-expert", env_id=env_id,
                  description=f"The {name} environment with unimodal data toward the (+x, +y) "
                              "goal only (a check that an algorithm learns at all).",
                  recipe="As the multi-modal recipe, every episode toward the (+x, +y) goal.",
                  horizon=HORIZON, default_size=DEFAULT_SIZE // N_GOALS,
                  random_return=REFERENCE[kind]["random"],
                  expert_return=REFERENCE[kind]["expert"],
                  make_dataset=partial(make_expert_dataset_for, kind, f"{name}-expert"),
                  expert_policy=expert_policy_for(kind)))


for _kind in KINDS:
    _register(_kind)


__all__ = ["BEST_GOAL", "BLOCK", "GRIP", "HORIZON", "KINDS", "N_GOALS", "REFERENCE",
           "FetchFourGoalEnv", "generate_episodes", "goal_index"]
