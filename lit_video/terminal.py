"""What lit-video prints, in a terminal or piped: the one place that tells them apart (rich's ``is_terminal``).

In a terminal: live bars and status areas that redraw in place. Piped or redirected (a log file, CI, ``| tee``):
plain lines, no ANSI codes, at most ``WIDTH`` columns, and progress as a line now and then, never a bar redrawn
at every step or a line per item.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

WIDTH = 80  # columns of piped output
STEPS, EVERY_S = 10, 2.0  # piped progress: a line at each tenth, at most one per EVERY_S seconds, and the last

T = TypeVar("T")


def console(stderr: bool = False) -> Console:
    """A rich Console on stdout (or stderr). Piped, rich writes no ANSI codes by itself; its width is fixed at
    ``WIDTH``, since rich would otherwise take that of whichever of stdin, stdout, stderr is a terminal (``lit-video
    sweep ... | tee log`` would log lines as wide as the terminal)."""
    made = Console(stderr=stderr)
    if not made.is_terminal:
        made.width = WIDTH
    return made


def duration(seconds: float | None) -> str:
    """``h:mm:ss`` (``?`` for an unknown time)."""
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, with an ellipsis where it was cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def progress(items: Iterable[T], total: int, what: str, unit: str, out: Console | None = None) -> Iterator[T]:
    """``items`` as they come, showing how many of ``total`` are done: a bar in a terminal; piped, a line at each
    tenth (``synthetic data: 42/420 videos (10 %), 0:00:05``), none closer than ``EVERY_S`` to the one before, and
    a line when all are done."""
    out = out or console()
    if out.is_terminal:
        columns = (TextColumn(what), BarColumn(bar_width=30), MofNCompleteColumn(), TextColumn(unit),
                   TimeElapsedColumn())
        with Progress(*columns, console=out) as bar:
            task = bar.add_task(what, total=total)
            for item in items:
                yield item
                bar.advance(task)
        return
    start = last = time.monotonic()
    shown = 0  # tenths
    for done, item in enumerate(items, 1):
        yield item
        now, step = time.monotonic(), done * STEPS // max(total, 1)
        if done == total or (step > shown and now - last >= EVERY_S):
            shown, last = step, now
            out.print(f"{what}: {done}/{total} {unit} ({100 * done // max(total, 1)} %), {duration(now - start)}",
                      markup=False, highlight=False)
