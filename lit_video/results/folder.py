"""A results folder: what a sweep writes and what the report, ``lit-video compare`` and the lecture claims read.

    <out>/<sweep name>/
      results.jsonl                    one row per entry (``schema.ROW_FIELDS``), the sweep's process alone appending
      rows/*.jsonl                     the rows of shards and cluster jobs, until they are merged into results.jsonl
      leaderboard.json / .csv / .md    the rows combined over seeds, one line per model variant (``leaderboard``)
      *.png, index.html                the charts (``plots``) and the HTML report
      runs/<entry id>/                 each entry's logs, checkpoint, details.json and predictions.json
      set-aside-<date>/                rows measured on data since changed, and their runs/ (sweep.merge)

Rows are appended by rewriting the file atomically (``lit_video.files.write_atomic``), so a sweep killed at any moment
leaves the file as it was or complete, never truncated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..files import write_atomic
from .schema import DONE_STATUSES

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


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``results.jsonl`` (none if it does not exist). A torn last line, which only a copy made
    outside lit-video could leave, is skipped; a bad line elsewhere is an error naming the line."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):
                break
            raise ValueError(f"{path}: line {number} is not a JSON results row ({err})") from err
    return rows


def write_rows(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Replace the rows file ``path`` with ``rows``, atomically."""
    write_atomic(path, "".join(json.dumps(row, default=str) + "\n" for row in rows))


def append_row(path: str | Path, row: dict[str, Any]) -> None:
    """Append one row to a rows file by rewriting it atomically (it holds one line per entry)."""
    write_rows(path, [*read_rows(path), row])


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
        """The config hashes with a done row (``ok`` or ``profiled``) in any row file: what resume skips."""
        return {row["config_hash"] for path in self.row_files() for row in read_rows(path)
                if row.get("status") in DONE_STATUSES}

    def board(self) -> list[dict[str, Any]]:
        """The leaderboard the sweep (or ``--merge``) wrote: ``leaderboard.json``; FileNotFoundError naming the
        folder."""
        path = self.leaderboard_file("json")
        if not path.is_file():
            raise FileNotFoundError(f"no {path.name} in {self.path}: give a sweep's results folder (e.g. "
                                    "results/lecture); `lit-video sweep CONFIG --merge` writes it from the rows")
        return json.loads(path.read_text())

    def entry_dir(self, row: dict[str, Any]) -> Path:
        """The folder of the entry that wrote ``row``."""
        return self.runs_dir / entry_id(variant_of(row), str(row["dataset"]), row["seed"], row["config_hash"])
