"""File formats: round trips, foreign D4RL files, Minari ids, atomic writes."""

import os

import h5py
import numpy as np
import pytest

from onemode.data import Dataset, load_dataset, save_dataset
from onemode.errors import DatasetError
from onemode.data import hdf5_io, minari_io, npz_io

N, OBS_DIM, ACT_DIM = 14, 3, 2
FILE_NAMES = {"npz": "data.npz", "hdf5": "data.hdf5", "minari": "data-v0"}


def make_dataset(next_observations=False):
    """Episodes end at rows 3 (terminal), 7 (timeout), 10 (terminal); 11-13 trail."""
    rng = np.random.default_rng(0)
    observations = rng.normal(size=(N, OBS_DIM))
    arrays = {"observations": observations,
              "actions": rng.uniform(-1, 1, (N, ACT_DIM)),
              "rewards": rng.normal(size=N),
              "terminals": np.isin(np.arange(N), [3, 10]),
              "timeouts": np.isin(np.arange(N), [7])}
    if next_observations:  # consistent inside episodes, a real final state at the ends
        following = np.concatenate([observations[1:], rng.normal(size=(1, OBS_DIM))])
        ends = np.isin(np.arange(N), [3, 7, 10])
        following[ends] = rng.normal(size=(ends.sum(), OBS_DIM))
        arrays["next_observations"] = following
    return Dataset.from_arrays(arrays, source="test")


def assert_same_arrays(left, right):
    for key, value in left.arrays().items():
        np.testing.assert_array_equal(value, right.arrays()[key], err_msg=key)
        assert value.dtype == right.arrays()[key].dtype, key


def leftovers(directory, keep):
    return sorted(name for name in os.listdir(directory) if name != keep)


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("fmt", ["npz", "hdf5", "minari"])
@pytest.mark.parametrize("given_next", [False, True])
def test_round_trip_gives_identical_arrays(tmp_path, fmt, given_next):
    dataset = make_dataset(next_observations=given_next)
    path = save_dataset(dataset, tmp_path / FILE_NAMES[fmt])
    assert path == tmp_path / FILE_NAMES[fmt]
    loaded = load_dataset(path)
    assert_same_arrays(dataset, loaded)
    assert loaded.episode_slices == dataset.episode_slices  # trailing rows 11-13 kept
    assert loaded.source == str(path)
    assert leftovers(tmp_path, FILE_NAMES[fmt]) == []


@pytest.mark.parametrize("fmt", ["npz", "hdf5"])
def test_explicit_format_overrides_the_suffix(tmp_path, fmt):
    dataset = make_dataset()
    path = save_dataset(dataset, tmp_path / "data.bin", format=fmt)
    assert_same_arrays(dataset, load_dataset(path, format=fmt))
    with pytest.raises(DatasetError, match="data.bin"):
        load_dataset(path)


def test_h5_suffix_is_hdf5_and_only_given_next_observations_are_written(tmp_path):
    required = {"observations", "actions", "rewards", "terminals", "timeouts"}
    for given, keys in ((True, required | {"next_observations"}), (False, required)):
        path = save_dataset(make_dataset(next_observations=given), tmp_path / f"{given}.h5")
        with h5py.File(path, "r") as file:
            assert set(file) == keys


def test_saving_overwrites_an_existing_file(tmp_path):
    path = tmp_path / "data.npz"
    save_dataset(make_dataset(), path)
    replacement = make_dataset(next_observations=True)
    save_dataset(replacement, path)
    assert_same_arrays(replacement, load_dataset(path))


# ------------------------------------------------------ foreign D4RL files
def test_reads_a_d4rl_file_written_by_someone_else(tmp_path):
    path = tmp_path / "hopper-medium-v2.hdf5"
    rng = np.random.default_rng(1)
    observations = rng.normal(size=(N, 11))
    with h5py.File(path, "w") as file:
        file["observations"] = observations
        file["actions"] = rng.uniform(-1, 1, (N, 3))
        file["rewards"] = np.arange(N, dtype=np.float64)[:, None]  # (N, 1)
        file["terminals"] = np.isin(np.arange(N), [4]).astype(np.float32)  # float flags
        file["timeouts"] = np.isin(np.arange(N), [9])
        file["infos/qpos"] = rng.normal(size=(N, 6))
        file["infos/action_log_probs"] = rng.normal(size=N)
        file["metadata/algorithm"] = "SAC"
        file.attrs["env"] = "hopper"
    dataset = load_dataset(path)
    assert len(dataset) == N and dataset.obs_dim == 11 and dataset.act_dim == 3
    np.testing.assert_array_equal(dataset.rewards, np.arange(N))
    assert dataset.terminals.tolist() == [i == 4 for i in range(N)]
    assert dataset.timeouts.tolist() == [i == 9 for i in range(N)]
    assert "next_observations derived from the episode structure" in dataset.notes
    np.testing.assert_array_equal(dataset.next_observations[0], observations[1].astype(np.float32))
    assert dataset.episode_slices == [slice(0, 5), slice(5, 10), slice(10, N)]


