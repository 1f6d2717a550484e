"""The memory layout a model runs fastest in on a device: plain (contiguous, NCTHW) or channels-last (the channels
innermost: ``channels_last_3d`` for clips and 3D convolution weights, ``channels_last`` for 4D ones).

Which is faster depends on the model, the device, the dtype and the batch, so it is measured, not assumed, on the
model's own clip shape: the two layouts run in turn (A B A B ...: a change in the machine's load falls on both), each
layout's speed is its fastest run (other processes only ever slow a run down), and channels-last wins only where it
is at least ``MARGIN`` faster (a tie keeps the plain layout, whose numbers a CPU reproduces bit for bit). The cost: an
untimed and ``REPEATS`` timed forwards of each layout at the batch it is chosen for, once per model and machine.

The choice is cached per model architecture, input shape, device, dtype, threads and torch version in
``$LIT_VIDEO_CACHE/layouts.json``, with its runs, the date and the machine's load, so every run after it trains and
profiles in the same layout. One timed on a busy machine (a 1-minute load above ``BUSY`` a core), or whose runs
spread wider than ``MARGIN``, is provisional: a load had slowed C3D's channels-last runs until plain won, and every
run after trusted it. A later run measures a provisional choice again once the machine is quiet.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .clip import Inputs, call, map_inputs
from .files import cache_dir, write_atomic
from .machine import device_name, load_per_core

LAYOUTS = ("contiguous", "channels_last")
MEMORY_FORMATS = ("auto", *LAYOUTS)
MARGIN = 0.10  # channels-last must be this much faster to be chosen: timing noise must not flip a tie
REPEATS = 3  # timed runs of each layout; the fastest is its speed
BUSY = 0.5  # a 1-minute load a core above which timings are not trusted: others held half the cores


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


def _alternated_runs(runs: dict[str, Callable[[], Any]], device: torch.device,
                     repeats: int) -> dict[str, list[float]]:
    """The seconds of each of ``runs`` (each run once already: kernels chosen, memory allocated), timed
    ``repeats`` times in turn, A B A B ...: a change in the machine's load falls on every layout alike."""
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            sync()
            start = time.perf_counter()
            run()
            sync()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def decide_layout(seconds: dict[str, list[float]], load: float | None) -> dict[str, Any]:
    """The layout ``seconds`` (each layout's timed runs) say is faster, each by its fastest run, and whether the
    choice is provisional: timed at a ``load`` a core above ``BUSY`` (None: unknown), or with a layout's two
    fastest runs further apart (``spread``) than the ``MARGIN`` that decides."""
    fastest = {fmt: min(runs) for fmt, runs in seconds.items()}
    spread = max(sorted(runs)[1] / min(runs) - 1 if len(runs) > 1 else 0.0 for runs in seconds.values())
    faster = fastest["channels_last"] < (1 - MARGIN) * fastest["contiguous"]
    busy = load is not None and load > BUSY
    return {"memory_format": "channels_last" if faster else "contiguous", "seconds": seconds, "load": load,
            "spread": spread, "provisional": busy or spread > MARGIN}


def measure_again(entry: Any, load: float | None) -> bool:
    """Whether a cached choice (``entry``; None where there is none) is measured again now, at a ``load`` a core:
    where there is none, where an older lit-video cached it without its date and load, or where it is provisional
    and the machine is quiet now (measuring on a busy one would be no better)."""
    if not isinstance(entry, dict) or entry.get("memory_format") not in LAYOUTS or "measured_at" not in entry:
        return True
    return bool(entry.get("provisional")) and (load is None or load <= BUSY)


def describe_choice(choice: dict[str, Any]) -> str:
    """How ``auto`` came to ``choice`` (``fastest_memory_format``'s), in words: measured now or cached and when,
    and why a provisional one will be measured again."""
    if not choice["seconds"] and "channels_last_fails" not in choice:
        return "auto: nothing to lay out"
    words = "auto: " + (f"cached {choice['measured_at']}" if choice["cached"] else "measured now")
    if "channels_last_fails" in choice:
        return f"{words}, channels_last fails"
    if choice["provisional"]:
        load = choice["load"]
        why = (f" at a load of {load:.1f} a core" if load is not None and load > BUSY else
               f", its runs {choice['spread']:.0%} apart")
        words += f"{why}; measured again once the machine is quiet"
    return words


