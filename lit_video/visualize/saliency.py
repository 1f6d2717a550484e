"""Where in space and time a decision comes from: gradient x input saliency of one class's score over a real clip.

The clip is read and prepared exactly as the test protocol prepares it (the checkpoint's clip length, frame rate,
resize and centre crop; one clip from the middle of the video), the class's logit is back-propagated to the input,
and each input value's importance is ``|gradient x value|`` (Shrikumar et al. 2016; Grad-CAM needs a convolutional
feature map with time in it, which not every family has, while this works for all of them). Summed over channels it
is a heat map over the frames ``(T, H, W)``; summed over space, a curve of importance per frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.decode import probe_video, read_frames
from ..data.flow import ClipFlow
from ..data.sampling import eval_clip_indices
from ..data.transforms import ClipTransform
from . import TrainedModel
from .render import rgb_frames


@dataclass
class Saliency:
    """A clip's saliency for one class: ``frames`` uint8 ``(T, H, W, 3)`` as the model saw them (cropped),
    ``heat`` ``(T, H, W)`` (RGB importance; for a model that takes flow, ``flow_heat`` ``(T-1, H, W)`` too),
    ``per_frame`` ``(T,)`` summing to 1, the class's probability and the frame indices in the video."""

    target: int
    probability: float
    frames: np.ndarray
    heat: np.ndarray
    per_frame: np.ndarray
    indices: list[int]
    flow_heat: np.ndarray | None = None


def prepare_clip(model: TrainedModel, video: str | Path) -> tuple[dict[str, torch.Tensor], np.ndarray, list[int]]:
    """The middle clip of ``video`` as the model's test protocol prepares it: inputs per modality ``(1, C, T, H, W)``,
    the cropped uint8 frames ``(T, H, W, 3)`` and their indices in the video."""
    backend = model.backend
    probe = probe_video(video, backend)
    (indices,) = eval_clip_indices(probe.num_frames, probe.fps, model.frames, model.fps, clips=1)
    frames = read_frames(video, indices, backend)  # (T, H, W, 3) uint8
    transform = ClipTransform(model.size, model.resize)
    flow = None
    if "flow" in model.modalities:
        flow = torch.from_numpy(ClipFlow(model.flow, backend)(str(video), indices, frames.shape[1:3]))
    view = transform(frames, flow=flow)
    inputs = view if isinstance(view, dict) else {"rgb": view}
    # What the model saw, in pixels (the normalisation undone: the resized, cropped uint8 frames).
    return {m: x.unsqueeze(0) for m, x in inputs.items()}, rgb_frames(inputs["rgb"]), indices


def saliency(model: TrainedModel, video: str | Path, target: int | None = None) -> Saliency:
    """Gradient x input saliency of class ``target`` (default: the predicted class) on ``video``'s middle clip."""
    inputs, frames, indices = prepare_clip(model, video)
    inputs = {m: x.requires_grad_() for m, x in inputs.items()}
    logits = model(inputs)
    target = int(logits.argmax(1)) if target is None else target
    logits[0, target].backward()
    # (1, C, T, H, W) -> (T, H, W): summed over channels
    importance = {m: (x.grad * x.detach()).abs().sum(dim=1)[0].numpy() for m, x in inputs.items()}
    heat = importance["rgb"]
    per_frame = heat.sum(axis=(1, 2))
    probability = float(logits.detach().softmax(1)[0, target])
    return Saliency(target, probability, frames, heat, per_frame / max(per_frame.sum(), 1e-12), indices,
                    importance.get("flow"))
