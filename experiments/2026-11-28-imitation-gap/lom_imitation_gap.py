"""Where LOM's actor parts from the mode it imitates, and what that costs.

    .venv/bin/python experiments/2026-11-28-imitation-gap/lom_imitation_gap.py RUN_DIR [--rows 20000] [--episodes 10]

From one LOM checkpoint, per seed, the teacher is the mean mu_u*(s) of the component the
training's ranking picks (Eq. 7: the hyper-Q's, or the critic's with best_mode_by=critic).

1. On `--rows` dataset states in 20 runs of consecutive rows spread evenly over the
   file (a replay file's early rows come from its weakest policies). A state is at a switch
   when the pick differs at the state before or after it in the same episode (where
   mu_u*(s) may jump while s barely moves). Per seed: the share of states at a switch;
   the teacher's step |mu_u*(s_t) - mu_u*(s_t+1)| there and elsewhere; the actor's
   distance |pi_theta(s) - mu_u*(s)| there and elsewhere (mean per action dimension);
   the share of the actor's squared error at switches; how often the actor is nearer
   another eligible component's mean than mu_u*(s); and its distance from the
   weight-averaged mean of the eligible components (where a unimodal fit of the modes
   would sit); the median margin by which the picked mode's value (in the ranking's
   units) leads the next eligible one's, at switches and elsewhere. For scale, the
   data's own step |a_t+1 - a_t| is printed first.
2. Rolled out from the evaluation start states: a = mu_u*(s) + lam (pi_theta(s) -
   mu_u*(s)) for each lam in `--mix` (0: the greedy mode; 1: the actor), and
   a = mu_u*(s) + noise of the actor's own rms error per dimension in random
   directions: is it the size of the actor's error that costs, or its direction.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import sys
from pathlib import Path

# lom_fixed_teacher.py lives in its own experiment's folder
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "2026-11-27-fixed-teacher"))
from lom_fixed_teacher import picked_component  # noqa: E402

from onemode.algos import lom
from onemode.targets import load_data
from onemode.evaluate import rollout_seeds
from onemode.policy import load_run

BLOCKS = 20


def teacher_and_actor(state, observations, config):
    """mu_u*(s) (clipped as acting clips it), u*, pi_theta's mean and the mode report."""
    mode_mean, report = picked_component(state, observations, config)
    teacher = jnp.clip(mode_mean, -1.0, 1.0)
    return teacher, report["best_mode"], lom.mean_action(state.actor, observations), report


def switch_states(best_mode: np.ndarray, episode_goes_on: np.ndarray) -> np.ndarray:
    """Rows whose pick differs from the pick at the previous or next row of its episode."""
    changes = (best_mode[1:] != best_mode[:-1]) & episode_goes_on[:-1]
    at_switch = np.zeros(best_mode.shape, bool)
    at_switch[1:] |= changes
    at_switch[:-1] |= changes
    return at_switch


