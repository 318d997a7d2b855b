"""`onemode render`: a GIF of a trained policy in its task's environment, and clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageSequence

from onemode.algos import bc
from onemode.cli import main
from onemode.data import save_dataset
from onemode.targets import data_spec
from onemode.render import Episode, caption, captioned_frames
from onemode.runs import TrainConfig
from onemode.tasks import get_task, multigoal
from onemode.train import train

CAPTION_ROWS = 12    # the caption band of a 48-pixel-high frame is 10 rows: skip past it


def train_tiny(out, spec, seeds=(0,), steps=50):
    config = TrainConfig(steps=steps, seeds=seeds, log_every=steps, eval_every=steps,
                         eval_episodes=1, checkpoint_every=steps)
    train("bc", bc.Config(hidden=(16,)), config, spec, out, show_progress=False)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    bandit_file = root / "bandit.npz"
    save_dataset(get_task("bandit").make_dataset(200, 0), bandit_file)
    return {
        # 200 transitions: one start state, simulated in this process (no worker pool)
        "fetch": train_tiny(root / "fetch", data_spec(task="fetch-reach-4goal", size=200)),
        "multigoal": train_tiny(root / "multigoal", data_spec(task="multigoal", size=400),
                                seeds=(0, 1)),
        "bandit": train_tiny(root / "bandit", data_spec(task="bandit", size=200), steps=10),
        "file": train_tiny(root / "file", data_spec(dataset=str(bandit_file)), steps=10),
    }


def gif_frames(path) -> list[np.ndarray]:
    with Image.open(path) as image:
        assert image.format == "GIF"
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]


def test_fetch_run_renders_every_step_of_every_episode(runs, capsys):
    run_dir = runs["fetch"]
    assert main(["render", str(run_dir), "--episodes", "2", "--width", "64",
                 "--height", "48"]) == 0
    out = capsys.readouterr().out
    path = run_dir / "policy.gif"
    assert str(path) in out and "episode 1: return" in out and "episode 2: return" in out

    frames = gif_frames(path)
    horizon = get_task("fetch-reach-4goal").horizon
    assert len(frames) == 2 * (horizon + 1)
    assert frames[0].shape == (48, 64, 3)
    scenes = [f[CAPTION_ROWS:] for f in frames[:horizon + 1]]   # below the caption
    assert any(not np.array_equal(scenes[0], s) for s in scenes[1:]), "the arm never moved"
    assert not list(run_dir.glob(".policy.gif.*")), "a temporary file was left behind"


def test_multigoal_run_renders_to_the_given_path(runs, tmp_path, capsys):
    path = tmp_path / "films" / "mg.gif"
    assert main(["render", str(runs["multigoal"]), "--episodes", "1", "--seed-index", "1",
                 "--out", str(path), "--fps", "20", "--width", "80", "--height", "60"]) == 0
    assert "seed 1 on multigoal" in capsys.readouterr().out
    frames = gif_frames(path)
    assert len(frames) == multigoal.HORIZON + 1 and frames[0].shape == (60, 80, 3)
    with Image.open(path) as image:
        assert image.info["duration"] == 50 and image.info["loop"] == 0


def test_multigoal_env_draws_goals_trail_and_mass_without_changing_its_dynamics():
    task = get_task("multigoal")
    shown = task.make_env(render_mode="rgb_array", width=90, height=90)
    plain = task.make_env()
    first, _ = shown.reset(seed=3)
    assert np.array_equal(first, plain.reset(seed=3)[0])
    assert plain.render() is None
    frame = shown.render()
    assert frame.shape == (90, 90, 3) and frame.dtype == np.uint8

    def has(image, colour):
        return bool(np.all(image == colour, axis=-1).any())

    assert has(frame, multigoal.BEST_GOAL_COLOUR) and has(frame, multigoal.GOAL_COLOUR)
    assert has(frame, multigoal.POINT_COLOUR) and not has(frame, multigoal.TRAIL_COLOUR)
    for _ in range(5):
        action = multigoal.expert_policy(first)
        a = shown.step(action)
        b = plain.step(action)
        assert np.array_equal(a[0], b[0]) and a[1:4] == b[1:4]
        first = a[0]
    moved = shown.render()
    assert has(moved, multigoal.TRAIL_COLOUR)
    # The mass is drawn up and to the right of where it started (image rows grow downward).
    start_rc = np.argwhere(np.all(frame == multigoal.POINT_COLOUR, axis=-1)).mean(axis=0)
    now_rc = np.argwhere(np.all(moved == multigoal.POINT_COLOUR, axis=-1)).mean(axis=0)
    assert now_rc[0] < start_rc[0] and now_rc[1] > start_rc[1]
    shown.close()
    plain.close()
    with pytest.raises(ValueError, match="render_mode"):
        multigoal.MultiGoalEnv(render_mode="human")


def test_captions_keep_the_size_and_tell_frames_apart():
    still = np.zeros((48, 64, 3), dtype=np.uint8)
    frames = captioned_frames([Episode([still, still, still], [1.0, 2.0])])
    assert len(frames) == 3 and all(f.shape == still.shape for f in frames)
    assert not np.array_equal(frames[1], frames[2])
    assert np.array_equal(caption(still, "x")[CAPTION_ROWS:], still[CAPTION_ROWS:])


def test_bandit_has_no_renderer(runs, capsys):
    assert main(["render", str(runs["bandit"])]) == 1
    err = capsys.readouterr().err
    assert "bandit" in err and "no renderer" in err and "Traceback" not in err
    assert not (runs["bandit"] / "policy.gif").exists()


def test_a_dataset_only_run_asks_for_a_task(runs, capsys):
    assert main(["render", str(runs["file"])]) == 1
    assert "give --task NAME" in capsys.readouterr().err
    # A task whose observations do not fit the run is refused by name.
    assert main(["render", str(runs["file"]), "--task", "multigoal"]) == 1
    err = capsys.readouterr().err
    assert "multigoal" in err and "observes 2" in err and "trained on 1" in err


def test_bad_options_are_refused(runs, capsys):
    assert main(["render", str(runs["multigoal"]), "--seed-index", "2"]) == 1
    assert "seed_index 2 out of range" in capsys.readouterr().err
    assert main(["render", str(runs["multigoal"]), "--episodes", "0"]) == 1
    assert "--episodes must be >= 1" in capsys.readouterr().err
