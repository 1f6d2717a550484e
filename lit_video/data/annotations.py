"""Annotation readers: Kinetics CSVs, Sports-1M partition files, UCF101-style class folders.

Each reader returns an ``Annotations``: class names, the videos of each split the annotations define (``train``,
``val``, ``test``; a split no file defines is absent), where each split is listed, the rows it had to skip (missing
file, unknown label, a path outside the dataset root, a malformed row) with the file, line and reason, and the
videos listed more than once. Readers never warn for a bad row: the caller decides (the DataModule warns once per
row, ``lit-video data check`` lists them). A file that cannot be read as a whole (not UTF-8, a broken class list)
is a ``ValueError`` that names the file and line.

Paths in annotations are relative to the dataset root (or absolute inside it) and must stay inside it: a path
elsewhere or with a ``..`` part is skipped. Symbolic links inside the root are followed wherever they point.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from .decode import VIDEO_EXTENSIONS

SPLITS = ("train", "val", "test")
FORMATS = ("kinetics", "sports1m", "folder", "auto")
# Names under which the splits appear in the wild (Kinetics says "validate", Sports-1M has no val).
_SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "validate": "val", "validation": "val",
                  "test": "test", "testing": "test"}
# What to set where a split is missing or empty and another split may stand in, and what that means.
_FALLBACK_HINTS = {"val": "set data.val_split=test to validate on the test videos",
                   "test": "set data.test_split=val to test on the validation videos (the test figures are then "
                           "validation figures)"}


@dataclass(frozen=True)
class VideoRecord:
    """One video of a split: its file, its class indices, and a ``[start, end]`` segment in seconds.

    The segment is ``(None, None)`` for a trimmed clip; an untrimmed video carries its annotated segment.
    ``source`` is the ``<annotation file>:<line>`` that lists it (empty where no file does).
    """

    path: Path
    labels: tuple[int, ...]
    segment: tuple[float | None, float | None] = (None, None)
    source: str = field(default="", compare=False)


@dataclass
class Annotations:
    format: str
    class_names: list[str]
    splits: dict[str, list[VideoRecord]]  # the splits the annotations define; a split no file defines is absent
    groups: dict[str, list[int]] = field(default_factory=dict)
    multi_label: bool = False
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file or row, reason)
    horizontal_flip: bool = True  # False where a mirrored video means another class (left / right motion)
    sources: dict[str, str] = field(default_factory=dict)  # split -> the file that lists it (or would)
    listed: dict[str, int] = field(default_factory=dict)  # split -> entries its file lists, usable or not
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (video, where it is listed)

    def videos(self) -> list[Path]:
        """Every distinct video file of every split, in a stable order."""
        return list(dict.fromkeys(r.path for split in SPLITS for r in self.splits.get(split, [])))

    def split_problems(self, val_split: str = "val", test_split: str = "test") -> list[tuple[str, str]]:
        """(file, reason) of each split a run uses that is missing or has no videos: ``train``, the split it
        validates on (``val_split``) and the one it tests on (``test_split``)."""
        problems = []
        for split in dict.fromkeys(("train", val_split, test_split)):
            # The hint only where the split is used as itself (not where it already stands in for another).
            own = (split, split) in (("val", val_split), ("test", test_split))
            hint = f"; {_FALLBACK_HINTS[split]}" if own else ""
            if split not in self.splits:
                problems.append((self.sources.get(split, split), f"no {split} split: the file is missing{hint}"))
            elif not self.splits[split]:
                listed = self.listed.get(split, 0)
                why = (f"none of the {listed} videos it lists is usable (see the skipped rows)" if listed
                       else "it lists no videos")
                problems.append((self.sources.get(split, split), f"the {split} split is empty: {why}{hint}"))
        return problems

    def select_splits(self, val_split: str = "val", test_split: str = "test") -> Annotations:
        """These annotations with all three splits: validation on ``val_split``'s videos and test on
        ``test_split``'s (by default their own). Raises ``ValueError`` naming the file of each split that is
        missing or empty: no split silently stands in for another."""
        for option, value in (("data.val_split", val_split), ("data.test_split", test_split)):
            if value not in SPLITS:
                raise ValueError(f"{option} {value!r} is not one of {', '.join(SPLITS)}")
        problems = self.split_problems(val_split, test_split)
        if problems:
            raise ValueError("; ".join(f"{what}: {why}" for what, why in problems))
        chosen = {"train": "train", "val": val_split, "test": test_split}
        return dataclasses.replace(
            self, splits={split: self.splits[source] for split, source in chosen.items()},
            sources={split: self.sources.get(source, source) for split, source in chosen.items()},
            listed={split: self.listed.get(source, 0) for split, source in chosen.items()})


def index_videos(root: Path) -> dict[str, list[Path]]:
    """Every video file under ``root`` by file stem (name without extension), found in one walk.

    Symbolic links are followed, and each folder is visited once (by device and inode), so links that loop back
    into the tree neither hang the walk nor list a video twice."""
    found: dict[str, list[Path]] = {}
    visited: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        try:
            stat = os.stat(folder)
        except OSError:
            dirs[:] = []
            continue
        if (stat.st_dev, stat.st_ino) in visited:
            dirs[:] = []
            continue
        visited.add((stat.st_dev, stat.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder, name)
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                found.setdefault(path.stem, []).append(path)
    return found


def _read_text(file: Path) -> str:
    """An annotation file's text: UTF-8, without a byte-order mark; anything else is an error naming the line."""
    data = file.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ValueError(f"{file}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}); "
                         "save the file as UTF-8") from None


