"""Bad inputs: each fails with a DatasetError naming the file, the key and the row."""

import os

import h5py
import numpy as np
import pytest

from onemode.data import load_dataset, save_dataset
from onemode.errors import DatasetError
from onemode.data.dataset import Dataset

N = 12


def good_arrays():
    rng = np.random.default_rng(0)
    return {"observations": rng.normal(size=(N, 3)),
            "actions": rng.uniform(-1, 1, (N, 2)),
            "rewards": rng.normal(size=N),
            "terminals": np.isin(np.arange(N), [4]),
            "timeouts": np.isin(np.arange(N), [9])}


def write(path, arrays):
    """Write `arrays` as they are (no validation) in the format of `path`'s suffix."""
    if path.suffix == ".npz":
        np.savez(path, **arrays)
    else:
        with h5py.File(path, "w") as file:
            for key, value in arrays.items():
                file[key] = value
    return path


def load_error(path, **kwargs) -> DatasetError:
    with pytest.raises(DatasetError) as error:
        load_dataset(path, **kwargs)
    assert str(path) in str(error.value)  # every message names the file
    assert error.value.source == str(path)
    return error.value


@pytest.fixture(params=["data.npz", "data.hdf5"])
def path(request, tmp_path):
    return tmp_path / request.param


# ------------------------------------------------------------- contents
def test_missing_key(path):
    arrays = good_arrays()
    del arrays["rewards"]
    error = load_error(write(path, arrays))
    assert error.key == "rewards"
    assert "key 'rewards'" in str(error) and "missing" in str(error)


def test_arrays_of_different_lengths(path):
    arrays = good_arrays()
    arrays["actions"] = arrays["actions"][:-2]
    error = load_error(write(path, arrays))
    assert error.key == "actions"
    message = str(error)
    assert "key 'actions'" in message and f"{N} rows" in message and f"{N - 2} rows" in message


def test_nan(path):
    arrays = good_arrays()
    arrays["observations"][7, 1] = np.nan
    error = load_error(write(path, arrays))
    assert (error.key, error.row) == ("observations", 7)
    assert "key 'observations', row 7" in str(error) and "finite" in str(error)


@pytest.mark.parametrize("key, row, value", [("rewards", 3, np.inf),
                                             ("next_observations", 5, -np.inf)])
def test_infinite_values(path, key, row, value):
    arrays = good_arrays()
    arrays["next_observations"] = arrays["observations"].copy()
    arrays[key][row] = value
    error = load_error(write(path, arrays))
    assert (error.key, error.row) == (key, row)
    assert f"key '{key}', row {row}" in str(error) and "inf" in str(error)


def test_actions_outside_unit_box(path):
    arrays = good_arrays()
    arrays["actions"][6] = [1.5, -0.2]
    error = load_error(write(path, arrays))
    assert (error.key, error.row) == ("actions", 6)
    assert "key 'actions', row 6" in str(error) and "[-1, 1]" in str(error)
    assert "1.5" in str(error)


def test_action_bounds_rescale_instead_of_clipping(path):
    arrays = good_arrays()
    native = np.random.default_rng(1).uniform(-2, 2, (N, 2))
    native[6] = [1.5, -2.0]
    arrays["actions"] = native
    dataset = load_dataset(write(path, arrays), action_bounds=(-2.0, 2.0))
    np.testing.assert_allclose(dataset.actions, native / 2.0, rtol=1e-6)
    np.testing.assert_allclose(dataset.actions[6], [0.75, -1.0])  # not clipped to 1
    assert any("rescaled" in note for note in dataset.notes)


def test_per_dimension_action_bounds(path):
    arrays = good_arrays()
    low, high = np.array([0.0, -1.0]), np.array([10.0, 3.0])
    native = np.random.default_rng(2).uniform(low, high, (N, 2))
    arrays["actions"] = native
    dataset = load_dataset(write(path, arrays), action_bounds=(low, high))
    np.testing.assert_allclose(dataset.actions, 2 * (native - low) / (high - low) - 1,
                               atol=1e-6)


def test_actions_outside_the_declared_bounds_are_still_an_error(path):
    arrays = good_arrays()
    arrays["actions"][2] = [2.5, 0.0]
    error = load_error(write(path, arrays), action_bounds=(-2.0, 2.0))
    assert (error.key, error.row) == ("actions", 2)


def test_no_complete_episode(path):
    arrays = good_arrays()
    arrays["terminals"][:] = False
    arrays["timeouts"][:] = False
    error = load_error(write(path, arrays))
    assert error.key == "terminals/timeouts"
    assert "complete episode" in str(error)