def test_npz_ignores_unrelated_arrays(tmp_path):
    dataset = make_dataset()
    path = tmp_path / "data.npz"
    np.savez(path, **dataset.arrays(), infos=np.arange(3), comment=np.array("hello"))
    assert_same_arrays(dataset, load_dataset(path))


# --------------------------------------------------------------- Minari
def minari_buffer(rng, steps, terminated=False, truncated=False):
    from minari.data_collector import EpisodeBuffer
    terminations = np.zeros(steps, bool)
    truncations = np.zeros(steps, bool)
    terminations[-1], truncations[-1] = terminated, truncated
    return EpisodeBuffer(observations=rng.normal(size=(steps + 1, OBS_DIM)).astype(np.float32),
                         actions=rng.uniform(-1, 1, (steps, ACT_DIM)).astype(np.float32),
                         rewards=rng.normal(size=steps), terminations=terminations,
                         truncations=truncations)


@pytest.fixture
def minari_root(tmp_path, monkeypatch):
    root = tmp_path / "minari-root"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


def create_minari(dataset_id, buffers):
    import gymnasium as gym
    import minari
    with pytest.warns(UserWarning):  # minari nags about missing author etc.
        minari.create_dataset_from_buffers(
            dataset_id, buffers,
            observation_space=gym.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32),
            action_space=gym.spaces.Box(-1, 1, (ACT_DIM,), np.float32))


def test_minari_load_by_id_under_minari_datasets_path(minari_root):
    rng = np.random.default_rng(2)
    buffers = [minari_buffer(rng, 4, terminated=True), minari_buffer(rng, 3),
               minari_buffer(rng, 5, truncated=True), minari_buffer(rng, 2)]
    create_minari("tests/pendulum/expert-v1", buffers)
    dataset = load_dataset("tests/pendulum/expert-v1")
    assert dataset.source == str(minari_root / "tests/pendulum/expert-v1")
    assert len(dataset) == 14
    # Exact next observations from the episode boundaries.
    starts = [0, 4, 7, 12]
    for start, buffer in zip(starts, buffers):
        steps = len(buffer.rewards)
        rows = slice(start, start + steps)
        np.testing.assert_array_equal(dataset.observations[rows], buffer.observations[:-1])
        np.testing.assert_array_equal(dataset.next_observations[rows], buffer.observations[1:])
        np.testing.assert_array_equal(dataset.actions[rows], buffer.actions)
    assert np.flatnonzero(dataset.terminals).tolist() == [3]
    # Episode 1 ends with neither flag but is not last: marked as a timeout, and said so.
    assert np.flatnonzero(dataset.timeouts).tolist() == [6, 11]
    assert any("episode 1" in note and "timeout" in note for note in dataset.notes)
    # The last episode, with neither flag, is the incomplete trailing episode.
    assert dataset.episode_slices[-1] == slice(12, 14)
    assert not dataset.has_next_action[13]


def test_minari_directory_or_its_data_folder_both_load(minari_root):
    create_minari("plain-v0", [minari_buffer(np.random.default_rng(3), 4, terminated=True)])
    by_directory = load_dataset(minari_root / "plain-v0")
    by_data_folder = load_dataset(minari_root / "plain-v0" / "data", format="minari")
    assert_same_arrays(by_directory, by_data_folder)


def test_minari_written_by_us_is_loadable_by_id_and_by_minari(minari_root):
    import minari
    dataset = make_dataset()
    save_dataset(dataset, minari_root / "ours-v3")
    assert_same_arrays(dataset, load_dataset("ours-v3"))
    episodes = list(minari.load_dataset("ours-v3").iterate_episodes())
    assert [len(e) for e in episodes] == [4, 4, 3, 3]
    assert episodes[1].truncations[-1] and not episodes[3].terminations[-1]


def test_minari_ids_are_made_valid(tmp_path):
    assert minari_io.dataset_id_for(tmp_path / "walker-v2") == "walker-v2"
    assert minari_io.dataset_id_for(tmp_path / "my data") == "my-data-v0"
    path = save_dataset(make_dataset(), tmp_path / "my data", format="minari")
    assert load_dataset(path).source == str(path)


