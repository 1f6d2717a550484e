"""Wall-clock seconds of each run of a step, with ``torch.cuda.synchronize`` around each on a GPU so that a run's
figure is its own: the one timer of the matmul peak and the throughput measurement."""

from __future__ import annotations

import time

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
