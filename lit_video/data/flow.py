"""Optical flow between consecutive frames, the temporal stream's input (Simonyan & Zisserman 2014), computed with
OpenCV: DIS (the default, fast), Farneback, or TV-L1 where the installed OpenCV has its contrib module.

Flow is ``float32 (T-1, 2, H, W)``: channel 0 is the horizontal displacement ``dx``, channel 1 the vertical ``dy``,
in pixels, of each pixel of frame ``t`` in frame ``t + 1``. Stored, it is quantised to uint8 over
``[-FLOW_BOUND, FLOW_BOUND]`` as the original work stored it (``quantize_flow``; a step of 40 / 255 = 0.16 px).

``video_flow`` computes a video's flow once per setting and keeps it in the cache folder (``<cache>/flow/``), keyed
by the file (path, size, modification time), the decoder, the flow settings and the frame gap: a changed video or
setting is computed again, never served stale. A stamp beside each file (``.json``: the cache's format, what the
file is the flow of, its dtype and shape) is checked on every read: a file that does not match it (another array
put in its place, a file of an older format) is computed again, never used. The gap: clips sampled at a lower frame
rate than the video's take the flow between frames a stride apart (``flow_gaps``), so motion is measured per unit of
time whatever the video's native rate; at the native rate it is the paper's flow between consecutive frames.
``ClipFlow`` reads a clip's flow from the cache; ``precompute_flow`` fills the cache for a whole dataset in several
processes.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from ..files import cache_dir, write_atomic
from ..machine import die_with_parent
from ..terminal import progress
from .decode import VideoProbe, VideoReadError, probe_video, read_frames, video_file_key
from .transforms import resize_flow

METHODS = ("dis", "farneback", "tvl1")
# Flow beyond +-20 px is clipped before storing, as in the two-stream paper's released flow (its frames were about
# 340 x 256; faster motion is rare and, clipped, still reads as "fast").
FLOW_BOUND = 20.0
# The cache files' format, in each file's stamp: a file of another (an older lit-video's) is computed again.
FLOW_FORMAT = 2
MISSING = "missing"  # why flow is computed where the cache holds none

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


def compute_flow(frames: np.ndarray, method: str = "dis", subtract_mean: bool = False, gap: int = 1) -> np.ndarray:
    """Flow ``float32 (T-gap, 2, H, W)`` (dx, dy in pixels) from each frame ``t`` of ``uint8 (T, H, W, 3)`` RGB
    ``frames`` to frame ``t + gap`` (default: consecutive frames). ``subtract_mean``: each flow field minus its
    mean, the paper's simple compensation of camera motion."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3) RGB, got {frames.dtype} {tuple(frames.shape)}")
    if gap < 1:
        raise ValueError(f"the frame gap must be >= 1, got {gap}")
    if len(frames) < gap + 1:
        raise ValueError(f"flow {gap} frame(s) apart needs at least {gap + 1} frames, got {len(frames)}")
    estimate = flow_estimator(method)
    grey = [cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY) for frame in frames]
    flow = np.stack([estimate(a, b) for a, b in zip(grey[:-gap], grey[gap:], strict=True)])  # (T-gap, H, W, 2)
    flow = np.ascontiguousarray(flow.transpose(0, 3, 1, 2), dtype=np.float32)  # (T-gap, 2, H, W)
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


def flow_gaps(video_fps: float, fps: float | None) -> tuple[int, ...]:
    """The gaps, in native frames, between consecutive frames of clips sampled at ``fps`` from a video at
    ``video_fps`` (``sampling.clip_at`` steps by the floor or the ceiling of the stride); ``fps=None`` or a rate at
    or above the video's: consecutive frames, gap 1 (the two-stream paper's)."""
    stride = video_fps / fps if fps else 1.0
    return tuple(sorted({max(1, math.floor(stride)), max(1, math.ceil(stride))}))


def _flow_of(path: str | Path, settings: FlowSettings, backend: str, gap: int) -> str:
    """What a cache file holds the flow of: the file (its path, size, mtime), the decoder, the settings, the gap."""
    return f"{video_file_key(Path(path), backend)}|{settings}|gap={gap}"


