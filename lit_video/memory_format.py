"""The memory layout a model runs fastest in on a device: plain (contiguous, NCTHW) or channels-last (the channels
innermost: ``channels_last_3d`` for clips and 3D convolution weights, ``channels_last`` for 4D ones).

Which is faster depends on the model, the device, the dtype and the batch, so it is measured, not assumed: both
layouts are timed on the model's own clip shape and the faster one wins, channels-last only where it is at least
``MARGIN`` faster (a tie keeps the plain layout, whose numbers a CPU reproduces bit for bit). The choice is cached per
model architecture, input shape, device, dtype, threads and torch version in ``$LIT_VIDEO_CACHE/layouts.json``, so it
is measured once per model and machine, and every run after it trains and profiles in the same layout.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import statistics
import time
from typing import Any

import torch
from torch import nn

from .clip import Inputs, call, map_inputs
from .files import cache_dir, write_atomic
from .machine import device_name

MEMORY_FORMATS = ("auto", "contiguous", "channels_last")
MARGIN = 0.10  # channels-last must be this much faster to be chosen: timing noise must not flip a tie


def check_memory_format(memory_format: str, option: str = "memory_format") -> str:
    if memory_format not in MEMORY_FORMATS:
        raise ValueError(f"{option} {memory_format!r} is not one of {', '.join(MEMORY_FORMATS)}")
    return memory_format


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    if t.dim() == 5:
        return t.contiguous(memory_format=torch.channels_last_3d)
    if t.dim() == 4:
        return t.contiguous(memory_format=torch.channels_last)
    return t


def to_memory_format(module: nn.Module, memory_format: str) -> nn.Module:
    """``module`` with its 4D and 5D parameters and buffers in ``memory_format`` (``contiguous`` or
    ``channels_last``), in place: the parameters stay the same objects, so an optimiser holding them still works."""
    convert = _channels_last if memory_format == "channels_last" else (lambda t: t.contiguous())
    with torch.no_grad():
        for tensor in (*module.parameters(), *module.buffers()):
            if tensor.dim() in (4, 5):
                tensor.data = convert(tensor.data)
    return module


def inputs_to_memory_format(inputs: Inputs, memory_format: str) -> Inputs:
    """The clips of ``inputs`` in ``memory_format`` (a channels-last clip ``(B, C, T, H, W)`` keeps its shape)."""
    if memory_format != "channels_last":
        return inputs
    return map_inputs(inputs, _channels_last)


def _architecture(model: nn.Module) -> str:
    """What a layout's speed depends on in a model: its class and every parameter's name and shape."""
    shapes = [(name, tuple(p.shape)) for name, p in model.named_parameters()]
    return f"{type(model).__name__}:{hashlib.sha1(repr(shapes).encode()).hexdigest()[:12]}"


def _median_seconds(model: nn.Module, x: Inputs, device: torch.device, autocast, repeats: int) -> float:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    times = []
    with torch.inference_mode(), autocast:
        call(model, x)  # warm-up: kernels chosen, memory allocated
        for _ in range(repeats):
            sync()
            start = time.perf_counter()
            call(model, x)
            sync()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def fastest_memory_format(model: nn.Module, inputs: Any, device: str | torch.device = "cpu",
                          dtype: torch.dtype = torch.float32, repeats: int = 5) -> dict[str, Any]:
    """``{"memory_format": "contiguous" | "channels_last", "seconds": {format: median inference seconds},
    "cached": bool}`` (and ``channels_last_fails``, the reason, where the model cannot run channels-last): the faster
    layout for ``model`` on ``inputs`` (a batch's shape, or tensors) on ``device``
    under ``dtype`` autocast, from the cache where this model, shape and machine were measured before. A model with
    no 4D or 5D tensor anywhere has nothing to lay out: ``contiguous``, unmeasured. Torch's random state is left
    as it was, so a run that checks trains as one that does not."""
    device = torch.device(device)
    shapes = map_inputs(inputs, lambda t: list(t.shape) if isinstance(t, torch.Tensor) else list(t))
    # (device_name says a CPU's threads)
    key = "|".join([_architecture(model), json.dumps(shapes), device_name(device), str(dtype),
                    f"torch={torch.__version__}"])
    path = cache_dir() / "layouts.json"
    cache: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        cache = json.loads(path.read_text())
    if isinstance(cache.get(key), dict):
        return {**cache[key], "cached": True}
    dims = [len(s) for s in (shapes.values() if isinstance(shapes, dict) else
                             shapes if shapes and isinstance(shapes[0], list) else [shapes])]
    if not any(t.dim() in (4, 5) for t in model.parameters()) and not any(d in (4, 5) for d in dims):
        return {"memory_format": "contiguous", "seconds": {}, "cached": False}
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)
    seconds = {}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        real = map_inputs(shapes, lambda shape: torch.randn(shape, device=device))
        for memory_format in ("contiguous", "channels_last"):
            net = to_memory_format(copy.deepcopy(model).to(device).eval(), memory_format)
            try:
                seconds[memory_format] = _median_seconds(net, inputs_to_memory_format(real, memory_format), device,
                                                         autocast, repeats)
            except RuntimeError as err:  # e.g. a `view` that needs the plain strides: then the plain layout
                if memory_format == "contiguous":
                    raise
                seconds[memory_format], why = None, f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
            del net
    faster = seconds["channels_last"] is not None and seconds["channels_last"] < (1 - MARGIN) * seconds["contiguous"]
    choice = {"memory_format": "channels_last" if faster else "contiguous", "seconds": seconds}
    if seconds["channels_last"] is None:
        choice["channels_last_fails"] = why
    cache[key] = choice
    with contextlib.suppress(OSError):  # an unwritable cache only means measuring again next time
        write_atomic(path, json.dumps(cache, indent=1))
    return {**choice, "cached": False}
