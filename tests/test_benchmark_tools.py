"""The reusable tools in benchmarks/: each runs at tiny sizes through its `main(argv)`.

Every tool gets a smoke test here (a new script in benchmarks/ without one fails
`test_every_tool_has_a_smoke_test`), and imports from onemode only the names a module
lists in its `__all__`. The recorded figures come from the default sizes; these runs
only check that each tool still works and prints what it claims.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # the tools import each other as top-level modules

TOOLS = {"eval_speed", "fetch_endings", "fetch_reference", "locomotion_datasets", "lom_parts",
         "lom_speed", "update_fingerprint"}


def _tool(name: str):
    return importlib.import_module(name)


def _cli(argv: list[str]) -> None:
    from onemode.cli import main

    assert main(argv) in (0, None), argv


def test_every_tool_has_a_smoke_test():
    assert {path.stem for path in BENCHMARKS.glob("*.py")} == TOOLS


def _onemode_imports(path: Path):
    """(module, name) for every `from onemode... import name`; `import onemode...` as (module, None)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "onemode":
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "onemode":
                    yield alias.name, None


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_tool_imports_only_public_names(tool):
    imports = list(_onemode_imports(BENCHMARKS / f"{tool}.py"))
    assert imports, f"{tool}.py imports nothing from onemode"
    for module_name, name in imports:
        assert name is not None, f"{tool}.py: `import {module_name}`: import names from it instead"
        module = importlib.import_module(module_name)
        public = getattr(module, "__all__", None)
        assert public is not None, f"{tool}.py imports from {module_name}, which has no __all__"
        assert name in public, f"{tool}.py imports {name} from {module_name}, not in its __all__"


def test_the_import_check_can_fail(tmp_path):
    script = tmp_path / "tool.py"
    script.write_text("import onemode.nets\nfrom onemode.algos import lom\n")
    assert list(_onemode_imports(script)) == [("onemode.nets", None), ("onemode.algos", "lom")]
    assert "lom" not in importlib.import_module("onemode.algos").__all__


def _rows(text: str, pattern: str) -> list[re.Match]:
    return [m for m in (re.match(pattern, line) for line in text.splitlines()) if m]


def test_lom_speed_measures_the_update(capsys):
    _tool("lom_speed").main(["--updates", "2", "--hidden", "16,16", "--rows", "1000",
                             "--only", "paper"])
    out = capsys.readouterr().out
    assert re.search(r"matmul peak \(2048\^2 float32\): \d+ GFLOP/s", out), out
    rows = _rows(out, r"paper \(K=10 samples\)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)%")
    assert len(rows) == 1, out
    updates_per_s, gflop = float(rows[0][1]), float(rows[0][2])
    assert updates_per_s > 0 and gflop > 0
    assert "MDN phase" not in out and "authors'" not in out  # --only


def test_lom_speed_times_each_algorithm(capsys):
    _tool("lom_speed").main(["--updates", "2", "--hidden", "16,16", "--rows", "1000",
                             "--algos", "td3bc,rebrac"])
    out = capsys.readouterr().out
    rows = _rows(out, r"(td3bc|rebrac)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)%")
    assert [row[1] for row in rows] == ["td3bc", "rebrac"], out
    assert all(float(row[2]) > 0 and float(row[3]) > 0 for row in rows)


def test_lom_speed_wall_clock(capsys):
    _tool("lom_speed").main(["--wall-clock", "--updates", "20", "--chunk", "10", "--cap", "0",
                             "--only", "td3bc", "--hidden", "16,16", "--rows", "1000"])
    rows = _rows(capsys.readouterr().out, r"td3bc\s+(\d+)\s+([\d.]+)\s+([\d,]+)\s+([\d.]+)\s+(\d+)")
    assert len(rows) == 1
    assert int(rows[0][1]) == 20  # both chunks ran: the steady rate needs a second
    assert float(rows[0][3].replace(",", "")) > 0


def test_eval_speed_times_the_same_episodes_three_ways(capsys):
    _tool("eval_speed").main(["--env", "Hopper-v5", "--seeds", "2", "--episodes", "2",
                              "--hidden", "16,16"])
    out = capsys.readouterr().out
    header = re.search(r"Hopper-v5: 2 seeds x 2 episodes, (\d+) steps \(episode lengths (\d+)-(\d+)\)",
                       out)
    assert header, out
    steps, shortest, longest = map(int, header.groups())
    assert 4 * shortest <= steps <= 4 * longest
    for label in ("evaluation (policy + environments)", "the same episodes, env.step alone",
                  "the same steps, mujoco.mj_step alone"):
        assert re.search(re.escape(label) + r"\s+\d+\.\d\d s", out), label


