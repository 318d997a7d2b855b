"""Action-distribution figures, after the LOM paper's Figures 2 and 5.

For a one-dimensional state and action (bandit): the dataset's (s, a) pairs and
each policy's action as a function of s. For actions of two or more dimensions
(multigoal; Fetch, drawn in its first two, the x and y motion, as the paper's
Figure 2 does): the dataset's actions around one chosen state and each policy's
action there. Algorithms with a `mode_report(state, observations, config)`
(LOM, MDN) also show their mixture components, the selected mode starred.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from onemode.data import rescale_actions
from onemode.fileio import atomic_write
from onemode.policy import load_run
from onemode.targets import load_data

NEIGHBOURS = 400  # dataset rows nearest the chosen state whose actions are drawn


def action_figure(run_dirs: dict[str, Path], path: Path, seed_index: int = 0) -> Path | None:
    """One panel per run (label -> run directory, all on the same data), written atomically.

    Returns None, writing nothing, when the data's dimensions have no drawing.
    """
    runs = {label: load_run(d) for label, d in run_dirs.items()}
    dataset, _ = load_data(next(iter(runs.values())).data_spec)
    if dataset.act_dim == 1 and dataset.obs_dim == 1:
        draw = _draw_1d
    elif dataset.act_dim >= 2:
        draw = _draw_2d
    else:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(3, len(runs) + 1)
    rows = -(-(len(runs) + 1) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.6 * rows), squeeze=False)
    axes = axes.ravel()
    draw(axes[0], dataset, None, "dataset", seed_index)
    for axis, (label, run) in zip(axes[1:], runs.items()):
        draw(axis, dataset, run, label, seed_index)
    for axis in axes[len(runs) + 1:]:
        axis.set_visible(False)
    return save_figure(figure, path)


def _policy_actions(run, observations, seed_index):
    """The policy's actions in the dataset's units ([-1, 1]; the run acts in native bounds)."""
    batch = np.broadcast_to(observations, (len(run.train_config.seeds),) + observations.shape)
    actions = np.asarray(run.act(run.state, batch))[seed_index]
    bounds = run.data_spec.action_bounds
    return actions if bounds is None else rescale_actions(actions, bounds)


def _mode_report(run, observations, seed_index):
    report = run.mode_report(observations, seed_index)
    if report is None:
        return None
    mixture = report["mixture"]
    return (np.asarray(jax.nn.softmax(mixture.logits)), np.asarray(mixture.means),
            np.exp(np.asarray(mixture.log_stds)), report.get("best_mode"))


def _draw_1d(axis, dataset, run, label, seed_index):
    rng = np.random.default_rng(0)
    rows = rng.choice(len(dataset), min(3000, len(dataset)), replace=False)
    axis.scatter(dataset.observations[rows, 0], dataset.actions[rows, 0], s=2, c="0.7",
                 label="dataset")
    if run is not None:
        states = np.linspace(dataset.observations.min(), dataset.observations.max(), 200,
                             dtype=np.float32)[:, None]
        axis.plot(states[:, 0], _policy_actions(run, states, seed_index)[:, 0], c="C0", lw=2,
                  label="policy")
        coarse = states[::10]
        report = _mode_report(run, coarse, seed_index)
        if report is not None:
            alpha, means, _, best = report
            for m in range(alpha.shape[1]):
                axis.scatter(coarse[:, 0], means[:, m, 0], s=60 * alpha[:, m], c="C1",
                             alpha=0.6, label="components" if m == 0 else None)
            if best is not None:
                chosen = means[np.arange(len(coarse)), np.asarray(best), 0]
                axis.scatter(coarse[:, 0], chosen, marker="*", s=80, c="C3", label="selected")
    axis.set(title=label, xlabel="state", ylabel="action", ylim=(-1.1, 1.1))
    axis.legend(fontsize=7, loc="lower right")


def _chosen_state(dataset) -> np.ndarray:
    """The mean first observation of the episodes: where the modes conflict most."""
    starts = np.array([s.start for s in dataset.episode_slices])
    return dataset.observations[starts].mean(axis=0, keepdims=True).astype(np.float32)


def _draw_2d(axis, dataset, run, label, seed_index):
    from matplotlib.patches import Ellipse

    state = _chosen_state(dataset)
    distance = np.linalg.norm(dataset.observations - state, axis=1)
    near = np.argsort(distance)[:NEIGHBOURS]
    axis.scatter(dataset.actions[near, 0], dataset.actions[near, 1], s=4, c="0.7",
                 label="dataset")
    if run is not None:
        report = _mode_report(run, state, seed_index)
        if report is not None:
            alpha, means, stds, best = report
            for m in range(alpha.shape[1]):
                axis.add_patch(Ellipse(means[0, m, :2], 2 * stds[0, m, 0], 2 * stds[0, m, 1],
                                       fc="C1", alpha=min(0.8, 0.1 + alpha[0, m])))
            if best is not None:
                axis.scatter(*means[0, int(np.asarray(best)[0]), :2], marker="*", s=160, c="C3",
                             label="selected mode", zorder=3)
        action = _policy_actions(run, state, seed_index)[0]
        axis.scatter(*action[:2], marker="X", s=120, c="C0", label="policy", zorder=4)
    shown = "" if dataset.act_dim == 2 else f" (of {dataset.act_dim})"
    axis.set(title=label, xlabel="action 1" + shown, ylabel="action 2" + shown, xlim=(-1.3, 1.3),
             ylim=(-1.3, 1.3), aspect="equal")
    axis.legend(fontsize=7, loc="lower left")


def plot_modes(record: dict, path: Path, title: str) -> Path:
    """Held-out NLL against M (a `components` choice record), the chosen M marked and the
    tolerance band above the best drawn; written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    candidates, nll = record["candidates"], np.asarray(record["holdout_nll"])
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    axis.plot(candidates, nll, marker="o", label="held-out NLL")
    axis.axhspan(nll.min(), nll.min() + record["tolerance"] * record.get("act_dim", 1),
                 alpha=0.15, label="within the tolerance of the best")
    chosen = record["n_components"]
    axis.plot([chosen], [nll[candidates.index(chosen)]], marker="*", markersize=16,
              color="black", linestyle="none", label=f"chosen: M = {chosen}")
    axis.set_xlabel("M, mixture components")
    axis.set_ylabel("NLL of held-out episodes (nats / transition)")
    axis.set_title(title)
    axis.set_xticks(candidates)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return save_figure(figure, path)


def save_figure(figure, path, dpi: int = 110) -> Path:
    """Write a matplotlib figure as PNG, atomically, and close it."""
    import matplotlib.pyplot as plt

    def save(tmp):
        with open(tmp, "wb") as file:
            figure.savefig(file, format="png", dpi=dpi)

    figure.tight_layout()
    atomic_write(path, save)
    plt.close(figure)
    return Path(path)
