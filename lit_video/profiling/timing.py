"""Throughput, latency, memory and MFU of a model on this machine; the machine's measured matmul peak.

Every figure is a median over ``repeats`` timed iterations after ``warmup`` untimed ones, with
``torch.cuda.synchronize`` around each timed iteration on a GPU. Peak memory is CUDA's max allocated on a GPU
and the growth of the process's resident set (sampled every 2 ms) on a CPU. Before anything real runs, the
memory the largest batch needs is estimated from the meta-tensor count (``memory.py``) and a run that cannot
fit is refused (``NotEnoughMemory``). MFU divides by the matmul peak measured in the same call, and an MFU above
100 % is reported as the measurement error it is, never as a number.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lit_video.files import cache_dir, write_atomic

from ..layout import check_memory_format, fastest_memory_format, inputs_to_memory_format, to_memory_format
from ..machine import machine_info
from .counting import FlopReport, count_flops, gflops
from .inputs import Inputs, as_inputs, call, resize_batch
from .memory import MemoryNeed, PeakMemory, available_bytes, check_fits, forward_need

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class ThroughputOptions:
    """How ``measure_throughput`` runs a model; a bad option raises ValueError naming it.

    ``batch_sizes`` to measure (batch 1 is always added, for latency); ``train`` also times training steps (at
    batch sizes >= 2); ``device``; ``dtype`` other than float32 runs under autocast; ``memory_format``: ``auto``
    (default) measures whichever of ``contiguous`` and ``channels_last`` (``channels_last_3d`` for clips) is faster
    for this model on this device at the largest batch size (``layout.fastest_memory_format``, once per model and
    machine), or names one; ``compile`` wraps the model in ``torch.compile``;
    ``threads`` sets torch's thread count for the measurement (None: as it is); ``warmup`` untimed and
    ``repeats`` timed iterations per figure; ``find_max_batch`` also finds the largest batch that fits in
    memory, up to ``batch_limit``; ``cached_peak`` divides MFU by the matmul peak an earlier run cached instead
    of measuring it in this call (about a second saved; the result's ``peak_source`` says it is cached).
    """

    batch_sizes: tuple[int, ...] = (1, 8)
    train: bool = True
    device: str | torch.device = "cpu"
    dtype: str | torch.dtype = "float32"
    memory_format: str = "auto"
    compile: bool = False
    threads: int | None = None
    warmup: int = 2
    repeats: int = 10
    find_max_batch: bool = False
    batch_limit: int = 1024
    cached_peak: bool = False

    def __post_init__(self) -> None:
        self.batch_sizes = tuple(self.batch_sizes)  # a config gives a list
        if not self.batch_sizes or any(not isinstance(b, int) or b < 1 for b in self.batch_sizes):
            raise ValueError(f"batch_sizes must be positive integers, got {self.batch_sizes!r}")
        _dtype(self.dtype)
        check_memory_format(self.memory_format)
        _parse_device(self.device)  # a name only: whether this machine has it is checked where it runs
        for name, low in (("threads", 1), ("warmup", 0), ("repeats", 1), ("batch_limit", 1)):
            value = getattr(self, name)
            if value is not None and value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")


def fastest_dtype(device: str | torch.device, dtype: str = "auto") -> str:
    """``dtype``, or for ``auto`` the fastest the device computes well: bfloat16 on a GPU that has it (Ampere and
    newer), float32 elsewhere (a CPU without AVX-512 BF16 runs bf16 matmuls a hundred times slower)."""
    if dtype != "auto":
        return dtype
    device = torch.device(device)
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return "bfloat16" if cuda_bf16 else "float32"


def _dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def _parse_device(device: str | torch.device) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device {device!r} is not a device (cpu, cuda, cuda:1): {err}") from None


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device`` if this machine can measure on it, else a ValueError saying why: not a
    device name, no GPU torch can use, a GPU index beyond the ones there are, or a kind other than cpu / cuda."""
    dev = _parse_device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r}: this machine has no CUDA GPU that torch can use "
                             f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}); use cpu")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"device {str(device)!r}: this machine has {count} GPU(s), cuda:0 to "
                             f"cuda:{count - 1}")
    elif dev.type != "cpu":
        raise ValueError(f"device {str(device)!r}: speed is measured on cpu or cuda devices")
    return dev


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cache_file() -> Path:
    return cache_dir() / "machine_peak.json"