def flow_cache_file(path: str | Path, settings: FlowSettings = FlowSettings(), backend: str = "decord",
                    root: Path | None = None, gap: int = 1) -> Path:
    """Where the flow from every frame ``t`` to frame ``t + gap`` of the video at ``path`` is stored for
    ``settings`` (``root``: default ``<cache>/flow``); its stamp is beside it (``.json``)."""
    return _cache_file(_flow_of(path, settings, backend, gap), root)


def _cache_file(flow_of: str, root: Path | None) -> Path:
    """The cache file of the flow ``flow_of`` (``_flow_of``) names."""
    return (root or cache_dir() / "flow") / f"{hashlib.sha1(flow_of.encode()).hexdigest()}.npy"


def _stored(path: str | Path, settings: FlowSettings, backend: str, root: Path | None, gap: int) -> np.ndarray | str:
    """The cache file of this flow memory-mapped (reads touch only the fields they take) where it is what its
    stamp says it is; else why it must be computed: ``MISSING``, or the file is damaged, of an older format (no
    stamp, or another ``FLOW_FORMAT``), stamped for other settings, of the wrong dtype or the wrong shape (a file
    put there by hand is never served as the flow of this video). Read for every clip: the video's key once, no
    stat beyond np.load's."""
    flow_of = _flow_of(path, settings, backend, gap)
    file = _cache_file(flow_of, root)
    try:
        stored = np.load(file, mmap_mode="r")
    except FileNotFoundError:
        return MISSING
    except (OSError, ValueError, EOFError):
        return "damaged"
    try:
        stamp = json.loads(file.with_suffix(".json").read_text())
    except (OSError, ValueError):
        stamp = {}
    if not isinstance(stamp, dict) or stamp.get("format") != FLOW_FORMAT:
        return "older format"
    if stamp.get("flow_of") != flow_of:
        return "other settings"
    if str(stored.dtype) != stamp.get("dtype"):
        return "wrong dtype"
    if list(stored.shape) != stamp.get("shape"):
        return "wrong shape"
    return stored


def missing_gaps(path: str | Path, settings: FlowSettings = FlowSettings(), backend: str = "decord",
                 root: Path | None = None, gaps: Sequence[int] = (1,)) -> list[int]:
    """The gaps of ``gaps`` whose flow the cache does not hold as stamped, for the video at ``path``."""
    return [g for g in gaps if isinstance(_stored(path, settings, backend, root, g), str)]


def cache_flow(path: str | Path, settings: FlowSettings = FlowSettings(), backend: str = "decord",
               root: Path | None = None, gaps: Sequence[int] = (1,), probe: VideoProbe | None = None) -> str | None:
    """Store the flow of the video at ``path`` for every gap of ``gaps`` not stored yet (or not as stamped),
    decoding it once, each file with its stamp. Returns None where every gap was stored already, else why it
    was computed: ``MISSING``, or why a stored file could not be used (``_stored``). Raises ``VideoReadError``
    naming the file where it cannot be read. ``probe``: the video's, where the caller has it already."""
    found = {gap: _stored(path, settings, backend, root, gap) for gap in gaps}
    why = [reason for reason in found.values() if isinstance(reason, str)]
    if not why:
        return None
    probe = probe or probe_video(path, backend)
    frames = read_frames(path, range(probe.num_frames), backend).numpy()  # (N, H, W, 3)
    for gap in (gap for gap, reason in found.items() if isinstance(reason, str)):
        if len(frames) > gap:
            flow = compute_flow(frames, settings.method, settings.subtract_mean, gap)  # (N-gap, 2, H, W)
        else:  # no pair this far apart: an empty array says so, and is not computed again
            flow = np.zeros((0, 2, *frames.shape[1:3]), np.float32)
        stored = quantize_flow(flow, settings.bound)

        def save(tmp: Path, stored: np.ndarray = stored) -> None:
            with open(tmp, "wb") as f:  # a file object: np.save would append ".npy" to a name without it
                np.save(f, stored)

        flow_of = _flow_of(path, settings, backend, gap)
        file = _cache_file(flow_of, root)
        write_atomic(file, save)
        # The stamp last: a file whose stamp is missing or stale is computed again.
        stamp = {"format": FLOW_FORMAT, "flow_of": flow_of,
                 "dtype": str(stored.dtype), "shape": list(stored.shape)}
        write_atomic(file.with_suffix(".json"), json.dumps(stamp) + "\n")
    return next((reason for reason in why if reason != MISSING), MISSING)


