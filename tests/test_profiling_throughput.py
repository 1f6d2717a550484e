"""measure_throughput, its options and the machine peak on tiny networks (real timings, few repetitions; no
timing targets); the machine stamp."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from lit_video.profiling import (
    ThroughputOptions,
    device_name,
    git_sha,
    machine_peak_gflops,
    measure_throughput,
)
from lit_video.profiling.memory import PeakMemory


def tiny_net() -> nn.Module:
    return nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(),
                         nn.Linear(8, 4))


def test_machine_peak_is_measured_each_call_and_cached_as_a_fallback(monkeypatch, tmp_path):
    from lit_video.profiling import machine_peak

    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path))
    peak = machine_peak("cpu", "float32")
    assert peak.gflops_per_s > 0 and not peak.cached and peak.source == "measured in this run"
    cache = json.loads((tmp_path / "machine_peak.json").read_text())
    assert peak.gflops_per_s in [entry["gflops_per_s"] for entry in cache.values()]
    again = machine_peak("cpu", "float32", cached=True)  # read back, not measured again, and says so
    assert again.cached and (again.gflops_per_s, again.measured_at) == (peak.gflops_per_s, peak.measured_at)
    assert again.source.startswith("cached: measured by an earlier run at ")
    assert machine_peak_gflops("cpu", "float32", cached=True) == peak.gflops_per_s
    with pytest.raises(ValueError, match="dtype 'int8'"):
        machine_peak_gflops("cpu", "int8")


@pytest.mark.integration  # ~4 s: three timed matmul peaks
def test_a_peak_measured_below_an_earlier_one_of_the_same_machine_gives_way_to_it(monkeypatch, tmp_path):
    """A busy moment can only slow a measurement: the best peak this machine has shown stands, and says so."""
    from lit_video.profiling import machine_peak

    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path))
    low = machine_peak("cpu", "float32", size=4)  # tiny matrices: far below the peak, kept as measured
    assert not low.cached
    real = machine_peak("cpu", "float32")  # above the cached one: measured, and cached in its place
    assert not real.cached and real.gflops_per_s > 100 * low.gflops_per_s
    cache_file = tmp_path / "machine_peak.json"
    (key, entry), = json.loads(cache_file.read_text()).items()
    higher = 1000 * real.gflops_per_s  # an earlier run that measured more than this one can
    cache_file.write_text(json.dumps({key: {**entry, "gflops_per_s": higher}}))
    peak = machine_peak("cpu", "float32")
    assert peak.cached and peak.gflops_per_s == higher and 0 < peak.measured_now < higher
    assert peak.source.startswith("the best this machine has shown: measured by an earlier run at ")
    assert json.loads(cache_file.read_text())[key]["gflops_per_s"] == higher  # not replaced by the lower figure


def conv_net() -> nn.Module:
    """~10 M multiply-accumulates per 3x8x32x32 clip: far above a 4x4 matmul's GFLOP/s, far below the peak."""
    return nn.Sequential(nn.Conv3d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(),
                         nn.Linear(16, 4))


@pytest.mark.integration  # ~3 s: a timed matmul peak and throughput
def test_mfu_divides_by_the_peak_of_the_same_run(monkeypatch, tmp_path):
    """A peak cached while the machine was busy made every later MFU too high (C3D at 132%). Here the stale
    peak is one measured on 4x4 matrices, a small fraction of a GFLOP/s: the next measurement measures its own
    peak, and a run asked to reuse the cached one says where it came from and reports no MFU above 100%."""
    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path))
    stale = machine_peak_gflops("cpu", "float32", size=4)
    options = {"batch_sizes": (2,), "repeats": 2, "warmup": 1}
    result = measure_throughput(conv_net(), (1, 3, 8, 32, 32), ThroughputOptions(**options))
    assert 0 < result["mfu"] <= 1 and 0 < result["train_mfu"] <= 1
    assert result["peak_gflops_per_s"] > 100 * stale and result["peak_source"] == "measured in this run"
    assert result["mfu_error"] is None and result["train_mfu_error"] is None

    stale = machine_peak_gflops("cpu", "float32", size=4)  # the cache holds a stale peak again (size: as measured)
    result = measure_throughput(conv_net(), (1, 3, 8, 32, 32), ThroughputOptions(**options, cached_peak=True))
    assert result["peak_gflops_per_s"] == stale
    assert result["peak_source"].startswith("cached") and result["options"]["cached_peak"]
    assert result["mfu"] is None and result["train_mfu"] is None  # a measurement error, never a number
    for key, what in (("mfu_error", "inference"), ("train_mfu_error", "training")):
        assert f"no MFU: {what} reached" in result[key] and "measurement error" in result[key]
        assert "cached: measured by an earlier run" in result[key]


