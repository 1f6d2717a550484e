"""Class-model inputs: the clip that maximises one class's score (activation maximisation), as Feichtenhofer et al.
("What have we learned from deep representations for action recognition?", CVPR 2018; IJCV 2019) show what video
networks learn.

Gradient ascent on the class's logit over an input clip, in the model's input normalisation, kept in the range of
real clips, with the usual regularisers: an L2 penalty and spatial total variation (no high-frequency noise), random
jitter (no pattern that depends on a pixel grid), and a temporal penalty on the change between consecutive frames.
The temporal penalty's weight picks what the clip may use: at 0 it is free to change fast from frame to frame ("fast"
motion); raised, only slow change pays ("slow" motion), and high enough, a still image: the class's appearance. The
paper splits each result into its appearance (the temporal mean) and its motion (the deviation from it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import TrainedModel, normalized_bounds

FLOW_BOUND = 20.0  # pixels: the flow cache's range, so the optimised flow stays within what training saw


@dataclass(frozen=True)
class ClassModelSettings:
    """Gradient ascent settings. Penalty weights are per element of the (normalised) input, so they mean the same at
    any clip size."""

    steps: int = 150
    lr: float = 0.05
    l2: float = 1.0  # weight of the mean squared input
    tv: float = 20.0  # weight of the mean squared difference between neighbouring pixels
    temporal: float = 0.0  # weight of the mean squared difference between consecutive frames
    jitter: int = 1  # pixels of random shift each step
    seed: int = 0

    def __post_init__(self) -> None:
        bad = [f"{name} must be >= 0 (got {value})" for name, value in
               (("l2", self.l2), ("tv", self.tv), ("temporal", self.temporal), ("jitter", self.jitter)) if value < 0]
        if self.steps < 1 or self.lr <= 0:
            bad.append(f"steps must be >= 1 and lr > 0 (got {self.steps}, {self.lr})")
        if bad:
            raise ValueError("class-model settings: " + "; ".join(bad))


def _penalties(x: torch.Tensor, settings: ClassModelSettings) -> torch.Tensor:
    """The regularisers of one input ``(1, C, T, H, W)``."""
    total = settings.l2 * x.pow(2).mean()
    total = total + settings.tv * ((x[..., 1:, :] - x[..., :-1, :]).pow(2).mean()
                                   + (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean())
    if x.shape[2] > 1:
        total = total + settings.temporal * (x[:, :, 1:] - x[:, :, :-1]).pow(2).mean()
    return total


def class_model(model: TrainedModel, target: int, settings: ClassModelSettings = ClassModelSettings(),
                progress: Callable[[int, float], None] | None = None) -> dict[str, torch.Tensor]:
    """The input that maximises class ``target``'s score under ``settings``: per modality, ``rgb`` ``(3, T, H, W)``
    in the model's input normalisation and, for a model that takes optical flow, ``flow`` ``(2, T-1, H, W)`` in
    pixels. ``progress(step, score)`` is called after each step. The same settings give the same clip (seeded)."""
    generator = torch.Generator().manual_seed(settings.seed)
    inputs = {m: (0.1 * torch.randn(shape, generator=generator)).requires_grad_()
              for m, shape in model.input_shapes().items()}
    low, high = normalized_bounds()
    optimizer = torch.optim.Adam(list(inputs.values()), lr=settings.lr)
    for step in range(settings.steps):
        dy, dx = (int(v) for v in torch.randint(-settings.jitter, settings.jitter + 1, (2,), generator=generator))
        shifted = {m: torch.roll(x, (dy, dx), dims=(-2, -1)) for m, x in inputs.items()}
        score = model(shifted)[0, target]
        loss = -score + sum(_penalties(x, settings) for x in inputs.values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # stay within what real inputs can be
            inputs["rgb"].copy_(torch.maximum(torch.minimum(inputs["rgb"], high), low))
            if "flow" in inputs:
                inputs["flow"].clamp_(-FLOW_BOUND, FLOW_BOUND)
        if progress is not None:
            progress(step, float(score.detach()))
    return {m: x.detach()[0] for m, x in inputs.items()}


def appearance_and_motion(clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A clip ``(C, T, H, W)`` split as the paper shows it: its appearance, the temporal mean ``(C, H, W)``, and its
    motion, the deviation from that mean ``(C, T, H, W)``."""
    appearance = clip.mean(dim=1)
    return appearance, clip - appearance.unsqueeze(1)


def motion_energy(clip: torch.Tensor) -> float:
    """Mean squared change between consecutive frames of a clip ``(C, T, H, W)``."""
    return float((clip[:, 1:] - clip[:, :-1]).pow(2).mean())
