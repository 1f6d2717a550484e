"""Annotation readers: Kinetics CSVs, Sports-1M partition files, UCF101-style class folders.

Each reader returns an ``Annotations``: class names, the videos of each split (``train``, ``val``, ``test``) and
the rows it had to skip (missing file, unknown label) with the reason. Readers never warn or raise for a bad
row: the caller decides (the DataModule warns once per row, ``lit-video data check`` lists them).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from .decode import VIDEO_EXTENSIONS

SPLITS = ("train", "val", "test")
FORMATS = ("kinetics", "sports1m", "folder", "auto")
# Names under which the splits appear in the wild (Kinetics says "validate", Sports-1M has no val).
_SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "validate": "val", "validation": "val",
                  "test": "test", "testing": "test"}


@dataclass(frozen=True)
class VideoRecord:
    """One video of a split: its file, its class indices, and a ``[start, end]`` segment in seconds.

    The segment is ``(None, None)`` for a trimmed clip; an untrimmed video carries its annotated segment.
    """

    path: Path
    labels: tuple[int, ...]
    segment: tuple[float | None, float | None] = (None, None)


@dataclass
class Annotations:
    format: str
    class_names: list[str]
    splits: dict[str, list[VideoRecord]]
    groups: dict[str, list[int]] = field(default_factory=dict)
    multi_label: bool = False
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file or row, reason)
    horizontal_flip: bool = True  # False where a mirrored video means another class (left / right motion)

    def videos(self) -> list[Path]:
        """Every distinct video file of every split, in a stable order."""
        return list(dict.fromkeys(r.path for split in SPLITS for r in self.splits.get(split, [])))


def index_videos(root: Path) -> dict[str, list[Path]]:
    """Every video file under ``root`` by file stem (name without extension), found in one walk."""
    found: dict[str, list[Path]] = {}
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder, name)
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                found.setdefault(path.stem, []).append(path)
    return found


def _dataset_meta(*folders: Path) -> dict:
    """The optional ``classes.json`` of a dataset, fixing class order and more: ``{"classes": [...],
    "groups": {name: [class, ...]}, "horizontal_flip": false}`` (the last where mirroring changes a label)."""
    for folder in folders:
        file = folder / "classes.json"
        if file.is_file():
            return json.loads(file.read_text())
    return {}


def _finish(fmt: str, names: list[str], splits: dict[str, list[VideoRecord]], skipped: list[tuple[str, str]],
            meta: dict, multi_label: bool = False) -> Annotations:
    # Datasets without a val split (Sports-1M, UCF101) validate on test, and the other way round.
    splits.setdefault("val", splits.get("test", []))
    splits.setdefault("test", splits["val"])
    splits.setdefault("train", [])
    index = {name: i for i, name in enumerate(names)}
    groups = {g: [index[c] for c in members if c in index] for g, members in meta.get("groups", {}).items()}
    return Annotations(fmt, names, {s: splits[s] for s in SPLITS}, groups, multi_label, skipped,
                       bool(meta.get("horizontal_flip", True)))


def _split_name(text: str, where: str) -> str:
    split = _SPLIT_ALIASES.get(text.strip().lower())
    if split is None:
        raise ValueError(f"{where}: unknown split {text!r} (expected one of {', '.join(_SPLIT_ALIASES)})")
    return split


# --------------------------------------------------------------------------------------------------- Kinetics
def _kinetics_rows(ann: Path) -> dict[str, list[tuple[str, int, dict[str, str]]]]:
    """Rows per split as ``(csv file, line number, row)``: one CSV per split, or one CSV with a split column."""
    files = [ann] if ann.is_file() else sorted(ann.glob("*.csv"))
    rows: dict[str, list[tuple[str, int, dict[str, str]]]] = {}
    for file in files:
        with open(file, newline="") as f:
            reader = csv.DictReader(f)
            missing = {"label", "youtube_id", "time_start", "time_end"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"annotations file {str(file)!r} lacks the column(s) {', '.join(sorted(missing))} "
                                 "(expected label,youtube_id,time_start,time_end,split)")
            for line, row in enumerate(reader, start=2):
                if ann.is_file():
                    split = _split_name(row.get("split") or "", f"{file}:{line}")
                elif file.stem.lower() in _SPLIT_ALIASES:
                    split = _SPLIT_ALIASES[file.stem.lower()]
                else:
                    continue  # another CSV in the folder (e.g. a class list)
                rows.setdefault(split, []).append((str(file), line, row))
    return rows


def read_kinetics(root: str | Path, annotations: str | Path | None = None) -> Annotations:
    """Kinetics: ``label,youtube_id,time_start,time_end,split`` CSVs (``train.csv``, ``val.csv``, ``test.csv``).

    Files are ``<split>/<label>/<youtube_id>_<start:06d>_<end:06d>.<ext>`` or all in one folder, any container;
    a file named just ``<youtube_id>.<ext>`` is the untrimmed video, and its clip is the ``[start, end]`` segment.
    Class names: ``classes.json`` beside the CSVs if there is one, else the sorted labels of the train split.
    """
    root = Path(root)
    ann = Path(annotations) if annotations else root / "annotations"
    rows = _kinetics_rows(ann)
    meta = _dataset_meta(ann if ann.is_dir() else ann.parent, root)
    labelled = rows.get("train") or [r for split_rows in rows.values() for r in split_rows]
    names = meta.get("classes") or sorted({row["label"] for _, _, row in labelled if row["label"]})
    index = {name: i for i, name in enumerate(names)}
    files = index_videos(root)
    splits: dict[str, list[VideoRecord]] = {}
    skipped: list[tuple[str, str]] = []
    for split, split_rows in rows.items():
        records = splits.setdefault(split, [])
        for file, line, row in split_rows:
            start, end = float(row["time_start"]), float(row["time_end"])
            stem = f"{row['youtube_id']}_{int(start):06d}_{int(end):06d}"
            trimmed = files.get(stem, [])
            # Of several copies prefer the one in this split's folder.
            path = next((p for p in trimmed if split in p.parts), trimmed[0] if trimmed else None)
            segment: tuple[float | None, float | None] = (None, None)
            if path is None and row["youtube_id"] in files:
                path, segment = files[row["youtube_id"]][0], (start, end)
            if path is None:
                skipped.append((f"{file}:{line}", f"no video file {stem}.* or {row['youtube_id']}.* under {root}"))
            elif row["label"] not in index:
                skipped.append((str(path), f"unknown label {row['label']!r} ({file}:{line})"))
            else:
                records.append(VideoRecord(path, (index[row["label"]],), segment))
    return _finish("kinetics", names, splits, skipped, meta)


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

    A YouTube URL maps to the local file named by its video id; a path is relative to ``root``. Several labels
    per video make the data multi-label (multi-hot targets).
    """
    root = Path(root)
    ann = Path(annotations) if annotations else next(
        (d for d in (root, root / "annotations") if any(d.glob("*_partition.txt"))), root)
    names_file = next((ann / n for n in ("labels.txt", "classes.txt", "class_names.txt") if (ann / n).is_file()), None)
    if names_file is None:
        raise ValueError(f"Sports-1M annotations in {str(ann)!r} need a class-names file (labels.txt, one name a line)")
    names = [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
    meta = _dataset_meta(ann, root)
    files = index_videos(root)
    splits: dict[str, list[VideoRecord]] = {}
    skipped: list[tuple[str, str]] = []
    for part in sorted(ann.glob("*_partition.txt")):
        records = splits.setdefault(_split_name(part.stem.removesuffix("_partition"), str(part)), [])
        for line_no, line in enumerate(part.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{part}:{line_no}"
            source, _, label_text = line.strip().rpartition(" ")
            video_id = _youtube_id(source)
            local = root / source if video_id is None else None
            if local is not None and local.is_file():
                path = local
            else:
                stem = video_id or Path(source).stem
                path = files[stem][0] if stem in files else None
            if path is None:
                skipped.append((where, f"no local video for {source!r} under {root}"))
                continue
            ids = [t for t in label_text.split(",") if t]
            bad = [t for t in ids if not t.isdigit() or int(t) >= len(names)]
            if bad or not ids:
                skipped.append((str(path), f"unknown label id {','.join(bad) or '(none)'} ({where}; "
                                           f"{names_file.name} has {len(names)} classes)"))
                continue
            records.append(VideoRecord(path, tuple(sorted({int(t) for t in ids}))))
    multi_label = any(len(r.labels) > 1 for records in splits.values() for r in records)
    return _finish("sports1m", names, splits, skipped, meta, multi_label)


# --------------------------------------------------------------------------------------------------- folders
def _split_lists(ann: Path) -> dict[str, Path]:
    """UCF101's ``trainlist01.txt`` / ``testlist01.txt`` (first of each kind), plus ``vallist01.txt`` if any."""
    lists = {}
    for split, pattern in (("train", "trainlist*.txt"), ("val", "vallist*.txt"), ("test", "testlist*.txt")):
        found = sorted(ann.glob(pattern))
        if found:
            lists[split] = found[0]
    return lists


def read_folder(root: str | Path, annotations: str | Path | None = None) -> Annotations:
    """UCF101 style: ``<class>/<video>`` under ``root``, with optional split lists.

    Split lists (``trainlist01.txt``, ``testlist01.txt``; lines ``<class>/<video> [label]``) are looked for in
    ``annotations``, ``root`` and ``root/ucfTrainTestlist``; class order from ``classInd.txt`` if present.
    Without lists each class's videos, sorted by name, are split 3:1:1 into train / val / test.
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
    elif class_ind.is_file():  # lines "<1-based index> <name>"
        names = [line.split()[1] for line in class_ind.read_text().splitlines() if line.strip()]
    else:
        names = sorted(by_class)
    index = {name: i for i, name in enumerate(names)}
    splits: dict[str, list[VideoRecord]] = {}
    skipped: list[tuple[str, str]] = []
    lists = _split_lists(ann)
    if lists:
        for split, file in lists.items():
            records = splits.setdefault(split, [])
            for line_no, line in enumerate(file.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                rel = line.split()[0]
                path, label = root / rel, Path(rel).parts[0]
                if not path.is_file():
                    skipped.append((str(path), f"file not found ({file}:{line_no})"))
                elif label not in index:
                    skipped.append((str(path), f"unknown label {label!r} ({file}:{line_no})"))
                else:
                    records.append(VideoRecord(path, (index[label],)))
    else:
        for label, videos in by_class.items():
            for i, path in enumerate(videos):
                if label not in index:
                    skipped.append((str(path), f"unknown label {label!r} (not in the class list)"))
                    continue
                split = ("train", "train", "train", "val", "test")[i % 5]
                splits.setdefault(split, []).append(VideoRecord(path, (index[label],)))
    return _finish("folder", names, splits, skipped, meta)


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

