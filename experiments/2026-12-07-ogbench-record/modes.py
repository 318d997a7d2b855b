"""Which of the play data's sub-task modes LOM's mixture finds where the cube is carried,
and whether the mode it picks heads for the task's goal.

    .venv/bin/python experiments/2026-12-07-ogbench-record/modes.py RUN_DIR [--states 2000]

RUN_DIR: a LOM run on an OGBench cube-single file and one of its single tasks (a bench's
runs/cube-single-play-singletask-taskN/lom). In the play data the gripper carries the
cube toward each sub-task's own random target, so at a state with the cube lifted the
data holds actions in many directions; the task rewards one: toward its goal. At data
states with the cube lifted (z > 0.05) this prints, per seed:

  modes        components of weight >= 0.05 whose xy means lie >= 0.3 apart (greedy),
               averaged over the states, and the share of states with two or more
  heads home   the share of states whose action's xy part points within 60 degrees of
               the goal (cosine > 0.5 with goal xy - cube xy), for: the data's action,
               the mixture's mean (what BC fits), its heaviest component (the MDN
               baseline), the component LOM's hyper-Q picks (Eq. 7), LOM's actor

The rows are read with OGBench's own loader, in onemode's row order, for the cube's
position (qpos 14:17); the goal is the task's (the environment's target after reset).
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from onemode.algos import get_algo
from onemode.envs import make_env
from onemode.policy import load_run

MIN_WEIGHT, MODE_SEPARATION, HEADING_COSINE, LIFTED_Z = 0.05, 0.3, 0.5, 0.05


def distinct_modes(weights: np.ndarray, means_xy: np.ndarray) -> int:
    """Components of weight >= MIN_WEIGHT, heaviest first, each kept if its xy mean lies
    MODE_SEPARATION or more from every one kept before it."""
    kept = []
    for component in np.argsort(-weights):
        if weights[component] < MIN_WEIGHT:
            break
        if all(np.linalg.norm(means_xy[component] - means_xy[k]) >= MODE_SEPARATION
               for k in kept):
            kept.append(component)
    return len(kept)


def heading_home(actions_xy: np.ndarray, home_xy: np.ndarray) -> float:
    """Share of rows whose action's xy part points within 60 degrees of home."""
    cosine = np.sum(actions_xy * home_xy, axis=-1) / (
        np.linalg.norm(actions_xy, axis=-1) * np.linalg.norm(home_xy, axis=-1) + 1e-9)
    return float(np.mean(cosine > HEADING_COSINE))


def main(argv=None):
    from ogbench.utils import load_dataset

    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--states", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run = load_run(args.run_dir)
    if run.algo_name != "lom" or not (run.data_spec.env or "").startswith("cube-single"):
        parser.error(f"{args.run_dir}: expected a lom run on an OGBench cube-single task")
    raw = load_dataset(run.data_spec.dataset, add_info=True)
    env = make_env(run.data_spec.env)
    env.reset(seed=0)
    goal_xy = env.unwrapped._data.mocap_pos[0, :2].copy()   # as OGBench's relabelling reads it
    env.close()

    cube = raw["qpos"][:, 14:17]
    lifted = np.flatnonzero(cube[:, 2] > LIFTED_Z)
    rows = np.random.default_rng(args.seed).choice(lifted, min(args.states, len(lifted)),
                                                   replace=False)
    home_xy = goal_xy - cube[rows, :2]
    observations = jnp.asarray((raw["observations"][rows] - run.stats.mean) / run.stats.std)
    lom = get_algo("lom")
    report = jax.vmap(lambda state: lom.mode_report(state, observations, run.algo_config))(
        run.state)
    actor = np.asarray(run.act(run.state, jnp.broadcast_to(
        jnp.asarray(raw["observations"][rows]), (len(run.train_config.seeds),) + observations.shape)))
    print(f"{run.path}: {len(rows):,} of {len(lifted):,} lifted-cube states of "
          f"{len(cube):,}; task goal xy {goal_xy.round(3).tolist()}")
    print(f"data's actions heading home: {heading_home(raw['actions'][rows, :2], home_xy):.2f}")
    print(f"{'seed':>4s} {'modes':>6s} {'>=2':>5s}   heading home: {'mean':>5s} {'heaviest':>8s} "
          f"{'pick':>5s} {'actor':>5s}")
    for s, seed in enumerate(run.train_config.seeds):
        mixture = jax.tree.map(lambda x: np.asarray(x[s]), report["mixture"])
        weights = np.asarray(jax.nn.softmax(mixture.logits, axis=-1))
        means_xy = mixture.means[..., :2]
        modes = np.array([distinct_modes(w, m) for w, m in zip(weights, means_xy)])
        mean_xy = np.sum(weights[..., None] * means_xy, axis=-2)
        heaviest = np.take_along_axis(means_xy, np.argmax(weights, -1)[:, None, None], 1)[:, 0]
        best = np.asarray(report["best_mode"][s])
        picked = np.take_along_axis(means_xy, best[:, None, None], 1)[:, 0]
        print(f"{seed:4d} {modes.mean():6.2f} {np.mean(modes >= 2):5.2f}   {'':13s} "
              f"{heading_home(mean_xy, home_xy):5.2f} {heading_home(heaviest, home_xy):8.2f} "
              f"{heading_home(picked, home_xy):5.2f} "
              f"{heading_home(actor[s][:, :2], home_xy):5.2f}")


if __name__ == "__main__":
    main()
