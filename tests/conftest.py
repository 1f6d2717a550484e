"""Shared fixtures: an isolated environment (no writes to the user's home, wandb offline) and tiny datasets.
Helpers that are not fixtures (test files import them) are in helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import index_frames

from lit_video.data.synthetic import write_synthetic_dataset, write_video


@pytest.fixture(scope="session", autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory):
    """wandb offline into a temp folder, and the lit-video cache (synthetic data, probes) in a temp folder."""
    patch = pytest.MonkeyPatch()
    patch.setenv("WANDB_MODE", "offline")
    patch.setenv("WANDB_DIR", str(tmp_path_factory.mktemp("wandb")))
    patch.setenv("LIT_VIDEO_CACHE", str(tmp_path_factory.mktemp("lit_video_cache")))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic Kinetics-layout dataset: 4 classes (solid, horizontal_stripes of `appearance`; move_left,
    move_right of `direction`) x 3 videos per split, 10-20 frames of 32 px at 12 / 25 / 30 fps. Returns its root."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("tiny") / "data", groups=("appearance", "direction"),
                                   classes_per_group=2, videos_per_class=3, eval_videos_per_class=3, frames=20,
                                   size=32, seed=0)


@pytest.fixture(scope="session")
def indexed_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """30-frame videos whose frame i has grey level 8 * i + 4, in each container the readers accept."""
    folder = tmp_path_factory.mktemp("indexed")
    frames = index_frames(30, size=48)
    return {ext: write_video(folder / f"indexed.{ext}", frames, fps=30, crf=10)
            for ext in ("mp4", "mkv", "webm", "avi")}
