"""Clip sampling in time: which source frames make a clip of ``frames`` frames at ``fps`` frames per second.

Pure index arithmetic, no decoding. The stride comes from each video's own frame rate, so clips from 30, 25
and 12 fps videos all last ``frames / fps`` seconds; a variable-rate video's frames are taken as evenly spaced at
its mean rate (``decode.frame_rate``). A video (or segment) shorter than one clip is padded by repeating its last
frame, never dropped.
"""

from __future__ import annotations

import math


def segment_frames(num_frames: int, video_fps: float, start_s: float | None = None,
                   end_s: float | None = None) -> tuple[int, int]:
    """The ``[first, stop)`` frame range of the segment ``[start_s, end_s]`` seconds (whole video if ``None``).

    A segment that falls outside the video is clamped to it, and always keeps at least one frame.
    """
    first = 0 if start_s is None else min(max(round(start_s * video_fps), 0), num_frames - 1)
    stop = num_frames if end_s is None else min(max(round(end_s * video_fps), first + 1), num_frames)
    return first, stop


def clip_at(first: int, stop: int, offset: float, stride: float, frames: int) -> list[int]:
    """``frames`` indices ``offset + i * stride`` frames after ``first``, clamped to ``stop - 1`` (padding)."""
    return [min(first + math.floor(offset + i * stride), stop - 1) for i in range(frames)]


def _free_offset(first: int, stop: int, stride: float, frames: int) -> float:
    """How far (in source frames) a clip can start after ``first`` and still end inside the segment."""
    return max(0.0, (stop - first) - ((frames - 1) * stride + 1))


def train_clip_indices(num_frames: int, video_fps: float, frames: int, fps: float, u: float,
                       segment: tuple[float | None, float | None] = (None, None)) -> list[int]:
    """One training clip; ``u`` in ``[0, 1)`` (drawn by the caller) places it uniformly inside the segment."""
    first, stop = segment_frames(num_frames, video_fps, *segment)
    stride = video_fps / fps
    # free + 1 start positions, so that the clip can also end exactly on the last frame; never out of range.
    return clip_at(first, stop, u * (_free_offset(first, stop, stride, frames) + 1), stride, frames)


def eval_clip_indices(num_frames: int, video_fps: float, frames: int, fps: float, clips: int,
                      segment: tuple[float | None, float | None] = (None, None)) -> list[list[int]]:
    """``clips`` clips spread evenly over the segment: clip ``k`` is centred on its ``k``-th of ``clips`` bins."""
    first, stop = segment_frames(num_frames, video_fps, *segment)
    stride = video_fps / fps
    free = _free_offset(first, stop, stride, frames)
    return [clip_at(first, stop, free * (k + 0.5) / clips, stride, frames) for k in range(clips)]
