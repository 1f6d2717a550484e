"""The clip: what the data delivers and a model takes, one record for both; and a model's input built of clips.

A clip is ``frames`` frames sampled at ``fps`` frames per second, each ``size`` x ``size`` pixels. Each modality
makes a tensor ``(B, C, T, H, W)`` of it: RGB ``(B, 3, frames, size, size)``, and optical flow, which lies between
consecutive frames, ``(B, 2, frames - 1, size, size)`` (the lecture's ``2*(T-1)`` flow images). The data and the
models both import this module and nothing of each other; the registry says which clips a model takes
(``ModelInfo.clip`` and ``ModelInfo.accepts``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

# Channels of each modality, and how many frames fewer than the clip it has: optical flow (dx, dy) lies between
# consecutive frames.
MODALITY_CHANNELS = {"rgb": 3, "flow": 2}
_FEWER_FRAMES = {"flow": 1}
MIN_SIZE = 8  # px: below this no crop of a decoded frame is worth a clip


@dataclass(frozen=True)
class Clip:
    """``frames`` frames of ``size`` x ``size`` pixels sampled at ``fps`` frames per second."""

    frames: int
    size: int
    fps: float

    def problems(self, option: str = "data") -> list[str]:
        """What makes this no clip at all, each naming its option (``data.frames``...); empty when it is one."""
        return [f"{option}.{name} must be {rule} (got {value})" for name, value, ok, rule in (
            ("frames", self.frames, self.frames >= 1, ">= 1"),
            ("size", self.size, self.size >= MIN_SIZE, f">= {MIN_SIZE} px"),
            ("fps", self.fps, self.fps > 0, "> 0 frames per second"),
        ) if not ok]

    def shapes(self, modalities: tuple[str, ...], batch_size: int) -> dict[str, tuple[int, ...]]:
        """The tensor shape of each modality of a batch of these clips, ``(B, C, T, H, W)``."""
        unknown = [m for m in modalities if m not in MODALITY_CHANNELS]
        if unknown or not modalities:
            raise ValueError(f"modalities {tuple(modalities)!r}: choose from {', '.join(MODALITY_CHANNELS)}")
        return {m: (batch_size, MODALITY_CHANNELS[m], self.frames - _FEWER_FRAMES.get(m, 0), self.size, self.size)
                for m in modalities}


# The clip of a model that registers none, and of a DataModule built directly without one.
DEFAULT_CLIP = Clip(frames=8, size=112, fps=5.0)


# A model's input: one clip tensor, a dict of them (one per modality), or a tuple (positional arguments).
Inputs = torch.Tensor | dict[str, torch.Tensor] | tuple[torch.Tensor, ...]


def map_inputs(inputs: Any, fn: Callable[[Any], Any]) -> Any:
    """``fn`` applied to every tensor (or shape) of ``inputs``, keeping its structure."""
    if isinstance(inputs, dict):
        return {k: fn(v) for k, v in inputs.items()}
    if isinstance(inputs, tuple) and inputs and not isinstance(inputs[0], int):
        return tuple(fn(v) for v in inputs)
    return fn(inputs)


def call(model: torch.nn.Module, inputs: Inputs) -> Any:
    """``model`` on ``inputs`` (a tuple: positional arguments)."""
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)
