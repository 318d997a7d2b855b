"""How far LOM's SARSA critic Q_psi is from the data's own discounted returns.

    .venv/bin/python benchmarks/lom_critic_fit.py runs/greedy-hmr/runs/hopper-medium-replay/lom

Eq. 16 fits Q_psi to Q of the behaviour policy. On the dataset's own (s, a), the return
that followed, G_t = sum_k gamma^k r_{t+k} within the episode, is one sample of it, so
at convergence Q_psi(s_t, a_t) and G_t agree on average over the rows and per group
of rows sorted by G. Rows count where G_t is known: the episode ends in a terminal, or
runs on for at least --horizon more steps (the tail left out is at most gamma^horizon
of the value). Printed per seed: mean G and mean Q_psi over those rows, their ratio,
their correlation, and the ratio in each fifth of the rows sorted by G (the top fifth:
the best behaviour in the data, what the hyper-Q's ranking has to recognise).
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from onemode.algos.critics import q_value
from onemode.data import load_data
from onemode.policy import load_run


def discounted_returns(dataset, discount: float, horizon: int):
    """G_t per row, and where it is known (terminal ahead, or >= horizon steps left)."""
    returns = np.zeros(len(dataset))
    known = np.zeros(len(dataset), bool)
    for episode in dataset.episode_slices:
        rewards = dataset.rewards[episode].astype(np.float64)
        running = 0.0
        for offset in range(len(rewards) - 1, -1, -1):
            running = rewards[offset] + discount * running
            returns[episode.start + offset] = running
        ends_in_terminal = bool(dataset.terminals[episode.stop - 1])
        steps_left = np.arange(len(rewards), 0, -1)
        known[episode] = ends_in_terminal | (steps_left >= horizon)
    return returns, known


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", help="a LOM run directory")
    parser.add_argument("--horizon", type=int, default=500)
    parser.add_argument("--rows", type=int, default=50_000, help="rows evaluated, evenly spaced")
    args = parser.parse_args()
    run = load_run(args.run_dir)
    if run.algo_name != "lom":
        parser.error(f"{args.run_dir} is a {run.algo_name} run, not lom")
    dataset, _ = load_data(run.data_spec)
    discount = run.algo_config.discount
    returns, known = discounted_returns(dataset, discount, args.horizon)
    rows = np.flatnonzero(known)
    rows = rows[:: max(1, len(rows) // args.rows)]
    observations = jnp.asarray(run.stats.normalize(dataset.observations[rows]), jnp.float32)
    actions = jnp.asarray(dataset.actions[rows], jnp.float32)
    target = returns[rows]
    fifths = np.array_split(np.argsort(target), 5)
    print(f"{run.path}: {len(rows)} of {len(dataset)} rows with G known "
          f"(discount {discount}, horizon {args.horizon}), after {run.step} updates")
    print(f"{'seed':>4s} {'mean G':>8s} {'mean Q':>8s} {'Q/G':>6s} {'corr':>6s}   "
          "Q/G per fifth of rows by G (lowest .. highest)")
    for seed in range(len(run.train_config.seeds)):
        critic = jax.tree.map(lambda x, i=seed: x[i], run.state.critic)
        values = np.asarray(q_value(critic, critic.params, observations, actions), np.float64)
        per_fifth = " ".join(f"{values[f].mean() / target[f].mean():5.2f}" for f in fifths)
        print(f"{seed:4d} {target.mean():8.1f} {values.mean():8.1f} "
              f"{values.mean() / target.mean():6.2f} {np.corrcoef(values, target)[0, 1]:6.2f}"
              f"   {per_fifth}", flush=True)


if __name__ == "__main__":
    main()
