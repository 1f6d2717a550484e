"""What the commands print, fitted to the terminal: its width, paragraphs wrapped to it, reStructuredText markup
left out (docstrings are written for the source; ``x`` reads as x on a terminal), and argparse's help in those terms.

The width is ``COLUMNS`` where set, else the terminal's, else 80 (piped output: ``shutil.get_terminal_size``'s
fallback). Nothing here writes ANSI codes, so what a command prints reads the same in a file.
"""

from __future__ import annotations

import argparse
import re
import shutil
import textwrap

# ``literal`` and :role:`target` (Sphinx roles), as docstrings write them.
_MARKUP = re.compile(r"``(.+?)``|:[\w:]+:`(.+?)`")


def width() -> int:
    return shutil.get_terminal_size((80, 24)).columns


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
