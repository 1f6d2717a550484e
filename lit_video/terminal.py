"""What lit-video prints, fitted to where it goes: a terminal or a pipe (a log file, CI, ``| tee``).

In a terminal: live bars and status areas that redraw in place, at the terminal's width. Piped: plain lines, no
ANSI codes, at most ``WIDTH`` columns, and progress as a line now and then, never a bar redrawn at every step or a
line per item. Help and descriptions: paragraphs wrapped to the width, reStructuredText markup left out (docstrings
are written for the source; ``x`` reads as x on a terminal), and argparse's help in those terms.

The width is ``COLUMNS`` where set, else the terminal's, else ``WIDTH`` (``shutil.get_terminal_size``'s fallback).
"""

from __future__ import annotations

import argparse
import re
import shutil
import textwrap
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

WIDTH = 80  # columns of piped output
STEPS, EVERY_S = 10, 2.0  # piped progress: a line at each tenth, at most one per EVERY_S seconds, and the last

T = TypeVar("T")

# ``literal`` and :role:`target` (Sphinx roles), as docstrings write them.
_MARKUP = re.compile(r"``(.+?)``|:[\w:]+:`(.+?)`")


def width() -> int:
    return shutil.get_terminal_size((WIDTH, 24)).columns


def plain(text: str) -> str:
    """``text`` without its reStructuredText markup."""
    return _MARKUP.sub(lambda m: m.group(1) or m.group(2), text)


def wrap(text: str, columns: int, indent: str = "") -> list[str]:
    """The paragraphs of ``text`` (split at blank lines) wrapped to ``columns``, a blank line between them; an
    indented paragraph (an example command) keeps its lines as written."""
    lines: list[str] = []
    for paragraph in re.split(r"\n\s*\n", textwrap.dedent(text).strip("\n")):
        if lines:
            lines.append("")
        if paragraph[:1].isspace():
            lines += [indent + line.rstrip() for line in paragraph.splitlines()]
        else:
            lines += textwrap.wrap(" ".join(paragraph.split()), columns, initial_indent=indent,
                                   subsequent_indent=indent, break_on_hyphens=False)
    return lines


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help at the terminal's width, its description and epilog wrapped by paragraph (``wrap``: an
    indented example stays as written) and without markup; the options' help strings as argparse wraps them."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(wrap(plain(text), width, indent))

    def _split_lines(self, text: str, width: int) -> list[str]:
        return super()._split_lines(plain(text), width)


def console(stderr: bool = False) -> Console:
    """A rich Console on stdout (or stderr). Piped, rich writes no ANSI codes by itself; its width is ``width()``
    (``COLUMNS`` if set, else ``WIDTH``), since rich would otherwise take that of whichever of stdin, stdout, stderr
    is a terminal (``lit-video sweep ... | tee log`` would log lines as wide as the terminal). Without markup or
    highlighting: what lit-video prints holds names and paths a user chose (a label ``a [/] b`` would be rich
    markup), so it is printed as it is, and colour is given by ``style``."""
    made = Console(stderr=stderr, markup=False, highlight=False)
    if not made.is_terminal:
        made.width = width()
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
            out.print(f"{what}: {done}/{total} {unit} ({100 * done // max(total, 1)} %), {duration(now - start)}")
