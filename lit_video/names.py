"""Choosing among names: the ones a pattern picks (a glob or a word), and the ones close to a name that is not
there, for a "did you mean". The registry's ``list_models`` and ``lit-video models`` both choose this way."""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable

_GLOB = re.compile(r"[*?\[\]]")


def matching(names: Iterable[str], pattern: str | None = None) -> list[str]:
    """The ``names`` that ``pattern`` picks, sorted: a glob (``"vivit*"``, with ``*``, ``?`` or ``[``) matched
    against whole names as timm's ``list_models`` does, or a plain word matched anywhere in a name; None: all."""
    if pattern is None:
        return sorted(names)
    if _GLOB.search(pattern):
        return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))
    return sorted(n for n in names if pattern in n)


def close_to(name: str, names: Iterable[str], n: int = 5, cutoff: float = 0.4) -> list[str]:
    """The ``names`` nearest to ``name`` (a typo, or a pattern without its glob characters), best first; ``cutoff``
    is difflib's least similarity, from 0 to 1."""
    return difflib.get_close_matches(_GLOB.sub("", name), list(names), n=n, cutoff=cutoff)