def test_locomotion_datasets_row(tmp_path, capsys):
    """A file already there is described, not generated; a rerun reads the finished row."""
    from onemode.data import Dataset, save_dataset

    rng = np.random.default_rng(0)
    n, length = 2000, 50   # 40 episodes of 50 steps, each ending in a terminal
    save_dataset(Dataset.from_arrays({
        "observations": rng.normal(size=(n, 11)),
        "actions": np.clip(rng.normal(0.3, 0.3, size=(n, 3)), -1, 1),
        "rewards": np.ones(n),
        "terminals": (np.arange(n) % length) == length - 1,
        "timeouts": np.zeros(n, bool),
    }, source="synthetic"), tmp_path / "hopper-medium-replay-2000.npz")
    argv = ["--datasets", "hopper-medium-replay", "--size", "2000", "--mdn-steps", "20",
            "--out", str(tmp_path)]
    tool = _tool("locomotion_datasets")
    tool.main(argv)
    first = capsys.readouterr().out
    rows = _rows(first, r"\| hopper-medium-replay \| 2,000 \| 40 \| 50 ± 0 \| \S+ ± \S+ \| "
                        r"not timed \(file there before\) \| (\S+) \| (\S+) \| (\S+) \|")
    assert len(rows) == 1, first
    nll_1, nll_10, gap = map(float, rows[0].groups())
    assert np.isfinite([nll_1, nll_10]).all() and gap == pytest.approx(nll_1 - nll_10, abs=0.011)
    assert (tmp_path / "hopper-medium-replay-2000.row.json").exists()
    tool.main(argv)
    assert capsys.readouterr().out == first


def test_fetch_reference_matches_the_recorded_expert(capsys):
    from onemode.tasks import get_task

    _tool("fetch_reference").main(["--episodes", "3", "--kinds", "reach"])
    out = capsys.readouterr().out
    returns = {m[1]: float(m[2]) for m in _rows(out, r"fetch-reach-4goal\s+(expert|random) "
                                                     r"return\s+([-\d.]+)")}
    assert set(returns) == {"expert", "random"}, out
    assert returns["expert"] == pytest.approx(get_task("fetch-reach-4goal").expert_return, abs=3)
    assert returns["random"] < 10


@pytest.fixture(scope="module")
def fetch_bc_runs(tmp_path_factory):
    """A bench-shaped folder OUT/runs/TASK holding one tiny BC run on fetch-reach-4goal."""
    task_runs = tmp_path_factory.mktemp("fetch") / "runs" / "fetch-reach-4goal"
    _cli(["train", "--algo", "bc", "--task", "fetch-reach-4goal", "--size", "2000",
          "--steps", "20", "--eval-every", "20", "--eval-episodes", "1", "--seeds", "0,1",
          "--set", "hidden=16,16", "--no-progress", "--out", str(task_runs / "bc")])
    return task_runs


def test_fetch_endings_counts_every_episode(fetch_bc_runs, capsys):
    _tool("fetch_endings").main([str(fetch_bc_runs), "--episodes", "3"])
    rows = _rows(capsys.readouterr().out,
                 r"bc\s+([-\d.]+) ±\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$")
    assert len(rows) == 1
    assert sum(int(rows[0][i]) for i in range(3, 8)) == 2 * 3  # 2 seeds x 3 episodes


@pytest.fixture(scope="module")
def lom_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lom") / "run"
    _cli(["train", "--algo", "lom", "--task", "multigoal", "--size", "2000", "--steps", "20",
          "--eval-every", "20", "--eval-episodes", "1", "--seeds", "0,1", "--set", "hidden=16,16",
          "--set", "mdn_steps=20", "--set", "n_components=3", "--set", "batch_size=32",
          "--no-progress", "--out", str(out)])
    return out


def test_lom_parts_rolls_out_each_part(lom_run, capsys):
    _tool("lom_parts").main([str(lom_run), "--episodes", "2", "--critic-pick",
                             "--min-mode-weights", "0.6"])
    out = capsys.readouterr().out
    rows = {m[1].strip(): m[2] for m in _rows(out, r"(\S+(?: \S+)*)\s{2,}([-\d.]+ ±\s+[\d.]+\s+.*)$")}
    assert set(rows) == {"actor", "greedy mode", "greedy, a>=0.6", "heaviest mode",
                         "critic mode"}, out
    # above 0.5 only the heaviest component is eligible: the same policy, the same rollouts
    assert rows["greedy, a>=0.6"] == rows["heaviest mode"]


def test_lom_parts_refuses_another_algorithm(fetch_bc_runs):
    with pytest.raises(SystemExit):
        _tool("lom_parts").main([str(fetch_bc_runs / "bc")])


def test_update_fingerprint_compares(tmp_path, capsys):
    tool = _tool("update_fingerprint")
    before = tmp_path / "before.json"
    argv = ["--only", "bc", "--steps", "5", "--pre-steps", "2"]
    assert tool.main(argv + ["--out", str(before)]) == 0
    prints = json.loads(before.read_text())
    assert list(prints) == ["bc"] and re.fullmatch(r"[0-9a-f]{16}", prints["bc"])
    assert tool.main(argv + ["--compare", str(before)]) == 0
    assert "1 of 1 identical" in capsys.readouterr().out
    before.write_text(json.dumps({"bc": "0" * 16}))
    assert tool.main(argv + ["--compare", str(before)]) == 1
    assert "changed: bc" in capsys.readouterr().out
