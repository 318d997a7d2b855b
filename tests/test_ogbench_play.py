"""OGBench's play datasets made by onemode: OGBench's layout, one result per seed whatever
the workers, and a pair of files that a killed generation never leaves half-made."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("ogbench")

from onemode import fileio  # noqa: E402
from onemode.errors import ConfigError  # noqa: E402
from onemode.tasks.ogbench_play import PLAY_DATASETS, make_play_dataset  # noqa: E402

STEPS = 60   # per episode, for speed; the recipe's 1,001 changes only the time limit
DTYPES = {"observations": np.float32, "actions": np.float32, "terminals": np.bool_,
          "qpos": np.float32, "qvel": np.float32, "button_states": np.int64}


def make(tmp_path, name="cube-single-play", seed=0, workers=1, file="data.npz"):
    return make_play_dataset(name, tmp_path / file, episodes=2, seed=seed, workers=workers,
                             log=lambda line: None, episode_steps=STEPS)


def arrays(path) -> dict:
    with np.load(path) as file:
        return {key: file[key] for key in file.files}


@pytest.fixture(scope="module")
def cube_single(tmp_path_factory):
    return make(tmp_path_factory.mktemp("cube-single"))


@pytest.mark.parametrize("name, buttons", [("cube-single-play", None),
                                           ("puzzle-3x3-play", 9), ("scene-play", 2)])
def test_ogbench_reads_the_layout(tmp_path, cube_single, name, buttons):
    from ogbench.utils import load_dataset
    main, val = cube_single if name == "cube-single-play" else make(tmp_path, name)
    assert (main.name, val.name) == ("data.npz", "data-val.npz")
    stored = arrays(main)
    expected = set(DTYPES) - ({"button_states"} if buttons is None else set())
    assert set(stored) == expected
    for key, values in stored.items():
        assert values.dtype == DTYPES[key] and len(values) == 2 * STEPS, key
    assert np.flatnonzero(stored["terminals"]).tolist() == [STEPS - 1, 2 * STEPS - 1]
    assert np.abs(stored["actions"]).max() <= 1
    if buttons is not None:
        assert stored["button_states"].shape == (2 * STEPS, buttons)
    loaded = load_dataset(str(main), add_info=True)
    # OGBench pairs each step with the next one's observation, dropping episodes' last steps
    assert len(loaded["observations"]) == 2 * (STEPS - 1)
    np.testing.assert_array_equal(loaded["next_observations"][:STEPS - 1],
                                  stored["observations"][1:STEPS])
    assert {"qpos", "qvel"} <= set(loaded) and ("button_states" in loaded) == bool(buttons)
    validation = arrays(val)
    assert len(validation["actions"]) == STEPS and validation["terminals"].sum() == 1


def test_a_seed_gives_the_same_files_whatever_the_workers(tmp_path, cube_single):
    # workers=2 runs episode 2 (the validation one) on a fresh env in another process
    for mine, theirs in zip(cube_single, make(tmp_path, workers=2)):
        one, two = arrays(mine), arrays(theirs)
        assert one.keys() == two.keys()
        for key in one:
            assert one[key].dtype == two[key].dtype
            assert one[key].tobytes() == two[key].tobytes(), key


def test_another_seed_gives_other_episodes(tmp_path, cube_single):
    other = arrays(make(tmp_path, seed=1)[0])
    same = arrays(cube_single[0])
    assert not np.array_equal(other["observations"], same["observations"])
    assert not np.array_equal(other["actions"], same["actions"])


def test_a_generation_killed_before_its_renames_leaves_the_old_pair(tmp_path, monkeypatch):
    old = [arrays(path) for path in make(tmp_path, seed=0)]

    def killed(path):
        raise KeyboardInterrupt   # both temporary files written, nothing renamed yet
    monkeypatch.setattr(fileio, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        make(tmp_path, seed=1)
    now = [arrays(tmp_path / name) for name in ("data.npz", "data-val.npz")]
    for before, after in zip(old, now):
        assert all(np.array_equal(before[key], after[key]) for key in before)
    assert visible(tmp_path) == ["data-val.npz", "data.npz"]
    assert not list(tmp_path.rglob("*.part"))   # no temporary file left


def test_a_generation_killed_between_its_renames_leaves_no_main_file(tmp_path, monkeypatch):
    make(tmp_path, seed=0)
    replace, renames = os.replace, []

    def killed_after_the_first(source, target):
        if renames:
            raise KeyboardInterrupt   # the -val file is in place, the main one not yet
        renames.append(target)
        replace(source, target)
    monkeypatch.setattr(os, "replace", killed_after_the_first)
    with pytest.raises(KeyboardInterrupt):
        make(tmp_path, seed=1)
    assert visible(tmp_path) == ["data-val.npz"]


def visible(folder) -> list[str]:
    """The folder's files but the hidden ones (the rounds kept for resuming)."""
    return sorted(name for name in os.listdir(folder) if not name.startswith("."))


def test_a_killed_generation_continues_from_its_last_round_to_the_same_files(
        tmp_path, monkeypatch, cube_single):
    from onemode.tasks import ogbench_play

    monkeypatch.setattr(ogbench_play, "ROUND_EPISODES", 1)   # three rounds of one episode
    played, play = [], ogbench_play._play_episodes

    def killed_in_the_third_round(*job):
        if len(played) == 2:
            raise KeyboardInterrupt
        played.append(job[3])
        return play(*job)
    monkeypatch.setattr(ogbench_play, "_play_episodes", killed_in_the_third_round)
    with pytest.raises(KeyboardInterrupt):
        make(tmp_path)
    assert visible(tmp_path) == []
    monkeypatch.setattr(ogbench_play, "_play_episodes", lambda *job: (
        played.append(job[3]), play(*job))[1])
    for mine, theirs in zip(cube_single, make(tmp_path)):
        assert all(arrays(mine)[key].tobytes() == arrays(theirs)[key].tobytes()
                   for key in arrays(mine))
    assert played == [[("train", 0)], [("train", 1)], [("val", 0)]]   # rounds 1-2 read back
    assert sorted(os.listdir(tmp_path)) == ["data-val.npz", "data.npz"]   # rounds removed


def test_unknown_names_and_paths_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="cube-single-play, cube-double-play"):
        make(tmp_path, name="cube-triple-play")
    with pytest.raises(ConfigError, match=r"must end in \.npz"):
        make(tmp_path, file="data.hdf5")
    assert PLAY_DATASETS == {"cube-single-play": "cube-single-v0",
                             "cube-double-play": "cube-double-v0", "scene-play": "scene-v0",
                             "puzzle-3x3-play": "puzzle-3x3-v0"}