def _lines(file: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of the non-blank lines of a text file."""
    return [(n, line.strip()) for n, line in enumerate(_read_text(file).splitlines(), start=1) if line.strip()]


def _inside(root: Path, name: str) -> Path | None:
    """The file an annotation names: ``root / name`` for a relative path, the same for an absolute path inside
    ``root``; None for a path that leaves it (absolute elsewhere, or with a ``..`` part)."""
    path = Path(name)
    if not name or ".." in path.parts:
        return None
    if path.is_absolute():
        base = Path(os.path.abspath(root))
        if not path.is_relative_to(base):
            return None
        path = path.relative_to(base)
    return root / path


def _outside(name: str, root: Path) -> str:
    return (f"path {name!r} is outside the dataset root {str(root)!r} (elsewhere, or with '..'); "
            "annotation paths are relative to the root, or absolute inside it")


def _dataset_meta(*folders: Path) -> dict:
    """The optional ``classes.json`` of a dataset, fixing class order and more: ``{"classes": [...],
    "groups": {name: [class, ...]}, "horizontal_flip": false}`` (the last where mirroring changes a label)."""
    for folder in folders:
        file = folder / "classes.json"
        if file.is_file():
            try:
                meta = json.loads(_read_text(file))
            except json.JSONDecodeError as err:
                raise ValueError(f"{file}:{err.lineno}: not valid JSON ({err.msg}, column {err.colno})") from None
            _check_meta(file, meta)
            return meta
    return {}


def _check_meta(file: Path, meta: object) -> None:
    def names(value: object) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)

    if not isinstance(meta, dict):
        problem = "the file must hold one object {\"classes\": [...], \"groups\": {...}, \"horizontal_flip\": ...}"
    elif "classes" in meta and not names(meta["classes"]):
        problem = "\"classes\" must be a list of class names"
    elif not isinstance(meta.get("groups", {}), dict) or not all(names(v) for v in meta.get("groups", {}).values()):
        problem = "\"groups\" must map each group name to a list of class names"
    elif not isinstance(meta.get("horizontal_flip", True), bool):
        problem = "\"horizontal_flip\" must be true or false"
    else:
        return
    raise ValueError(f"{file}:1: {problem}")


def _duplicates(splits: dict[str, list[VideoRecord]]) -> list[tuple[str, str]]:
    """(video, where) of each video listed in two splits, or twice with the same segment in one split."""
    listings: dict[str, list[tuple[str, VideoRecord]]] = {}
    for split in SPLITS:
        for record in splits.get(split, []):
            listings.setdefault(os.path.normpath(record.path), []).append((split, record))
    found = []
    for path, entries in listings.items():
        in_splits = list(dict.fromkeys(split for split, _ in entries))
        same = len({(split, r.segment) for split, r in entries}) < len(entries)
        if len(in_splits) > 1 or same:
            where = "; ".join(f"{split} {r.source}".strip() for split, r in entries)
            what = f"in {' and '.join(in_splits)}" if len(in_splits) > 1 else f"{len(entries)} times in {in_splits[0]}"
            found.append((path, f"the same video is listed {what} ({where})"))
    return found


def _finish(fmt: str, names: list[str], splits: dict[str, list[VideoRecord]], skipped: list[tuple[str, str]],
            meta: dict, sources: dict[str, str], listed: dict[str, int], multi_label: bool = False) -> Annotations:
    index = {name: i for i, name in enumerate(names)}
    groups = {g: [index[c] for c in members if c in index] for g, members in meta.get("groups", {}).items()}
    return Annotations(fmt, names, {s: splits[s] for s in SPLITS if s in splits}, groups, multi_label, skipped,
                       bool(meta.get("horizontal_flip", True)), sources, listed, _duplicates(splits))


def _split_name(text: str, where: str) -> str:
    split = _SPLIT_ALIASES.get(text.strip().lower())
    if split is None:
        raise ValueError(f"{where}: unknown split {text!r} (expected one of {', '.join(_SPLIT_ALIASES)})")
    return split


# --------------------------------------------------------------------------------------------------- Kinetics
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


# --------------------------------------------------------------------------------------------------- Sports-1M
def _youtube_id(url: str) -> str | None:
    parsed = urlparse(url)
    if "youtu.be" in parsed.netloc:
        return parsed.path.strip("/") or None
    if "youtube" in parsed.netloc:
        return parse_qs(parsed.query).get("v", [None])[0]
    return None


def read_sports1m(root: str | Path, annotations: str | Path | None = None) -> Annotations:
    """Sports-1M: ``<split>_partition.txt`` lines ``<path-or-url> <label_id>[,<label_id>...]`` and ``labels.txt``.

    A YouTube URL maps to the local file named by its video id; a path is relative to ``root`` (and may hold
    spaces). Several labels per video make the data multi-label (multi-hot targets).
    """
    root = Path(root)
    ann = Path(annotations) if annotations else next(
        (d for d in (root, root / "annotations") if any(d.glob("*_partition.txt"))), root)
    names_file = next((ann / n for n in ("labels.txt", "classes.txt", "class_names.txt") if (ann / n).is_file()), None)
    if names_file is None:
        raise ValueError(f"Sports-1M annotations in {str(ann)!r} need a class-names file (labels.txt, one name a line)")
    names = [text for _, text in _lines(names_file)]
    meta = _dataset_meta(ann, root)
    files = index_videos(root)
    splits: dict[str, list[VideoRecord]] = {}
    sources = {split: str(ann / f"{split}_partition.txt") for split in SPLITS}
    listed: dict[str, int] = {}
    skipped: list[tuple[str, str]] = []
    for part in sorted(ann.glob("*_partition.txt")):
        split = _split_name(part.stem.removesuffix("_partition"), str(part))
        records = splits.setdefault(split, [])
        sources[split] = str(part)
        for line_no, text in _lines(part):
            listed[split] = listed.get(split, 0) + 1
            where = f"{part}:{line_no}"
            fields = text.rsplit(maxsplit=1)
            if len(fields) < 2:
                skipped.append((where, f"expected '<path-or-url> <label_id>[,<label_id>...]', got {text!r}"))
                continue
            source, label_text = fields
            video_id = _youtube_id(source)
            path = None
            if video_id is None:
                local = _inside(root, source)
                if local is None:
                    skipped.append((where, _outside(source, root)))
                    continue
                path = local if local.is_file() else None
            stem = video_id or Path(source).stem
            if path is None and stem in files:
                path = files[stem][0]
            if path is None:
                skipped.append((where, f"no local video for {source!r} under {root}"))
                continue
            ids = [t for t in label_text.split(",") if t]
            bad = [t for t in ids if not t.isdigit() or int(t) >= len(names)]
            if bad or not ids:
                skipped.append((str(path), f"unknown label id {','.join(bad) or '(none)'} ({where}; "
                                           f"{names_file.name} has {len(names)} classes)"))
                continue
            records.append(VideoRecord(path, tuple(sorted({int(t) for t in ids})), source=where))
    multi_label = any(len(r.labels) > 1 for records in splits.values() for r in records)
    return _finish("sports1m", names, splits, skipped, meta, sources, listed, multi_label)


# --------------------------------------------------------------------------------------------------- folders
def _split_lists(ann: Path) -> dict[str, Path]:
    """UCF101's ``trainlist01.txt`` / ``testlist01.txt`` (first of each kind), plus ``vallist01.txt`` if any."""
    lists = {}
    for split, pattern in (("train", "trainlist*.txt"), ("val", "vallist*.txt"), ("test", "testlist*.txt")):
        found = sorted(ann.glob(pattern))
        if found:
            lists[split] = found[0]
    return lists


def _class_index(file: Path) -> list[str]:
    """The class names of UCF101's ``classInd.txt``, lines ``<1-based index> <name>``."""
    names = []
    for line_no, text in _lines(file):
        fields = text.split(maxsplit=1)
        if len(fields) < 2:
            raise ValueError(f"{file}:{line_no}: expected '<index> <class name>', got {text!r}")
        names.append(fields[1])
    return names


def read_folder(root: str | Path, annotations: str | Path | None = None) -> Annotations:
    """UCF101 style: ``<class>/<video>`` under ``root``, with optional split lists.

    Split lists (``trainlist01.txt``, ``testlist01.txt``; lines ``<class>/<video> [label]``, paths may hold
    spaces) are looked for in ``annotations``, ``root`` and ``root/ucfTrainTestlist``; class order from
    ``classInd.txt`` if present. Without lists each class's videos, sorted by name, are split 3:1:1 into
    train / val / test.
    """
    root = Path(root)
    ann_dirs = [Path(annotations)] if annotations else [root, root / "ucfTrainTestlist"]
    ann = next((d for d in ann_dirs if _split_lists(d)), ann_dirs[0])
    by_class: dict[str, list[Path]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
        if videos:
            by_class[folder.name] = videos
    meta = _dataset_meta(ann, root)
    class_ind = ann / "classInd.txt"
    if "classes" in meta:
        names = meta["classes"]
    elif class_ind.is_file():
        names = _class_index(class_ind)
    else:
        names = sorted(by_class)
    index = {name: i for i, name in enumerate(names)}
    splits: dict[str, list[VideoRecord]] = {}
    skipped: list[tuple[str, str]] = []
    listed: dict[str, int] = {}
    lists = _split_lists(ann)
    if lists:
        sources = {split: str(lists.get(split, ann / f"{split}list01.txt")) for split in SPLITS}
        for split, file in lists.items():
            records = splits.setdefault(split, [])
            for line_no, text in _lines(file):
                listed[split] = listed.get(split, 0) + 1
                where = f"{file}:{line_no}"
                labelled = re.fullmatch(r"(.+?)\s+(\d+)", text)  # "<class>/<video> <label>": the label is optional
                rel = labelled.group(1) if labelled else text
                path = _inside(root, rel)
                if path is None:
                    skipped.append((where, _outside(rel, root)))
                    continue
                if not path.is_file():
                    skipped.append((str(path), f"file not found ({where})"))
                    continue
                label = path.relative_to(root).parts[0]  # "<class>/<video>"
                if label not in index:
                    skipped.append((str(path), f"unknown label {label!r} ({where})"))
                else:
                    records.append(VideoRecord(path, (index[label],), source=where))
    else:
        sources = {split: f"{root} (each class folder's videos, split 3:1:1 into train, val, test)"
                   for split in SPLITS}
        splits = {split: [] for split in SPLITS}
        for label, videos in by_class.items():
            for i, path in enumerate(videos):
                if label not in index:
                    skipped.append((str(path), f"unknown label {label!r} (not in the class list)"))
                    continue
                split = ("train", "train", "train", "val", "test")[i % 5]
                listed[split] = listed.get(split, 0) + 1
                splits[split].append(VideoRecord(path, (index[label],)))
    return _finish("folder", names, splits, skipped, meta, sources, listed)


# --------------------------------------------------------------------------------------------------- auto
def detect_format(root: str | Path, annotations: str | Path | None = None) -> str:
    """``kinetics`` if there are CSVs, ``sports1m`` if partition files, ``folder`` if class folders of videos."""
    root = Path(root)
    places = [Path(annotations)] if annotations else [root / "annotations", root]
    for place in places:
        if place.is_file() and place.suffix == ".csv" or place.is_dir() and any(place.glob("*.csv")):
            return "kinetics"
        if place.is_dir() and any(place.glob("*_partition.txt")):
            return "sports1m"
    if any(p.is_dir() and any(q.suffix.lower() in VIDEO_EXTENSIONS for q in p.iterdir()) for p in root.iterdir()):
        return "folder"
    raise ValueError(f"cannot tell the annotation format of {str(root)!r}: no Kinetics CSVs (annotations/*.csv), "
                     "no Sports-1M *_partition.txt and no <class>/<video> folders; set data.format and "
                     "data.annotations")


READERS = {"kinetics": read_kinetics, "sports1m": read_sports1m, "folder": read_folder}


def read_annotations(root: str | Path, format: str = "auto", annotations: str | Path | None = None) -> Annotations:
    """Read ``root`` with the reader for ``format`` (``auto``: detected from what is in ``root``)."""
    if format not in FORMATS:
        raise ValueError(f"unknown data.format {format!r}: choose one of {', '.join(FORMATS)}")
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"data.root {str(root)!r} is not a folder (give the dataset's root folder)")
    if annotations is not None and not Path(annotations).exists():
        raise ValueError(f"data.annotations {str(annotations)!r} does not exist")
    if format == "auto":
        format = detect_format(root, annotations)
    return READERS[format](root, annotations)

