"""Files a killed process never leaves half-written: atomic writes, and JSON-lines logs
whose last line, cut short by a kill while appending, is left out on reading."""

from __future__ import annotations

import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from onemode.errors import CheckpointError


@contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A hidden temporary file in `path`'s folder (so a rename onto `path` is atomic),
    removed on the way out unless it was renamed away."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:   # created as open() creates files (the umask's mode), not mkstemp's 0600
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.part"
        try:
            open(tmp, "xb").close()
            break
        except FileExistsError:
            continue
    try:
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write(path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, sync it, rename it onto `path`."""
    path = Path(path)
    with _temporary_beside(path) as tmp:
        write(tmp)
        fsync(tmp)
        os.replace(tmp, path)
    return path


def atomic_write_pair(main, companion, write_main: Callable[[Path], None],
                      write_companion: Callable[[Path], None]) -> tuple[Path, Path]:
    """Two files that belong together (a dataset and its validation split), written so
    that whenever `main` exists its matching `companion` does: both are written to
    temporary files first; then an old `main` is removed, the companion renamed into
    place, and `main` last. A kill leaves either no `main` or a matching pair."""
    main, companion = Path(main), Path(companion)
    with _temporary_beside(main) as main_tmp, _temporary_beside(companion) as companion_tmp:
        write_main(main_tmp)
        write_companion(companion_tmp)
        fsync(main_tmp)
        fsync(companion_tmp)
        main.unlink(missing_ok=True)
        os.replace(companion_tmp, companion)
        os.replace(main_tmp, main)
    return main, companion


def fsync(path: Path) -> None:
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def append_jsonl(path, record: dict) -> None:
    """One record as one line at the end of a JSON-lines log."""
    with open(path, "a") as file:
        file.write(json.dumps(record) + "\n")


def read_jsonl(path, required: tuple[str, ...] = ()) -> list[dict]:
    """Every record of a JSON-lines log (none if it does not exist). A last line without
    its newline was cut short by a kill while being appended: it is left out, and the
    resumed run writes it again. Any other line that is no JSON object with the `required`
    keys is refused naming the file and line."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(errors="replace").split("\n")
    if lines[-1]:  # no newline after the last line: an append cut short
        lines = lines[:-1]
    records = []
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CheckpointError(f"{path}, line {number}: expected one JSON record per line "
                                  f"({error.msg})") from None
        if not isinstance(record, dict) or not all(key in record for key in required):
            raise CheckpointError(f"{path}, line {number}: expected a record with "
                                  f"{', '.join(map(repr, required)) or 'keys'}, found "
                                  f"{line[:80]!r}")
        records.append(record)
    return records
