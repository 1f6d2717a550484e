"""Measures of what a visualisation shows, so that a picture is checked rather than eyeballed (the tests and
``benchmarks/bench_visualize.py`` use them on models trained on the built-in data)."""

from __future__ import annotations

import numpy as np
import torch

from ..data.flow import compute_flow
from .class_model import appearance_and_motion
from .render import rgb_frames


def direction_cosine(clip: torch.Tensor, direction: tuple[float, float]) -> float:
    """Cosine between an RGB clip's ``(3, T, H, W)`` dominant motion (its optical flow, DIS, averaged over pixels and
    frame pairs) and ``direction`` ``(dx, dy)`` (image axes: y points down)."""
    motion = compute_flow(rgb_frames(clip)).mean(axis=(0, 2, 3))  # (T-1, 2, H, W) -> (dx, dy)
    return float(motion @ np.asarray(direction, float) / max(np.linalg.norm(motion) * np.linalg.norm(direction),
                                                              1e-12))


def stripe_ratio(clip: torch.Tensor) -> float:
    """How much the temporal mean of a clip ``(C, T, H, W)`` changes down the image against across it (the mean
    squared difference of neighbouring rows over that of neighbouring columns, on the channels' mean): above 1 for
    horizontal stripes, below 1 for vertical ones, about 1 without orientation."""
    grey = appearance_and_motion(clip)[0].mean(0)  # (H, W)
    down = (grey[1:] - grey[:-1]).pow(2).mean()
    across = (grey[:, 1:] - grey[:, :-1]).pow(2).mean()
    return float(down / across.clamp_min(1e-12))


def brightness_snaps(frames: np.ndarray) -> np.ndarray:
    """The frames next to a sudden brightness change in uint8 frames ``(T, H, W, 3)``: for each change between frames
    ``k`` and ``k + 1`` of at least half the largest, both ``k`` and ``k + 1`` (sorted)."""
    jumps = np.abs(np.diff(frames.astype(float).mean(axis=(1, 2, 3))))  # (T-1,)
    snaps = np.flatnonzero(jumps >= jumps.max() / 2)
    return np.unique(np.concatenate([snaps, snaps + 1]))
