"""Shared fixtures: an isolated environment (no writes to the user's home, wandb offline) and tiny datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from lit_video.data.decode import backend_unavailable
from lit_video.data.synthetic import write_synthetic_dataset, write_video


def decoders() -> list:
    """Every decoding backend as a test parameter. torchcodec needs FFmpeg's shared libraries from the system: a
    machine without them skips its cases, unless LIT_VIDEO_REQUIRE_TORCHCODEC is set (.ci/run installs the
    libraries and sets it, so CI never skips them)."""
    why = backend_unavailable("torchcodec")
    if why and os.environ.get("LIT_VIDEO_REQUIRE_TORCHCODEC"):
        raise RuntimeError(f"LIT_VIDEO_REQUIRE_TORCHCODEC is set but torchcodec cannot decode: {why}")
    return ["decord", "pyav", pytest.param("torchcodec", marks=pytest.mark.skipif(
        why is not None, reason=f"torchcodec cannot decode here ({why}); see README, 'Decoders'"))]


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


def index_frames(num_frames: int, size: int = 32) -> np.ndarray:
    """Frames ``(T, size, size, 3)`` whose grey level encodes their index (8 * i + 4), robust to compression."""
    levels = 8 * np.arange(num_frames) + 4
    return np.broadcast_to(levels[:, None, None, None], (num_frames, size, size, 3)).astype(np.uint8)


def frame_index(level: float) -> int:
    return round((float(level) - 4) / 8)


@pytest.fixture(scope="session")
def indexed_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """30-frame videos whose frame i has grey level 8 * i + 4, in each container the readers accept."""
    folder = tmp_path_factory.mktemp("indexed")
    frames = index_frames(30, size=48)
    return {ext: write_video(folder / f"indexed.{ext}", frames, fps=30, crf=10)
            for ext in ("mp4", "mkv", "webm", "avi")}