def test_flags_that_are_not_zero_or_one(path):
    arrays = good_arrays()
    arrays["terminals"] = arrays["terminals"].astype(np.float32)
    arrays["terminals"][8] = 0.5
    error = load_error(write(path, arrays))
    assert (error.key, error.row) == ("terminals", 8)


def test_strings_in_observations(path):
    arrays = good_arrays()
    arrays["observations"] = np.array([["a", "b", "c"]] * N)
    if path.suffix != ".npz":
        arrays["observations"] = arrays["observations"].astype("S1")
    error = load_error(write(path, arrays))
    assert error.key == "observations"
    assert "key 'observations'" in str(error) and "numeric" in str(error)


def test_object_array_in_npz_is_refused_not_unpickled(tmp_path):
    arrays = good_arrays()
    arrays["observations"] = np.array([[1.0, "x", None]] * N, dtype=object)
    error = load_error(write(tmp_path / "data.npz", arrays))
    assert error.key == "observations" and "object" in str(error)


def test_a_group_where_an_array_is_expected(tmp_path):
    path = tmp_path / "data.hdf5"
    arrays = good_arrays()
    del arrays["actions"]
    write(path, arrays)
    with h5py.File(path, "a") as file:
        file["actions/0"] = np.zeros(N)
    error = load_error(path)
    assert error.key == "actions" and "Group" in str(error)


def test_wrong_number_of_columns_in_next_observations(path):
    arrays = good_arrays()
    arrays["next_observations"] = np.zeros((N, 4))
    error = load_error(write(path, arrays))
    assert error.key == "next_observations" and "3 columns" in str(error)


def test_in_memory_errors_name_the_given_source():
    arrays = good_arrays()
    arrays["rewards"][1] = np.nan
    with pytest.raises(DatasetError, match=r"^buffer, key 'rewards', row 1: expected finite"):
        Dataset.from_arrays(arrays, source="buffer")


# ------------------------------------------------------ unreadable files
def good_file(path):
    return save_dataset(Dataset.from_arrays(good_arrays()), path)


def cut_in_half(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def assert_unreadable(path, fmt, **kwargs):
    error = load_error(path, **kwargs)
    assert f"a readable {fmt}" in str(error)
    assert error.key is None and error.row is None


def test_truncated_hdf5(tmp_path):
    assert_unreadable(cut_in_half(good_file(tmp_path / "data.hdf5")), "HDF5 file")


def test_truncated_npz(tmp_path):
    assert_unreadable(cut_in_half(good_file(tmp_path / "data.npz")), ".npz file")


@pytest.mark.parametrize("name, fmt", [("data.npz", ".npz file"), ("data.h5", "HDF5 file"),
                                       ("data.hdf5", "HDF5 file")])
def test_empty_file(tmp_path, name, fmt):
    path = tmp_path / name
    path.write_bytes(b"")
    assert_unreadable(path, fmt)


@pytest.mark.parametrize("name, fmt", [("data.npz", ".npz file"), ("data.hdf5", "HDF5 file")])
def test_corrupt_file_of_random_bytes(tmp_path, name, fmt):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(3).bytes(4096))
    assert_unreadable(path, fmt)


def test_npz_with_a_corrupt_member(tmp_path):
    path = good_file(tmp_path / "data.npz")
    data = bytearray(path.read_bytes())
    member = data.find(b"observations.npy")
    data[member + 200] ^= 0xFF  # inside the stored array: its CRC no longer matches
    path.write_bytes(bytes(data))
    assert_unreadable(path, ".npz file")


def test_a_single_npy_is_not_an_npz(tmp_path):
    path = tmp_path / "data.npz"
    with open(path, "wb") as file:
        np.save(file, np.zeros(3))
    error = load_error(path)
    assert "single .npy array" in str(error)


def test_minari_dataset_with_truncated_data(tmp_path):
    path = good_file(tmp_path / "data-v0")
    cut_in_half(path / "data" / "main_data.hdf5")
    assert_unreadable(path, "Minari dataset")


def test_minari_dataset_with_corrupt_metadata(tmp_path):
    path = good_file(tmp_path / "data-v0")
    (path / "data" / "metadata.json").write_text("{not json")
    assert_unreadable(path, "Minari dataset")


def test_file_read_with_the_wrong_format(tmp_path):
    path = good_file(tmp_path / "data.hdf5")
    os.rename(path, tmp_path / "data.npz")
    assert_unreadable(tmp_path / "data.npz", ".npz file")
