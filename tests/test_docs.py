"""The documentation's references resolve: paths exist, cited sections are headings, and
the one bench record kept in git still writes the table `docs/results.md` shows."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the folders of the repository a path in the docs can start with (runs/, data/ and .venv/
# are a user's own, and an example's)
REPO_DIRS = ("src", "tests", "benchmarks", "experiments", "reproductions", "docs", ".ci")
PAGES = ["README.md", "benchmarks/README.md", "experiments/README.md",
         *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]
# pages whose sections are cited by title: "(`docs/results.md`, "Title")"
CITED_PAGES = ("docs/results.md", "benchmarks/README.md", "experiments/README.md")


def backtick_paths(text: str) -> list[str]:
    """Repository paths in `code spans` (each word of a span that starts with a repository
    folder), fenced code blocks left out."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    paths = []
    for span in re.findall(r"`([^`\n]+)`", text):
        for word in span.split():
            word = word.split("::")[0].rstrip(".,;:)")
            if "/" in word and word.split("/")[0] in REPO_DIRS:
                paths.append(word)
    return paths


def missing_paths(text: str, root: Path = ROOT) -> list[str]:
    return [path for path in backtick_paths(text) if not (root / path).exists()]


def section_citations(text: str) -> list[tuple[str, str]]:
    """(page, title) for every `page`, "Title" (or "A" and "B") citing a page's section;
    comment markers and line breaks inside a citation are read through."""
    text = re.sub(r"\n[ \t]*#+[ \t]*", "\n", text)   # Python comments continued
    found = []
    pages = "|".join(re.escape(page) for page in CITED_PAGES)
    for match in re.finditer(rf"`?({pages})`?\s*,\s*((?:\"[^\"]+\"(?:\s*(?:,|and)\s*)?)+)", text):
        for title in re.findall(r"\"([^\"]+)\"", match[2]):
            found.append((match[1], " ".join(title.split())))
    return found


def headings(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    return {" ".join(line.lstrip("#").split()) for line in text.splitlines()
            if re.match(r"#{1,6} ", line)}


def _citing_files() -> list[Path]:
    return [ROOT / "README.md", *(ROOT / page for page in CITED_PAGES),
            *sorted((ROOT / "src").rglob("*.py")),
            *sorted(p for p in (ROOT / "tests").glob("*.py") if p.name != "test_docs.py")]


@pytest.mark.parametrize("page", PAGES)
def test_backtick_paths_exist(page):
    text = (ROOT / page).read_text()
    assert backtick_paths(text), f"{page} names no repository path"  # the check sees them
    assert missing_paths(text) == [], page


def test_the_path_check_can_fail(tmp_path):
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "tool.py").write_text("")
    text = ("Run `.venv/bin/python benchmarks/tool.py --out runs/x` and read "
            "`benchmarks/gone.py`, `docs/results.md`; `runs/mine/` is yours.\n"
            "```\nbenchmarks/in_a_fence.py\n```\n")
    assert missing_paths(text, tmp_path) == ["benchmarks/gone.py", "docs/results.md"]


def test_scripts_and_comments_name_existing_paths():
    """A path under a repository folder in the code, the tests or the Makefile exists."""
    pattern = re.compile(r"(?<![\w./-])((?:benchmarks|experiments|reproductions|docs)/[\w./-]*\w)")
    stale = []
    for path in [ROOT / "Makefile", *sorted((ROOT / "src").rglob("*.py")),
                 *sorted((ROOT / "tests").glob("*.py"))]:
        if path.name == "test_docs.py":
            continue
        for name in pattern.findall(path.read_text()):
            if not (ROOT / name).exists():
                stale.append(f"{path.relative_to(ROOT)}: {name}")
    assert stale == []


def test_section_citations_resolve():
    stale = [f"{path.relative_to(ROOT)}: {page}, \"{title}\""
             for path in _citing_files() for page, title in section_citations(path.read_text())
             if title not in headings(ROOT / page)]
    assert stale == []


