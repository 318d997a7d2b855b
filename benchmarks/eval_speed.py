"""How long evaluation takes in a MuJoCo environment, beside the simulation alone.

    .venv/bin/python benchmarks/eval_speed.py [--env HalfCheetah-v5] [--seeds 4] [--episodes 10]
        [--hidden 512,512]

Evaluates `--seeds` policies (LOM's actor at the paper's sizes, untrained: the cost
of acting does not depend on the weights) for `--episodes` full episodes each, as
`onemode train` and `onemode eval` do: every seed against the same start states,
one batched policy call per step. Then it replays the same episodes, same resets and
same actions, through gymnasium's `env.step` alone, and through MuJoCo's `mj_step`
alone (frame_skip steps per action), and prints the three times side by side.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from onemode.algos import get_algo
from onemode.data import NormStats
from onemode.envs import EVAL_RESET_SEED, EnvironmentTarget, find_reference, make_env
from onemode.evaluate import rollout_seeds
from onemode.policy import make_act
from onemode.train import init_seeds


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--hidden", default="512,512",
                        help="the actor's widths (default: the paper's)")
    args = parser.parse_args(argv)
    target = EnvironmentTarget(args.env, find_reference(args.env))
    probe = make_env(args.env)
    obs_dim, act_dim = probe.observation_space.shape[0], probe.action_space.shape[0]
    probe.close()

    lom = get_algo("lom")
    config = lom.Config(hidden=tuple(int(w) for w in args.hidden.split(",")))
    keys = jax.random.split(jax.random.PRNGKey(0), args.seeds)
    state = init_seeds(lom, config, obs_dim, act_dim, keys)
    act = make_act(lom, config, NormStats.identity(obs_dim))
    act(state, jnp.zeros((args.seeds, args.episodes, obs_dim))).block_until_ready()  # compile

    taken = []  # every step's actions, to replay the same episodes without a policy

    def policy(observations):
        actions = np.asarray(act(state, jnp.asarray(observations)))
        taken.append(actions.reshape(-1, act_dim))
        return actions

    tic = time.perf_counter()
    rollouts = rollout_seeds(target, policy, args.seeds, args.episodes)
    evaluation = time.perf_counter() - tic
    steps = int(rollouts.lengths.sum())

    reset_seeds = np.tile(EVAL_RESET_SEED + np.arange(args.episodes), args.seeds)
    envs = [make_env(args.env) for _ in reset_seeds]
    for env, seed in zip(envs, reset_seeds):
        env.reset(seed=int(seed))
    lengths = rollouts.lengths.reshape(-1)
    tic = time.perf_counter()
    for t, actions in enumerate(taken):
        for i in np.flatnonzero(lengths > t):
            envs[i].step(actions[i])
    gym_stepping = time.perf_counter() - tic

    model, data = envs[0].unwrapped.model, envs[0].unwrapped.data
    frame_skip = envs[0].unwrapped.frame_skip
    tic = time.perf_counter()
    for _ in range(steps * frame_skip):
        mujoco.mj_step(model, data)
    mujoco_stepping = time.perf_counter() - tic
    for env in envs:
        env.close()

    print(f"{args.env}: {args.seeds} seeds x {args.episodes} episodes, {steps:,} steps "
          f"(episode lengths {lengths.min()}-{lengths.max()})")
    print(f"evaluation (policy + environments)   {evaluation:6.2f} s")
    print(f"the same episodes, env.step alone     {gym_stepping:6.2f} s")
    print(f"the same steps, mujoco.mj_step alone  {mujoco_stepping:6.2f} s "
          f"({frame_skip} physics steps per action)")
    print(f"scores: {target.reference.describe()}; mean {rollouts.scores.mean():.1f}")


if __name__ == "__main__":
    main()
