"""Merging a sweep's row files: the rows that shards (``--shard I/N``) and cluster jobs wrote to ``rows/`` join
``results.jsonl``, from which the leaderboard is built as for a sweep run in one place.

A row joins only where it belongs to an entry of the sweep config as it is now (its config hash); rows of any other
config are left out and counted, and a line the results schema refuses is left out and named (``read_rows``). Rows
of one dataset must agree on its fingerprint: rows measured on different data (another copy of a dataset on another
machine) are refused, and the merge writes nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..results.folder import RESULTS_FILE, ResultsFolder, append_rows, read_rows
from ..results.schema import DONE_STATUSES
from .config import Sweep


class RowsDisagree(Exception):
    """Row files that cannot be merged into one leaderboard; the message names the files and why."""


@dataclass
class MergeReport:
    added: int = 0  # rows new to results.jsonl
    other_config: dict[str, int] = field(default_factory=dict)  # row file -> rows of entries not in this config


def merge_rows(out_dir: str | Path, sweep: Sweep) -> MergeReport:
    """Bring the rows of ``out_dir/rows/*.jsonl`` that belong to ``sweep``'s entries into ``out_dir/results.jsonl``
    (each row once; where an entry has rows of several outcomes, a done row is placed last, so that it is the one
    the leaderboard takes). Raises RowsDisagree, writing nothing, where the rows of one dataset name different
    fingerprints."""
    out_dir = Path(out_dir)
    results, *others = ResultsFolder(out_dir).row_files()
    current = {entry.config_hash for entry in sweep.entries}
    merged = read_rows(results)
    seen = {json.dumps(row, sort_keys=True) for row in merged}
    report, new = MergeReport(), []
    sources: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # dataset -> print -> files
    for row in merged:
        if row.get("config_hash") in current and row.get("dataset_fingerprint"):
            sources[row["dataset"]][_fingerprint(row)].add(results.name)
    for path in others:
        for row in read_rows(path):
            if row.get("config_hash") not in current:
                report.other_config[path.name] = report.other_config.get(path.name, 0) + 1
                continue
            if row.get("dataset_fingerprint"):
                sources[row["dataset"]][_fingerprint(row)].add(f"{path.parent.name}/{path.name}")
            key = json.dumps(row, sort_keys=True)
            if key not in seen:
                seen.add(key)
                new.append(row)
    conflicts = [f"dataset {dataset!r}: " + "; ".join(f"fingerprint {fingerprint} in {', '.join(sorted(files))}"
                                                      for fingerprint, files in sorted(prints.items()))
                 for dataset, prints in sources.items() if len(prints) > 1]
    if conflicts:
        raise RowsDisagree(f"rows in {out_dir} were measured on different data, so they cannot share a leaderboard "
                           f"(is each machine's copy of the dataset the same?): {' | '.join(conflicts)}")
    if new:
        new.sort(key=lambda row: row.get("status") in DONE_STATUSES)  # stable: failed tries first, a done row last
        append_rows(results, new)
    report.added = len(new)
    return report


def _fingerprint(row: dict) -> str:
    """The row's dataset fingerprint as text (``{"videos": ..., "hash": ...}``)."""
    return json.dumps(row["dataset_fingerprint"], sort_keys=True)


def describe(report: MergeReport) -> str:
    """One line for the user: what the merge added and what it left out."""
    text = f"merged {report.added} new row(s) into {RESULTS_FILE}"
    if report.other_config:
        left = ", ".join(f"{n} in {name}" for name, n in sorted(report.other_config.items()))
        text += f"; left out rows of entries this config does not have (another version of it?): {left}"
    return text
