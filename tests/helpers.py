"""Helpers the test files share (fixtures are in conftest.py): the decoders as test parameters, frames that encode
their index, the tiny sweep config, results folders cut from the committed main job's, and Markdown as GitHub shows
it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from lit_video.data.decode import backend_unavailable
from lit_video.results.folder import RESULTS_FILE, read_rows, write_rows
from lit_video.results.leaderboard import write_leaderboards

LECTURE = Path(__file__).resolve().parents[1] / "results" / "lecture"  # the main job's results, as committed


def decoders() -> list:
    """Every decoding backend as a test parameter. torchcodec needs FFmpeg's shared libraries from the system: a
    machine without them skips its cases, unless LIT_VIDEO_REQUIRE_TORCHCODEC is set (.ci/run installs the
    libraries and sets it, so CI never skips them)."""
    why = backend_unavailable("torchcodec")
    if why and os.environ.get("LIT_VIDEO_REQUIRE_TORCHCODEC"):
        raise RuntimeError(f"LIT_VIDEO_REQUIRE_TORCHCODEC is set but torchcodec cannot decode: {why}")
    return ["decord", "pyav", pytest.param("torchcodec", marks=pytest.mark.skipif(
        why is not None, reason=f"torchcodec cannot decode here ({why}); see README, 'Decoders'"))]


def index_frames(num_frames: int, size: int = 32) -> np.ndarray:
    """Frames ``(T, size, size, 3)`` whose grey level encodes their index (8 * i + 4), robust to compression."""
    levels = 8 * np.arange(num_frames) + 4
    return np.broadcast_to(levels[:, None, None, None], (num_frames, size, size, 3)).astype(np.uint8)


# A variable frame rate: 20 frames 40, 200 and 100 ms apart (1.64 s from the first to the last), so that a header's
# rate, the frames over the container's duration and the frames over the span of their timestamps all differ.
VFR_TIMES = np.cumsum([0] + [0.04] * 6 + [0.2] * 4 + [0.04] * 5 + [0.1] * 4)


def frame_index(level: float) -> int:
    return round((float(level) - 4) / 8)


def sweep_config(root: Path | None, **overrides) -> dict:
    """A sweep of two tiny models on the dataset at ``root`` for a few batches; ``overrides`` replace whole
    top-level sections."""
    config = {
        "name": "tiny",
        "seeds": [0],
        "data": {"root": None if root is None else str(root), "frames": 4, "size": 32, "batch_size": 4,
                 "num_workers": 0, "test_clips": 2},
        "trainer": {"accelerator": "cpu", "max_epochs": 1, "limit_train_batches": 3, "limit_val_batches": 1,
                    "enable_checkpointing": False, "log_every_n_steps": 1},
        "profile": {"batch_sizes": [2], "warmup": 1, "repeats": 2},
        "models": ["lecture_late_fusion",
                   {"name": "single_frame", "model_args": {"backbone": "shufflenet_v2_x0_5"}}],
    }
    return {**config, **overrides}


def lecture_folder(folder: Path, keep=lambda row: True, title: str = "lecture") -> Path:
    """A results folder holding the committed main job's rows that ``keep`` picks, and their leaderboards (no
    ``runs/``: git has none). Returns it."""
    rows = [row for row in read_rows(LECTURE / RESULTS_FILE) if keep(row)]
    write_rows(folder / RESULTS_FILE, rows)
    write_leaderboards(folder, rows, title)
    return folder


# A variant label a sweep config accepts that Markdown would read as markup: a table's cell break, an image from the
# network, raw HTML, a code span, emphasis. Every writer must show it as written.
MARKUP_LABEL = "a | b ![t](https://example.invalid/track.png) <b>x</b> `c` *e* _u_"


def markdown_as_html(text: str) -> str:
    """Markdown as GitHub shows it: CommonMark with tables, links, images and raw HTML on."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def html_tables(html: str) -> list[list[list[str]]]:
    """Each table of ``html``: its rows, each a list of its cells' text (tags left out, entities read)."""
    import html as html_lib
    import re

    def text(cell: str) -> str:
        return html_lib.unescape(re.sub(r"<[^>]+>", "", cell)).strip()

    return [[[text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
             for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]
            for table in re.findall(r"<table[^>]*>(.*?)</table>", html, re.S)]
