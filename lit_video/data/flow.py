"""Optical flow between consecutive frames, the temporal stream's input (Simonyan & Zisserman 2014), computed with
OpenCV: DIS (the default, fast), Farneback, or TV-L1 where the installed OpenCV has its contrib module.

Flow is ``float32 (T-1, 2, H, W)``: channel 0 is the horizontal displacement ``dx``, channel 1 the vertical ``dy``,
in pixels, of each pixel of frame ``t`` in frame ``t + 1``. Stored, it is quantised to uint8 over
``[-FLOW_BOUND, FLOW_BOUND]`` as the original work stored it (``quantize_flow``; a step of 40 / 255 = 0.16 px).

``video_flow`` computes a video's flow once per setting and keeps it in the cache folder (``<cache>/flow/``), keyed
by the file (path, size, modification time), the decoder and the flow settings: a changed video or setting is
computed again, never served stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..files import cache_dir, write_atomic
from .decode import probe_video, read_frames, video_file_key

METHODS = ("dis", "farneback", "tvl1")
# Flow beyond +-20 px is clipped before storing, as in the two-stream paper's released flow (its frames were about
# 340 x 256; faster motion is rare and, clipped, still reads as "fast").
FLOW_BOUND = 20.0

Estimator = Callable[[np.ndarray, np.ndarray], np.ndarray]  # two grey frames (H, W) -> flow (H, W, 2)


def flow_estimator(method: str = "dis") -> Estimator:
    """OpenCV's estimator ``method`` (one of ``METHODS``) as a function of two grey uint8 frames."""
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return lambda a, b: dis.calc(a, b, None)
    if method == "farneback":
        # OpenCV's documented example settings: a 3-level pyramid, 15 px windows.
        return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, pyr_scale=0.5, levels=3, winsize=15,
                                                         iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
    if method == "tvl1":
        if not hasattr(cv2, "optflow"):
            raise ValueError(f"flow method 'tvl1' needs OpenCV's contrib module (cv2.optflow, from "
                             f"opencv-contrib-python); the installed OpenCV {cv2.__version__} offers dis, farneback")
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
        return lambda a, b: tvl1.calc(a, b, None)
    raise ValueError(f"unknown flow method {method!r}; choose one of {', '.join(METHODS)}")


def compute_flow(frames: np.ndarray, method: str = "dis", subtract_mean: bool = False) -> np.ndarray:
    """Flow ``float32 (T-1, 2, H, W)`` (dx, dy in pixels) between the consecutive frames of ``uint8 (T, H, W, 3)``
    RGB ``frames``. ``subtract_mean``: each flow field minus its mean, the paper's simple compensation of camera
    motion."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3) RGB, got {frames.dtype} {tuple(frames.shape)}")
    if len(frames) < 2:
        raise ValueError(f"flow needs at least 2 frames, got {len(frames)}")
    estimate = flow_estimator(method)
    grey = [cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY) for frame in frames]
    flow = np.stack([estimate(a, b) for a, b in zip(grey[:-1], grey[1:], strict=True)])  # (T-1, H, W, 2)
    flow = np.ascontiguousarray(flow.transpose(0, 3, 1, 2), dtype=np.float32)  # (T-1, 2, H, W)
    if subtract_mean:
        flow -= flow.mean(axis=(2, 3), keepdims=True)
    return flow


def translated_texture(dx: int, dy: int, frames: int = 4, size: int = 64, seed: int = 0) -> np.ndarray:
    """A clip of known flow: a smooth random grey texture moving ``dx`` px right and ``dy`` px down a frame, uint8
    ``(frames, size, size, 3)``; every frame is cut from one larger texture, so no edge wraps round."""
    rng = np.random.default_rng(seed)
    pad = (abs(dx) + abs(dy)) * frames
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (size + 2 * pad,) * 2).astype(np.float32), (0, 0), 2)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    clip = [texture[pad - t * dy: pad - t * dy + size, pad - t * dx: pad - t * dx + size] for t in range(frames)]
    return np.repeat(np.stack(clip)[..., None], 3, axis=-1)  # (T, size, size) grey as RGB


def quantize_flow(flow: np.ndarray, bound: float = FLOW_BOUND) -> np.ndarray:
    """``flow`` clipped to ``[-bound, bound]`` and stored in uint8: 0 is ``-bound``, 255 is ``+bound``."""
    scaled = (np.clip(flow, -bound, bound) + bound) * (255.0 / (2 * bound))
    return np.rint(scaled).astype(np.uint8)


def dequantize_flow(stored: np.ndarray, bound: float = FLOW_BOUND) -> np.ndarray:
    """Flow ``float32`` in pixels from ``quantize_flow``'s uint8 (within half a step, ``bound / 255``)."""
    return stored.astype(np.float32) * np.float32(2 * bound / 255.0) - np.float32(bound)


@dataclass(frozen=True)
class FlowSettings:
    """What a video's stored flow depends on besides the file: the method, mean subtraction, the storage bound."""

    method: str = "dis"
    subtract_mean: bool = False
    bound: float = FLOW_BOUND

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown flow method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.bound <= 0:
            raise ValueError(f"the flow bound must be positive (pixels), got {self.bound}")


def flow_cache_file(path: str | Path, settings: FlowSettings = FlowSettings(), backend: str = "decord",
                    root: Path | None = None) -> Path:
    """Where the flow of the video at ``path`` is stored for ``settings`` (``root``: default ``<cache>/flow``)."""
    key = f"{video_file_key(Path(path), backend)}|{settings}"  # the file's path, size and mtime; decoder; settings
    return (root or cache_dir() / "flow") / f"{hashlib.sha1(key.encode()).hexdigest()}.npy"


def video_flow(path: str | Path, settings: FlowSettings = FlowSettings(), backend: str = "decord",
               root: Path | None = None) -> np.ndarray:
    """Flow ``float32 (N-1, 2, H, W)`` between every pair of consecutive frames of the video at ``path``: read
    from the cache, or computed from every decoded frame and stored (uint8, ``quantize_flow``). A cache file that
    cannot be read is computed again. Raises ``VideoReadError`` naming the file where the video cannot be read."""
    file = flow_cache_file(path, settings, backend, root)
    if file.is_file():
        try:
            return dequantize_flow(np.load(file), settings.bound)
        except (OSError, ValueError, EOFError):
            pass  # damaged (a disk error, a foreign file): computed again below
    probe = probe_video(path, backend)
    frames = read_frames(path, range(probe.num_frames), backend).numpy()  # (N, H, W, 3)
    stored = quantize_flow(compute_flow(frames, settings.method, settings.subtract_mean), settings.bound)

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.save would append ".npy" to a name without it
            np.save(f, stored)

    write_atomic(file, save)
    return dequantize_flow(stored, settings.bound)
