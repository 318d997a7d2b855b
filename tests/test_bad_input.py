"""Bad input across the commands: each case is refused in one line that names what is
wrong and what was expected, with a non-zero exit, no traceback, and nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from onemode.cli import main
from onemode.data import Dataset, save_dataset

OLD_RUN = Path(__file__).parent / "data" / "old-runs" / "lom-multigoal"

# (arguments, words the one-line message must hold); RUN: a trained multigoal run, HOP: an
# HDF5 file of Hopper's sizes that records no environment, BROKEN: an incomplete Minari dir
CASES = [
    # files that do not fit the environment, environments that do not exist
    ("train --dataset HOP --env HalfCheetah-v5", "17 columns, as environment 'HalfCheetah-v5'"),
    ("train --dataset HOP --env NoSuchEnv-v0", "environment 'NoSuchEnv-v0' cannot be made"),
    ("eval RUN --env Hopper-v5", "'Hopper-v5' observes 11 numbers"),
    ("eval RUN --env NoSuchEnv-v0", "'NoSuchEnv-v0' cannot be made"),
    ("bench --dataset HOP --env HalfCheetah-v5 --algos bc", "17 columns"),
    # reference scores that make no sense
    ("train --dataset HOP --env Hopper-v5 --ref-min 10 --ref-max 5", "max must exceed its min"),
    ("train --dataset HOP --env Hopper-v5 --ref-min 0 --ref-max inf", "must be finite"),
    ("train --dataset HOP --env Hopper-v5 --ref-min nan --ref-max 5", "must be finite"),
    ("train --dataset HOP --env Hopper-v5 --ref-min 0", "both --ref-min and --ref-max"),
    ("train --dataset HOP --ref-min 0 --ref-max 1", "need an environment"),
    ("eval RUN --env Hopper-v5 --ref-min 3 --ref-max 1", "max must exceed"),
    # Minari directories that are incomplete, files that are not there
    ("data info BROKEN", "no BROKEN/main_data.hdf5"),
    ("train --dataset BROKEN", "data/main_data.hdf5"),
    ("data info nothing.hdf5", "no such file, directory or dataset id"),
    # action bounds that make no sense
    ("train --dataset HOP --action-low 1 --action-high -1", "high > low"),
    ("train --dataset HOP --action-low=nan --action-high 1", "finite action bounds"),
    ("train --dataset HOP --action-low=-inf --action-high=inf", "finite action bounds"),
    ("train --dataset HOP --action-low 0", "both --action-low and --action-high"),
    ("data info HOP --action-low 2 --action-high 1", "high > low"),
    ("train --dataset HOP --env Hopper-v5 --action-low -2 --action-high 2",
     "not those of environment 'Hopper-v5'"),
    # malformed seed lists
    ("train --task bandit --seeds a,b", "comma-separated integers"),
    ("train --task bandit --seeds 0,,1", "comma-separated integers"),
    ("train --task bandit --seeds 1.5", "comma-separated integers"),
    ("train --task bandit --seeds 0,0", "seeds repeat"),
    ("train --task bandit --seeds -1", "seeds must be integers in [0, 2^31)"),
    ("train --task bandit --seeds 4294967296", "seeds must be integers in [0, 2^31)"),
    ("bench --tasks bandit --algos bc --seeds 0", "--seeds must be >= 1"),
    # export requests that cannot be met
    ("export RUN --format onnx --out policy.npz", "does not end in .onnx"),
    ("export RUN --format npz --seed-index 7", "seed index 7 out of range"),
    ("export RUN --format npz --out /proc/no-such-dir/policy.npz", "cannot write"),
    ("export no-such-run --format npz", "not a run directory"),
    # bench specifications that name unknown things, or nothing
    ("bench --tasks nope --algos bc", "unknown task 'nope'"),
    ("bench --tasks bandit --algos nope", "unknown algorithm 'nope'"),
    ("bench --tasks bandit --algos ,", "give at least one algorithm"),
    ("bench --algos bc", "give --tasks, or --dataset FILE"),
    ("bench --tasks bandit --algos bc --set gamma=1", "none of bc has that option"),
    ("bench --tasks bandit --algos bc --sweep hidden", "--sweep expects OPTION=V1,V2"),
    ("bench --tasks bandit --algos bc --sweep width=1,2", "no option 'width'"),
    ("bench --tasks bandit --algos bc --preset authors", "none of bc has that preset"),
    ("bench --suite locomotion --datasets nope --algos bc", "'nope' is none of"),
    ("bench --dataset HOP --algos bc", "give --env ENV_ID"),
    ("bench --tasks bandit --algos bc --steps 0", "--steps must be >= 1"),
    # data generation targets that do not exist or make no sense
    ("data make nope --out x.npz", "unknown task 'nope'"),
    ("data make bandit --out x.npz --size 0", "--size must be a positive number"),
    ("data make bandit --out x.npz --size -3", "--size must be a positive number"),
    ("data make bandit --out x.txt", "found suffix '.txt'"),
    ("data make bandit --out x.npz --format hdf5", "not one ending in .npz"),
    # evaluation and rendering options out of range
    ("eval RUN --episodes 0", "--episodes must be >= 1"),
    ("eval RUN --episodes -3", "--episodes must be >= 1"),
    ("eval RUN --set act_by=nope", "act_by must be one of"),
    ("eval RUN --set beta=2", "'beta' cannot change after training"),
    ("eval RUN --task nope", "unknown task 'nope'"),
    ("render RUN --episodes 0", "--episodes must be >= 1"),
    ("render RUN --fps 0", "--fps must be > 0"),
    ("render RUN --width 0", "at least 16 pixels"),
    ("render RUN --seed-index 9", "seed_index 9 out of range"),
    ("train --task bandit --eval-episodes 0", "eval_episodes must be >= 1"),
    ("train --task bandit --eval-every 0", "eval_every must be >= 1"),
    ("train --task bandit --steps -1", "steps must be >= 0"),
    ("train --task bandit --size 0", "size must be a positive number"),
    # options and presets
    ("train --task bandit --set hidden=0", "hidden must be at least one positive width"),
    ("train --task bandit --set nope", "--set expects OPTION=VALUE"),
    ("train --task bandit --preset nope", "no preset 'nope' for lom"),
    ("presets lom/nope", "no preset 'lom/nope'"),
]


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    shutil.copytree(OLD_RUN, root / "run")
    rng = np.random.default_rng(0)
    n = 50
    save_dataset(Dataset.from_arrays({
        "observations": rng.normal(size=(n, 11)), "actions": rng.uniform(-1, 1, (n, 3)),
        "rewards": rng.normal(size=n), "terminals": np.arange(n) == n - 1,
        "timeouts": np.zeros(n, bool)}), root / "hop.hdf5")
    (root / "broken" / "data").mkdir(parents=True)
    (root / "broken" / "metadata.json").write_text("{}")
    return root


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


@pytest.mark.parametrize("command, words", CASES, ids=[c for c, _ in CASES])
def test_bad_input_is_refused_in_one_line_and_writes_nothing(command, words, places, tmp_path,
                                                             monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    names = {"RUN": str(places / "run"), "HOP": str(places / "hop.hdf5"),
             "BROKEN": str(places / "broken")}
    argv = [names.get(word, word) for word in command.split()]
    before = _tree(places), _tree(tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0, command
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("onemode: error: "), err
    assert words.replace("BROKEN", "broken") in lines[0], (command, lines[0])
    assert (_tree(places), _tree(tmp_path)) == before, f"{command} wrote something"