@dataclass
class MatmulPeak:
    """A measured matmul peak: GFLOP/s, when it was measured and the 1-minute load average then (None where
    unknown), whether it was read from the cache rather than measured in this call, and what this call measured
    where it measured less than the cache holds (``measured_now``)."""

    gflops_per_s: float
    measured_at: str | None
    load_average: float | None
    cached: bool
    measured_now: float | None = None

    @property
    def source(self) -> str:
        if not self.cached:
            return "measured in this run"
        when = f" at {self.measured_at}" if self.measured_at else ""
        load = f", load average {self.load_average:.2f}" if self.load_average is not None else ""
        if self.measured_now is not None:
            return (f"the best this machine has shown: measured by an earlier run{when}{load}; this run measured "
                    f"{self.measured_now:.4g} GFLOP/s, less (a busier moment)")
        return f"cached: measured by an earlier run{when}{load}, when the machine may have been busier"


def machine_peak(device: str | torch.device = "cpu", dtype: str | torch.dtype = "float32", *,
                 cached: bool = False, size: int | None = None) -> MatmulPeak:
    """The machine's dense matmul peak in GFLOP/s (2 x multiply-accumulates per second) for ``dtype``.

    Measured now by timing square matrix multiplies (the best of about a second of runs) and cached per
    machine, dtype, thread count and torch version in ``$LIT_VIDEO_CACHE/machine_peak.json`` (default
    ``~/.cache/lit_video``). Other processes can only slow a measurement down, never speed it up, so where an
    earlier run of the same key measured more, that figure stands (one sweep's profiling processes measured
    150 to 199 GFLOP/s on one 2-core VM, which made C3D's MFU 116 % in one of them): the result says so. ``cached``
    returns the cached figure without measuring: it may come from a busier moment, and says so. ``size`` fixes
    the matrices' size (a small one measures low) and keeps the measurement whatever the cache holds.
    """
    device, dt = torch.device(device), _dtype(dtype)
    info = machine_info(device)
    key = f"{info['device']}|{info['cpu']}|threads={info['threads']}|{dt}|torch={info['torch']}"
    path = _cache_file()
    cache = {}
    with contextlib.suppress(OSError, ValueError):
        cache = json.loads(path.read_text())
    if cached and isinstance(cache.get(key), dict):
        entry = cache[key]
        return MatmulPeak(float(entry["gflops_per_s"]), entry.get("measured_at"), entry.get("load_average"),
                          cached=True)
    # Grow the matrices until one multiply takes > 0.05 s (big enough to reach the peak, bounded in time even
    # where a dtype has no fast kernel, e.g. bf16 on a CPU without AVX-512 BF16), then take the best run of
    # about a second: on shared cores the best run is the one least slowed by other processes.
    n, limit = size or 256, size or (16384 if device.type == "cuda" else 4096)
    while True:
        a, b = (torch.randn(n, n, device=device).to(dt) for _ in range(2))
        best = min(_times(lambda a=a, b=b: a @ b, repeats=2, warmup=1, device=device))
        if n >= limit or best > 0.05:
            break
        n *= 2
    start = time.perf_counter()
    while time.perf_counter() - start < 1.0:
        best = min(best, *_times(lambda a=a, b=b: a @ b, repeats=1, warmup=0, device=device))
    measured = gflops(n**3 / 1e9) / best  # an n x n matmul is n^3 multiply-accumulates
    earlier = cache.get(key)
    if size is None and isinstance(earlier, dict) and float(earlier["gflops_per_s"]) > measured:
        return MatmulPeak(float(earlier["gflops_per_s"]), earlier.get("measured_at"), earlier.get("load_average"),
                          cached=True, measured_now=measured)
    peak = MatmulPeak(measured, time.strftime("%Y-%m-%d %H:%M:%S"), os.getloadavg()[0], cached=False)
    cache[key] = {"gflops_per_s": peak.gflops_per_s, "measured_at": peak.measured_at,
                  "load_average": peak.load_average}
    with contextlib.suppress(OSError):  # an unwritable cache only means no fallback next time
        write_atomic(path, json.dumps(cache, indent=1))
    return peak


def machine_peak_gflops(device: str | torch.device = "cpu", dtype: str | torch.dtype = "float32", *,
                        cached: bool = False, size: int | None = None) -> float:
    """``machine_peak(...).gflops_per_s``: the matmul peak in GFLOP/s, measured now unless ``cached``."""
    return machine_peak(device, dtype, cached=cached, size=size).gflops_per_s