def spread_rows(dataset, n_rows: int):
    """About `n_rows` row indices in BLOCKS runs of consecutive rows spread evenly over
    the file, and whether each row's episode goes on to the next row within its run."""
    total = len(dataset.observations)
    block = max(1, min(n_rows, total) // BLOCKS)
    starts = np.linspace(0, total - block, BLOCKS).astype(int)
    rows = (starts[:, None] + np.arange(block)).ravel()
    episode_goes_on = ~(dataset.terminals[rows] | dataset.timeouts[rows])
    episode_goes_on[block - 1::block] = False  # a run's last row has no successor in it
    return rows, episode_goes_on


def gap_statistics(state, observations, episode_goes_on, config) -> dict[str, float]:
    teacher, best_mode, actor, report = teacher_and_actor(state, observations, config)
    teacher, best_mode, actor = np.asarray(teacher), np.asarray(best_mode), np.asarray(actor)
    mixture = report["mixture"]
    means = np.clip(np.asarray(mixture.means), -1.0, 1.0)
    weights = np.asarray(jax.nn.softmax(mixture.logits, axis=-1))
    eligible = np.asarray(lom.eligible_modes(mixture, config.min_mode_weight))
    at_switch = switch_states(best_mode, episode_goes_on)
    ranked = np.sort(np.where(eligible, np.asarray(report["mode_values"]), -np.inf), axis=-1)
    margin = ranked[:, -1] - ranked[:, -2]  # inf where one mode alone is eligible
    step = np.abs(teacher[1:] - teacher[:-1]).mean(axis=-1)
    step_at_switch = (best_mode[1:] != best_mode[:-1]) & episode_goes_on[:-1]
    step_steady = (best_mode[1:] == best_mode[:-1]) & episode_goes_on[:-1]
    error = np.abs(actor - teacher).mean(axis=-1)
    squared = ((actor - teacher) ** 2).sum(axis=-1)
    to_components = np.abs(actor[:, None, :] - means).mean(axis=-1)
    to_components[~eligible] = np.inf
    nearest = to_components.argmin(axis=-1)
    eligible_weights = np.where(eligible, weights, 0.0)
    averaged = (np.einsum("nm,nma->na", eligible_weights, means)
                / eligible_weights.sum(axis=-1, keepdims=True))
    return {"switch share": at_switch.mean(),
            "teacher step, switch": step[step_at_switch].mean(),
            "teacher step, steady": step[step_steady].mean(),
            "actor error, all": error.mean(),
            "actor error, switch": error[at_switch].mean(),
            "actor error, steady": error[~at_switch].mean(),
            "sq. error share at switch": squared[at_switch].sum() / squared.sum(),
            "median value margin, switch": np.median(margin[at_switch]),
            "median value margin, steady": np.median(margin[~at_switch]),
            "nearer another mode": (nearest != best_mode).mean(),
            "actor - averaged modes": np.abs(actor - averaged).mean(),
            "actor rms error": float(np.sqrt(((actor - teacher) ** 2).mean()))}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", help="a LOM run directory on a locomotion dataset")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--mix", default="0,0.25,0.5,0.75,1")
    parser.add_argument("--no-rollouts", action="store_true", help="part 1 only")
    args = parser.parse_args()
    run = load_run(args.run_dir)
    if run.algo_name != "lom":
        parser.error(f"{args.run_dir} is a {run.algo_name} run, not lom")
    config = run.algo_config.replace(act_by="actor")  # the actor's teacher: training's pick
    dataset, evaluation = load_data(run.data_spec)
    rows, episode_goes_on = spread_rows(dataset, args.rows)
    observations = jnp.asarray(run.stats.normalize(dataset.observations[rows]), jnp.float32)
    n_seeds = len(run.train_config.seeds)

    print(f"{run.path}, step {run.step}: {observations.shape[0]} dataset states, "
          f"per seed 0..{n_seeds - 1}")
    actions = dataset.actions[rows]
    data_step = np.abs(actions[1:] - actions[:-1]).mean(axis=-1)[episode_goes_on[:-1]].mean()
    print(f"  {'data action step':28s} {data_step:6.3f}")
    per_seed = [gap_statistics(run.seed_state(seed), observations, episode_goes_on, config)
                for seed in range(n_seeds)]
    for name in per_seed[0]:
        print(f"  {name:28s} " + " ".join(f"{stats[name]:6.3f}" for stats in per_seed))
    if args.no_rollouts:
        return
    rms_error = np.array([stats["actor rms error"] for stats in per_seed])

    batched = jax.jit(jax.vmap(teacher_and_actor, in_axes=(0, 0, None)), static_argnums=2)
    noise = np.random.default_rng(0)

    def policy(mix, with_noise):
        def act(raw_observations):  # (n_seeds, n_episodes, obs_dim)
            normalised = jnp.asarray(run.stats.normalize(raw_observations), jnp.float32)
            teacher, _, actor, _ = batched(run.state, normalised, config)
            teacher, actor = np.asarray(teacher), np.asarray(actor)
            if with_noise:
                return np.clip(teacher + rms_error[:, None, None]
                               * noise.standard_normal(teacher.shape), -1.0, 1.0)
            return teacher + mix * (actor - teacher)
        return act

    print(f"{'rolled out':28s} {'score':>13s}   per seed")
    policies = [(f"mu_u* + {mix} (actor - mu_u*)", policy(float(mix), False))
                for mix in args.mix.split(",")]
    policies.append(("mu_u* + noise, actor's rms", policy(0.0, True)))
    for name, act in policies:
        scores = rollout_seeds(evaluation, act, n_seeds, args.episodes).scores.mean(axis=1)
        print(f"  {name:28s} {scores.mean():6.1f} ± {scores.std():4.1f}   "
              + " ".join(f"{s:5.1f}" for s in scores), flush=True)


if __name__ == "__main__":
    main()
