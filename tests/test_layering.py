"""The package's dependency direction (docs/internals.md), read from the source's import statements, so an
import that goes the wrong way (or a cycle such as the sweep importing the report that reads the sweep) fails here.

Floors, from the top: the commands (``lit_video/cli.py`` and every package's ``cli.py``: they may use anything, and
nothing but ``lit_video/cli.py`` imports them); ``sweep`` and ``report``, siblings that never import each other;
``results`` below both; ``train`` and ``visualize``; ``tasks``; ``profiling``; ``models`` and ``data``, which never
import each other; and at the bottom ``memory_format``, ``machine``, ``clip``, ``files``, ``names`` and ``terminal``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lit_video"
BOTTOM = {"files", "clip", "machine", "memory_format", "names", "terminal"}
# Part of lit_video -> the parts its (non-command) modules must never import.
FORBIDDEN = {
    "models": {"data", "profiling", "tasks", "train", "results", "sweep", "report", "visualize", "cli"},
    "data": {"models", "profiling", "tasks", "train", "results", "sweep", "report", "visualize", "cli"},
    "profiling": {"tasks", "train", "results", "sweep", "report", "visualize", "cli"},
    "tasks": {"profiling", "train", "results", "sweep", "report", "visualize", "cli"},
    "train": {"profiling", "results", "sweep", "report", "visualize", "cli"},
    "visualize": {"train", "results", "sweep", "report", "cli"},
    "results": {"models", "data", "tasks", "train", "sweep", "report", "visualize", "cli"},
    "sweep": {"report", "visualize", "cli"},
    "report": {"tasks", "train", "sweep", "visualize", "cli"},
    "memory_format": {"models", "data", "profiling", "tasks", "train", "results", "sweep", "report", "visualize",
                      "cli"},
    "machine": {"models", "data", "profiling", "tasks", "train", "results", "sweep", "report", "visualize", "cli",
                "memory_format"},
    "clip": {"models", "data", "profiling", "tasks", "train", "results", "sweep", "report", "visualize", "cli",
             "memory_format", "machine"},
    "files": {"models", "data", "profiling", "tasks", "train", "results", "sweep", "report", "visualize", "cli",
              "memory_format", "machine", "clip"},
    "terminal": {"models", "data", "profiling", "tasks", "train", "results", "sweep", "report", "visualize", "cli",
                 "memory_format", "machine", "clip", "files"},
}
# Choosing names and fitting text to the terminal import nothing of lit_video: the commands use them before torch.
FORBIDDEN |= {part: {*FORBIDDEN, "cli"} - {part} for part in ("names", "terminal")}


def lit_video_imports(path: Path) -> set[tuple[str, ...]]:
    """The modules of lit_video that one source file imports, as name parts below lit_video (``("sweep", "entry")``;
    ``from ..results import schema`` gives ``("results", "schema")``)."""
    package = path.relative_to(PACKAGE.parent).parent.parts  # lit_video/sweep/entry.py: ("lit_video", "sweep")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = (*base, *(node.module or "").split(".")) if node.module else base
            names = [(*module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            names = [tuple(a.name.split(".")) for a in node.names]
        else:
            continue
        found |= {tuple(p for p in name[1:] if p) for name in names if len(name) > 1 and name[0] == "lit_video"}
    return found


def part_files(part: str) -> list[Path]:
    """The part's library modules: its files but its command (``cli.py``)."""
    if not (PACKAGE / part).is_dir():
        return [PACKAGE / f"{part}.py"]
    return sorted(p for p in (PACKAGE / part).rglob("*.py") if p.name != "cli.py")


def test_every_part_has_a_rule():
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" or (p / "__init__.py").is_file()) and p.name != "__init__.py"}
    assert parts - {"cli"} == set(FORBIDDEN), "a new part of lit_video needs its place in FORBIDDEN"
    assert BOTTOM <= set(FORBIDDEN)


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_dependencies_point_one_way(part):
    files = part_files(part)
    assert files
    wrong = {f"{path.relative_to(PACKAGE)} imports lit_video.{'.'.join(name)}"
             for path in files for name in lit_video_imports(path) if name[0] in FORBIDDEN[part]}
    assert not wrong, sorted(wrong)


def test_only_the_command_line_imports_a_command():
    """A package's ``cli.py`` is a command (it may join the sweep and the report); no library module imports one."""
    wrong = {f"{path.relative_to(PACKAGE)} imports lit_video.{'.'.join(name)}"
             for path in PACKAGE.rglob("*.py") if path != PACKAGE / "cli.py"
             for name in lit_video_imports(path) if "cli" in name}
    assert not wrong, sorted(wrong)


def test_the_reader_resolves_relative_imports():
    """An independent check of the reader on this very layout: the sweep entry reaches training, models and results;
    the sweep's command reaches the report."""
    entry = {name[0] for name in lit_video_imports(PACKAGE / "sweep" / "entry.py")}
    assert {"models", "profiling", "files", "train", "sweep", "results"} <= entry
    assert ("report", "html", "write_after_sweep") in lit_video_imports(PACKAGE / "sweep" / "cli.py")
