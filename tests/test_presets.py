"""Per-dataset settings as files: the authors' LOM table, row by row."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

from onemode.cli import main
from onemode.data import Dataset, save_dataset
from onemode.errors import ConfigError
from onemode.presets import PRESET_DIR, all_presets, configure, find_preset

# github.com/MianchuWang/LOM, agents/lom.py, hyperparams: (num_mixtures, K, beta) per row
AUTHORS_ROWS = {"hopper-medium-replay": (5, 1, 5), "walker2d-medium-replay": (10, 1, 5),
                "hopper-medium-expert": (2, 6, 0.1), "halfcheetah-medium": (2, 1, 5)}
D4RL = [f"{env}-{kind}" for env in ("halfcheetah", "hopper", "walker2d")
        for kind in ("random", "medium", "expert", "medium-expert", "medium-replay",
                     "full-replay")]


def test_every_preset_file_names_its_source_and_sets_only_options_its_algorithm_has():
    assert all_presets(), "no preset file found"
    for preset in all_presets():
        assert preset.source and preset.path.parent == PRESET_DIR
        options = set(configure(preset.algo, {})[0].to_dict())
        for dataset, row in [(None, preset.common), *preset.rows.items()]:
            assert set(row) <= options, (preset.path, dataset)
            configure(preset.algo, {}, preset.name, dataset)  # valid values on every row


def test_the_authors_preset_holds_their_rows_in_onemodes_units():
    preset = find_preset("lom", "authors")
    # their 15 datasets: every D4RL locomotion set but the random ones
    assert sorted(preset.rows) == sorted(d for d in D4RL if not d.endswith("random"))
    for dataset, (m, k, their_beta) in AUTHORS_ROWS.items():
        config, note = configure("lom", {}, "authors", dataset)
        assert (config.n_components, config.n_critics) == (m, k), dataset
        assert config.beta == pytest.approx(1 / their_beta)  # their exp(beta A) is exp(A / beta)
        assert f"row for {dataset}" in note


def test_data_without_a_row_takes_what_all_rows_share_and_says_so():
    preset = find_preset("lom", "authors")
    config, note = configure("lom", {}, "authors", "my-robot-log")
    assert "no row for my-robot-log" in note and "common to all rows" in note
    shared = preset.shared_by_all_rows()
    for option, value in {**preset.common, **shared}.items():
        expected = tuple(value) if isinstance(value, list) else value
        assert getattr(config, option) == expected, option
    # M varies from row to row: it stays onemode's default
    assert "n_components" not in shared and config.n_components == 10


def test_a_preset_file_that_is_not_one_is_refused_naming_it(tmp_path):
    from onemode.presets import _read
    path = tmp_path / "broken.toml"
    path.write_text('algo = "lom"\nname = "x"\n')
    with pytest.raises(ConfigError, match="broken.toml: not a preset file"):
        _read(path)
    path.write_text("algo = [")
    with pytest.raises(ConfigError, match="broken.toml"):
        _read(path)
    tomllib.loads((PRESET_DIR / "lom-authors.toml").read_text())  # the shipped one parses


@pytest.mark.parametrize("dataset, m", [("hopper-medium-replay-v2", 5),
                                        ("walker2d-medium-replay-v2", 10)])
def test_train_with_the_authors_preset_takes_the_files_row(tmp_path, capsys, dataset, m):
    """A user's D4RL file named as D4RL names it gets the authors' row for that dataset."""
    rng = np.random.default_rng(0)
    n, obs_dim, act_dim = 40, 11 if dataset.startswith("hopper") else 17, 3 if \
        dataset.startswith("hopper") else 6
    path = save_dataset(Dataset.from_arrays({
        "observations": rng.normal(size=(n, obs_dim)), "actions": rng.uniform(-1, 1, (n, act_dim)),
        "rewards": rng.normal(size=n), "terminals": np.arange(n) == n - 1,
        "timeouts": np.zeros(n, bool)}), tmp_path / f"{dataset}.hdf5")
    out = tmp_path / "run"
    assert main(["train", "--algo", "lom", "--preset", "authors", "--dataset", str(path),
                 "--steps", "2", "--set", "hidden=8,8", "--set", "mdn_hidden=8,8",
                 "--set", "mdn_steps=2", "--set", "batch_size=8",
                 "--set", "hyper_q_batch_size=16", "--log-every", "1", "--no-progress",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"preset authors: lom's row for {dataset[:-3]} (n_components {m}" in printed
    record = json.loads((out / "config.json").read_text())
    assert record["algo_config"]["n_components"] == m
    assert record["algo_config"]["hidden"] == [8, 8]  # --set over the preset


def test_presets_command_lists_and_shows(capsys):
    assert main(["presets"]) == 0
    listing = capsys.readouterr().out
    assert "lom/authors" in listing and "github.com/MianchuWang/LOM" in listing
    assert main(["presets", "lom/authors"]) == 0
    shown = capsys.readouterr().out
    assert "hopper-full-replay" in shown and "n_components=10" in shown
    assert main(["presets", "lom/nothing"]) == 1
    assert "no preset 'lom/nothing'" in capsys.readouterr().err