def test_a_batch_or_clip_that_cannot_fit_is_refused_before_it_runs():
    """Estimated from the meta-tensor count (no memory) against what the machine has: a clear error naming
    both, not an allocation that fails (or swaps) half-way."""
    huge_batch = ThroughputOptions(batch_sizes=(10**8,), repeats=1, warmup=0)
    with pytest.raises(ValueError, match=r"training at batch 100000000 needs at least [\d.]+ GiB of cpu memory "
                                         r"\(.*activations [\d.]+ GiB.*\); [\d.]+ GiB is available") as caught:
        measure_throughput(tiny_net(), (1, 3, 4, 16, 16), huge_batch)
    from lit_video.profiling import NotEnoughMemory

    assert isinstance(caught.value, NotEnoughMemory) and caught.value.need.total > caught.value.available
    inference = ThroughputOptions(batch_sizes=(1,), train=False, repeats=1, warmup=0)
    with pytest.raises(ValueError, match="inference at batch 1 needs at least"):  # one clip of 4 x 10^5 x 10^5
        measure_throughput(tiny_net(), (1, 3, 4, 100_000, 100_000), inference)


@pytest.mark.parametrize("device,message", [
    ("cuda:99", "GPU"), ("meta", "speed is measured on cpu or cuda devices"),
    *([] if torch.cuda.is_available() else [("cuda", "no CUDA GPU that torch can use")]),
])
def test_a_device_this_machine_lacks_is_a_clear_error(device, message):
    options = ThroughputOptions(batch_sizes=(1,), train=False, repeats=1, warmup=0, device=device)
    with pytest.raises(ValueError, match=message):
        measure_throughput(tiny_net(), (1, 3, 4, 16, 16), options)


def test_throughput_figures():
    options = ThroughputOptions(batch_sizes=(2,), repeats=3, warmup=1)
    result = measure_throughput(tiny_net(), (1, 3, 4, 16, 16), options)
    assert [r["batch_size"] for r in result["per_batch"]] == [1, 2]
    for key in ("infer_clips_per_s", "train_clips_per_s", "latency_ms_p50", "peak_gflops_per_s"):
        assert result[key] > 0, key
    assert result["latency_ms_p50"] <= result["latency_ms_p95"]
    assert result["peak_mem_mb"] > 0 and result["train_peak_mem_mb"] > 0
    choice = result["options"]["memory_format_choice"]  # auto: measured, then chosen
    assert result["options"] == {"device": "cpu", "dtype": "float32", "memory_format": choice["memory_format"],
                                 "memory_format_chosen": True, "memory_format_choice": choice, "compile": False,
                                 "threads": torch.get_num_threads(), "warmup": 1, "repeats": 3, "cached_peak": False}
    assert choice["memory_format"] in ("contiguous", "channels_last") and choice["measured_at"]
    assert result["machine"]["cores"] == os.cpu_count()


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="the resident peak resets on Linux only")
def test_a_cpus_peak_memory_is_what_the_run_adds_however_often_it_runs():
    """The same forward, measured twice, adds the same memory: the second is not 0 because the first freed
    what it reuses (glibc keeps freed memory; the resident set did not grow on a run after a bigger one)."""
    net = nn.Sequential(nn.Conv3d(3, 12, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2)).eval()
    clip = torch.rand(4, 3, 20, 64, 64)
    conv_mb = 4 * 12 * 20 * 64 * 64 * 4 / 2**20  # the conv's output, 15 MiB
    peaks = []
    with torch.inference_mode():
        for _ in range(2):
            with PeakMemory(torch.device("cpu")) as mem:
                net(clip)
            peaks.append(mem.peak_mb)
    assert peaks[0] >= conv_mb and peaks[1] >= 0.8 * peaks[0]


