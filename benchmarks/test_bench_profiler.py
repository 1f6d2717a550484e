"""pytest-benchmark benchmarks of the profiler itself: `pytest benchmarks/ --benchmark-only`."""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from lit_video.models import create_model
from lit_video.profiling import ThroughputOptions, count_flops, measure_throughput


def test_count_c3d_on_meta(benchmark):
    with torch.device("meta"):
        model = create_model("c3d", num_classes=400)
    report = benchmark(count_flops, model, (1, 3, 16, 112, 112))
    assert report.gmacs > 38


def test_count_swin3d_b_transformer(benchmark):
    """A 141-GMAC (282-GFLOP) transformer counted without allocating activations."""
    with torch.device("meta"):
        model = torchvision.models.get_model("swin3d_b", weights=None)
    report = benchmark.pedantic(count_flops, args=(model, (1, 3, 16, 224, 224)),
                                kwargs={"receptive_field": False}, rounds=3)
    assert report.gmacs > 140


def test_lecture_receptive_fields(benchmark):
    model = create_model("lecture_3d_cnn", num_classes=10)
    report = benchmark.pedantic(count_flops, args=(model, (1, 3, 20, 64, 64)), kwargs={"receptive_field": True},
                                rounds=3)  # receptive fields are count_flops' opt-in
    assert report.layers[-1].receptive_field == [20, 64, 64]


def test_tiny_throughput(benchmark):
    net = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(8, 4))
    result = benchmark.pedantic(measure_throughput,
                                args=(net, (1, 3, 4, 32, 32), ThroughputOptions(batch_sizes=(4,), repeats=5)),
                                rounds=1)
    assert result["infer_clips_per_s"] > 0