def stored_flow(path: str | Path, settings: FlowSettings = FlowSettings(), backend: str = "decord",
                root: Path | None = None, gap: int = 1) -> np.ndarray:
    """The stored uint8 flow ``(N-gap, 2, H, W)`` of the video at ``path`` from frame ``t`` to ``t + gap``,
    memory-mapped; computed and stored first where the cache does not hold it."""
    stored = _stored(path, settings, backend, root, gap)
    if isinstance(stored, str):
        cache_flow(path, settings, backend, root, (gap,))
        stored = _stored(path, settings, backend, root, gap)
        if isinstance(stored, str):
            raise OSError(f"the flow cache file {flow_cache_file(path, settings, backend, root, gap)} cannot be read "
                          f"back after writing it ({stored})")
    return stored


def video_flow(path: str | Path, settings: FlowSettings = FlowSettings(), backend: str = "decord",
               root: Path | None = None, gap: int = 1) -> np.ndarray:
    """Flow ``float32 (N-gap, 2, H, W)`` from every frame ``t`` to frame ``t + gap`` (default: consecutive
    frames) of the video at ``path``: from the cache, or computed from every decoded frame and stored (uint8,
    ``quantize_flow``). Raises ``VideoReadError`` naming the file where the video cannot be read."""
    return dequantize_flow(np.asarray(stored_flow(path, settings, backend, root, gap)), settings.bound)


class ClipFlow:
    """The flow of a clip: from each of its frames to the next one sampled, read from the cache (computed there
    on first use). Pairs of one frame with itself (a clip padded past the video's end) have zero flow.

    Asked for the flow at another size than the video's (frames kept resized in memory, ``data.cache_frames``),
    with ``keep`` it keeps each video's fields resized so (``transforms.resize_flow``, float32) in memory, once per
    process (``KEPT_FLOW``, up to ``max_mb``), so that a clip costs a gather: the same numbers, since each field is
    resized alone."""

    def __init__(self, settings: FlowSettings = FlowSettings(), backend: str = "decord", root: Path | None = None):
        self.settings, self.backend, self.root = settings, backend, root

    def __call__(self, path: str | Path, indices: Sequence[int], frame_size: tuple[int, int],
                 keep: bool = False) -> np.ndarray:
        """Flow ``float32 (len(indices) - 1, 2, H, W)`` between consecutive ``indices`` of the video at ``path``, at
        ``frame_size`` = ``(H, W)``: the size of the frames it goes with (the video's own, or a resize of them, to
        which the flow is resized and its vectors scaled)."""
        pairs = list(zip(indices[:-1], indices[1:], strict=True))
        # Each gap's fields got once per clip (a clip at a fractional stride has two gaps, a padded one a third).
        gaps = {b - a for a, b in pairs if b > a}
        size = tuple(frame_size)
        stores = {gap: self._fields(path, gap, size, keep) for gap in gaps}
        if any(len(f) and f.shape[-2:] != size for f in stores.values()):  # not all kept (memory full): as stored
            stores = {gap: self._fields(path, gap, size, False) for gap in gaps}
        native = next((tuple(f.shape[-2:]) for f in stores.values() if len(f)), size)
        flow = np.zeros((len(pairs), 2, *native), np.float32)
        for k, (a, b) in enumerate(pairs):
            fields = stores.get(b - a, ())
            if len(fields):  # (a decoder may find a frame fewer than the header counts: the last field stands in)
                one = fields[min(a, len(fields) - 1)]
                flow[k] = one if one.dtype == np.float32 else dequantize_flow(one, self.settings.bound)
        if native == size:
            return flow
        return resize_flow(torch.from_numpy(flow), size).numpy()  # (T-1, 2, H, W)

    def _fields(self, path: str | Path, gap: int, size: tuple[int, int], keep: bool) -> np.ndarray:
        """The video's stored fields for ``gap``: uint8 at its own size (memory-mapped), or with ``keep`` float32
        resized to ``size`` and kept in memory (keyed by the file's path, size and mtime, the settings and size)."""
        if not keep:
            return stored_flow(path, self.settings, self.backend, self.root, gap)
        stat = os.stat(path)
        key = (str(path), stat.st_size, stat.st_mtime_ns, self.backend, self.root, self.settings, gap, size)
        if key not in KEPT_FLOW.fields:
            stored = stored_flow(path, self.settings, self.backend, self.root, gap)
            if stored.shape[-2:] == size or KEPT_FLOW.bytes >= KEPT_FLOW.max_bytes:
                return stored
            fields = resize_flow(torch.from_numpy(dequantize_flow(np.asarray(stored), self.settings.bound)),
                                 size).numpy()  # (N-gap, 2, h, w)
            KEPT_FLOW.fields[key] = fields
            KEPT_FLOW.bytes += fields.nbytes
        return KEPT_FLOW.fields[key]