def test_mfu_of_a_matrix_vector_product():
    """A bias-free Linear(n, n) does n * n multiply-accumulates per sample (counted here by hand), so MFU is
    2 * n^2 / 1e9 GFLOP per clip x clips/s over the peak; a matrix-vector product cannot beat the matmul
    peak."""
    n = 512
    result = measure_throughput(nn.Linear(n, n, bias=False), (1, n),
                                ThroughputOptions(batch_sizes=(1,), train=False, repeats=5, warmup=1))
    gmacs = n * n / 1e9
    assert result["gmacs_per_clip"] == pytest.approx(gmacs)
    achieved = 2 * gmacs * result["infer_clips_per_s"]
    assert result["achieved_gflops_per_s"] == pytest.approx(achieved)
    assert result["mfu"] == pytest.approx(achieved / result["peak_gflops_per_s"])
    assert 0 < result["mfu"] <= 1


def test_speed_options_are_applied_and_recorded():
    threads = torch.get_num_threads()
    net = tiny_net()
    options = ThroughputOptions(batch_sizes=(1,), train=False, repeats=2, warmup=1, memory_format="channels_last",
                                dtype="bfloat16", threads=1, find_max_batch=True, batch_limit=8)
    result = measure_throughput(net, torch.zeros(1, 3, 4, 16, 16), options)
    assert result["options"]["memory_format"] == "channels_last" and result["options"]["dtype"] == "bfloat16"
    assert not result["options"]["memory_format_chosen"] and result["options"]["memory_format_choice"] is None
    assert result["options"]["threads"] == 1 and torch.get_num_threads() == threads  # restored
    assert result["train_clips_per_s"] is None and result["train_mfu"] is None
    assert result["max_batch_size"] == 8  # a tiny net fits every batch up to the limit
    assert net[0].weight.is_contiguous()  # the caller's model keeps its memory format


@pytest.mark.parametrize("option,value,message", [
    ("batch_sizes", (0,), "batch_sizes must be positive"), ("batch_sizes", (), "batch_sizes must be"),
    ("threads", 0, "threads must be >= 1"), ("dtype", "int8", "dtype 'int8'"), ("repeats", 0, "repeats"),
    ("memory_format", "nhwc", "memory_format 'nhwc' is not one of auto, contiguous, channels_last"),
    ("device", "gpu0", "device 'gpu0'"),
])
def test_bad_options_say_what_is_wrong(option, value, message):
    with pytest.raises(ValueError, match=message):
        ThroughputOptions(**{option: value})


def test_remeasuring_the_layout_measures_the_choice_again_and_needs_auto(monkeypatch, tmp_path):
    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path))
    options = ThroughputOptions(batch_sizes=(1,), train=False, repeats=1, warmup=0, cached_peak=True)
    measure_throughput(tiny_net(), (1, 3, 4, 16, 16), options)  # the layout is measured and cached
    options.remeasure_layout = True
    choice = measure_throughput(tiny_net(), (1, 3, 4, 16, 16), options)["options"]["memory_format_choice"]
    assert not choice["cached"]
    with pytest.raises(ValueError, match="remeasure_layout measures again the layout that memory_format auto "
                                         "chooses, but memory_format 'contiguous' names one: leave out one"):
        ThroughputOptions(memory_format="contiguous", remeasure_layout=True)