def describe_runs(choice: dict[str, Any]) -> str:
    """The times that made ``choice``: each layout's fastest run, and the load then ("" where nothing was timed)."""
    if not choice["seconds"]:
        return ""
    fastest = ", ".join(f"{fmt} {min(runs):.3g} s" for fmt, runs in choice["seconds"].items())
    load = "" if choice["load"] is None else f"; load {choice['load']:.2f} a core"
    return f"{fastest} (the fastest of {len(choice['seconds']['contiguous'])} alternated runs each{load})"


def fastest_memory_format(model: nn.Module, inputs: Any, device: str | torch.device = "cpu",
                          dtype: torch.dtype = torch.float32, *, remeasure: bool = False) -> dict[str, Any]:
    """The faster layout for ``model`` on ``inputs`` (a batch's shape, or tensors) on ``device`` under ``dtype``
    autocast: ``decide_layout``'s ``{"memory_format": "contiguous" | "channels_last", "seconds": {format: timed
    runs}, "load", "spread", "provisional"}`` with ``measured_at`` (the date) and ``cached`` (read from the cache,
    not measured now); ``channels_last_fails`` (the reason, unmeasured) where the model cannot run channels-last.

    Read from the cache where this model, shape and machine were measured before, unless ``measure_again`` says
    otherwise or ``remeasure`` asks. A model with no 4D or 5D tensor anywhere has nothing to lay out:
    ``contiguous``, unmeasured. Torch's random state is left as it was, so a run that checks trains as one that
    does not."""
    device = torch.device(device)
    shapes = map_inputs(inputs, lambda t: list(t.shape) if isinstance(t, torch.Tensor) else list(t))
    # (device_name says a CPU's threads)
    key = "|".join([_architecture(model), json.dumps(shapes), device_name(device), str(dtype),
                    f"torch={torch.__version__}"])
    path = cache_dir() / "layouts.json"
    cache: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        cache = json.loads(path.read_text())
    load = load_per_core()  # before timing: the timing's own threads would count
    if not remeasure and not measure_again(cache.get(key), load):
        return {**cache[key], "cached": True}
    dims = [len(s) for s in (shapes.values() if isinstance(shapes, dict) else
                             shapes if shapes and isinstance(shapes[0], list) else [shapes])]
    if not any(t.dim() in (4, 5) for t in model.parameters()) and not any(d in (4, 5) for d in dims):
        return {"memory_format": "contiguous", "seconds": {}, "provisional": False, "cached": False}
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)
    runs, fails = {}, None
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.inference_mode(), autocast:
        real = map_inputs(shapes, lambda shape: torch.randn(shape, device=device))
        for memory_format in LAYOUTS:
            net = to_memory_format(copy.deepcopy(model).to(device).eval(), memory_format)
            x = inputs_to_memory_format(real, memory_format)
            try:
                call(net, x)  # untimed: kernels chosen, memory allocated, and whether this layout runs at all
            except RuntimeError as err:  # e.g. a `view` that needs the plain strides: then the plain layout
                if memory_format == "contiguous":
                    raise
                fails = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
                continue
            runs[memory_format] = functools.partial(call, net, x)
        if fails is None:
            choice = decide_layout(_alternated_runs(runs, device, REPEATS), load)
        else:  # nothing to compare
            choice = {"memory_format": "contiguous", "seconds": {}, "load": load, "spread": 0.0,
                      "provisional": False, "channels_last_fails": fails}
    choice["measured_at"] = time.strftime("%Y-%m-%d %H:%M")
    cache[key] = choice
    with contextlib.suppress(OSError):  # an unwritable cache only means measuring again next time
        write_atomic(path, json.dumps(cache, indent=1))
    return {**choice, "cached": False}
