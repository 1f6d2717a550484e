"""The annotation formats and the reader of each: ``read_annotations`` reads a dataset root in the format it is
told, or the one ``detect_format`` finds there."""

from __future__ import annotations

from pathlib import Path

from ..decode import VIDEO_EXTENSIONS
from .common import Annotations
from .folder import read_folder
from .kinetics import read_kinetics
from .sports1m import read_sports1m

FORMATS = ("kinetics", "sports1m", "folder", "auto")


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
