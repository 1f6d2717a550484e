"""Sports-1M annotations: ``<split>_partition.txt`` files of YouTube URLs or local paths with one or more label
ids, and a class-names file; several labels per video make the data multi-label."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

from .common import (
    SPLITS,
    Annotations,
    VideoRecord,
    _dataset_meta,
    _finish,
    _inside,
    _lines,
    _outside,
    _split_name,
    index_videos,
)


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
