"""What each part of a trained LOM run scores when it acts alone on a Fetch task.

    .venv/bin/python benchmarks/lom_parts.py runs/fetch-bench-v2/runs/fetch-push-4goal/lom

Three policies from the same checkpoint, each rolled out for every seed from the
evaluation start states:
  actor          pi_theta's mean: LOM as trained (Eq. 18)
  greedy mode    the mean of the MDN component the hyper-Q picks, mu_u*(s) (Eq. 7)
  heaviest mode  the mean of the MDN's most probable component: the MDN baseline's
                 way of acting, with LOM's own behaviour model

If the actor scores above the heaviest mode, LOM's gain is not a better-trained
behaviour model; if above the greedy mode, the advantage-weighted imitation adds
to picking the mode. Episodes are counted by the goal they end at (I: reward 2).
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from onemode.algos import lom
from onemode.evaluate import rollout_seeds
from onemode.policy import load_run
from onemode.runs import RunDir
from onemode.tasks import get_task
from onemode.tasks.fetch import BLOCK, GRIP, FetchFourGoalEnv, goal_index
from onemode.train import EVAL_RESET_SEED


def component_mean(mixture, index):
    chosen = jnp.take_along_axis(mixture.means, index[:, None, None], axis=1)[:, 0]
    return jnp.clip(chosen, -1.0, 1.0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", help="a LOM run on a fetch-*-4goal task")
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args()
    run = load_run(args.run_dir)
    if run.algo_name != "lom":
        parser.error(f"{args.run_dir} is a {run.algo_name} run, not lom")
    config, stats = run.algo_config, RunDir(args.run_dir).read_stats()
    obs_mean, obs_std = jnp.asarray(stats.mean), jnp.asarray(stats.std)
    task = get_task(run.data_spec["task"])
    env = FetchFourGoalEnv(task.name.split("-")[1])
    mover = BLOCK if env.kind.has_block else GRIP

    def greedy_mode(state, obs):
        report = lom.mode_report(state, obs, config)
        return component_mean(report["mixture"], report["best_mode"])

    def heaviest_mode(state, obs):
        mixture = state.mdn.apply_fn(state.mdn.params, obs)
        return component_mean(mixture, jnp.argmax(mixture.logits, axis=-1))

    def actor(state, obs):
        return lom.act(state, obs, config)

    print(f"{'policy':14s} {'score':>13s}   per seed{'':18s}episodes ending at goal I, II, III, IV, none")
    for name, part in (("actor", actor), ("greedy mode", greedy_mode),
                       ("heaviest mode", heaviest_mode)):
        act = jax.jit(jax.vmap(lambda state, obs, part=part: part(state, (obs - obs_mean) / obs_std)))
        result = rollout_seeds(task, lambda obs: np.asarray(act(run.state, jnp.asarray(obs))),
                               len(run.train_config.seeds), args.episodes, EVAL_RESET_SEED)
        ends = goal_index(result.final_observations[..., mover], env.goals)
        per_seed = result.scores.mean(axis=1)
        counts = " ".join(f"{int((ends == g).sum()):4d}" for g in (0, 1, 2, 3, -1))
        print(f"{name:14s} {per_seed.mean():6.1f} ± {per_seed.std():4.1f}   "
              f"{' '.join(f'{s:5.1f}' for s in per_seed):26s}{counts}", flush=True)
    env.close()


if __name__ == "__main__":
    main()
