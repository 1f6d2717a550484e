"""Shared fixtures: an isolated environment (no writes to the user's home, wandb offline), tiny datasets, and one
finished sweep for the tests that only read a sweep's results folder. Helpers that are not fixtures (test files
import them) are in helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import VFR_TIMES, index_frames, sweep_config

from lit_video.data.synthetic import write_synthetic_dataset, write_video


@pytest.fixture(scope="session", autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory):
    """wandb offline into a temp folder, the lit-video cache (synthetic data, probes) in a temp folder, and every
    jsonargparse deprecation warned: by default it warns once per kind, so where Lightning's LightningCLI used a
    deprecated option first (those are ignored: pyproject.toml) our own use of it went unseen."""
    patch = pytest.MonkeyPatch()
    patch.setenv("JSONARGPARSE_DEPRECATION_WARNINGS", "all")
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


@pytest.fixture(scope="session")
def vfr_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Variable-frame-rate videos (frames at ``VFR_TIMES``, header rate 25 fps), frame i of grey level 8 * i + 4,
    in each container that keeps per-frame timestamps (AVI has none: its frames are 1 / rate apart)."""
    folder = tmp_path_factory.mktemp("vfr")
    frames = index_frames(len(VFR_TIMES), size=32)
    return {ext: write_video(folder / f"vfr.{ext}", frames, fps=25, crf=10, times=VFR_TIMES)
            for ext in ("mp4", "mkv", "webm")}


FINISHED_SWEEP_MODELS = [
    {"name": "single_frame", "model_args": {"backbone": "shufflenet_v2_x0_5"}},
    "lecture_late_fusion",
    {"name": "lecture_3d_cnn", "profile_only": True},
    {"name": "lecture_early_fusion", "lr": 1.0e30, "warmup_ratio": 0.0},  # the loss turns NaN: fails for real
]


@pytest.fixture(scope="session")
def finished_sweep_config(tiny_dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The YAML of the finished sweep (``finished_sweep``): sweep ``small``, seeds 0 and 1, ``parallel: 2``."""
    path = tmp_path_factory.mktemp("finished_sweep") / "small.yaml"
    path.write_text(yaml.safe_dump(sweep_config(tiny_dataset, name="small", seeds=[0, 1], parallel=2,
                                                models=FINISHED_SWEEP_MODELS)))
    return path


@pytest.fixture(scope="session")
def finished_sweep(finished_sweep_config: Path) -> Path:
    """One real sweep per test run (about a minute), run as a user runs it (``lit-video sweep``, offline wandb):
    two seeds each of single_frame and lecture_late_fusion trained side by side (``parallel: 2``), lecture_3d_cnn
    profiled only, lecture_early_fusion failed (NaN loss), so that its results folder has every kind of line.
    Returns that folder (``<out>/small``), which every test that uses it only reads: copy it to change it."""
    from lit_video import cli

    out = finished_sweep_config.parent / "results"
    assert cli.main(["sweep", str(finished_sweep_config), "--out", str(out)]) == 1  # the NaN entry failed
    return out / "small"
