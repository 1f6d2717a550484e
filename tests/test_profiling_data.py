"""Loader vs raw decoding on real H.264 files (the shared tiny synthetic dataset)."""

from __future__ import annotations

import numpy as np
import pytest

from lit_video.data import VideoDataModule, read_frames
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
    for row in result["backends"].values():
        assert row["loader"]["clips"] == row["raw"]["clips"] == result["clips"] > 0
        assert row["loader"]["clips_per_s"] > 0 and row["raw"]["clips_per_s"] > 0
        assert row["loader_vs_raw_same_backend"] == pytest.approx(
            row["loader"]["clips_per_s"] / row["raw"]["clips_per_s"])
    decord = result["backends"]["decord"]
    assert decord["loader_vs_raw_decord"] == decord["loader_vs_raw_same_backend"]
