"""The import layers of DESIGN.md's layout: every module imports only its own layer or
those below it, with no circle. Imports inside functions count: a lazy import is still
a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import onemode

PACKAGE = Path(onemode.__file__).parent

# top to bottom; a module is placed by its first name below onemode/
LAYERS = [
    {"cli"},
    {"bench"},
    {"train", "render", "export", "figures", "distributed", "components"},
    {"evaluate"},
    {"tasks", "targets"},
    {"policy", "behaviour"},
    {"runs"},
    {"data"},
    {"envs"},
    {"algos", "presets"},
    {"nets"},
    {"errors", "fileio", "parallel", "aggregate", "policy_forward"},
]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The onemode modules `path` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("onemode")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("onemode"):
            # `from onemode.algos import lom` imports the module onemode.algos.lom
            found |= {f"{node.module}.{alias.name}" if _is_module(f"{node.module}.{alias.name}")
                      else node.module for alias in node.names}
    return found


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def layer(module: str) -> str:
    return module.split(".")[1] if module != "onemode" else "onemode"


GRAPH = {module_name(path): imports_of(path) for path in PACKAGE.rglob("*.py")
         if module_name(path) != "onemode"}  # the package root re-exports load_policy lazily


def test_every_module_has_a_layer():
    unplaced = sorted({layer(module) for module in GRAPH} - set(LEVEL))
    assert not unplaced, f"modules in no layer of LAYERS: {unplaced}"


def test_no_module_imports_a_higher_layer():
    upward = sorted(f"{module} imports {target}" for module, targets in GRAPH.items()
                    for target in targets
                    if target != "onemode" and LEVEL[layer(target)] < LEVEL[layer(module)])
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)


def test_no_import_circle():
    state: dict[str, str] = {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == "open":
                cycle = path[path.index(target):] + [target]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


def test_the_layer_test_sees_an_upward_import(tmp_path):
    """The check can fail: a data module that imports the tasks is caught."""
    fake = tmp_path / "spec.py"
    fake.write_text("def f():\n    from onemode.tasks import get_task\n")
    assert "onemode.tasks" in imports_of(fake)
    assert LEVEL[layer("onemode.tasks")] < LEVEL[layer("onemode.data.spec")]