def test_options_from_a_config():
    assert ThroughputOptions(batch_sizes=[1, 4]).batch_sizes == (1, 4)  # YAML gives lists


@pytest.mark.slow
def test_compiled_model_runs():
    options = ThroughputOptions(batch_sizes=(1,), train=False, repeats=2, compile=True)
    result = measure_throughput(tiny_net(), (1, 3, 4, 16, 16), options)
    assert result["options"]["compile"] and result["infer_clips_per_s"] > 0


def test_training_is_measured_at_batch_two_and_up():
    """Batch norm cannot train on one clip whose last map is 1x1: training speed starts at batch 2."""
    net = nn.Sequential(nn.Conv3d(3, 4, 3, stride=4), nn.BatchNorm3d(4), nn.Flatten(), nn.Linear(4, 2))
    options = ThroughputOptions(batch_sizes=(1, 2), repeats=2, warmup=1)
    result = measure_throughput(net, (1, 3, 3, 4, 4), options)
    per_batch = {r["batch_size"]: r for r in result["per_batch"]}
    assert per_batch[1]["train_clips_per_s"] is None and per_batch[2]["train_clips_per_s"] > 0
    assert result["train_clips_per_s"] == per_batch[2]["train_clips_per_s"] and result["train_batch_size"] == 2


def test_the_device_stamp_tells_thread_counts_apart_so_compare_judges_speed_only_on_the_same(tmp_path, capsys):
    """A CPU's speed depends on torch's threads: figures measured on 1 and on 2 threads carry different device
    stamps, so `lit-video compare` does not call the slower a regression, while on the same threads it does. The
    stamp is the same whether the device is named or given as a torch.device."""
    from lit_video.report import compare
    from lit_video.results.folder import append_row
    from lit_video.results.schema import make_row

    before, stamps = torch.get_num_threads(), {}
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            stamps[threads] = device_name("cpu")
            assert device_name(torch.device("cpu")) == stamps[threads]
    finally:
        torch.set_num_threads(before)
    assert stamps[1] != stamps[2] and all(stamp.startswith("cpu: ") for stamp in stamps.values())
    for name, threads, clips_per_s in (("a", 2, 100.0), ("b", 2, 50.0), ("c", 1, 50.0)):
        append_row(tmp_path / f"{name}.jsonl", make_row(
            model="c3d", dataset="synthetic", frames=8, size=32, fps=5.0, eval_views=2, seed=0, video_top1=0.5,
            params=1_000_000, gmacs_per_clip=0.5, gmacs_per_video=1.0,
            infer_clips_per_s=clips_per_s, device=stamps[threads], config_hash="c3d-0", status="ok"))
    a, b, c = (str(tmp_path / f"{name}.jsonl") for name in "abc")
    assert compare.main([a, b, "--fail-on-regression"]) == 1  # the same threads: half the speed is a regression
    assert "infer clips/s" in capsys.readouterr().out
    assert compare.main([a, c, "--fail-on-regression"]) == 0
    assert "different devices" in capsys.readouterr().out


def test_git_sha(tmp_path):
    sha = git_sha(Path(__file__).parent)
    assert sha is None or len(sha.removesuffix("-dirty")) == 40  # None: a copy outside git
    assert git_sha(tmp_path) is None
    assert git_sha() == sha  # by default, the checkout lit_video is imported from (this one)


def test_the_fastest_dtype_and_precision_for_the_device():
    from lit_video.machine import default_precision
    from lit_video.profiling.options import fastest_dtype

    assert fastest_dtype("cpu") == "float32" and fastest_dtype("cpu", "bfloat16") == "bfloat16"
    assert default_precision("cpu") == "32-true"
    gpu_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    assert fastest_dtype("cuda") == ("bfloat16" if gpu_bf16 else "float32")
    assert default_precision("auto") == ("bf16-mixed" if gpu_bf16 else "32-true")
