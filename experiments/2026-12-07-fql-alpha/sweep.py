"""FQL's alpha (`actor_bc_weight`) on onemode's own tasks, and acting with z = 0 against
sampled z (experiments/2026-12-07-fql-alpha/README.md).

    .venv/bin/python experiments/2026-12-07-fql-alpha/sweep.py OUT TASK STEPS [SETTING ...]

TASK: multigoal or fetch-reach-4goal (250 starts x 4 goals, 50,000 transitions; the npz is
written once into OUT). Each SETTING is JSON of FQL options over the base below; default:
the sweep of the README. Per setting, 2 seeds trained together; prints one JSON line: the
normalised score and the share of episodes ending at the reward-2 goal, acting with z = 0
(`fql.act`, the engine's own evaluation) and with z ~ N(0, I) drawn at every step
(`fql.sample_actions`, the paper's agent), 20 episodes per seed from the same starts.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from onemode.algos import fql
from onemode.data import save_dataset
from onemode.envs import EVAL_RESET_SEED
from onemode.evaluate import rollout
from onemode.policy import load_run
from onemode.runs import TrainConfig
from onemode.targets import data_spec
from onemode.tasks import fetch, get_task, multigoal
from onemode.train import train

BASE = dict(hidden=(128, 128))   # every other option at FQL's defaults
SWEEP = [dict(actor_bc_weight=10.0),                                    # the code's default
         *[dict(normalize_q_loss=True, actor_bc_weight=a) for a in (0.03, 0.1, 0.3, 1.0, 3.0)]]
EPISODES = 20


def ending_goal(task_name: str, final_observations):
    if task_name == "multigoal":
        return multigoal.goal_at(final_observations)
    env = fetch.FetchFourGoalEnv("reach")
    try:
        return fetch.goal_index(final_observations[..., fetch.GRIP], env.goals)
    finally:
        env.close()


def spec_for(task_name: str, out: Path):
    if task_name == "multigoal":
        return data_spec(task="multigoal", size=40_000)
    path = out / "fetch-reach-4goal.npz"
    if not path.exists():
        save_dataset(get_task(task_name).make_dataset(4 * fetch.HORIZON * 250, 0), path)
    return data_spec(task=task_name, dataset=str(path))


def run_one(task_name: str, out: Path, steps: int, options: dict):
    config = fql.Config(**{**BASE, **options})
    label = "-".join(f"{k}={v}" for k, v in options.items())
    tc = TrainConfig(steps=steps, seeds=(0, 1), log_every=steps, eval_every=steps,
                     checkpoint_every=steps, eval_episodes=EPISODES)
    tic = time.time()
    result = train("fql", config, tc, spec_for(task_name, out), out / task_name / label,
                   show_progress=False)
    seconds = time.time() - tic
    task = get_task(task_name)
    run = load_run(result.run_dir)
    z0_scores = result.final_eval.scores.mean(axis=1)
    z0_best = (ending_goal(task_name, result.final_eval.final_observations) == 0).mean(axis=1)
    sampled_scores, sampled_best = [], []
    for seed in range(2):
        state = jax.tree.map(lambda x: x[seed], result.state)
        key = [jax.random.PRNGKey(1000 + seed)]

        def policy(observations, state=state):
            key[0], k = jax.random.split(key[0])
            obs = jnp.asarray(run.stats.normalize(observations))
            return np.asarray(fql.sample_actions(state, obs, k, 1, config)[0])

        # the starts of the engine's evaluation (every seed meets the same ones)
        rolled = rollout(task, policy, [EVAL_RESET_SEED + i for i in range(EPISODES)])
        sampled_scores.append(float(rolled.scores.mean()))
        sampled_best.append(float((ending_goal(task_name, rolled.final_observations) == 0).mean()))
    print(json.dumps({"task": task_name, "options": options, "steps": steps,
                      "seconds": round(seconds), "z0_score": np.round(z0_scores, 1).tolist(),
                      "z0_at_best_goal": z0_best.tolist(),
                      "sampled_z_score": np.round(sampled_scores, 1).tolist(),
                      "sampled_z_at_best_goal": sampled_best}), flush=True)


def main(argv):
    out, task_name, steps = Path(argv[0]), argv[1], int(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    settings = [json.loads(s) for s in argv[3:]] or SWEEP
    for options in settings:
        run_one(task_name, out, steps, options)


if __name__ == "__main__":
    main(sys.argv[1:])