def test_the_citation_check_can_fail(tmp_path):
    text = ('see (`docs/results.md`, "The Fetch bench" and "Not A\n  Heading"); and\n'
            '    # the speed (docs/results.md,\n    # "LOM update speed")\n')
    cited = section_citations(text)
    assert cited == [("docs/results.md", "The Fetch bench"), ("docs/results.md", "Not A Heading"),
                     ("docs/results.md", "LOM update speed")]
    titles = headings(ROOT / "docs/results.md")
    assert [title for _, title in cited if title not in titles] == ["Not A Heading"]


def test_benchmarks_readme_is_a_page():
    assert len((ROOT / "benchmarks/README.md").read_text().splitlines()) <= 200


def test_experiments_index_lists_every_experiment():
    index = (ROOT / "experiments/README.md").read_text()
    rows = {m[1]: m for m in re.finditer(
        r"^\| `experiments/([^`/]+)/` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", index, re.M)}
    folders = {p.name for p in (ROOT / "experiments").iterdir() if p.is_dir()}
    assert folders and set(rows) == folders
    for folder in folders:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-[a-z0-9-]+", folder), folder
        assert all(rows[folder][i].strip() for i in (2, 3, 4)), folder
        record = (ROOT / "experiments" / folder / "README.md").read_text()
        for part in ("**Question.**", "**Command.**", "**Answer.**", "**Decision.**"):
            assert part in record, f"{folder}/README.md has no {part}"


def _table_rows(text: str, header_start: str) -> dict[str, list[str]]:
    """The first markdown table whose header starts with `header_start`: first cell -> cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip().strip("*") for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def test_kept_bench_record_writes_the_locomotion_table(tmp_path):
    """`onemode bench --report-only` on `benchmarks/results/cpu-locomotion/` (the command of
    docs/results.md, on a copy) writes the scores and IQMs docs/results.md shows."""
    from onemode.cli import main

    results = (ROOT / "docs/results.md").read_text()
    section = results.split("## The locomotion bench at CPU sizes", 1)[1].split("\n## ")[0]
    command = re.search(r"onemode bench ([^\n]*--report-only --out \S+)",
                        re.sub(r"\\\n\s*", " ", section))[1]
    argv = ["bench", *command.split()]
    assert argv[-2:] == ["--out", "benchmarks/results/cpu-locomotion"]
    shutil.copytree(ROOT / "benchmarks/results/cpu-locomotion/runs", tmp_path / "runs")
    assert main([*argv[:-1], str(tmp_path), "--no-progress"]) in (0, None)

    table = (tmp_path / "table.md").read_text()
    written = _table_rows(table, "| algorithm | halfcheetah-medium-replay")
    iqm = _table_rows(table, "| algorithm | IQM")
    shown = _table_rows(section, "| algorithm | halfcheetah-mr")
    names = {"LOM": "lom", "TD3+BC": "td3bc", "IQL": "iql", "AWAC": "awac", "LAPO": "lapo",
             "DMPO": "dmpo"}
    assert set(shown) == set(names)
    for label, cells in shown.items():
        assert cells[:6] == written[names[label]], label
        assert cells[6] == iqm[names[label]][0], label


def ragged_table_rows(text: str) -> list[str]:
    """Rows of a markdown table whose cell count differs from its header's (a row pasted
    into the wrong table), fenced code blocks left out."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    ragged, header_cells = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            header_cells = None
            continue
        cells = len(re.sub(r"\\\|", "", line).strip().strip("|").split("|"))
        if header_cells is None:
            header_cells = cells
        elif cells != header_cells:
            ragged.append(line)
    return ragged


@pytest.mark.parametrize("page", PAGES)
def test_tables_are_rectangular(page):
    assert ragged_table_rows((ROOT / page).read_text()) == []


def test_the_table_check_can_fail():
    table = "| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |\n| 1 | 2 |\n\n| x |\n|---|\n| y |\n"
    assert ragged_table_rows(table) == ["| 1 | 2 |"]