def test_minari_write_leaves_minari_datasets_path_as_it_was(tmp_path, minari_root):
    save_dataset(make_dataset(), tmp_path / "out-v0")
    assert os.environ["MINARI_DATASETS_PATH"] == str(minari_root)


def test_minari_write_warns_about_unrepresentable_next_observations(tmp_path):
    arrays = make_dataset(next_observations=True).arrays()
    arrays["next_observations"] = arrays["next_observations"] + 1.0
    dataset = Dataset.from_arrays(arrays)
    with pytest.warns(UserWarning, match="next_observations"):
        save_dataset(dataset, tmp_path / "lossy-v0")


def test_unknown_minari_id_names_the_id_and_the_root(minari_root):
    with pytest.raises(DatasetError) as error:
        load_dataset("nothing/here-v0")
    assert "nothing/here-v0" in str(error.value) and str(minari_root) in str(error.value)


# ------------------------------------------------------------ dispatching
def test_nonexistent_path_names_the_path(tmp_path):
    with pytest.raises(DatasetError, match="missing.npz"):
        load_dataset(tmp_path / "missing.npz")


def test_unknown_suffix_and_plain_directory_are_refused(tmp_path):
    (tmp_path / "data.csv").write_text("1,2,3\n")
    with pytest.raises(DatasetError, match=r"data.csv.*\.npz, \.hdf5 or \.h5"):
        load_dataset(tmp_path / "data.csv")
    with pytest.raises(DatasetError, match="Minari dataset directory"):
        load_dataset(tmp_path)
    with pytest.raises(DatasetError, match="data.csv"):
        save_dataset(make_dataset(), tmp_path / "data.csv")
    with pytest.raises(DatasetError, match="format"):
        save_dataset(make_dataset(), tmp_path / "x.npz", format="parquet")


# ------------------------------------------------------------ atomic writes
def failing_writer(dataset, path):
    with open(path, "wb") as file:
        file.write(b"half a file")
    raise RuntimeError("killed midway")


@pytest.mark.parametrize("module, writer, name", [(npz_io, "write_npz", "data.npz"),
                                                  (hdf5_io, "write_hdf5", "data.hdf5")])
def test_failed_file_write_leaves_the_destination_untouched(tmp_path, monkeypatch,
                                                            module, writer, name):
    original = make_dataset()
    path = save_dataset(original, tmp_path / name)
    before = path.read_bytes()
    monkeypatch.setattr(module, writer, failing_writer)
    with pytest.raises(RuntimeError, match="killed midway"):
        save_dataset(make_dataset(next_observations=True), path)
    assert path.read_bytes() == before
    assert leftovers(tmp_path, name) == []
    monkeypatch.undo()
    assert_same_arrays(original, load_dataset(path))


def test_failed_write_to_a_new_path_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(npz_io.np, "savez", lambda file, **arrays: failing_writer(None, file.name))
    with pytest.raises(RuntimeError):
        save_dataset(make_dataset(), tmp_path / "new.npz")
    assert os.listdir(tmp_path) == []


def test_failed_minari_write_leaves_the_destination_untouched(tmp_path, monkeypatch):
    import minari
    original = make_dataset()
    path = save_dataset(original, tmp_path / "data-v0")
    real_create = minari.create_dataset_from_buffers

    def create_then_die(*args, **kwargs):
        real_create(*args, **kwargs)
        raise RuntimeError("killed midway")

    monkeypatch.setattr(minari, "create_dataset_from_buffers", create_then_die)
    with pytest.raises(RuntimeError, match="killed midway"):
        save_dataset(make_dataset(next_observations=True), path)
    assert leftovers(tmp_path, "data-v0") == []
    assert_same_arrays(original, load_dataset(path))


def test_minari_save_refuses_to_replace_a_foreign_directory(tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(FileExistsError, match="photos"):
        save_dataset(make_dataset(), foreign)
    assert os.listdir(foreign) == ["cat.jpg"]
    assert leftovers(tmp_path, "photos") == []


def test_minari_root_defaults_like_minari(tmp_path, monkeypatch):
    from minari.storage.datasets_root_dir import get_dataset_path
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)
    assert minari_io.datasets_root() == get_dataset_path()


def test_an_atomic_write_leaves_the_permissions_a_plain_write_would(tmp_path):
    """A file onemode writes atomically gets the mode open() gives under the umask (a
    temporary file from mkstemp would leave it readable by its owner alone)."""
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    path = save_dataset(make_dataset(), tmp_path / "data.npz")
    assert os.stat(path).st_mode & 0o777 == os.stat(plain).st_mode & 0o777
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
