"""Small shared pieces: plain conv stacks named like the lecture's tables, heads, reshapes, shape checks."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

# One stage of a plain CNN: (out_channels, number of convs, pooling kernel = stride after it, or None).
Stage = tuple[int, int, int | tuple[int, ...] | None]


def conv_stages(in_channels: int, stages: Sequence[Stage], kernel: int | tuple[int, ...] = 3, dims: int = 3,
                batch_norm: bool = False, ceil_mode: bool = False) -> OrderedDict[str, nn.Module]:
    """Conv (+BN) + ReLU layers with 'same' padding and max pools, named as in the lecture's tables.

    Stage ``i`` (from 1) names its convs ``conv{i}`` (or ``conv{i}a``, ``conv{i}b``... when it has several),
    and its pool ``pool{i}``, so that C3D reads ``conv1, pool1, conv2, pool2, conv3a, conv3b, pool3, ...``.
    ``ceil_mode`` rounds pooled sizes up, so that short clips (even a single frame) survive every pool.
    """
    conv, norm, pool = (nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d) if dims == 3 else (nn.Conv2d, nn.BatchNorm2d,
                                                                                   nn.MaxPool2d)
    kernel = (kernel,) * dims if isinstance(kernel, int) else tuple(kernel)
    padding = tuple(k // 2 for k in kernel)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i, (out_channels, n_convs, pool_size) in enumerate(stages, start=1):
        for j in range(n_convs):
            name = f"{i}{'abcdefgh'[j]}" if n_convs > 1 else f"{i}"
            # A conv followed by BN needs no bias (BN's shift replaces it).
            layers[f"conv{name}"] = conv(in_channels, out_channels, kernel, padding=padding,
                                         bias=not batch_norm)
            if batch_norm:
                layers[f"bn{name}"] = norm(out_channels)
            layers[f"relu{name}"] = nn.ReLU(inplace=True)
            in_channels = out_channels
        if pool_size is not None:
            layers[f"pool{i}"] = pool(pool_size, pool_size, ceil_mode=ceil_mode)
    return layers


def global_pool(dims: int = 3) -> OrderedDict[str, nn.Module]:
    """Global average pool over every remaining axis, to a feature vector (``pool, flatten``)."""
    return OrderedDict(
        pool=nn.AdaptiveAvgPool3d(1) if dims == 3 else nn.AdaptiveAvgPool2d(1),
        flatten=nn.Flatten(1),  # (B, C, 1, 1[, 1]) -> (B, C)
    )


def linear_head(in_features: int, num_classes: int, dropout: float = 0.0) -> OrderedDict[str, nn.Module]:
    """A linear classifier ``fc``, after ``dropout`` where there is any."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if dropout > 0:
        layers["dropout"] = nn.Dropout(dropout)
    layers["fc"] = nn.Linear(in_features, num_classes)
    return layers


def per_frame(module: nn.Module, clip: torch.Tensor) -> torch.Tensor:
    """Run a 2D module on each frame of a clip ``(B, C, T, H, W)``, time folded into batch: ``(B, T, ...)``"""
    b, c, t, h, w = clip.shape
    out = module(clip.transpose(1, 2).reshape(b * t, c, h, w))  # (B*T, C, H, W) -> (B*T, ...)
    return out.view(b, t, *out.shape[1:])  # (B*T, ...) -> (B, T, ...)


class CheckShape(nn.Module):
    """Raises a clear error when a tensor's trailing shape is not the one the next layer was built for."""

    def __init__(self, shape: Sequence[int], what: str, hint: str):
        super().__init__()
        self.shape, self.what, self.hint = tuple(shape), what, hint

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        got = tuple(x.shape[-len(self.shape):])
        if got != self.shape:
            raise ValueError(f"{self.what} is {got}, expected {self.shape}: {self.hint}")
        return x

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class StackFrames(nn.Module):
    """Early fusion's reshape: a clip ``(B, C, T, H, W)`` becomes an image ``(B, C*T, H, W)``.

    Channel ``c*T + t`` holds channel ``c`` of frame ``t``. ``what`` names the model in the error a clip of
    another length gets (the two-stream network stacks ``T`` flow fields the same way).
    """

    def __init__(self, frames: int, what: str = "early fusion", hint: str = "pass frames=..."):
        super().__init__()
        self.frames, self.what, self.hint = frames, what, hint

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        if clip.dim() != 5 or clip.shape[2] != self.frames:
            raise ValueError(f"{self.what} was built for stacks of {self.frames} frames (its first conv takes "
                             f"channels x {self.frames}), got a tensor of shape {tuple(clip.shape)}; {self.hint}")
        return clip.flatten(1, 2)  # (B, C, T, H, W) -> (B, C*T, H, W)

    def extra_repr(self) -> str:
        return f"frames={self.frames}"


def average_predictions(logits: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Average class probabilities over ``dim`` (the lecture's test-time rule), as log-probabilities.

    Softmax / cross-entropy downstream then see exactly the averaged probabilities.
    """
    return torch.logsumexp(logits.log_softmax(-1), dim=dim) - math.log(logits.shape[dim])
