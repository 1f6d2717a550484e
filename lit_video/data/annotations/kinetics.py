"""Kinetics annotations: ``label,youtube_id,time_start,time_end,split`` CSVs, one per split or one with a split
column; the clips are trimmed files or segments of the untrimmed videos."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from .common import (
    _SPLIT_ALIASES,
    SPLITS,
    Annotations,
    VideoRecord,
    _dataset_meta,
    _finish,
    _read_text,
    _split_name,
    index_videos,
)

_KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end")


@dataclass(frozen=True)
class _Row:
    where: str  # "<csv file>:<line>"
    label: str
    youtube_id: str
    start: float
    end: float


def _seconds(text: str) -> float | None:
    """A time in seconds, or None for one that is not a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _kinetics_row(row: dict, columns: int, where: str) -> _Row | str:
    """The row, or the reason it cannot be used."""
    given = sum(value is not None for key, value in row.items() if key is not None)
    if given < columns:
        return f"short row: {given} of the {columns} fields"
    start, end = _seconds(row["time_start"]), _seconds(row["time_end"])
    for name, value in (("time_start", start), ("time_end", end)):
        if value is None:
            return f"{name} {row[name]!r} is not a number of seconds (finite, >= 0)"
    if end < start:
        return f"time_end {end:g} is before time_start {start:g}"
    return _Row(where, row["label"], row["youtube_id"], start, end)


def _kinetics_rows(ann: Path) -> tuple[dict[str, list[_Row]], dict[str, str], dict[str, int], list[tuple[str, str]]]:
    """The rows of each split, the file of each split, the rows each lists, and the rows that cannot be used:
    one CSV per split (``train.csv``, ``val.csv``, ``test.csv``), or one CSV with a split column."""
    one_file = ann.is_file()
    rows: dict[str, list[_Row]] = {}
    sources = {split: f"{ann} (rows with split {split})" if one_file else str(ann / f"{split}.csv")
               for split in SPLITS}
    listed: dict[str, int] = {}
    skipped: list[tuple[str, str]] = []
    for file in [ann] if one_file else sorted(ann.glob("*.csv")):
        file_split = None if one_file else _SPLIT_ALIASES.get(file.stem.lower())
        if not one_file:
            if file_split is None:
                continue  # another CSV in the folder (e.g. a class list)
            rows.setdefault(file_split, [])  # a file without rows is an empty split, not a missing one
            sources[file_split] = str(file)
        text = _read_text(file)
        if not text.strip():
            continue
        reader = csv.DictReader(io.StringIO(text))
        missing = set(_KINETICS_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{file}:1: annotations file lacks the column(s) {', '.join(sorted(missing))} "
                             f"(header {','.join(reader.fieldnames or [])!r}; expected "
                             "label,youtube_id,time_start,time_end,split)")
        columns = len(reader.fieldnames or [])
        for row in reader:
            where = f"{file}:{reader.line_num}"
            parsed = _kinetics_row(row, columns, where)
            split = file_split
            if split is None and isinstance(parsed, _Row):
                split = _split_name(row.get("split") or "", where)
            if split is not None:
                listed[split] = listed.get(split, 0) + 1
            if isinstance(parsed, str):
                skipped.append((where, parsed))
            else:
                rows.setdefault(split, []).append(parsed)
    return rows, sources, listed, skipped


def read_kinetics(root: str | Path, annotations: str | Path | None = None) -> Annotations:
    """Kinetics: ``label,youtube_id,time_start,time_end,split`` CSVs (``train.csv``, ``val.csv``, ``test.csv``).

    Files are ``<split>/<label>/<youtube_id>_<start:06d>_<end:06d>.<ext>`` or all in one folder, any container;
    a file named just ``<youtube_id>.<ext>`` is the untrimmed video, and its clip is the ``[start, end]`` segment.
    Class names: ``classes.json`` beside the CSVs if there is one, else the sorted labels of the train split.
    """
    root = Path(root)
    ann = Path(annotations) if annotations else root / "annotations"
    rows, sources, listed, skipped = _kinetics_rows(ann)
    meta = _dataset_meta(ann if ann.is_dir() else ann.parent, root)
    labelled = rows.get("train") or [r for split_rows in rows.values() for r in split_rows]
    names = meta.get("classes") or sorted({r.label for r in labelled if r.label})
    index = {name: i for i, name in enumerate(names)}
    files = index_videos(root)
    splits: dict[str, list[VideoRecord]] = {}
    for split, split_rows in rows.items():
        records = splits.setdefault(split, [])
        for row in split_rows:
            stem = f"{row.youtube_id}_{int(row.start):06d}_{int(row.end):06d}"
            trimmed = files.get(stem, [])
            # Of several copies prefer the one in this split's folder.
            path = next((p for p in trimmed if split in p.parts), trimmed[0] if trimmed else None)
            segment: tuple[float | None, float | None] = (None, None)
            if path is None and row.youtube_id in files:
                path, segment = files[row.youtube_id][0], (row.start, row.end)
            if path is None:
                skipped.append((row.where, f"no video file {stem}.* or {row.youtube_id}.* under {root}"))
            elif row.label not in index:
                skipped.append((str(path), f"unknown label {row.label!r} ({row.where})"))
            else:
                records.append(VideoRecord(path, (index[row.label],), segment, row.where))
    return _finish("kinetics", names, splits, skipped, meta, sources, listed)