def model_bytes(model: nn.Module) -> int:
    """Bytes of ``model``'s parameters and buffers (a copy of the model allocates as much again)."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def throughput_need(report: FlopReport, options: ThroughputOptions, model: nn.Module | None = None) -> MemoryNeed:
    """The least ``measure_throughput`` needs on ``options.device`` for a model counted in ``report`` (one
    clip): its copy of the weights (``model``'s bytes; 4 per parameter without one), their gradients when it
    trains, and the activations and inputs of the largest batch (see ``memory.py`` for the estimate)."""
    b = max(options.batch_sizes)
    train = options.train and b > 1  # training is measured at batch >= 2 only
    weights = model_bytes(model) if model is not None else 4 * report.params
    grads = (sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
             if model is not None else 4 * report.trainable_params)
    return forward_need(report, f"{'training' if train else 'inference'} at batch {b}", options.device, b,
                        train=train, weight_bytes=weights, grad_bytes=grads,
                        act_bytes=_dtype(options.dtype).itemsize)


def _times(step, repeats: int, warmup: int, device: torch.device) -> list[float]:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def _loss(output: Any) -> torch.Tensor:
    """A classification loss on logits ``(B, K)`` against random labels (any other output: its mean)."""
    if isinstance(output, torch.Tensor) and output.dim() == 2:
        labels = torch.randint(output.shape[1], (output.shape[0],), device=output.device)
        return F.cross_entropy(output.float(), labels)
    return sum(t.float().mean() for t in (output.values() if isinstance(output, dict) else [output]))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def measure_throughput(model: nn.Module, inputs_or_shape: Any, options: ThroughputOptions | None = None,
                       gmacs: float | None = None, *, report: FlopReport | None = None) -> dict[str, Any]:
    """Inference and training speed of ``model`` at each batch size, with latency, memory and MFU.

    ``inputs_or_shape`` is one clip's input (a shape, tensor or dict; its batch size is replaced); ``options``
    say how to run it (``ThroughputOptions()`` when None). ``report`` is the count of one clip
    (``count_flops``; counted here on meta tensors when not given), ``gmacs`` per clip overrides its figure.

    Before anything real is allocated, the device is checked (a ValueError says why it cannot be used) and the
    memory the largest batch needs is estimated from the count: ``NotEnoughMemory`` (a ValueError) names the
    need and what is available when it cannot fit. The top-level figures are those of the batch size with the
    best inference throughput, the training figures those of the best training batch size (>= 2; none when
    only batch 1 is asked for); ``per_batch`` has every batch size. MFU = achieved FLOP/s (2 x gmacs x clips/s;
    training counts 3 x the forward) / the matmul peak measured in this call, or the higher one an earlier run
    measured on this machine (``machine_peak``; ``peak_source`` says which); an MFU above 1 is a measurement
    error: ``mfu`` (``train_mfu``) is then None and ``mfu_error`` (``train_mfu_error``) says why.
    """
    opts = options or ThroughputOptions()
    device, dt = check_device(opts.device), _dtype(opts.dtype)
    warmup, repeats = opts.warmup, opts.repeats
    # Shapes stay on the meta device until the estimate says they fit: nothing real is allocated before it.
    clip = as_inputs(inputs_or_shape, device="meta")
    if report is None:
        report = count_flops(model, resize_batch(clip, 1))
    gmacs = report.gmacs if gmacs is None else gmacs
    check_fits(throughput_need(report, opts, model))
    old_threads = torch.get_num_threads()
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    try:
        peak = machine_peak(device, dt, cached=opts.cached_peak)  # the same moment as the figures it divides
        memory_format = opts.memory_format
        if memory_format == "auto":
            memory_format = fastest_memory_format(model, resize_batch(clip, max(opts.batch_sizes)), device,
                                                  dt)["memory_format"]
        # A copy: training and memory formats must not touch the caller's model.
        net = to_memory_format(copy.deepcopy(model).to(device), memory_format)
        runner = torch.compile(net) if opts.compile else net
        autocast = torch.autocast(device.type, dtype=dt, enabled=dt != torch.float32)

        def batch(b: int) -> Inputs:
            return inputs_to_memory_format(resize_batch(clip, b, device), memory_format)

        # Training is measured at batch sizes >= 2 only: batch norm cannot train on one clip whose last map is
        # 1x1 (one value per channel), and nobody trains at batch 1.
        per_batch = [_measure_batch(net, runner, batch(b), b, opts.train and b > 1, autocast, warmup, repeats,
                                    device) for b in sorted(set(opts.batch_sizes) | {1})]
        max_batch = (_largest_batch(net, runner, batch, max(opts.batch_sizes), autocast, device,
                                    opts.batch_limit) if opts.find_max_batch else None)
    finally:
        torch.set_num_threads(old_threads)
    best = max(per_batch, key=lambda r: r["infer_clips_per_s"])
    trained = [r for r in per_batch if r["train_clips_per_s"] is not None]
    best_train = max(trained, key=lambda r: r["train_clips_per_s"]) if trained else None
    train_clips_per_s = best_train["train_clips_per_s"] if best_train else None
    one = next(r for r in per_batch if r["batch_size"] == 1)
    achieved = gflops(gmacs) * best["infer_clips_per_s"]
    mfu, mfu_error = _mfu("inference", achieved, peak)
    train_achieved = 3 * gflops(gmacs) * train_clips_per_s if train_clips_per_s else None
    train_mfu, train_mfu_error = _mfu("training", train_achieved, peak)
    return {
        **best,
        "train_clips_per_s": train_clips_per_s,
        "train_batch_size": best_train["batch_size"] if best_train else None,
        "train_peak_mem_mb": best_train["train_peak_mem_mb"] if best_train else None,
        "latency_ms_p50": one["latency_ms_p50"],
        "latency_ms_p95": one["latency_ms_p95"],
        "gmacs_per_clip": gmacs,
        "mfu": mfu,
        "mfu_error": mfu_error,
        "train_mfu": train_mfu,
        "train_mfu_error": train_mfu_error,
        "peak_gflops_per_s": peak.gflops_per_s,
        "peak_source": peak.source,
        "achieved_gflops_per_s": achieved,
        "train_achieved_gflops_per_s": train_achieved,
        "max_batch_size": max_batch,
        "per_batch": per_batch,
        "options": {"device": str(device), "dtype": str(dt).removeprefix("torch."),
                    "memory_format": memory_format, "memory_format_chosen": opts.memory_format == "auto",
                    "compile": opts.compile,
                    "threads": opts.threads or old_threads, "warmup": warmup, "repeats": repeats,
                    "cached_peak": opts.cached_peak},
        "machine": machine_info(device),
    }


def _mfu(what: str, achieved: float | None, peak: MatmulPeak) -> tuple[float | None, str | None]:
    """MFU = ``achieved`` GFLOP/s over the peak, or None and why where it is above 100 % (no real run beats the
    matmul peak: the peak was measured low, e.g. on a busy machine, or a cached peak is stale)."""
    if achieved is None:
        return None, None
    mfu = achieved / peak.gflops_per_s
    if mfu <= 1:
        return mfu, None
    return None, (f"no MFU: {what} reached {achieved:.3g} GFLOP/s, {100 * mfu:.0f}% of the matmul peak "
                  f"{peak.gflops_per_s:.3g} GFLOP/s ({peak.source}). Above 100% is a measurement error, not a "
                  "speed: the peak was measured low (a busy machine) or is stale; measure both again on a "
                  "quiet machine")


def _measure_batch(net: nn.Module, runner, x: Inputs, b: int, train: bool, autocast, warmup: int,
                   repeats: int, device: torch.device) -> dict[str, Any]:
    def infer():
        with autocast:
            call(runner, x)

    net.eval()
    with torch.inference_mode(), PeakMemory(device) as mem:
        infer_times = _times(infer, repeats, warmup, device)
    out = {
        "batch_size": b,
        "infer_clips_per_s": b / statistics.median(infer_times),
        "latency_ms_p50": 1000 * _percentile(infer_times, 50),
        "latency_ms_p95": 1000 * _percentile(infer_times, 95),
        "train_clips_per_s": None,
        "peak_mem_mb": mem.peak_mb,
        "train_peak_mem_mb": None,
    }
    if train:
        optimizer = torch.optim.SGD(net.parameters(), lr=1e-6)

        def step():
            with autocast:
                loss = _loss(call(runner, x))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        net.train()
        with PeakMemory(device) as mem:
            train_times = _times(step, repeats, warmup, device)
        out["train_clips_per_s"] = b / statistics.median(train_times)
        out["train_peak_mem_mb"] = mem.peak_mb
    return out


def _largest_batch(net: nn.Module, runner, batch, start: int, autocast, device: torch.device,
                   limit: int = 1024) -> int:
    """The largest power-of-two multiple of ``start`` whose inference fits in memory (up to ``limit``).

    On a GPU a batch fits unless CUDA runs out of memory. On a CPU the next doubling is not tried when the
    measured memory growth, doubled, would exceed the memory available now (a CPU swaps instead of failing).
    """
    fits, b = start, start
    net.eval()
    while b <= limit:
        try:
            with torch.inference_mode(), autocast, PeakMemory(device) as mem:
                call(runner, batch(b))
        except torch.cuda.OutOfMemoryError:
            break
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
        fits = b
        if device.type == "cpu" and 2 * mem.peak_mb * 2**20 > available_bytes(device):
            break
        b *= 2
    return fits
