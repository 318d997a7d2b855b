"""The data contract: episode structure, next actions, normalisation, sampling."""

import jax
import numpy as np
import pytest

from onemode.data import Dataset, NormStats, sample, split_holdout, to_device

# Rows 0-2: episode ending in a terminal; 3-5: ending in a timeout;
# 6-7: ending in a terminal; 8-9: incomplete trailing episode.
TERMINAL_ROWS, TIMEOUT_ROWS, N = (2, 7), (5,), 10
ENDS = (2, 5, 7)


def episode_arrays():
    rows = np.arange(N, dtype=np.float32)
    terminals = np.isin(np.arange(N), TERMINAL_ROWS)
    timeouts = np.isin(np.arange(N), TIMEOUT_ROWS)
    return {"observations": np.stack([rows, 10 + rows, rows ** 2], axis=1),
            "actions": np.stack([rows / 10, -rows / 10], axis=1),
            "rewards": rows, "terminals": terminals, "timeouts": timeouts}


@pytest.fixture
def dataset():
    return Dataset.from_arrays(episode_arrays(), source="episodes")


def continues(row):
    """Row `row` has a successor in the same episode."""
    return row not in ENDS and row != N - 1


def test_episode_slices_include_the_incomplete_trailing_episode(dataset):
    assert dataset.episode_slices == [slice(0, 3), slice(3, 6), slice(6, 8), slice(8, 10)]
    assert dataset.num_complete_episodes == 3
    assert dataset.summary()["incomplete_trailing_rows"] == 2


def test_episode_returns_cover_complete_episodes_only(dataset):
    np.testing.assert_array_equal(dataset.episode_returns, [0 + 1 + 2, 3 + 4 + 5, 6 + 7])


def test_has_next_action_is_false_at_every_episode_end_and_the_last_row(dataset):
    expected = [continues(row) for row in range(N)]
    assert dataset.has_next_action.tolist() == expected
    assert dataset.has_next_action.tolist() == [True, True, False, True, True, False,
                                                True, False, True, False]


def test_next_actions_never_come_from_the_next_episode(dataset):
    for row in range(N):
        if continues(row):
            np.testing.assert_array_equal(dataset.next_actions[row], dataset.actions[row + 1])
        else:
            np.testing.assert_array_equal(dataset.next_actions[row], [0.0, 0.0])
    for end in ENDS:  # the first action of the following episode is not borrowed
        assert not np.array_equal(dataset.next_actions[end], dataset.actions[end + 1])


def test_derived_next_observations_follow_the_episode(dataset):
    assert "next_observations derived from the episode structure" in dataset.notes
    for row in range(N):
        successor = row + 1 if continues(row) else row  # own observation stands in at ends
        np.testing.assert_array_equal(dataset.next_observations[row],
                                      dataset.observations[successor])


def test_given_next_observations_are_kept_as_stored():
    arrays = episode_arrays()
    arrays["next_observations"] = arrays["observations"] + 0.5
    dataset = Dataset.from_arrays(arrays)
    np.testing.assert_array_equal(dataset.next_observations, arrays["observations"] + 0.5)
    assert not any("derived" in note for note in dataset.notes)


def test_a_row_both_terminal_and_timeout_ends_one_episode():
    arrays = episode_arrays()
    arrays["timeouts"][2] = True
    dataset = Dataset.from_arrays(arrays)
    assert dataset.num_complete_episodes == 3
    assert dataset.episode_slices[0] == slice(0, 3)


def test_arrays_are_cast_to_the_contract_dtypes(dataset):
    assert dataset.observations.dtype == np.float32
    assert dataset.actions.dtype == np.float32
    assert dataset.rewards.dtype == np.float32
    assert dataset.terminals.dtype == bool and dataset.timeouts.dtype == bool
    assert (dataset.obs_dim, dataset.act_dim, len(dataset)) == (3, 2, N)


