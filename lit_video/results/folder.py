"""A results folder: what a sweep writes and what the report, ``lit-video compare`` and the lecture claims read.

    <out>/<sweep name>/
      results.jsonl                    one row per entry (``schema.ROW_FIELDS``), the sweep's process alone appending
      rows/*.jsonl                     the rows of shards and cluster jobs, until they are merged into results.jsonl
      leaderboard.json / .csv / .md    the rows combined over seeds, one line per model variant (``leaderboard``)
      *.png, index.html                the charts (``plots``) and the HTML report
      runs/<entry id>/                 each entry's logs, checkpoint, details.json and predictions.json
      set-aside-<date>/                rows measured on data since changed, and their runs/ (sweep.merge)

Rows are appended by rewriting the file atomically (``lit_video.files.write_atomic``), so a sweep killed at any moment
leaves the file as it was or complete, never truncated. A row is checked against the schema (``schema.row_problems``)
when it is written, which a bad one never is, and when it is read, where a bad line is left out and said once
(``read_rows``).
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import write_atomic
from ..terminal import width
from .schema import DONE_STATUSES, row_problems

RESULTS_FILE = "results.jsonl"
# Where a shard (``--shard I/N``) or a cluster job writes its own rows, one file each, beside results.jsonl.
ROWS_DIR = "rows"
# Each entry's own folder (logs, checkpoint, details, predictions): ``RUNS_DIR/<entry_id>``.
RUNS_DIR = "runs"
LEADERBOARD_FILES = {"json": "leaderboard.json", "csv": "leaderboard.csv", "md": "leaderboard.md"}
INDEX_FILE = "index.html"
GITIGNORE_FILE = ".gitignore"
# What an entry's folder keeps beside its logs: the row's full detail (config, FLOP table, throughput per batch size,
# timings, checkpoint, wandb run) and its test predictions.
DETAILS_FILE, PREDICTIONS_FILE = "details.json", "predictions.json"


def entry_id(variant: str, dataset: str, seed: int, config_hash: str) -> str:
    """An entry's folder name under ``runs/``: its variant, dataset, seed and hash (a results row has them all)."""
    variant, dataset = (re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.") for text in (variant, dataset))
    return f"{variant}-{dataset}-seed{seed}-{config_hash[:8]}"


def variant_of(row: dict[str, Any]) -> str:
    """The row's model variant label (rows written before variants existed: the model's name)."""
    return str(row.get("variant") or row.get("model"))


class UnreadableFile(ValueError):
    """A file of a results folder that does not hold what it should (empty, cut short, not JSON): its message names
    the file (``path``) and says why (``why``)."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path, self.why = path, why


def read_json(path: Path) -> Any:
    """The JSON value the file ``path`` holds; UnreadableFile where it holds none."""
    data = path.read_bytes()
    try:
        return json.loads(data)
    except ValueError as err:  # JSONDecodeError; UnicodeDecodeError where it is not text
        raise UnreadableFile(path, f"not JSON ({err})" if data.strip() else "empty") from err


class BadRow(ValueError):
    """A row the schema refuses (``schema.row_problems``): it is never written."""


@dataclass(frozen=True)
class BadLine:
    """A line of a rows file that is not a good row, and why: whoever reads the file leaves it out."""

    path: Path
    number: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.number}: {self.reason}"


def scan_rows(path: str | Path) -> tuple[list[dict[str, Any]], list[BadLine]]:
    """The good rows of a rows file, in order (none if it does not exist), and its bad lines: not JSON (cut short
    by a copy, mangled by hand) or refused by the schema (a NaN, an accuracy of 5.0, an ok row without its
    metrics)."""
    path = Path(path)
    if not path.exists():
        return [], []
    rows, bad = [], []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            bad.append(BadLine(path, number, f"not JSON: {err.msg} (column {err.colno})"))
            continue
        if problems := row_problems(row):
            bad.append(BadLine(path, number, "; ".join(problems)))
        else:
            rows.append(row)
    return rows, bad


_REPORTED: set[BadLine] = set()  # the bad lines this process has reported: each once, however often it reads them


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The good rows of a rows file (``scan_rows``). Each bad line is left out and said on stderr, once per
    process, as ``path:line: reason``: a row written by hand or by an older version costs that row, never the
    folder. Every reader (resume, ``--merge``, the report, ``lit-video compare``) reads rows here."""
    rows, bad = scan_rows(path)
    for line in bad:
        if line not in _REPORTED:
            _REPORTED.add(line)
            print(textwrap.fill(f"{line}; the line is left out (mend or delete it)", width(),
                                subsequent_indent="  ", break_long_words=False, break_on_hyphens=False),
                  file=sys.stderr)
    return rows


def _line(row: dict[str, Any]) -> bytes:
    """A row as its line of a rows file; BadRow, naming the row's entry, where the schema refuses it."""
    if problems := row_problems(row):
        raise BadRow(f"refusing to write the row of {variant_of(row)} on {row.get('dataset')}, seed "
                     f"{row.get('seed')}: {'; '.join(problems)}")
    return (json.dumps(row, default=str, allow_nan=False) + "\n").encode()


def write_rows(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Replace the rows file ``path`` with ``rows``, atomically; nothing is written if the schema refuses any."""
    write_atomic(path, b"".join(_line(row) for row in rows))


def append_rows(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append ``rows`` to a rows file by rewriting it atomically, its lines kept as they are (a bad one too: a
    person's to mend); nothing is written if the schema refuses any."""
    path = Path(path)
    new = b"".join(_line(row) for row in rows)
    old = path.read_bytes() if path.exists() else b""
    if old and not old.endswith(b"\n"):  # a line cut short stays a line of its own
        old += b"\n"
    write_atomic(path, old + new)


def append_row(path: str | Path, row: dict[str, Any]) -> None:
    append_rows(path, [row])


def remove_rows(path: str | Path, removed: Callable[[dict[str, Any]], bool]) -> None:
    """Rewrite a rows file, atomically, without its good rows that ``removed`` picks; every other line is kept as it
    is (a bad one too: a person's to mend)."""
    path = Path(path)

    def picked(line: bytes) -> bool:
        try:
            row = json.loads(line)
        except ValueError:
            return False
        return not row_problems(row) and removed(row)

    write_atomic(path, b"".join(line for line in path.read_bytes().splitlines(keepends=True) if not picked(line)))


def latest_rows(rows: Iterable[dict[str, Any]], hashes: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The last row of each config hash (a rerun replaces a failed try), restricted to ``hashes`` if given."""
    latest = {row["config_hash"]: row for row in rows}
    if hashes is not None:
        keep = set(hashes)
        latest = {h: r for h, r in latest.items() if h in keep}
    return list(latest.values())


class ResultsFolder:
    """One sweep's results folder (``<out>/<sweep name>``), the one place that knows where each file lies in it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    @property
    def results_file(self) -> Path:
        return self.path / RESULTS_FILE

    @property
    def runs_dir(self) -> Path:
        return self.path / RUNS_DIR

    @property
    def rows_dir(self) -> Path:
        return self.path / ROWS_DIR

    @property
    def index_file(self) -> Path:
        return self.path / INDEX_FILE

    def git_ignore(self, *patterns: str) -> None:
        """Add the ``patterns`` its ``.gitignore`` lacks, keeping every line it has: the folder's own, or a newer
        version's list, never replaced by another (a rerun in a clone leaves a committed file as it was)."""
        path = self.path / GITIGNORE_FILE
        lines = path.read_text().splitlines() if path.is_file() else []
        if missing := [p for p in patterns if p not in lines]:
            write_atomic(path, "".join(f"{line}\n" for line in [*lines, *missing]))

    def leaderboard_file(self, kind: str = "json") -> Path:
        return self.path / LEADERBOARD_FILES[kind]

    def row_files(self) -> list[Path]:
        """``results.jsonl`` and each shard's or cluster job's file in ``rows/``."""
        return [self.results_file, *sorted(self.rows_dir.glob("*.jsonl"))]

    def rows(self) -> list[dict[str, Any]]:
        """Every row of ``results.jsonl``, in the order written."""
        return read_rows(self.results_file)

    def done_hashes(self) -> set[str]:
        """The config hashes with a done row (``ok`` or ``profiled``, with what its status needs) in any row file:
        what resume skips."""
        return {row["config_hash"] for path in self.row_files() for row in read_rows(path)
                if row.get("status") in DONE_STATUSES}

    def board(self) -> list[dict[str, Any]]:
        """The leaderboard the sweep (or ``--merge``) wrote: ``leaderboard.json``; FileNotFoundError naming the
        folder, UnreadableFile naming the file."""
        path = self.leaderboard_file("json")
        if not path.is_file():
            raise FileNotFoundError(f"no {path.name} in {self.path}: give a sweep's results folder (e.g. "
                                    "results/lecture); `lit-video sweep CONFIG --merge` writes it from the rows")
        try:
            return read_json(path)
        except UnreadableFile as err:
            raise UnreadableFile(path, f"{err.why}; `lit-video sweep CONFIG --merge` writes it again from the rows"
                                 ) from err

    def entry_dir(self, row: dict[str, Any]) -> Path:
        """The folder of the entry that wrote ``row``."""
        return self.runs_dir / entry_id(variant_of(row), str(row["dataset"]), row["seed"], row["config_hash"])
