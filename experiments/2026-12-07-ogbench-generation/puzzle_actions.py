"""puzzle-3x3's action means, OGBench's script against onemode (seed 2), 60 + 6 episodes
each: does the gripper-action gap of compare.py's 20-episode runs (~2 s.e.) hold?

    python experiments/2026-12-07-ogbench-generation/puzzle_actions.py SCRIPT
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import compare  # noqa: E402

from onemode.tasks.ogbench_play import make_play_dataset  # noqa: E402

EPISODES = 60


def action_means(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Means over the training file's episodes, and their standard errors."""
    episodes = np.load(path)["actions"].reshape(-1, 1001, 5).mean(1)
    return episodes.mean(0), episodes.std(0, ddof=1) / np.sqrt(len(episodes))


if __name__ == "__main__":
    folder = Path(tempfile.mkdtemp(prefix="puzzle-actions-"))
    compare.run_ogbench(sys.argv[1], "puzzle-3x3-v0", EPISODES, folder / "ogbench.npz")
    make_play_dataset("puzzle-3x3-play", folder / "onemode.npz", episodes=EPISODES, seed=2,
                      workers=1, log=lambda line: None)
    for label in ("ogbench", "onemode"):
        means, errors = action_means(folder / f"{label}.npz")
        print(label, np.round(means, 4), "+-", np.round(errors, 4))
