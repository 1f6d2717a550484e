"""The one record of the videos (and annotation rows) a dataset skips, from every process that reads them.

DataLoader workers are other processes: what they append to a Python list never reaches the parent. Every
process therefore appends its skips to one file, ``<log dir>/skipped_videos.txt``, one line
``<path>\\t<reason>`` per input (under a file lock, so two workers that fail on the same video list it once),
and the parent's answer is what it recorded itself plus what that file holds.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from lit_video.files import write_atomic

try:
    import fcntl
except ImportError:  # not POSIX: appends stay whole, but two processes may list one path twice
    fcntl = None

SKIPPED_FILE = "skipped_videos.txt"


def _line(path: str, reason: str) -> str:
    """``<path>\\t<reason>``, kept on one line whatever the reason says."""
    return f"{path}\t{' '.join(reason.split())}\n"


def _listed(text: str) -> dict[str, str]:
    """path -> reason of the lines of a skipped-videos file (the first line of a path wins)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        path, _, reason = line.partition("\t")
        found.setdefault(path, reason)
    return found


def read_skipped(file: Path) -> list[tuple[str, str]]:
    """(path, reason) of each input a skipped-videos file lists, once each, in order; none where there is no file."""
    if not file.is_file():
        return []
    return list(_listed(file.read_text("utf-8", errors="surrogateescape")).items())


def _append_once(file: Path, path: str, reason: str) -> None:
    """Append the line of ``path`` unless a process listed it already; the lock (released when the file
    closes) makes the check and the append one step."""
    with open(file, "a+", encoding="utf-8", errors="surrogateescape") as f:  # any file name the system holds
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        if path not in _listed(f.read()):
            f.write(_line(path, reason))  # "a+" writes at the end, wherever the read stopped


class SkippedVideos:
    """Records skipped inputs: warns once per input and process, and lists each in ``file`` once it is set.

    ``strict=True`` raises on the first one instead. ``items()`` is what every process recorded, one entry per
    path (with the first reason given for it). An instance travels to DataLoader workers with the dataset.
    """

    def __init__(self, strict: bool = False):
        self.strict = strict
        self.file: Path | None = None
        self._mine: dict[str, str] = {}  # what this process recorded: path -> reason

    def add(self, path: str, reason: str) -> None:
        if self.strict:
            raise ValueError(f"bad input {path!r}: {reason} (strict mode; set data.strict=false to skip it)")
        if path in self._mine:  # once per input and process, not once per epoch
            return
        self._mine[path] = reason
        if self.file is not None:
            _append_once(self.file, path, reason)
        warnings.warn(f"skipping {path!r} (pid {os.getpid()}): {reason}", stacklevel=3)

    def write_to(self, file: Path) -> None:
        """Start ``file``: what was recorded so far replaces what an earlier run left there (no file when
        nothing was); later records, from any process, are appended."""
        file.parent.mkdir(parents=True, exist_ok=True)
        if self._mine:
            write_atomic(file, "".join(_line(path, reason) for path, reason in self._mine.items()))
        else:
            file.unlink(missing_ok=True)
        self.file = file

    def items(self) -> list[tuple[str, str]]:
        """(path, reason) of every input skipped so far, by this process or by any other writing the file."""
        found = dict(self._mine)
        for path, reason in read_skipped(self.file) if self.file is not None else ():
            found.setdefault(path, reason)
        return list(found.items())
