"""Files every part of lit-video shares: the cache folder, atomic writes of files and folders, a file's name as text
to show (``display_name``).

A file written with ``write_atomic`` is either as it was or complete, never truncated, whatever kills the writer:
the data goes to a temporary file beside it, which is fsynced and renamed over it. ``write_folder_atomic`` does
the same for a whole folder. Both get the permissions any new file or folder gets (``0o666`` / ``0o777`` less
the process's umask), not the owner-only ones of Python's temporary files, so shared results stay readable.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

# Temporary files of atomic writes; a killed writer may leave some, ``remove_temporaries`` clears them.
TEMP_PREFIX = ".tmp-"


def cache_dir() -> Path:
    """lit-video's cache (built-in dataset, video probes, the machine's matmul peak): ``$LIT_VIDEO_CACHE``, else
    ``~/.cache/lit_video``."""
    return Path(os.environ.get("LIT_VIDEO_CACHE") or Path.home() / ".cache" / "lit_video")


def display_name(name: str) -> str:
    """A name read from the file system (a class folder's, a dataset root's) as text to show: its bytes that are not
    UTF-8, which ``os.fsdecode`` keeps as lone surrogates that matplotlib cannot draw, each a U+FFFD (as a browser
    shows them). The data keeps the name itself, which finds the file."""
    return re.sub(r"[\ud800-\udfff]", "\ufffd", name)


def umask() -> int:
    """The process's umask. Read from ``/proc/self/status`` where there is one (no race with other threads);
    elsewhere set and restored once, with the tightest mask in between, so no thread's file is ever laxer."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return _umask_once()


@functools.cache
def _umask_once() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, data: str | bytes | Callable[[Path], None]) -> None:
    """Replace ``path`` in one step with ``data``: text, bytes, or a function that writes a given path. An OSError
    names ``path``: a full disk's names no file, and a refused temporary file's would name that."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _replace(path, data)
    except OSError as err:
        named = err.filename is not None and not Path(err.filename).name.startswith(TEMP_PREFIX)
        if err.errno is None or named:
            raise
        raise OSError(err.errno, err.strerror, str(path)) from err  # made from its errno: PermissionError, ... again


def _replace(path: Path, data: str | bytes | Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes it 0600
        if callable(data):
            data(Path(tmp))
        else:
            # Text is UTF-8; file names that are not (os.fsdecode surrogates) are written back as their bytes.
            Path(tmp).write_bytes(data.encode(errors="surrogateescape") if isinstance(data, str) else data)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_folder_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Create the folder ``path`` in one step: ``write`` fills a temporary folder beside it, which is renamed
    into place. Where another process got there first (the rename finds ``path`` there), its folder stays and
    this one's is removed; either way ``path`` is complete. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}."))
    try:
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes it 0700
        write(tmp)
        os.rename(tmp, path)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def remove_temporaries(folder: str | Path) -> None:
    """Delete what a killed writer left behind in ``folder``: its temporary files (the real files are intact)."""
    for path in Path(folder).glob(f"{TEMP_PREFIX}*"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)  # a folder of write_folder_atomic
        else:
            path.unlink(missing_ok=True)