# ---------------------------------------------------------------- NormStats
def test_norm_stats_standardise_the_observations():
    rng = np.random.default_rng(0)
    observations = rng.normal([3.0, -2.0, 7.0], [5.0, 0.1, 1.0], size=(500, 3))
    observations[:, 2] = 7.0  # a constant column
    stats = NormStats.of(observations.astype(np.float32))
    normalized = stats.normalize(observations)
    np.testing.assert_allclose(normalized[:, :2].mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(normalized[:, :2].std(axis=0), 1.0, atol=1e-4)
    assert np.all(np.isfinite(normalized))
    np.testing.assert_allclose(normalized[:, 2], 0.0, atol=1e-6)
    assert stats.std[2] > 0


def test_dataset_obs_stats_are_computed_from_its_observations(dataset):
    np.testing.assert_allclose(dataset.obs_stats.mean, dataset.observations.mean(axis=0))
    np.testing.assert_allclose(dataset.obs_stats.std, dataset.observations.std(axis=0),
                               rtol=1e-6)


def test_identity_stats_change_nothing(dataset):
    stats = NormStats.identity(dataset.obs_dim)
    np.testing.assert_array_equal(stats.normalize(dataset.observations), dataset.observations)


# ------------------------------------------------------ device and sampling
def matching_row(observations, observation):
    rows = np.flatnonzero(np.all(np.isclose(observations, observation, atol=1e-6), axis=1))
    assert len(rows) == 1, "a sampled observation is not a row of the dataset"
    return int(rows[0])


def test_to_device_normalises_and_says_which_successors_are_real(dataset):
    data = to_device(dataset)
    stats = dataset.obs_stats
    np.testing.assert_allclose(data.observations, stats.normalize(dataset.observations),
                               atol=1e-6)
    np.testing.assert_allclose(data.next_observations,
                               stats.normalize(dataset.next_observations), atol=1e-6)
    # derived next_observations: real only where the episode goes on in the data
    continuing = [float(continues(row)) for row in range(N)]
    np.testing.assert_array_equal(np.asarray(data.has_next_action), continuing)
    np.testing.assert_array_equal(np.asarray(data.has_next_observation), continuing)
    assert all(leaf.dtype == np.float32 for leaf in jax.tree.leaves(data))


def test_given_next_observations_are_real_successors_even_at_a_time_limit():
    arrays = {**episode_arrays(), "next_observations": np.ones((N, 3), np.float32)}
    data = to_device(Dataset.from_arrays(arrays))
    np.testing.assert_array_equal(np.asarray(data.has_next_observation), np.ones(N))
    np.testing.assert_array_equal(np.asarray(data.has_next_action),
                                  [float(continues(row)) for row in range(N)])


def test_derived_next_observations_are_not_written_back_as_real(dataset, tmp_path):
    """A saved copy re-derives them: the stand-ins at episode ends never become data."""
    from onemode.data import load_dataset, save_dataset
    assert "next_observations" not in dataset.arrays()
    for name in ("copy.npz", "copy.hdf5"):
        copy = load_dataset(save_dataset(dataset, tmp_path / name))
        np.testing.assert_array_equal(copy.has_next_observation, dataset.has_next_observation)
    held_in, held_out = split_holdout(dataset, 0.34, seed=0)
    assert held_out is not None and held_in.next_observations_derived


def test_to_device_with_identity_stats_keeps_raw_observations(dataset):
    data = to_device(dataset, NormStats.identity(dataset.obs_dim))
    np.testing.assert_array_equal(np.asarray(data.observations), dataset.observations)


def test_sample_in_jit_returns_rows_of_the_dataset(dataset):
    data = to_device(dataset)
    draw = jax.jit(sample, static_argnums=2)
    batch = jax.tree.map(np.asarray, draw(data, jax.random.PRNGKey(0), 64))
    host = jax.tree.map(np.asarray, data)
    assert batch.observations.shape == (64, 3) and batch.has_next_action.shape == (64,)
    for i in range(64):
        row = matching_row(host.observations, batch.observations[i])
        for field in batch._fields:
            np.testing.assert_array_equal(getattr(batch, field)[i], getattr(host, field)[row])
    sampled_rows = {matching_row(host.observations, o) for o in batch.observations}
    assert len(sampled_rows) > 5  # really drawn across the dataset


def test_sample_is_determined_by_the_key(dataset):
    data = to_device(dataset)
    draw = jax.jit(sample, static_argnums=2)
    first = draw(data, jax.random.PRNGKey(1), 32)
    again = draw(data, jax.random.PRNGKey(1), 32)
    other = draw(data, jax.random.PRNGKey(2), 32)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.observations, other.observations)
