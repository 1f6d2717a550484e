"""Clip transforms on decoded frames: short-side resize, random / center / three crop, flip, normalisation.

Input: uint8 ``(T, H, W, C)`` as decoded, and for a model that takes optical flow, the clip's flow ``(T-1, 2, h, w)``
in pixels. Output: float ``(C, T, H, W)``, the layout every model takes, or ``{"rgb": ..., "flow": (2, T-1, H, W)}``,
the flow given the frames' crop and flip and kept in pixels of the clip.
torchvision.transforms.v2's functional ops resize and normalise, treating ``(T, C, H, W)`` as a batch of images;
a crop is a slice, the same for every frame of a clip. The views of a video share one resize of its frames, and one
normalisation where that touches fewer pixels than normalising each view.
"""

from __future__ import annotations

from collections.abc import Sequence

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

    def __init__(self, size: int, resize: int | None = None, train: bool = False, flip: bool = True,
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
        views = self._views(frames, [range(len(frames))], [crop], crops, None if flow is None else [flow])
        return {m: v[0] for m, v in views.items()} if isinstance(views, dict) else views[0]

    def views(self, frames: torch.Tensor, clips: list[Sequence[int]], crops: int = 1,
              flows: list[torch.Tensor] | None = None) -> torch.Tensor | dict[str, torch.Tensor]:
        """Every view of a video, clip-major: for each clip (its frames' positions in ``frames``, uint8
        ``(U, H, W, C)``) each of its ``crops`` crops, ``(V, C, T, H, W)`` with ``V = len(clips) * crops``; with
        ``flows`` (each clip's, as in ``__call__``) ``{"rgb": ..., "flow": (V, 2, T', H, W)}``. View ``v`` is
        ``self(frames[clips[v // crops]], v % crops, crops, flows[v // crops])`` to the bit, from one resize of the
        frames (and of each clip's flow) for every view."""
        return self._views(frames, clips, range(crops), crops, flows)

    def _views(self, frames: torch.Tensor, clips: list[Sequence[int]], which: Sequence[int], crops: int,
               flows: list[torch.Tensor] | None) -> torch.Tensor | dict[str, torch.Tensor]:
        # Frames already at the short side (the decoded-frame cache keeps them so) pass through unchanged.
        video = resize_frames(frames, self.resize).permute(0, 3, 1, 2)  # (U, h, w, C) -> (U, C, h, w)
        h, w = video.shape[-2:]
        size, length = self.size, len(clips[0])
        views = len(clips) * len(which)
        # Normalisation is per pixel, so it gives the same bits before or after cropping and picking frames: do it
        # where it touches fewer pixels (once for a video's frames when its views overlap, as 10 x 3 do).
        normalize_first = video.numel() < views * length * 3 * size * size
        if normalize_first:  # contiguous first: gathering frames from it is then a copy of whole rows
            video = self._normalize(video.contiguous())
        rgb = torch.empty(views, 3, length, size, size)
        flow_views = None if flows is None else torch.empty(views, 2, length - 1, size, size)
        v = 0
        for positions, clip_flow in zip(clips, flows or [None] * len(clips), strict=True):
            index = torch.as_tensor(list(positions))
            if clip_flow is not None:  # (T', 2, h, w), (dx, dy) in pixels of the resized frames
                clip_flow = resize_flow(clip_flow, (h, w))
            for crop in which:
                top, left, flip = self._box(h, w, crop, crops)
                box = (..., slice(top, top + size), slice(left, left + size))
                if normalize_first:  # the clip's frames gathered straight into the view, (T, C, size, size)
                    torch.index_select(video[box], 0, index, out=rgb[v].transpose(0, 1))
                    if flip:
                        rgb[v] = rgb[v].flip(-1)
                else:  # the view's uint8 frames picked, cropped and flipped, then normalised
                    clip = video[box].index_select(0, index)  # (T, C, size, size)
                    rgb[v] = self._normalize(clip.flip(-1) if flip else clip).transpose(0, 1)  # (C, T, size, size)
                if clip_flow is not None:
                    flow_views[v] = clip_flow[box].transpose(0, 1)  # (T', 2, size, size) -> (2, T', size, size)
                    if flip:  # mirrored: dx -> -dx
                        flow_views[v] = flow_views[v].flip(-1) * torch.tensor([-1.0, 1.0]).view(2, 1, 1, 1)
                v += 1
        return rgb if flow_views is None else {"rgb": rgb, "flow": flow_views}

    def _box(self, h: int, w: int, crop: int, crops: int) -> tuple[int, int, bool]:
        """Top-left corner of crop ``crop`` of ``crops`` in ``(h, w)`` frames, and whether to flip it: a training view
        draws both from torch's generator."""
        if self.train:
            top = int(torch.randint(0, h - self.size + 1, ()))
            left = int(torch.randint(0, w - self.size + 1, ()))
            return top, left, bool(self.flip and torch.rand(()) < 0.5)
        if crops == 3:
            return (*three_crop_boxes(h, w, self.size)[crop], False)
        # Rounded halves, as torchvision's center_crop places it.
        return int(round((h - self.size) / 2.0)), int(round((w - self.size) / 2.0)), False

    def _normalize(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames ``(T, C, H, W)`` to float, scaled to [0, 1] and normalised with the mean and std."""
        # In place on the new float tensor: one allocation, not two.
        return F.normalize(F.to_dtype(frames, torch.float32, scale=True), self.mean, self.std, inplace=True)