@dataclass
class KeptFlow:
    """Videos' flow fields resized to their clips' size, kept in memory by ``ClipFlow(..., keep=True)``: one per
    process, bounded (past ``max_bytes``, fields are read from the cache on disk as without it)."""

    max_bytes: float = 2 * 2**30
    bytes: int = 0
    fields: dict = field(default_factory=dict)


KEPT_FLOW = KeptFlow()


def _cache_one(path: Path, settings: FlowSettings, backend: str, fps: float | None,
               root: Path | None) -> tuple[str, str | None, str | None]:
    """One video's flow into the cache, in a worker process (OpenCV on one thread: the processes share the CPUs):
    ``(path, None, why it was computed or None)`` (``cache_flow``), or ``(path, the reason, None)`` where the video
    cannot be read (plain data: it crosses the process boundary)."""
    cv2.setNumThreads(1)
    try:
        probe = probe_video(path, backend)  # once: its rate gives the gaps, its frames the flow
        return str(path), None, cache_flow(path, settings, backend, root, flow_gaps(probe.fps, fps), probe)
    except VideoReadError as err:
        return err.path, err.reason, None


def precompute_flow(videos: Sequence[Path], settings: FlowSettings = FlowSettings(), backend: str = "decord",
                    fps: float | None = None, workers: int | None = None, root: Path | None = None
                    ) -> Iterator[tuple[str, str | None, str | None]]:
    """Store the flow of every video for clips sampled at ``fps`` (``flow_gaps``; None: consecutive frames), in
    ``workers`` processes (default: one per CPU) that die with this one; yields ``(path, None, why it was
    computed: None where it was stored already)`` (``cache_flow``) or ``(path, the reason it cannot be read,
    None)`` as each finishes, and shows how far it is (``terminal.progress``). Videos already stored cost a probe
    each: it resumes where a killed run stopped."""
    yield from progress(_cached(videos, settings, backend, fps, workers, root), len(videos), "optical flow", "videos")


def _cached(videos: Sequence[Path], settings: FlowSettings, backend: str, fps: float | None, workers: int | None,
            root: Path | None) -> Iterator[tuple[str, str | None, str | None]]:
    if len(videos) <= 1 or workers == 1:
        yield from (_cache_one(v, settings, backend, fps, root) for v in videos)
        return
    # Spawned, not forked: a process that has already run torch, OpenCV or a decoder holds their threads' locks,
    # and a forked child can inherit one held and wait on it for ever (seen: a sweep's profile process).
    context = multiprocessing.get_context("spawn")
    # The workers die with this process: killed (SIGKILL), it cannot stop them, and they would wait for work for ever.
    with ProcessPoolExecutor(min(workers or os.cpu_count() or 1, len(videos)), mp_context=context,
                             initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        futures = [pool.submit(_cache_one, v, settings, backend, fps, root) for v in videos]
        yield from (future.result() for future in as_completed(futures))
