"""The package's dependency direction (DESIGN.md): read from the source's import statements, so an import that
goes the wrong way (or a cycle such as the sweep importing the CLI that imports the sweep) fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lit_video"
# Part of lit_video -> the parts it must never import.
FORBIDDEN = {
    "models": {"data", "profiling", "module", "train", "sweep", "cli"},
    "data": {"models", "profiling", "module", "train", "sweep", "cli"},
    "module": {"data", "profiling", "train", "sweep", "cli"},
    "profiling": {"module", "train", "sweep", "cli"},
    "train": {"profiling", "sweep", "cli"},
    "sweep": {"report", "cli"},
    "report": {"module", "train", "cli"},
    "files": {"models", "data", "profiling", "module", "train", "sweep", "cli"},
    "machine": {"models", "data", "profiling", "module", "train", "sweep", "cli", "layout"},
    "layout": {"models", "data", "profiling", "module", "train", "sweep", "cli"},
}


def lit_video_imports(path: Path) -> set[str]:
    """The top-level parts of lit_video (``models``, ``data``...) that one source file imports."""
    package = path.relative_to(PACKAGE.parent).parent.parts  # lit_video/sweep/entry.py: ("lit_video", "sweep")
    parts = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            names = [(*base, *(node.module or "").split("."))] if node.module else [(*base, a.name) for a in
                                                                                    node.names]
        elif isinstance(node, ast.Import):
            names = [tuple(a.name.split(".")) for a in node.names]
        else:
            continue
        parts |= {name[1] for name in names if len(name) > 1 and name[0] == "lit_video"}
    return parts


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_dependencies_point_one_way(part):
    files = sorted((PACKAGE / part).rglob("*.py")) if (PACKAGE / part).is_dir() else [PACKAGE / f"{part}.py"]
    assert files
    wrong = {f"{path.relative_to(PACKAGE)} imports lit_video.{other}"
             for path in files for other in lit_video_imports(path) & FORBIDDEN[part]}
    assert not wrong, sorted(wrong)


def test_the_reader_resolves_relative_imports():
    """An independent check of the reader on this very layout: the sweep entry reaches training and models."""
    entry = lit_video_imports(PACKAGE / "sweep" / "entry.py")
    assert {"models", "profiling", "files", "train", "sweep"} <= entry
