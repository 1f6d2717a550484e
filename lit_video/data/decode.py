"""Video decoding: decord (batched ``get_batch`` reads), torchcodec (PyTorch's maintained decoder, on the system's
FFmpeg libraries) and PyAV, the fallback of the other two. ``auto`` is the first of ``AUTO_ORDER`` that this machine
can run (``resolve_backend``).

Every video is probed once (frame count, frame rate) and the probe is cached in a JSON index keyed by
path + size + mtime + backend, so a large dataset is not re-probed on every run, and one backend never reuses
what another found (a failure, or a frame count that differs by one).

Frames and time, one definition for every backend: frame ``i`` is the one with the ``i``-th presentation
timestamp (pts), as decord and torchcodec number them and ``pyav_frames`` does; a video's frame rate is
``(N - 1) / (t[N-1] - t[0])`` for N frames presented at times ``t`` (N frames over the span from the first to the
last plus one mean frame interval), which ``frame_rate`` computes for every backend from the packets' timestamps.
On a constant-rate file that is the header's rate, kept exact (30000/1001 where a millisecond clock rounds the
timestamps). On a variable-rate file the backends' own figures differ (decord and PyAV report the header's rate,
torchcodec the frames over the span to the end of the last one), and one config would sample other frames with
each. Clip sampling (``sampling.py``) takes frame ``i`` to be ``i / fps`` seconds after the first, so a
variable-rate video is sampled as if its frames were evenly spaced at its mean rate.
"""

from __future__ import annotations

import bisect
import functools
import json
import os
import stat
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import av
import numpy as np
import torch

from lit_video.files import write_atomic

BACKENDS = ("auto", "decord", "pyav", "torchcodec")
# What ``auto`` picks: torchcodec where its FFmpeg libraries load (decord has had no release since 2021), else decord.
AUTO_ORDER = ("torchcodec", "decord", "pyav")
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v")


class VideoReadError(RuntimeError):
    """A video that cannot be opened or decoded; ``reason`` says why in a few words."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"cannot read video {str(path)!r}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class VideoProbe:
    """What clip sampling needs to know of a video: its frame count and frame rate (``frame_rate``)."""

    num_frames: int
    fps: float


def _reason(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200] if text else 'no message'}"


def _check_file(path: Path) -> None:
    """Clear reasons for what the decoders would report cryptically (one stat: this runs for every clip read)."""
    try:
        status = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise VideoReadError(path, "file not found") from None
    if not stat.S_ISREG(status.st_mode):  # a FIFO would block the decoder
        raise VideoReadError(path, "not a regular file (a folder, a FIFO, a device)")
    if status.st_size == 0:
        raise VideoReadError(path, "empty file (0 bytes)")


def _decord_reader(path: Path):
    import decord  # imported lazily: decord starts its own threads, and is only needed where videos are read

    # One decoding thread per reader: DataLoader workers already give the parallelism.
    return decord.VideoReader(str(path), num_threads=1)


def frame_rate(path: Path) -> float | None:
    """The frame rate of ``path`` as every backend's probe gives it (module docstring): from the timestamps of its
    packets, or the header's rate where that fits them or they carry none (a raw stream). None where PyAV cannot
    read the file or finds no rate: the backend's own figure is then the probe's."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            clock, headers = stream.time_base, [r for r in (stream.average_rate, stream.guessed_rate) if r]
        # Not kept in memory (size and mtime only key that cache): a probe runs once per file, probe_videos keeps it.
        index = _pyav_packet_index.__wrapped__(str(path), 0, 0)
    except (av.FFmpegError, IndexError, OSError):
        return None
    timestamps = index[0] if index is not None else ()
    span = (timestamps[-1] - timestamps[0]) * clock if len(timestamps) > 1 and clock else 0  # seconds, a Fraction
    if span <= 0:
        return float(headers[0]) if headers else None
    # The header's rate where it fits the timestamps to one tick of their clock (every constant-rate file): exact
    # where the clock rounds them (29.97 fps in milliseconds).
    fits = [rate for rate in headers if abs(span - (len(timestamps) - 1) / rate) <= clock]
    return float(fits[0] if fits else (len(timestamps) - 1) / span)


def _probe_decord(path: Path) -> VideoProbe:
    vr = _decord_reader(path)
    vr[0].asnumpy()  # (H, W, C): decoding one frame proves the stream decodes, not just that it opens
    return VideoProbe(len(vr), float(vr.get_avg_fps()))


def _torchcodec_decoder(path: Path):
    from torchcodec.decoders import VideoDecoder  # imported lazily: it loads FFmpeg's shared libraries

    # "exact": the file is scanned once, so frame indices are exact; one FFmpeg thread, as decord's reader.
    return VideoDecoder(str(path), dimension_order="NHWC", num_ffmpeg_threads=1, seek_mode="exact")


