"""Merging a sweep's row files: the rows that shards (``--shard I/N``) and cluster jobs wrote to ``rows/`` join
``results.jsonl``, from which the leaderboard is built as for a sweep run in one place.

A row joins only where it belongs to an entry of the sweep config as it is now (its config hash); rows of any other
config are left out and counted, and a line the results schema refuses is left out and named (``read_rows``). The
rows of a leaderboard must have been measured on one data: every row of the sweep's entries, in any row file, on the
data of its dataset as the config names it now. ``check_same_data`` holds that, in the sweep's pre-flight (before any
entry starts) and in every merge; ``set_aside_old_rows`` moves the rows of other data out of the way.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results.folder import RESULTS_FILE, ResultsFolder, append_rows, read_rows, remove_rows
from ..results.schema import DONE_STATUSES, FIELD
from .config import Sweep

NOW = "now"  # where the data as the config names it now is, among the row files
SET_ASIDE = "set-aside-"  # + the date: the folder of the rows of other data, when set aside


class RowsDisagree(Exception):
    """Row files that cannot be merged into one leaderboard; the message names the files and why."""


@dataclass
class MergeReport:
    added: int = 0  # rows new to results.jsonl
    other_config: dict[str, int] = field(default_factory=dict)  # row file -> rows of entries not in this config


def _data_of(row: dict[str, Any], hashes: set[str]) -> str | None:
    """The data ``row`` was measured on, as text, where it is a row of one of the entries whose config hashes are
    ``hashes`` and it measured some (a failed row may not have)."""
    if row.get("dataset_fingerprint") and row.get("config_hash") in hashes:
        return FIELD["dataset_fingerprint"].format(row["dataset_fingerprint"])
    return None


def check_same_data(out_dir: str | Path, sweep: Sweep, files: dict[Path, list[dict[str, Any]]] | None = None) -> None:
    """Raise RowsDisagree where rows of ``sweep``'s entries in ``out_dir``'s row files were measured on other data
    than each other or than the sweep's data now (``Sweep.fingerprints``): the data changed since, or another
    machine's copy of it differs. The message says which data is where, and the ways out. ``files``: the row files'
    rows, by path, where the caller has read them already (``_row_files``)."""
    out_dir = Path(out_dir)
    hashes = {entry.config_hash for entry in sweep.entries}
    places: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # dataset -> data -> where
    for dataset, fingerprint in sweep.fingerprints.items():
        places[dataset][FIELD["dataset_fingerprint"].format(fingerprint)].add(NOW)
    for path, rows in (files or _row_files(out_dir)).items():
        for row in rows:
            if data := _data_of(row, hashes):
                places[row["dataset"]][data].add(str(path.relative_to(out_dir)))
    conflicts = [f"dataset {dataset!r}: " + "; ".join(_where(data, found) for data, found in sorted(
                 datas.items(), key=lambda item: (NOW in item[1], item[0])))
                 for dataset, datas in places.items() if len(datas) > 1]
    if conflicts:
        raise RowsDisagree(f"rows in {out_dir} were measured on other data, so they cannot share a leaderboard (the "
                           f"data changed, or another machine's copy differs): {' | '.join(conflicts)}. Give "
                           "another --out, or add --set-aside-old-rows to move the rows of other data than now into "
                           f"{out_dir / SET_ASIDE}<date>/")


def _row_files(out_dir: Path) -> dict[Path, list[dict[str, Any]]]:
    """The rows of each row file (``results.jsonl`` first), by path."""
    return {path: read_rows(path) for path in ResultsFolder(out_dir).row_files()}


def _where(data: str, found: set[str]) -> str:
    """``24 videos, hash 1a2b in results.jsonl, rows/shard-1-of-2.jsonl``, ``... in results.jsonl and now``."""
    files = sorted(found - {NOW})
    return f"{data} " + " and ".join([*([f"in {', '.join(files)}"] if files else []), *([NOW] if NOW in found else [])])


def set_aside_old_rows(out_dir: str | Path, sweep: Sweep) -> str:
    """Move the rows of ``sweep``'s entries measured on other data than the sweep's now (what ``check_same_data``
    refuses), and their entries' folders, into ``set-aside-<date>/``: a results folder of its own, in the same
    layout. Returns what it moved, in a line for the user."""
    folder = ResultsFolder(out_dir)
    aside = ResultsFolder(folder.path / f"{SET_ASIDE}{time.strftime('%Y%m%d-%H%M%S')}")
    hashes = {entry.config_hash for entry in sweep.entries}
    now = {dataset: FIELD["dataset_fingerprint"].format(fingerprint)
           for dataset, fingerprint in sweep.fingerprints.items()}

    def other_data(row: dict[str, Any]) -> bool:
        data = _data_of(row, hashes)
        return data is not None and data != now.get(row["dataset"], data)

    rows = _row_files(folder.path)
    old = {path: [row for row in file_rows if other_data(row)] for path, file_rows in rows.items()}
    moved = [row for file_rows in old.values() for row in file_rows]
    if not moved:
        return "nothing to set aside: every row was measured on the data as it is now"
    for path, file_rows in old.items():  # copied first: a crash on the way leaves rows twice, never none
        if file_rows:
            into = aside.path / path.relative_to(folder.path)
            into.parent.mkdir(parents=True, exist_ok=True)
            append_rows(into, file_rows)
    still = {folder.entry_dir(row) for file_rows in rows.values() for row in file_rows if not other_data(row)}
    folders = 0
    for row in moved:
        if (entry := folder.entry_dir(row)).is_dir() and entry not in still:
            aside.runs_dir.mkdir(parents=True, exist_ok=True)
            entry.rename(aside.entry_dir(row))
            folders += 1
    for path, file_rows in old.items():
        if file_rows:
            remove_rows(path, other_data)  # a bad line stays, for a person to mend
    plural = lambda n, what: f"{n} {what}{'s' * (n != 1)}"  # noqa: E731
    return (f"set aside {plural(len(moved), 'row')} measured on other data (and {plural(folders, 'entry folder')}) "
            f"in {aside}")


def merge_rows(out_dir: str | Path, sweep: Sweep) -> MergeReport:
    """Bring the rows of ``out_dir/rows/*.jsonl`` that belong to ``sweep``'s entries into ``out_dir/results.jsonl``
    (each row once; where an entry has rows of several outcomes, a done row is placed last, so that it is the one
    the leaderboard takes). Raises RowsDisagree, writing nothing, where rows were measured on other data
    (``check_same_data``)."""
    out_dir = Path(out_dir)
    files = _row_files(out_dir)  # read once: the check and the merge
    check_same_data(out_dir, sweep, files)
    (results, merged), *others = files.items()
    current = {entry.config_hash for entry in sweep.entries}
    seen = {json.dumps(row, sort_keys=True) for row in merged}
    report, new = MergeReport(), []
    for path, rows in others:
        for row in rows:
            if row.get("config_hash") not in current:
                report.other_config[path.name] = report.other_config.get(path.name, 0) + 1
                continue
            key = json.dumps(row, sort_keys=True)
            if key not in seen:
                seen.add(key)
                new.append(row)
    if new:
        new.sort(key=lambda row: row.get("status") in DONE_STATUSES)  # stable: failed tries first, a done row last
        append_rows(results, new)
    report.added = len(new)
    return report


def describe(report: MergeReport) -> str:
    """One line for the user: what the merge added and what it left out."""
    text = f"merged {report.added} new row(s) into {RESULTS_FILE}"
    if report.other_config:
        left = ", ".join(f"{n} in {name}" for name, n in sorted(report.other_config.items()))
        text += f"; left out rows of entries this config does not have (another version of it?): {left}"
    return text
