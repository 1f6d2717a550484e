"""Reading speed on real H.264 files (the shared tiny synthetic dataset): raw decoding, single-clip reads, loaders,
and evaluation decoded once per video against the per-view path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lit_video.data import VideoDataModule, read_frames
from lit_video.profiling.data_speed import (
    RAW_DECODERS,
    PerViewClips,
    clip_plan,
    eval_speedup,
    loader_throughput,
    raw_decode_throughput,
    read_throughput,
)


def datamodule(tiny_dataset, **options) -> VideoDataModule:
    return VideoDataModule(**{"root": str(tiny_dataset), "frames": 4, "fps": 5.0, "size": 32, "num_workers": 0,
                              "batch_size": 4, **options})


def test_clip_plan_is_what_evaluation_decodes(tiny_dataset):
    dm = datamodule(tiny_dataset, test_clips=2, test_crops=3)
    plan = clip_plan(dm)
    assert len(plan) == 2 * len(dm.dataset("test"))  # a clip's three crops share its frames
    path, indices = plan[0]
    for decode in RAW_DECODERS.values():
        assert np.array_equal(decode(path, indices), read_frames(path, indices).numpy())
    with pytest.raises(ValueError, match="unknown backend 'ffmpeg'"):
        raw_decode_throughput(plan, "ffmpeg")
    for rate in (raw_decode_throughput(plan), read_throughput(plan, "pyav")):
        assert rate["clips"] == len(plan) and rate["clips_per_s"] > 0


def test_the_per_view_path_gives_the_loaders_clips(tiny_dataset):
    dm = datamodule(tiny_dataset, test_clips=2, test_crops=3)
    per_view = PerViewClips(dm.dataset("test"))
    assert len(per_view) == 12 * 6
    item = dm.dataset("test")[1]
    for view in range(6):
        assert torch.equal(per_view[6 + view]["video"][0], item["video"][view])


def test_loader_and_eval_throughput_count_clips_and_videos(tiny_dataset):
    dm = datamodule(tiny_dataset, test_clips=2, test_crops=3)
    rate = loader_throughput(dm.train_dataloader(), epochs=1)
    assert rate["clips"] == rate["videos"] == 12 and rate["videos_per_s"] > 0
    result = eval_speedup(dm, epochs=1)
    assert result["views"] == 6
    for path in ("loader", "per_view"):
        assert result[path]["clips"] == 12 * 6 and result[path]["videos"] == 12
    assert result["speedup"] == pytest.approx(result["loader"]["videos_per_s"] / result["per_view"]["videos_per_s"])
