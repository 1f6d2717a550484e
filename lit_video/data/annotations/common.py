"""What every annotation reader shares: the records it returns (``VideoRecord``, ``Annotations``), the split
names and the choice of the splits a run uses, the index of the video files under a root, and the reading of
annotation files with ``file:line`` errors (UTF-8 text, paths kept inside the root, the optional ``classes.json``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..decode import VIDEO_EXTENSIONS

SPLITS = ("train", "val", "test")
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
