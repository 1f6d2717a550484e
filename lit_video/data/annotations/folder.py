"""Folder (UCF101-style) annotations: ``<class>/<video>`` under the root, with UCF101's split lists and
``classInd.txt`` where there are any, else each class's videos split 3:1:1."""

from __future__ import annotations

import re
from pathlib import Path

from ..decode import VIDEO_EXTENSIONS
from .common import SPLITS, Annotations, VideoRecord, _dataset_meta, _finish, _inside, _lines, _outside


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