def _probe_torchcodec(path: Path) -> VideoProbe:
    decoder = _torchcodec_decoder(path)
    decoder.get_frame_at(0)  # decoding one frame proves the stream decodes, not just that it opens
    return VideoProbe(int(decoder.metadata.num_frames), float(decoder.metadata.average_fps))


def _probe_pyav(path: Path) -> VideoProbe:
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise VideoReadError(path, "no video stream")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        num_frames = stream.frames
        if num_frames == 0:  # Matroska / WebM headers carry no frame count: count the packets instead
            num_frames = sum(1 for packet in container.demux(stream) if packet.size > 0)
            container.seek(0)
        if next(container.decode(stream), None) is None:
            raise VideoReadError(path, "no decodable frame")
        return VideoProbe(num_frames, fps)


def _read_decord(path: Path, indices: Sequence[int]) -> np.ndarray:
    vr = _decord_reader(path)
    last = len(vr) - 1
    # Clamp to the frames decord sees: a container's frame count can differ by one between backends.
    return vr.get_batch([min(i, last) for i in indices]).asnumpy()  # (T, H, W, C)


def _read_torchcodec(path: Path, indices: Sequence[int]) -> np.ndarray:
    decoder = _torchcodec_decoder(path)
    last = int(decoder.metadata.num_frames) - 1
    return decoder.get_frames_at([min(i, last) for i in indices]).data.numpy()  # (T, H, W, C)


def _read_pyav(path: Path, indices: Sequence[int]) -> np.ndarray:
    frames, _ = pyav_frames(path, indices)
    if not frames:
        raise VideoReadError(path, "no decodable frame")
    last = max(frames)
    return np.stack([frames[min(i, last)] for i in indices])  # (T, H, W, C)


def pyav_frames(path: Path, indices: Sequence[int]) -> tuple[dict[int, np.ndarray], int]:
    """Frames ``indices`` of the file's video stream with PyAV, RGB ``(H, W, C)`` by frame index (an index past the
    end gives the last frame), and how many frames were decoded for them. Frame ``i`` is the one with the ``i``-th
    presentation timestamp, as decord numbers them. Each run of wanted frames is decoded from the keyframe before it,
    so frames between runs are not decoded; where the packets carry no timestamps, or a seek lands past a wanted
    frame, it decodes from the start."""
    stat = path.stat()
    index = _pyav_packet_index(str(path), stat.st_size, stat.st_mtime_ns)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if index is not None:
            found = _pyav_seek_and_decode(container, stream, indices, *index)
            if found is not None:
                return found
            container.seek(0)
        wanted, frames, decoded = set(indices), {}, 0
        for decoded, frame in enumerate(container.decode(stream), 1):
            if decoded - 1 in wanted:
                frames[decoded - 1] = frame.to_ndarray(format="rgb24")  # (H, W, C)
            if decoded > max(wanted):
                break
        return frames, decoded


@functools.lru_cache(maxsize=4096)
def _pyav_packet_index(path: str, size: int, mtime_ns: int) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The presentation timestamps of a file's video frames, in order, and the indices of its keyframes, from one pass
    over its packets (demuxing, no decoding); None where a packet has no timestamp. Kept per process, keyed by the
    file's size and mtime, so that a rewritten file is scanned again."""
    with av.open(path) as container:
        packets = [(p.pts, p.is_keyframe) for p in container.demux(container.streams.video[0]) if p.size > 0]
    if not packets or any(pts is None for pts, _ in packets):
        return None
    packets.sort()  # decoding order -> presentation order
    return tuple(pts for pts, _ in packets), tuple(i for i, (_, key) in enumerate(packets) if key)


def _pyav_seek_and_decode(container, stream, indices: Sequence[int], timestamps: Sequence[int],
                          keyframes: Sequence[int]) -> tuple[dict[int, np.ndarray], int] | None:
    """``pyav_frames`` by seeking, given the frames' presentation ``timestamps`` in order and the indices of the
    ``keyframes``; None where the decoded frames are not the ones the packets listed."""
    position = {pts: i for i, pts in enumerate(timestamps)}
    wanted = {min(i, len(timestamps) - 1) for i in indices}
    frames, decoded, at, frame_iter = {}, 0, -1, None  # at: the index of the frame decoded last
    for target in sorted(wanted):
        key = keyframes[max(bisect.bisect_right(keyframes, target) - 1, 0)] if keyframes else 0
        if frame_iter is None or key > at + 1:  # a keyframe after the next frame: skip to it
            container.seek(timestamps[target], stream=stream, backward=True)  # to the keyframe at or before it
            frame_iter, at = container.decode(stream), -1
        for frame in frame_iter:
            decoded += 1
            if frame.pts not in position or (at == -1 and position[frame.pts] > target):
                return None  # a frame the packets did not list, or the seek went past the target
            at = position[frame.pts]
            if at in wanted:
                frames[at] = frame.to_ndarray(format="rgb24")  # (H, W, C)
            if at >= target:
                break
        if target not in frames:
            return None
    return frames, decoded


