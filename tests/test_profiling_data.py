"""Loader vs raw decoding on real H.264 files (the shared tiny synthetic dataset)."""

from __future__ import annotations

import numpy as np
import pytest

from lit_video.data import VideoDataModule, read_frames
from lit_video.profiling import data_speed
from lit_video.profiling.data_speed import RAW_DECODERS, clip_plan, data_throughput, raw_decode_throughput


def test_clip_plan_is_what_the_loader_decodes(tiny_dataset):
    dm = VideoDataModule(root=str(tiny_dataset), frames=4, fps=5.0, size=32, num_workers=0, test_clips=2,
                         test_crops=3)
    plan = clip_plan(dm)
    assert len(plan) == len(dm.datasets["test"]) == 2 * 3 * len(dm.datasets["test"].videos)
    path, indices = plan[0]
    for decode in RAW_DECODERS.values():
        assert np.array_equal(decode(path, indices), read_frames(path, indices).numpy())
    with pytest.raises(ValueError, match="unknown backend 'ffmpeg'"):
        raw_decode_throughput(plan, "ffmpeg")


def test_loader_and_raw_throughput_per_backend(tiny_dataset):
    result = data_throughput(("decord", "pyav"), root=str(tiny_dataset), frames=4, fps=5.0, size=32,
                             batch_size=4, num_workers=0, test_clips=1)
    assert set(result["backends"]) == {"decord", "pyav"}
    assert result["clips"] == 12  # the test split's 12 videos, one view each
    for row in result["backends"].values():
        assert row["loader"]["clips"] == row["raw"]["clips"] == result["clips"]
        assert row["loader"]["clips_per_s"] > 0 and row["raw"]["clips_per_s"] > 0
        assert row["loader_vs_raw_decord"] > 0 and row["loader_vs_raw_same_backend"] > 0


def test_ratios_are_against_raw_decord(tiny_dataset, monkeypatch):
    """With speeds set by hand (clips/s; nothing timed): each loader against raw decord, and against raw
    decoding with its own backend; raw decord is measured even where the decord loader is not."""
    raw, loader = {"decord": 100.0, "pyav": 50.0}, {"decord": 80.0, "pyav": 40.0}
    monkeypatch.setattr(data_speed, "raw_decode_throughput",
                        lambda plan, backend: {"clips": len(plan), "clips_per_s": raw[backend]})
    monkeypatch.setattr(data_speed, "loader_throughput",
                        lambda dm, split: {"clips": len(dm.dataset(split)), "clips_per_s": loader[dm.backend]})
    args = {"root": str(tiny_dataset), "frames": 4, "size": 32, "num_workers": 0, "test_clips": 1}
    rows = data_throughput(("pyav", "decord"), **args)["backends"]
    assert rows["decord"]["loader_vs_raw_decord"] == pytest.approx(0.8)
    assert rows["pyav"]["loader_vs_raw_decord"] == pytest.approx(0.4)
    assert rows["pyav"]["loader_vs_raw_same_backend"] == pytest.approx(0.8)
    assert data_throughput(("pyav",), **args)["backends"]["pyav"]["loader_vs_raw_decord"] == pytest.approx(0.4)
