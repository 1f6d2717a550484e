"""Throughput, latency, memory and MFU of a model on this machine.

Every figure is a median over ``repeats`` timed iterations after ``warmup`` untimed ones, with
``torch.cuda.synchronize`` around each timed iteration on a GPU. Peak memory is what the run adds to the weights
and inputs: CUDA's max allocated on a GPU, the growth of the process's peak resident set on a CPU
(``PeakMemory``). Before anything real runs, the memory the largest batch needs is estimated from the meta-tensor
count (``memory.py``) and a run that cannot fit is refused (``NotEnoughMemory``). MFU divides by the matmul
peak measured in the same call (``peak.py``).
"""

from __future__ import annotations

import copy
import statistics
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..clip import Inputs, call
from ..machine import machine_info
from ..memory_format import fastest_memory_format, inputs_to_memory_format, to_memory_format
from .clock import _times
from .counting import FlopReport, count_flops, gflops
from .inputs import as_inputs, resize_batch
from .memory import PeakMemory, available_bytes, check_fits, throughput_need
from .options import ThroughputOptions, _dtype, check_device
from .peak import _mfu, machine_peak


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
        memory_format, choice = opts.memory_format, None
        if memory_format == "auto":
            choice = fastest_memory_format(model, resize_batch(clip, max(opts.batch_sizes)), device, dt,
                                           remeasure=opts.remeasure_layout)
            memory_format = choice["memory_format"]
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
                    "memory_format": memory_format, "memory_format_chosen": choice is not None,
                    "memory_format_choice": choice, "compile": opts.compile,
                    "threads": opts.threads or old_threads, "warmup": warmup, "repeats": repeats,
                    "cached_peak": opts.cached_peak},
        "machine": machine_info(device),
    }


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
    measured memory growth, doubled, would exceed the memory available now (a CPU swaps instead of failing), nor
    where the growth cannot be measured (``PeakMemory``: not Linux).
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
        if device.type == "cpu" and (mem.peak_mb is None or 2 * mem.peak_mb * 2**20 > available_bytes(device)):
            break
        b *= 2
    return fits
