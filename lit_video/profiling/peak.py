"""The machine's dense matmul peak (measured, and cached per machine: the cached figure stands where an earlier run
measured more, or where a call asks for it) and MFU against it: an MFU above 100 % is reported as the measurement
error it is, never as a number."""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from lit_video.files import cache_dir, write_atomic

from ..machine import machine_info
from .clock import _times
from .counting import gflops
from .options import _dtype


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