_PROBE = {"decord": _probe_decord, "pyav": _probe_pyav, "torchcodec": _probe_torchcodec}
_READ = {"decord": _read_decord, "pyav": _read_pyav, "torchcodec": _read_torchcodec}


@functools.cache
def backend_unavailable(backend: str) -> str | None:
    """Why ``backend`` cannot decode on this machine (not installed; FFmpeg's libraries missing), or None."""
    try:
        if backend == "torchcodec":
            import torchcodec.decoders  # noqa: F401  (loads FFmpeg's libraries, or fails saying which)
        elif backend == "decord":
            import decord  # noqa: F401
    except Exception as err:  # noqa: BLE001  (ImportError, or torchcodec's RuntimeError for missing libraries)
        return _reason(err)
    return None


def resolve_backend(backend: str) -> str:
    """The decoder ``backend`` names: itself, or for ``auto`` the first of ``AUTO_ORDER`` this machine can run.
    A named backend this machine cannot run raises ValueError with the reason."""
    check_backend(backend)
    if backend == "auto":
        return next(name for name in AUTO_ORDER if backend_unavailable(name) is None)
    if (why := backend_unavailable(backend)) is not None:
        hint = " (FFmpeg's shared libraries: see README, 'Decoders')" if backend == "torchcodec" else ""
        raise ValueError(f"data.backend {backend!r} cannot run here: {why}{hint}")
    return backend


def _with_fallback(fn: dict, path: Path, backend: str, *args):
    """Run ``fn[backend]``; where decord or torchcodec cannot handle the file, try PyAV before giving up."""
    _check_file(path)
    errors = []
    for name in dict.fromkeys([resolve_backend(backend), "pyav"]):
        try:
            return fn[name](path, *args)
        except VideoReadError as err:
            errors.append(f"{name}: {err.reason}")
        except Exception as err:  # noqa: BLE001  (decoders raise many types; each becomes a reason)
            errors.append(f"{name}: {_reason(err)}")
    # The decoders repeat the path in their messages; the error names it once already.
    raise VideoReadError(path, "; ".join(errors).replace(str(path), "the file"))


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)} (option data.backend)")


def probe_video(path: str | Path, backend: str = "decord") -> VideoProbe:
    """Frame count and frame rate (``frame_rate``) of one video; raises ``VideoReadError`` with the reason."""
    check_backend(backend)
    probe = _with_fallback(_PROBE, Path(path), backend)
    probe = replace(probe, fps=frame_rate(Path(path)) or probe.fps)
    if probe.num_frames < 1 or probe.fps <= 0:
        raise VideoReadError(path, f"no usable frames ({probe.num_frames} frames at {probe.fps} fps)")
    return probe


def read_frames(path: str | Path, indices: Sequence[int], backend: str = "decord") -> torch.Tensor:
    """Frames ``indices`` (in that order) as a uint8 tensor ``(T, H, W, C)``; PyAV is the fallback."""
    check_backend(backend)
    return torch.from_numpy(_with_fallback(_READ, Path(path), backend, list(indices)))


