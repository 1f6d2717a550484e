"""Clip transforms on decoded frames: short-side resize, random / center / three crop, flip, normalisation.

Input: uint8 ``(T, H, W, C)`` as decoded, and for a model that takes optical flow, the clip's flow ``(T-1, 2, h, w)``
in pixels. Output: float ``(C, T, H, W)``, the layout every model takes, or ``{"rgb": ..., "flow": (2, T-1, H, W)}``,
the flow given the frames' crop and flip and kept in pixels of the clip.
torchvision.transforms.v2 functional ops do the work; they treat ``(T, C, H, W)`` as a batch of images, so
every frame of a clip gets the same crop and flip.
"""

from __future__ import annotations

import functools

import torch
from torchvision.transforms.v2 import functional as F

# Kinetics-400 statistics, as used by torchvision's video models.
MEAN = (0.43216, 0.394666, 0.37645)
STD = (0.22803, 0.22145, 0.216989)


def three_crop_boxes(height: int, width: int, size: int) -> list[tuple[int, int]]:
    """Top-left corners of three ``size`` crops along the long side: start, centre, end."""
    if width >= height:
        top = (height - size) // 2
        return [(top, left) for left in (0, (width - size) // 2, width - size)]
    left = (width - size) // 2
    return [(top, left) for top in (0, (height - size) // 2, height - size)]


def resize_frames(frames: torch.Tensor, short_side: int) -> torch.Tensor:
    """uint8 frames ``(T, H, W, C)`` with their short side resized to ``short_side`` (antialiased), ``(T, h, w, C)``:
    each frame alone, so that any subset of frames resizes to the same pixels."""
    video = F.resize(frames.permute(0, 3, 1, 2), [short_side], antialias=True)  # (T, C, H, W) -> (T, C, h, w)
    return video.permute(0, 2, 3, 1).contiguous()  # (T, h, w, C)


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Flow ``(T', 2, H, W)`` in pixels resized to ``size`` = ``(h, w)`` (antialiased, each field alone) and its
    vectors scaled with it, ``(dx, dy)`` in pixels of the resized frames; flow already at ``size`` comes back as it
    is (its scale is 1)."""
    scale = torch.tensor([size[1] / flow.shape[-1], size[0] / flow.shape[-2]]).view(1, 2, 1, 1)
    return F.resize(flow, list(size), antialias=True) * scale  # (T', 2, h, w)


class ClipTransform:
    """Training (``train=True``): random crop, and a horizontal flip half the time where ``flip``.
    Evaluation: crop ``crop`` of ``crops`` (centre, or three along the long side)."""

    def __init__(self, size: int = 112, resize: int | None = None, train: bool = False, flip: bool = True,
                 mean: tuple[float, ...] = MEAN, std: tuple[float, ...] = STD):
        self.size = size
        # The lecture's C3D recipe resizes to 128 px and crops 112: the same ratio by default.
        self.resize = resize or round(size * 128 / 112)
        self.train, self.flip = train, flip
        self.mean, self.std = list(mean), list(std)

    def __call__(self, frames: torch.Tensor, crop: int = 0, crops: int = 1,
                 flow: torch.Tensor | None = None) -> torch.Tensor | dict[str, torch.Tensor]:
        """The clip ``(C, T, H, W)`` of uint8 ``frames`` ``(T, H, W, C)``; with ``flow`` ``(T', 2, h, w)`` (pixels,
        any size), ``{"rgb": clip, "flow": (2, T', H, W)}``: the flow resized, cropped and flipped with the frames,
        its vectors scaled with the resize (pixels of the clip) and ``dx`` negated by a flip."""
        return self._views(frames, [crop], crops, flow)[0]

    def views(self, frames: torch.Tensor, crops: int = 1,
              flow: torch.Tensor | None = None) -> list[torch.Tensor | dict[str, torch.Tensor]]:
        """Every one of the ``crops`` views of a clip (``self(frames, crop, crops, flow)`` for each crop), from one
        resize of its frames and flow."""
        return self._views(frames, range(crops), crops, flow)

    def _views(self, frames: torch.Tensor, which, crops: int, flow: torch.Tensor | None) -> list:
        # Frames already at the short side (the decoded-frame cache keeps them so) pass through unchanged.
        video = resize_frames(frames, self.resize).permute(0, 3, 1, 2)  # (T, h, w, C) -> (T, C, h, w)
        h, w = video.shape[-2:]
        if flow is not None:
            flow = resize_flow(flow, (h, w))  # (T', 2, h, w), (dx, dy) in pixels of the resized frames
        return [self._crop(video, flow, crop, crops) for crop in which]

    def _crop(self, video: torch.Tensor, flow: torch.Tensor | None, crop: int,
              crops: int) -> torch.Tensor | dict[str, torch.Tensor]:
        """View ``crop`` of ``crops`` of a resized clip ``(T, C, h, w)`` and its flow ``(T', 2, h, w)``; a training
        view draws its crop and flip from torch's generator."""
        h, w = video.shape[-2:]
        flip = False
        if self.train:
            top = int(torch.randint(0, h - self.size + 1, ()))
            left = int(torch.randint(0, w - self.size + 1, ()))
            geometry = functools.partial(F.crop, top=top, left=left, height=self.size, width=self.size)
            flip = bool(self.flip and torch.rand(()) < 0.5)
        elif crops == 3:
            top, left = three_crop_boxes(h, w, self.size)[crop]
            geometry = functools.partial(F.crop, top=top, left=left, height=self.size, width=self.size)
        else:
            geometry = functools.partial(F.center_crop, output_size=[self.size])
        video = geometry(video)
        if flip:
            video = F.horizontal_flip(video)
        video = F.normalize(F.to_dtype(video, torch.float32, scale=True), self.mean, self.std)
        video = video.permute(1, 0, 2, 3)  # (T, C, H, W) -> (C, T, H, W)
        if flow is None:
            return video
        flow = geometry(flow)  # (T', 2, size, size)
        if flip:
            flow = F.horizontal_flip(flow) * torch.tensor([-1.0, 1.0]).view(1, 2, 1, 1)  # mirrored: dx -> -dx
        return {"rgb": video, "flow": flow.permute(1, 0, 2, 3)}  # flow (T', 2, H, W) -> (2, T', H, W)
