"""Pictures of clips: uint8 frames from model inputs, optical flow on the standard colour wheel (torchvision's
``flow_to_image``, Baker et al.'s Middlebury coding), heat maps over frames, and the files a person watches: an
animated GIF of a clip (the MP4 is synthetic.write_video's), a PNG strip of its frames, a curve of importance per
frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import to_unit_range

SCALE = 8  # the built-in clips are 32 px: drawn 8 times larger, each pixel a block


def rgb_frames(clip: torch.Tensor) -> np.ndarray:
    """uint8 frames ``(T, H, W, 3)`` of an RGB clip ``(3, T, H, W)`` in the models' input normalisation."""
    return (to_unit_range(clip).permute(1, 2, 3, 0) * 255).round().to(torch.uint8).numpy()


def deviation_frames(motion: torch.Tensor) -> np.ndarray:
    """uint8 frames ``(T, H, W, 3)`` of a signed clip ``(3, T, H, W)`` (a motion part): grey where it is 0, its
    largest magnitude at black or white."""
    scaled = 0.5 + motion / (2 * motion.abs().max().clamp_min(1e-12))
    return (scaled.permute(1, 2, 3, 0) * 255).round().to(torch.uint8).numpy()


def flow_frames(flow: torch.Tensor) -> np.ndarray:
    """uint8 frames ``(T', H, W, 3)`` of flow ``(2, T', H, W)`` on the colour wheel (hue: direction; saturation:
    speed, relative to the largest in the clip)."""
    from torchvision.utils import flow_to_image

    images = flow_to_image(flow.transpose(0, 1).contiguous())  # (2, T', H, W) -> (T', 2, H, W) -> (T', 3, H, W)
    return images.permute(0, 2, 3, 1).numpy()  # (T', H, W, 3)


def heat_frames(frames: np.ndarray, heat: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """Frames ``(T, H, W, 3)`` with ``heat`` ``(T, H, W)`` laid over them (one scale for the whole clip, so frames
    compare), uint8."""
    from matplotlib import colormaps

    level = heat / max(float(heat.max()), 1e-12)
    colour = colormaps["inferno"](level)[..., :3] * 255  # (T, H, W, 3)
    return (alpha * colour + (1 - alpha) * frames).round().astype(np.uint8)


def enlarge(frames: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """Frames ``(..., H, W, 3)`` drawn ``scale`` times larger, each pixel a block (nothing smoothed away)."""
    return frames.repeat(scale, axis=-3).repeat(scale, axis=-2)


def write_gif(path: Path, frames: np.ndarray, fps: float) -> Path:
    """An animated GIF of uint8 frames ``(T, H, W, 3)``, looping."""
    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return path


def write_strip(path: Path, rows: list[np.ndarray], gap: int = 4) -> Path:
    """A PNG of rows of frames, each row ``(T, H, W, 3)`` uint8 (rows may differ in length), on white."""
    height, width = rows[0].shape[1:3]
    columns = max(len(row) for row in rows)
    sheet = np.full((len(rows) * (height + gap) - gap, columns * (width + gap) - gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, frame in enumerate(row):
            sheet[r * (height + gap):r * (height + gap) + height, c * (width + gap):c * (width + gap) + width] = frame
    Image.fromarray(sheet).save(path)
    return path


def write_image(path: Path, image: np.ndarray) -> Path:
    Image.fromarray(image).save(path)
    return path


def write_importance_plot(path: Path, per_frame: np.ndarray, indices: list[int], title: str) -> Path:
    """A curve of importance per frame (its share of the clip's total) against the frame's index in the video."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.plot(indices, per_frame, marker="o")
    ax.set_xlabel("frame of the video")
    ax.set_ylabel("share of importance")  # of the clip's gradient x input, summed over each frame
    ax.set_title(title, fontsize=9)
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
