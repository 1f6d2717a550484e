"""measure_throughput and the machine peak on a tiny network (real timings, few repetitions)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from lit_video.profiling import count_flops, machine_peak_gflops, measure_throughput


def tiny_net() -> nn.Module:
    return nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(),
                         nn.Linear(8, 4))


def test_machine_peak_is_measured_once_and_cached():
    peak = machine_peak_gflops("cpu", "float32")
    assert peak > 0
    cache = json.loads((Path(os.environ["LIT_VIDEO_CACHE"]) / "machine_peak.json").read_text())
    assert peak in cache.values()
    assert machine_peak_gflops("cpu", "float32") == peak  # read back, not measured again
    with pytest.raises(ValueError, match="dtype 'int8'"):
        machine_peak_gflops("cpu", "int8")


def test_throughput_figures_and_mfu():
    net = tiny_net()
    result = measure_throughput(net, (1, 3, 4, 16, 16), batch_sizes=(2,), repeats=3, warmup=1)
    assert [r["batch_size"] for r in result["per_batch"]] == [1, 2]
    for key in ("infer_clips_per_s", "train_clips_per_s", "latency_ms_p50", "peak_gflops_per_s"):
        assert result[key] > 0, key
    assert result["latency_ms_p50"] <= result["latency_ms_p95"]
    assert result["peak_mem_mb"] >= 0
    gmacs = count_flops(net, (1, 3, 4, 16, 16), receptive_field=False).gmacs
    assert result["gmacs_per_clip"] == gmacs
    achieved = 2 * gmacs * result["infer_clips_per_s"]
    assert result["mfu"] == pytest.approx(achieved / result["peak_gflops_per_s"])
    assert result["options"] == {"device": "cpu", "dtype": "float32", "channels_last": False,
                                 "compile": False, "threads": torch.get_num_threads(), "warmup": 1,
                                 "repeats": 3}
    assert result["machine"]["cores"] == os.cpu_count()


def test_speed_options_are_applied_and_recorded():
    threads = torch.get_num_threads()
    net = tiny_net()
    result = measure_throughput(net, torch.zeros(1, 3, 4, 16, 16), batch_sizes=(1,), train=False, repeats=2,
                                warmup=1, channels_last=True, dtype="bfloat16", threads=1,
                                find_max_batch=True, batch_limit=8)
    assert result["options"]["channels_last"] and result["options"]["dtype"] == "bfloat16"
    assert result["options"]["threads"] == 1 and torch.get_num_threads() == threads  # restored
    assert result["train_clips_per_s"] is None and result["train_mfu"] is None
    assert result["max_batch_size"] == 8  # a tiny net fits every batch up to the limit
    assert net[0].weight.is_contiguous()  # the caller's model keeps its memory format


def test_bad_options_say_what_is_wrong():
    with pytest.raises(ValueError, match="batch_sizes"):
        measure_throughput(tiny_net(), (1, 3, 4, 16, 16), batch_sizes=(0,))
    with pytest.raises(ValueError, match="threads"):
        measure_throughput(tiny_net(), (1, 3, 4, 16, 16), threads=0)


@pytest.mark.slow
def test_compiled_model_runs():
    result = measure_throughput(tiny_net(), (1, 3, 4, 16, 16), batch_sizes=(1,), train=False, repeats=2,
                                compile=True)
    assert result["options"]["compile"] and result["infer_clips_per_s"] > 0


def test_training_is_measured_at_batch_two_and_up():
    """Batch norm cannot train on one clip whose last map is 1x1: training speed starts at batch 2."""
    net = nn.Sequential(nn.Conv3d(3, 4, 3, stride=4), nn.BatchNorm3d(4), nn.Flatten(), nn.Linear(4, 2))
    result = measure_throughput(net, (1, 3, 3, 4, 4), batch_sizes=(1, 2), repeats=2, warmup=1)
    per_batch = {r["batch_size"]: r for r in result["per_batch"]}
    assert per_batch[1]["train_clips_per_s"] is None and per_batch[2]["train_clips_per_s"] > 0
    assert result["train_clips_per_s"] == per_batch[2]["train_clips_per_s"] and result["train_batch_size"] == 2
