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

from .common import SPLITS, Annotations, VideoRecord, index_videos
from .folder import read_folder
from .formats import FORMATS, READERS, detect_format, read_annotations
from .kinetics import read_kinetics
from .sports1m import read_sports1m

__all__ = [
    "FORMATS", "READERS", "SPLITS", "Annotations", "VideoRecord", "detect_format", "index_videos",
    "read_annotations", "read_folder", "read_kinetics", "read_sports1m",
]