class DecodedVideos:
    """Whole videos decoded once and kept in memory, for small datasets read many times (a sweep trains every
    model, with every seed, on the same few hundred built-in videos), at the clip transform's resolution (short side
    ``short_side``) or as decoded. One per process, so every DataModule a process builds shares it; DataLoader
    workers each hold their own. Bounded: past ``max_mb`` a video is read as without the cache. Keys carry the
    file's size and mtime, the decoder and the short side, so a rewritten file or another setting is decoded
    again, never served stale."""

    def __init__(self, max_mb: float = 4096):
        self.max_bytes = max_mb * 2**20
        self.videos: dict[tuple, np.ndarray] = {}  # key -> (N, H, W, C) uint8, every frame of the video
        self.bytes = 0

    def read(self, path: str | Path, indices: Sequence[int], num_frames: int, backend: str = "decord",
             short_side: int | None = None) -> torch.Tensor:
        """Frames ``indices`` of a video of ``num_frames`` frames (its probe's count), as ``read_frames``; with
        ``short_side``, resized so (``transforms.resize_frames``)."""
        from .transforms import resize_frames  # (transforms needs nothing of this module)

        path = Path(path)
        try:  # a stat per read, no path resolving: this runs once per clip
            stat = path.stat()
            key = (str(path), stat.st_size, stat.st_mtime_ns, backend, short_side)
        except OSError:
            key = None
        video = self.videos.get(key) if key else None
        if video is None:
            if key is None or self.bytes >= self.max_bytes:
                frames = read_frames(path, indices, backend)
                return frames if short_side is None else resize_frames(frames, short_side)
            video = read_frames(path, range(num_frames), backend)  # (N, H, W, C)
            video = (video if short_side is None else resize_frames(video, short_side)).numpy()  # (N, h, w, C)
            self.videos[key] = video
            self.bytes += video.nbytes
        last = len(video) - 1  # decoders may find a frame fewer than the header counts
        # numpy's gather: torch's would start its thread pool for 100 kB, slow on a busy machine.
        return torch.from_numpy(video[[min(i, last) for i in indices]])  # (T, H, W, C)


DECODED_VIDEOS = DecodedVideos()


def check_video(path: str | Path, backend: str = "decord") -> VideoProbe:
    """A thorough probe: decodes every frame and compares with the header's frame count (or, where the container
    counts none, its duration x the frame rate: N frames last N / fps, by ``frame_rate``'s definition), which
    catches files damaged or truncated after their header."""
    probe = probe_video(path, backend)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            seconds = container.duration / av.time_base if container.duration else 0.0
            declared = stream.frames or round(seconds * probe.fps)
            decoded = sum(1 for _ in container.decode(stream))
    except Exception as err:  # noqa: BLE001
        raise VideoReadError(path, f"decoding stops: {_reason(err)}") from err
    if decoded < declared - 1:  # containers may count one frame more than decodes
        raise VideoReadError(path, f"truncated: the header says {declared} frames, {decoded} decode")
    return probe


# Bump when a probe finds something else in the same file, so that cached probes are redone. 2: the frame rate
# from the timestamps (``frame_rate``; each backend's own figure before).
PROBE_VERSION = 2


def _from_cache(path: Path, hit: dict) -> VideoProbe | VideoReadError | None:
    """A cached probe or error; None for an entry of another ``PROBE_VERSION`` or one this version cannot use
    (then the video is probed again)."""
    if hit.get("version") != PROBE_VERSION:
        return None
    if "error" in hit:
        return VideoReadError(path, hit["error"])
    try:
        return VideoProbe(**{f.name: hit[f.name] for f in fields(VideoProbe)})
    except (KeyError, TypeError):
        return None


def video_file_key(path: Path, backend: str) -> str:
    """What anything derived from a video file is keyed by: its path, size and modification time, and the decoder
    (probes, decoded frames, flow): a rewritten file gets a new key."""
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{resolve_backend(backend)}"


def probe_videos(paths: Iterable[Path], backend: str = "decord", cache_file: Path | None = None,
                 threads: int | None = None) -> dict[Path, VideoProbe | VideoReadError]:
    """Probe many videos, reusing and updating the JSON cache; bad videos map to their ``VideoReadError``."""
    paths = list(paths)
    cache: dict[str, dict] = {}
    if cache_file is not None and cache_file.is_file():
        try:
            cache = json.loads(cache_file.read_text())
        except (OSError, ValueError):
            cache = {}  # a damaged cache is only a slower start: it is rebuilt below
    results: dict[Path, VideoProbe | VideoReadError] = {}
    todo: dict[Path, str] = {}
    for path in paths:
        try:
            key = video_file_key(path, backend)
        except OSError:
            results[path] = VideoReadError(path, "file not found")
            continue
        hit = _from_cache(path, cache[key]) if isinstance(cache.get(key), dict) else None
        if hit is not None:
            results[path] = hit
        else:
            todo[path] = key

    def probe_one(path: Path) -> VideoProbe | VideoReadError:
        try:
            return probe_video(path, backend)
        except VideoReadError as err:
            return err

    # Decoders release the GIL, so threads probe in parallel without the start-up cost of processes.
    with ThreadPoolExecutor(threads or min(8, os.cpu_count() or 1)) as pool:
        for path, result in zip(todo, pool.map(probe_one, todo), strict=True):
            results[path] = result
            found = {"error": result.reason} if isinstance(result, VideoReadError) else asdict(result)
            cache[todo[path]] = {**found, "version": PROBE_VERSION}
    if cache_file is not None and todo:
        write_atomic(cache_file, json.dumps(cache))  # a concurrent reader never sees half a file
    return {path: results[path] for path in paths}
