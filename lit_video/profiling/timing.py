"""Throughput, latency, memory and MFU of a model on this machine; the machine's measured matmul peak.

Every figure is a median over ``repeats`` timed iterations after ``warmup`` untimed ones, with
``torch.cuda.synchronize`` around each timed iteration on a GPU. Peak memory is CUDA's max allocated on a GPU
and the growth of the process's resident set (sampled every 2 ms) on a CPU.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lit_video.files import cache_dir, write_atomic

from .counting import count_flops, gflops
from .inputs import Inputs, as_inputs, call, input_tensors, map_inputs, resize_batch
from .machine import machine_info

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class ThroughputOptions:
    """How ``measure_throughput`` runs a model; a bad option raises ValueError naming it.

    ``batch_sizes`` to measure (batch 1 is always added, for latency); ``train`` also times training steps (at
    batch sizes >= 2); ``device``; ``dtype`` other than float32 runs under autocast; ``channels_last`` uses
    ``channels_last_3d`` (5D inputs) or ``channels_last``; ``compile`` wraps the model in ``torch.compile``;
    ``threads`` sets torch's thread count for the measurement (None: as it is); ``warmup`` untimed and
    ``repeats`` timed iterations per figure; ``find_max_batch`` also finds the largest batch that fits in
    memory, up to ``batch_limit``.
    """

    batch_sizes: tuple[int, ...] = (1, 8)
    train: bool = True
    device: str | torch.device = "cpu"
    dtype: str | torch.dtype = "float32"
    channels_last: bool = False
    compile: bool = False
    threads: int | None = None
    warmup: int = 2
    repeats: int = 10
    find_max_batch: bool = False
    batch_limit: int = 1024

    def __post_init__(self) -> None:
        self.batch_sizes = tuple(self.batch_sizes)  # a config gives a list
        if not self.batch_sizes or any(not isinstance(b, int) or b < 1 for b in self.batch_sizes):
            raise ValueError(f"batch_sizes must be positive integers, got {self.batch_sizes!r}")
        _dtype(self.dtype)
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device {self.device!r} is not a device (cpu, cuda, cuda:1): {err}") from None
        for name, low in (("threads", 1), ("warmup", 0), ("repeats", 1), ("batch_limit", 1)):
            value = getattr(self, name)
            if value is not None and value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")


def _dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cache_file() -> Path:
    return cache_dir() / "machine_peak.json"


def machine_peak_gflops(device: str | torch.device = "cpu", dtype: str | torch.dtype = "float32", *,
                        refresh: bool = False, size: int | None = None) -> float:
    """The machine's dense matmul peak in GFLOP/s (2 x multiply-accumulates per second) for ``dtype``.

    Measured by timing square matrix multiplies (the best of about a second of runs), cached per machine,
    dtype and thread count in ``$LIT_VIDEO_CACHE/machine_peak.json`` (default ``~/.cache/lit_video``);
    ``refresh`` measures again.
    """
    device, dt = torch.device(device), _dtype(dtype)
    info = machine_info(device)
    key = f"{info['device']}|{info['cpu']}|threads={info['threads']}|{dt}|torch={info['torch']}"
    path = _cache_file()
    cache = {}
    with contextlib.suppress(OSError, ValueError):
        cache = json.loads(path.read_text())
    if key in cache and not refresh:
        return float(cache[key])
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
    peak = gflops(n**3 / 1e9) / best  # an n x n matmul is n^3 multiply-accumulates
    cache[key] = peak
    with contextlib.suppress(OSError):  # an unwritable cache only means measuring again next time
        write_atomic(path, json.dumps(cache, indent=1))
    return peak


def _rss_bytes() -> int:
    with contextlib.suppress(OSError):
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    import resource  # not Linux: the lifetime high-water mark is the best there is

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """Peak memory (MB) of the code run inside: CUDA max allocated, or resident-set growth on a CPU."""

    def __init__(self, device: torch.device):
        self.device, self.peak_mb = device, 0.0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._max = max(self._max, _rss_bytes())

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        else:
            self._base = self._max = _rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            top = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
            top = max(self._max, _rss_bytes())
        self.peak_mb = (top - self._base) / 2**20


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
                       gmacs: float | None = None) -> dict[str, Any]:
    """Inference and training speed of ``model`` at each batch size, with latency, memory and MFU.

    ``inputs_or_shape`` is one clip's input (a shape, tensor or dict; its batch size is replaced); ``options``
    say how to run it (``ThroughputOptions()`` when None). ``gmacs`` per clip is counted when not given. The
    top-level figures are those of the batch size with the best inference throughput, the training figures
    those of the best training batch size (>= 2; none when only batch 1 is asked for); ``per_batch`` has every
    batch size. MFU = achieved FLOP/s (2 x gmacs x clips/s; training counts 3 x the forward) / the measured
    matmul peak.
    """
    opts = options or ThroughputOptions()
    device, dt = torch.device(opts.device), _dtype(opts.dtype)
    channels_last, warmup, repeats = opts.channels_last, opts.warmup, opts.repeats
    old_threads = torch.get_num_threads()
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    try:
        clip = as_inputs(inputs_or_shape)
        if gmacs is None:
            gmacs = count_flops(model, resize_batch(clip, 1), receptive_field=False).gmacs
        peak = machine_peak_gflops(device, dt)
        net = copy.deepcopy(model).to(device)  # training and memory formats must not touch the caller's model
        clips = any(t.dim() == 5 for t in input_tensors(clip))
        fmt = torch.channels_last_3d if clips else torch.channels_last
        if channels_last:
            net = net.to(memory_format=fmt)
        runner = torch.compile(net) if opts.compile else net
        autocast = torch.autocast(device.type, dtype=dt, enabled=dt != torch.float32)

        def batch(b: int) -> Inputs:
            x = map_inputs(resize_batch(clip, b), lambda t: t.to(device))
            if not channels_last:
                return x
            return map_inputs(x, lambda t: t.contiguous(memory_format=fmt) if t.dim() in (4, 5) else t)

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
    result = {
        **best,
        "train_clips_per_s": train_clips_per_s,
        "train_batch_size": best_train["batch_size"] if best_train else None,
        "train_peak_mem_mb": best_train["train_peak_mem_mb"] if best_train else None,
        "latency_ms_p50": one["latency_ms_p50"],
        "latency_ms_p95": one["latency_ms_p95"],
        "gmacs_per_clip": gmacs,
        "mfu": gflops(gmacs) * best["infer_clips_per_s"] / peak,
        "train_mfu": 3 * gflops(gmacs) * train_clips_per_s / peak if train_clips_per_s else None,
        "peak_gflops_per_s": peak,
        "achieved_gflops_per_s": gflops(gmacs) * best["infer_clips_per_s"],
        "max_batch_size": max_batch,
        "per_batch": per_batch,
        "options": {"device": str(device), "dtype": str(dt).removeprefix("torch."),
                    "channels_last": channels_last, "compile": opts.compile,
                    "threads": opts.threads or old_threads, "warmup": warmup, "repeats": repeats},
        "machine": machine_info(device),
    }
    return result


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
        if device.type == "cpu" and 2 * mem.peak_mb > _available_mb():
            break
        b *= 2
    return fits


def _available_mb() -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable"):
                return int(line.split()[1]) / 1024
    return float("inf")
