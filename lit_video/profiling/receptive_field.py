"""Receptive fields measured from the network itself, for any architecture (per-frame 2D, early fusion, 3D,
recurrent, attention).

For every layer we take one central unit of its output and ask which input positions reach it: the gradient of
that unit with respect to the input is non-zero exactly there. Two things could hide positions and are removed
on a float64 copy of the model: zero-mean random weights (terms cancel), so all weights become positive
(scaled by 1/fan-in to keep magnitudes finite); and max pooling (only the arg-max passes a gradient), so max
pooling runs as average pooling with the same window. The input is positive, so ReLUs pass everything.

The central unit is the middle element of every output dimension. That works without knowing the layout:
``(B, C, T, H, W)`` for 3D layers, ``(B*T, C, H, W)`` for frame-based layers (the middle frame), ``(B, N, D)``
for tokens; a feature vector ``(B, F)`` (flattened maps, FC layers, a classifier) counts as one unit.
The receptive field is the extent ``[t, h, w]`` of the positions reached, clipped to the input it was measured
on (a 3x3 conv at a 64-pixel input is 3 pixels wide; global pooling is the whole input).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from ..clip import Inputs, call, map_inputs
from .inputs import input_tensors


def _avg_pool(avg):
    def pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        if dilation not in (1, (1, 1), (1, 1, 1)) or return_indices:
            raise ValueError("receptive fields: dilated max pooling or return_indices has no average-pool "
                             "equivalent")
        return avg(x, kernel_size, stride, padding, ceil_mode=ceil_mode, count_include_pad=True)

    return pool


def _adaptive_avg(avg):
    def pool(x, output_size, return_indices=False):
        return avg(x, output_size)

    return pool


_MAX_TO_AVG = {
    F.max_pool1d: _avg_pool(F.avg_pool1d),
    F.max_pool2d: _avg_pool(F.avg_pool2d),
    F.max_pool3d: _avg_pool(F.avg_pool3d),
    F.adaptive_max_pool1d: _adaptive_avg(F.adaptive_avg_pool1d),
    F.adaptive_max_pool2d: _adaptive_avg(F.adaptive_avg_pool2d),
    F.adaptive_max_pool3d: _adaptive_avg(F.adaptive_avg_pool3d),
}


class AverageInsteadOfMaxPool(TorchFunctionMode):
    """Run every max pooling (module or functional) as average pooling over the same window."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        return _MAX_TO_AVG.get(func, func)(*args, **(kwargs or {}))


def first_tensor(output: Any) -> torch.Tensor | None:
    """The tensor a layer outputs (the first one of a tuple/dict, e.g. an LSTM's output sequence)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        output = list(output.values())
    for item in output if isinstance(output, (tuple, list)) else []:
        found = first_tensor(item)
        if found is not None:
            return found
    return None


def _positive_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    probe = copy.deepcopy(model).double().eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in probe.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype).add_(0.5) / fan_in)
    return probe


def _extent(grad: torch.Tensor) -> list[int]:
    """[t, h, w] extent of the non-zero positions of an input gradient (B, C, T, H, W) or (B, C, H, W)."""
    reached = grad.abs().sum(dim=(0, 1)) > 0  # (T, H, W) or (H, W)
    if reached.dim() == 2:
        reached = reached.unsqueeze(0)  # (1, H, W): an image is one frame
    extent = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        idx = reached.any(dim=other).nonzero()
        extent.append(int(idx.max() - idx.min() + 1) if len(idx) else 0)
    return extent


def receptive_fields(model: nn.Module, inputs: Inputs,
                     names: list[str] | None = None) -> dict[str, list[int]]:
    """Receptive field ``[t, h, w]`` (input frames, pixels) of one central output unit of every layer.

    ``names`` restricts it to some modules (default: every module, root included as ``""``). With several
    inputs (two-stream), the extent is the largest over the inputs. A layer whose output does not depend on
    the input (a positional embedding) gets ``[0, 0, 0]``.
    """
    probe = _positive_copy(model)
    wanted = set(names) if names is not None else None
    gen = torch.Generator().manual_seed(1)
    real = map_inputs(inputs, lambda t: torch.rand(t.shape, generator=gen, dtype=torch.float64).add_(0.5)
                      .requires_grad_(True))
    leaves = [t for t in input_tensors(real) if t.dim() in (4, 5)]
    if not leaves:
        raise ValueError("receptive fields need image (B, C, H, W) or clip (B, C, T, H, W) inputs")
    units: dict[str, torch.Tensor] = {}

    def hook(name):
        def record(_module, _args, output):
            out = first_tensor(output)
            if out is not None and out.is_floating_point() and out.numel():
                # The central unit, last call wins. A feature vector (N, F) counts as one unit: its middle
                # element alone would be one channel at one place of a flattened map, not the layer's reach.
                units[name] = out[out.shape[0] // 2].sum() if out.dim() == 2 else out[tuple(s // 2 for s in out.shape)]

        return record

    modules = [(n, m) for n, m in probe.named_modules() if wanted is None or n in wanted]
    handles = [m.register_forward_hook(hook(n)) for n, m in modules]
    try:
        with torch.enable_grad(), AverageInsteadOfMaxPool():
            call(probe, real)
    finally:
        for h in handles:
            h.remove()
    fields = {}
    for name, unit in units.items():
        if not unit.requires_grad:
            fields[name] = [0, 0, 0]
            continue
        grads = torch.autograd.grad(unit, leaves, retain_graph=True, allow_unused=True)
        extents = [_extent(g) for g in grads if g is not None] or [[0, 0, 0]]
        fields[name] = [max(e[i] for e in extents) for i in range(3)]
    return fields
