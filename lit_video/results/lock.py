"""Who may write a results folder: one writer at a time, or shards side by side.

A whole sweep, a merge and a report take the folder alone: an exclusive OS lock on ``<folder>/.lock``. The shards of
one sweep (``--shard I/N``) share it, each writing rows of its own: a shared lock on ``.lock``, and an exclusive one
on ``.lock-shard-I-of-N``, so that a shard never runs twice at once. Nobody waits: a writer that cannot have the
folder raises ``ResultsFolderBusy`` naming who has it (each lock file says who holds it). The kernel drops a lock
when its holder exits in any way, SIGKILL included, so a dead writer never leaves the folder locked. (``flock``: a
folder shared over NFS may not honour it.)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

LOCK_FILE = ".lock"


class ResultsFolderBusy(Exception):
    """Another writer holds the results folder; the message names it."""


@contextlib.contextmanager
def results_lock(folder: str | Path, writer: str, shard: str | None = None) -> Iterator[None]:
    """Hold ``folder`` for ``writer`` (what the lock file says of its holder, e.g. ``lit-video sweep --merge``):
    alone, or, for the shard named ``shard`` (``shard-I-of-N``), beside the sweep's other shards. Raises
    ResultsFolderBusy, holding nothing, where another writer has it."""
    folder = Path(folder)
    with contextlib.ExitStack() as held:  # a lock lasts as long as its file is open
        folder_lock = held.enter_context(open(folder / LOCK_FILE, "a+"))
        if not _locked(folder_lock, fcntl.LOCK_EX if shard is None else fcntl.LOCK_SH):
            raise _busy(folder, _holders(folder) if shard is None else _holder(folder_lock))
        own = folder_lock
        if shard is not None:
            own = held.enter_context(open(folder / f"{LOCK_FILE}-{shard}", "a+"))
            if not _locked(own, fcntl.LOCK_EX):  # the same shard, started twice
                raise _busy(folder, _holder(own))
        own.seek(0)
        own.truncate()
        own.write(f"{writer} (pid {os.getpid()} on {socket.gethostname()}, "
                  f"since {time.strftime('%Y-%m-%d %H:%M:%S')})\n")
        own.flush()
        yield


def _locked(handle: IO[str], kind: int) -> bool:
    """Lock the open file (``kind``: shared or exclusive) unless another holds it; whether it is locked."""
    try:
        fcntl.flock(handle, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(handle: IO[str]) -> str:
    handle.seek(0)
    return handle.read().strip()


def _holders(folder: Path) -> str:
    """Who has ``folder``, where it cannot be had alone: the writer that has it alone, or the shards that share it
    (their lock files held: a probe takes each for an instant)."""
    with open(folder / LOCK_FILE, "a+") as probe:
        if not _locked(probe, fcntl.LOCK_SH):
            return _holder(probe)
    running = []
    for path in sorted(folder.glob(f"{LOCK_FILE}-*")):
        with open(path, "a+") as probe:
            if not _locked(probe, fcntl.LOCK_SH):
                running.append(_holder(probe))
    return "; ".join(running)


def _busy(folder: Path, holder: str) -> ResultsFolderBusy:
    return ResultsFolderBusy(f"results folder {folder} is in use by {holder or 'another process'}; wait for it to "
                             "finish or give another --out")
