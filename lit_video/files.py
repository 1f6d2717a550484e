"""Files every part of lit-video shares: the cache folder and atomic writes.

A file written with ``write_atomic`` is either as it was or complete, never truncated, whatever kills the writer:
the data goes to a temporary file beside it, which is fsynced and renamed over it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

# Temporary files of atomic writes; a killed writer may leave some, ``remove_temporaries`` clears them.
TEMP_PREFIX = ".tmp-"


def cache_dir() -> Path:
    """lit-video's cache (built-in dataset, video probes, the machine's matmul peak): ``$LIT_VIDEO_CACHE``, else
    ``~/.cache/lit_video``."""
    return Path(os.environ.get("LIT_VIDEO_CACHE") or Path.home() / ".cache" / "lit_video")


def write_atomic(path: str | Path, data: str | bytes | Callable[[Path], None]) -> None:
    """Replace ``path`` in one step with ``data``: text, bytes, or a function that writes a given path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        if callable(data):
            data(Path(tmp))
        else:
            Path(tmp).write_bytes(data.encode() if isinstance(data, str) else data)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove_temporaries(folder: str | Path) -> None:
    """Delete what a killed writer left behind in ``folder``: its temporary files (the real files are intact)."""
    for path in Path(folder).glob(f"{TEMP_PREFIX}*"):
        path.unlink(missing_ok=True)
