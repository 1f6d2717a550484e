"""I3D inflation (Carreira & Zisserman 2017): turn a 2D image network into a 3D video network.

Every ``Conv2d`` / max, average and adaptive pool / ``BatchNorm2d`` becomes its 3D version; a 2D kernel
``Kh x Kw`` becomes ``Kt x Kh x Kw`` with the 2D weights copied ``Kt`` times along time and divided by ``Kt``,
so on a "constant" video (every frame the same image) each layer computes exactly what the 2D layer computed
on the image.

Two choices make that property hold for the whole network, at every frame of the clip:

* Time padding. Zero padding in time makes the first and last frames see ``(Kt - 1) / Kt`` of a real input, so
  a constant clip no longer gives the 2D result at its ends. ``time_padding="replicate"`` (the default)
  repeats the end frames instead -- the natural guess for what lies just outside a clip cut from a longer
  video -- and the property holds exactly. ``"zeros"`` is what a plain ``Conv3d`` (and the original I3D) does.
* Global pooling. Torchvision's forward ends with ``avgpool -> torch.flatten(x, 1) -> fc``. An adaptive
  (global) 2D pool becomes an adaptive 3D pool that also pools all of time to one step, so ``flatten`` sees
  ``(B, C, 1, 1, 1)`` and the unchanged 2D forward and classifier work on clips.

By default layers never stride in time: a clip keeps its ``T`` steps until the global pool (cost grows linearly
with ``T``). ``time_stride`` strides chosen layers in time, as the published I3D networks do; replicate padding
then pads as TensorFlow's "SAME" does (the reference I3D is TensorFlow), so a stride ``s`` gives ``ceil(T / s)``
steps.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

TimeKernel = int | Callable[[str, nn.Module], int]
TimeStride = int | Callable[[str, nn.Module], int]
TIME_PADDINGS = ("replicate", "zeros")


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _time_kernel(rule: TimeKernel, name: str, layer: nn.Module) -> int:
    if callable(rule):
        return int(rule(name, layer))
    # An int inflates every layer with a spatial extent; pointwise (1x1) layers stay pointwise in time.
    return rule if max(_pair(layer.kernel_size)) > 1 else 1


class ReplicateTimePad(nn.Module):
    """Repeat a clip's end frames so that a layer of kernel ``kt`` and stride ``st`` in time gives ``ceil(T / st)``
    steps ("SAME" padding: ``T`` kept at stride 1; the extra frame of an even total goes at the end)."""

    def __init__(self, kt: int, st: int = 1):
        super().__init__()
        self.kt, self.st = kt, st

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[2]
        total = max((-(-t // self.st) - 1) * self.st + self.kt - t, 0)
        # F.pad's order is (W_left, W_right, H_top, H_bottom, T_front, T_back).
        return nn.functional.pad(x, (0, 0, 0, 0, total // 2, total - total // 2), mode="replicate")


def time_padded(layer: nn.Module, kt: int, st: int, time_padding: str) -> nn.Module:
    """``layer`` (built with no time padding) behind a replicate pad in time (``ReplicateTimePad``)."""
    if (kt == 1 and st == 1) or time_padding == "zeros":
        return layer
    return nn.Sequential(OrderedDict(pad=ReplicateTimePad(kt, st), layer=layer))


def _inflate_layer(name: str, m: nn.Module, rule: TimeKernel, time_padding: str,
                   stride_rule: TimeStride = 1) -> nn.Module | None:
    """The 3D version of one 2D layer, or None when ``m`` is not a layer that inflation changes."""
    if isinstance(m, nn.BatchNorm2d):
        bn = nn.BatchNorm3d(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats)
        bn.load_state_dict(m.state_dict())
        return bn
    if isinstance(m, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        pool3d = nn.AdaptiveAvgPool3d if isinstance(m, nn.AdaptiveAvgPool2d) else nn.AdaptiveMaxPool3d
        # All of time to one step, so that torchvision's torch.flatten(x, 1) still fits.
        return pool3d((1, *_pair(m.output_size)))
    if not isinstance(m, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
        return None
    kt = _time_kernel(rule, name, m)
    st = int(stride_rule(name, m)) if callable(stride_rule) else stride_rule
    pt = kt // 2 if time_padding == "zeros" else 0  # replicate padding is a separate layer (see time_padded)
    if isinstance(m, nn.Conv2d):
        if isinstance(m.padding, str):
            raise ValueError(f"inflate: {name} uses padding={m.padding!r}; only numeric padding inflates")
        # skip_init: the weights are overwritten just below, so random initialisation would be wasted time.
        conv = nn.utils.skip_init(nn.Conv3d, m.in_channels, m.out_channels, (kt, *m.kernel_size),
                                  stride=(st, *m.stride), padding=(pt, *m.padding), dilation=(1, *m.dilation),
                                  groups=m.groups, bias=m.bias is not None, padding_mode=m.padding_mode,
                                  device=m.weight.device, dtype=m.weight.dtype)  # stays on meta when built there
        with torch.no_grad():
            # (O, I, Kh, Kw) -> (O, I, Kt, Kh, Kw), each time slice W / Kt: a constant clip sums back to W.
            conv.weight.copy_(m.weight.unsqueeze(2).repeat(1, 1, kt, 1, 1) / kt)
            if m.bias is not None:
                conv.bias.copy_(m.bias)
        return time_padded(conv, kt, st, time_padding)
    kernel, stride, padding = (kt, *_pair(m.kernel_size)), (st, *_pair(m.stride)), (pt, *_pair(m.padding))
    if isinstance(m, nn.MaxPool2d):
        pool = nn.MaxPool3d(kernel, stride, padding, dilation=(1, *_pair(m.dilation)), ceil_mode=m.ceil_mode)
    else:
        pool = nn.AvgPool3d(kernel, stride, padding, ceil_mode=m.ceil_mode,
                            count_include_pad=m.count_include_pad, divisor_override=m.divisor_override)
    return time_padded(pool, kt, st, time_padding)


def inflate(net2d: nn.Module, time_kernel: TimeKernel = 3, time_padding: str = "replicate",
            time_stride: TimeStride = 1) -> nn.Module:
    """A 3D copy of ``net2d`` (left untouched) taking clips ``(B, C, T, H, W)``.

    ``time_kernel``: an int ``Kt`` for every conv / pool with a spatial extent (1x1 layers stay 1x1x1), or a
    callable ``(qualified_name, layer2d) -> Kt`` choosing per layer (I3D's "cubic" rule:
    ``lambda n, m: m.kernel_size[0]``).
    ``time_padding``: ``"replicate"`` (default; keeps the constant-video property exact) or ``"zeros"``.
    ``time_stride``: an int for every conv / pool (default 1: time is never strided), or a callable
    ``(qualified_name, layer2d) -> stride``.
    """
    if time_padding not in TIME_PADDINGS:
        raise ValueError(f"time_padding={time_padding!r} is not one of {', '.join(TIME_PADDINGS)}")
    if isinstance(time_kernel, int) and time_kernel < 1:
        raise ValueError(f"time_kernel must be >= 1, got {time_kernel}")
    if isinstance(time_stride, int) and time_stride < 1:
        raise ValueError(f"time_stride must be >= 1, got {time_stride}")
    net = copy.deepcopy(net2d)
    for name, module in list(net.named_modules()):
        layer3d = _inflate_layer(name, module, time_kernel, time_padding, time_stride)
        if layer3d is not None and not name:  # net2d is itself a single layer
            return layer3d
        if layer3d is not None:
            net.set_submodule(name, layer3d)
    return net
