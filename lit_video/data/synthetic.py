"""The built-in synthetic dataset: small real H.264 videos in the Kinetics layout, made to tell models apart.

Five groups of classes, each isolating one thing a video architecture family can see (``GROUPS``; the groups are
declared in ``annotations/classes.json`` and reported as ``test/group_acc/<group>``):

- ``appearance`` (solid, horizontal_stripes, vertical_stripes, checker): the TEXTURE of the main object (a disc)
  names the class: light and dark stripes or checks of one colour. The colour is drawn from one palette for every
  class and the disc drifts in a random direction at a random, slow speed (0.05-0.2 frame sizes per second, so
  the texture stays legible in a stack of frames), so neither colour nor motion says anything: one frame is
  enough, and a single-frame model should solve it. Stripes are 0.1 frame sizes wide (3 px in a 32 px clip).
- ``direction`` (move_left, move_right, move_up, move_down): the same white plus sign in every class, moving
  the named way at a random speed.
- ``order`` (sawtooth_up, sawtooth_down): a still bar whose brightness ramps up slowly and snaps back (a sawtooth)
  or ramps down slowly and snaps up (its time reversal), with a period of 0.6-0.9 s.
- ``speed`` (slow, medium, fast): a light blue hollow square moving in a random direction at 0.15, 0.375 or 0.9 frame
  sizes per second (each +-10 %).
- ``long_range`` (one_pulse, two_pulses): a still lamp blinking once or twice per cycle of 0.8-1 s, on half of
  the time in both; a 2-3 frame window sees at most a transition or two, the class needs most of a second.

Why one frame cannot tell the classes of the last four groups apart: every class of a group shows the same object
look, objects start anywhere and wrap around the frame edges (a torus, so every position is equally likely), the
moving object's heading is random where the group is not about direction, and the periodic signals start at a
random phase with their states equally frequent (the brightness of ``order`` is uniform over its range in both
classes; the lamp is on half of the time in both). So the distribution of single frames is the same within each
group: a frame-independent model is at chance inside these groups and only a model that compares frames solves
them. Each group has its own object look, so telling the group itself is easy; group accuracy is within a group.

Every cue is visible in any window of 1 s (periodic events have periods <= 1 s; states last >= 0.2 s, so a clip
sampled at 8 fps sees each), and motion and periods are set per second while videos come at several native frame
rates (12, 25, 30 fps) and lengths, so sampling clips by time (not by frame count) makes the clips of one class
look alike.

Clutter, the same in every class: a static textured background that varies per video (random level, tint, a few
smooth waves and pixel texture), sensor noise in every frame, and 1-3 small soft blobs of random colour moving
randomly (round, blurred and plain, unlike every class's object, so they never change a class).
"""

from __future__ import annotations

import csv
import json
import math
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from lit_video.files import cache_dir, write_folder_atomic
from lit_video.terminal import progress

GROUPS: dict[str, list[str]] = {
    "appearance": ["solid", "horizontal_stripes", "vertical_stripes", "checker"],
    "direction": ["move_left", "move_right", "move_up", "move_down"],
    "order": ["sawtooth_up", "sawtooth_down"],
    "speed": ["slow", "medium", "fast"],
    "long_range": ["one_pulse", "two_pulses"],
}
CLASSES = [name for names in GROUPS.values() for name in names]  # a class's index here is its stable id
GROUP_OF = {name: group for group, names in GROUPS.items() for name in names}
# Appearance objects take any of these colours, whatever their shape (RGB).
PALETTE = np.array([(220, 40, 40), (40, 200, 60), (50, 80, 230), (230, 210, 40), (210, 50, 200), (40, 210, 210),
                    (240, 130, 30), (140, 70, 220)], np.float64)
DIRECTIONS = {"move_left": (-1, 0), "move_right": (1, 0), "move_up": (0, -1), "move_down": (0, 1)}
SPEEDS = {"slow": 0.15, "medium": 0.375, "fast": 0.9}  # frame sizes per second (x 64 = pixels per second at 64 px)
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
VERSION = 4  # bump when the files change (rendering, encoding, classes.json), so cached copies are regenerated


def synthetic_classes(groups: Sequence[str] | None = None,
                      classes_per_group: int | None = None) -> tuple[list[str], dict[str, list[str]]]:
    """The class names and ``{group: class names}`` of the chosen ``groups`` (default all, in ``GROUPS`` order),
    with the first ``classes_per_group`` classes of each (default all; a smaller group keeps all of its own)."""
    chosen = list(GROUPS) if groups is None else list(dict.fromkeys([groups] if isinstance(groups, str) else groups))
    unknown = [g for g in chosen if g not in GROUPS]
    if unknown or not chosen:
        raise ValueError(f"--groups: unknown group {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(GROUPS)}" if unknown else f"--groups: choose at least one of {', '.join(GROUPS)}")
    largest = max(len(GROUPS[g]) for g in chosen)
    if classes_per_group is not None and not 2 <= classes_per_group <= largest:
        raise ValueError(f"--classes-per-group must be between 2 and {largest} (the largest chosen group), got "
                         f"{classes_per_group}")
    selected = {g: GROUPS[g][:classes_per_group] for g in chosen}
    return [name for names in selected.values() for name in names], selected


_MILLISECOND = Fraction(1, 1000)  # the clock of variable-frame-rate files (Matroska's)


def write_video(path: str | Path, frames: np.ndarray, fps: float, crf: int = 20, keyint: int | None = None,
                times: Sequence[float] | None = None) -> Path:
    """Encode uint8 RGB frames ``(T, H, W, 3)``: H.264 (yuv420p) in .mp4/.mkv/.mov, VP9 in .webm, MPEG-4 in .avi.
    ``keyint``: a keyframe at least every ``keyint`` frames, exactly every ``keyint`` in H.264 (None: the encoder's
    choice), as in real footage, where a seek decodes from the keyframe before it. ``times``: each frame's
    presentation time in seconds, to the millisecond, for a variable-frame-rate file (None: frame i at i / fps;
    ``fps`` is then only the rate the header names)."""
    path = Path(path)
    codec = {".webm": "libvpx-vp9", ".avi": "mpeg4"}.get(path.suffix.lower(), "libx264")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1  # one thread: byte-identical output for a seed
        if keyint:
            stream.codec_context.gop_size = keyint
        if times is not None:  # the encoder keeps the frames' clock; 1/fps would round the times to whole frames
            stream.codec_context.time_base = _MILLISECOND
        if codec == "libx264":
            # veryfast: twice as fast as the default preset, same size. No macroblock-tree rate control: with it
            # x264's output varies from run to run even on one thread (measured: 3 to 7 of 64 built-in videos).
            gop = f":keyint={keyint}:min-keyint={keyint}:scenecut=0" if keyint else ""
            stream.options = {"crf": str(crf), "preset": "veryfast", "x264-params": f"no-mbtree=1{gop}"}
        for i, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            if times is not None:
                picture.pts, picture.time_base = round(times[i] / _MILLISECOND), _MILLISECOND
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
    return path


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    """A static textured background ``(H, W, 3)``: level, tint, three smooth waves that tile, pixel texture."""
    yy, xx = np.mgrid[0:size, 0:size] / size  # (H, W) in frame sizes
    waves = sum(rng.uniform(2, 6) * np.sin(2 * math.pi * (rng.integers(-3, 4) * xx + rng.integers(-3, 4) * yy)
                                            + rng.uniform(0, 2 * math.pi)) for _ in range(3))
    level = rng.uniform(60, 120) + rng.normal(0, 8, 3)  # (3,) grey level and tint
    return (level + (waves + rng.normal(0, 8, (size, size)))[..., None]).astype(np.float32)


def _offsets(size: int, cx: np.ndarray, cy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel offsets ``dx`` ``(T, 1, W)`` and ``dy`` ``(T, H, 1)`` from a centre at ``(cx, cy)`` (each ``(T,)``)
    on a torus: objects wrap around the edges. They broadcast to ``(T, H, W)``."""
    pixels = np.arange(size, dtype=np.float32)
    dx = (pixels - cx[:, None].astype(np.float32) + size / 2) % size - size / 2  # (T, W)
    dy = (pixels - cy[:, None].astype(np.float32) + size / 2) % size - size / 2  # (T, H)
    return dx[:, None, :], dy[:, :, None]


def _shape(kind: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Coverage in ``[0, 1]`` of a shape of radius about ``r`` pixels, antialiased over one pixel from its signed
    distance."""
    if kind == "disc":
        distance = np.hypot(dx, dy) - r
    elif kind == "frame":  # a hollow square
        distance = np.abs(np.maximum(np.abs(dx), np.abs(dy)) - 0.6 * r) - 0.3 * r
    elif kind == "plus":  # arms 1.1 r long from the centre, 0.35 r wide
        distance = np.minimum(np.maximum(np.abs(dx) - 1.1 * r, np.abs(dy) - 0.35 * r),
                              np.maximum(np.abs(dx) - 0.35 * r, np.abs(dy) - 1.1 * r))
    elif kind == "bar":  # wide and flat
        distance = np.maximum(np.abs(dx) - 1.5 * r, np.abs(dy) - 0.6 * r)
    elif kind == "diamond":
        distance = (np.abs(dx) + np.abs(dy)) / math.sqrt(2) - 0.8 * r
    else:
        raise ValueError(kind)
    return np.clip(0.5 - distance, 0.0, 1.0)


def _moving(size: int, t: np.ndarray, speed: float, heading: float,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Offsets ``(T, H, W)`` of an object starting anywhere and moving at ``speed`` pixels/s along ``heading``."""
    x0, y0 = rng.uniform(0, size, 2)
    return _offsets(size, x0 + speed * math.cos(heading) * t, y0 + speed * math.sin(heading) * t)


def _paint(video: np.ndarray, cover: np.ndarray, colour: np.ndarray) -> None:
    """Blend ``colour`` (broadcastable to ``video`` ``(T, H, W, 3)``) into ``video`` where ``cover`` ``(T, H, W)``
    is above zero (only there: objects are small)."""
    where = cover > 0.002  # (T, H, W)
    alpha = cover[where][:, None]  # (N, 1)
    video[where] += alpha * (np.broadcast_to(colour, video.shape)[where] - video[where])


def render_video(label: str, num_frames: int, fps: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """Frames ``(T, size, size, 3)`` uint8 of one video of class ``label`` (one of ``CLASSES``)."""
    if label not in GROUP_OF:
        raise ValueError(f"unknown synthetic class {label!r}; the classes are {', '.join(CLASSES)}")
    group = GROUP_OF[label]
    t = np.arange(num_frames) / fps  # (T,) seconds
    video = np.repeat(_background(size, rng)[None], num_frames, axis=0)  # (T, H, W, 3)
    r = 0.15 * size
    heading = rng.uniform(0, 2 * math.pi)
    if group == "appearance":  # a disc whose texture names the class; colour and motion are random
        dx, dy = _moving(size, t, rng.uniform(0.05, 0.2) * size, heading, rng)  # slow: a texture stays legible
        half = 0.1 * size  # stripes and checks: half a period (3 px in a 32 px clip of the 64 px video)
        stripes = {"solid": np.ones_like(dx * dy), "horizontal_stripes": dy // half % 2 + 0 * dx,
                   "vertical_stripes": dx // half % 2 + 0 * dy, "checker": (dx // half + dy // half) % 2}[label]
        colour = PALETTE[rng.integers(len(PALETTE))] + rng.normal(0, 10, 3)
        _paint(video, _shape("disc", dx, dy, 1.8 * r), (0.25 + 0.75 * stripes)[..., None] * colour)  # light / dark
    elif group == "direction":  # one look; the heading names the class
        vx, vy = DIRECTIONS[label]
        dx, dy = _moving(size, t, rng.uniform(0.3, 0.45) * size, math.atan2(vy, vx), rng)
        _paint(video, _shape("plus", dx, dy, r), np.array([235.0, 235.0, 235.0]) + rng.normal(0, 8, 3))
    elif group == "speed":  # one look, random heading; the speed names the class
        dx, dy = _moving(size, t, SPEEDS[label] * rng.uniform(0.9, 1.1) * size, heading, rng)
        _paint(video, _shape("frame", dx, dy, r), np.array([130.0, 225.0, 250.0]) + rng.normal(0, 8, 3))
    elif group == "order":  # a still bar: brightness ramps one way and snaps back; uniform over its range
        dx, dy = _moving(size, t, 0.0, 0.0, rng)
        phase = (t / rng.uniform(0.6, 0.9) + rng.uniform()) % 1.0  # (T,)
        level = phase if label == "sawtooth_up" else 1.0 - phase
        dim, bright = np.array([35.0, 30.0, 25.0]), np.array([250.0, 175.0, 60.0])
        _paint(video, _shape("bar", dx, dy, r), (dim + level[:, None] * (bright - dim))[:, None, None])
    else:  # long_range: a still lamp on half of each cycle, in one pulse or two
        dx, dy = _moving(size, t, 0.0, 0.0, rng)
        phase = (t / rng.uniform(0.8, 1.0) + rng.uniform()) % 1.0  # (T,)
        on = phase < 0.5 if label == "one_pulse" else phase % 0.5 < 0.25
        colour = np.where(on[:, None], [[255.0, 245.0, 150.0]], [[50.0, 45.0, 70.0]])  # (T, 3)
        _paint(video, _shape("diamond", dx, dy, r), colour[:, None, None])
    for _ in range(int(rng.integers(1, 4))):  # distractors: small soft blobs, random colour and motion
        dx, dy = _moving(size, t, rng.uniform(0, 0.5) * size, rng.uniform(0, 2 * math.pi), rng)
        blob = np.exp(-dx**2 / (2 * (0.03 * size) ** 2)) * np.exp(-dy**2 / (2 * (0.03 * size) ** 2))
        _paint(video, blob, rng.uniform(30, 255, 3).astype(np.float32))
    video += 4 * rng.standard_normal(video.shape[:3], dtype=np.float32)[..., None]  # sensor noise
    return np.clip(video, 0, 255).astype(np.uint8)


def _write_one(job: tuple) -> list:
    """Render and encode one video; its rng depends only on (seed, split, class, index). Returns its CSV row."""
    out, split, label, key, frames, size, fps = job
    rng = np.random.default_rng(key)
    video_fps = float(fps[int(rng.integers(len(fps)))])
    num_frames = int(rng.integers(frames // 2, frames + 1))
    end = math.ceil(num_frames / video_fps)
    video_id = f"{split}{key[2]:02d}{key[3]:04d}"
    write_video(Path(out) / split / label / f"{video_id}_{0:06d}_{end:06d}.mp4",
                render_video(label, num_frames, video_fps, size, rng), video_fps)
    return [label, video_id, 0, end, split]


def write_synthetic_dataset(out: str | Path, groups: Sequence[str] | None = None, classes_per_group: int | None = None,
                            videos_per_class: int = 48, eval_videos_per_class: int | None = None, frames: int = 60,
                            size: int = 64, fps: Sequence[float] = (12, 25, 30), seed: int = 0,
                            workers: int | None = None) -> Path:
    """Write the dataset to ``out`` in the Kinetics layout; the same arguments give the same bytes, whatever
    ``workers`` (processes that render and encode; default one per CPU, 1 = in this process).

    ``groups`` and ``classes_per_group`` as in ``synthetic_classes``. ``videos_per_class`` train videos per class,
    ``eval_videos_per_class`` (default half of that) each for val and test. Each video has between
    ``frames // 2`` and ``frames`` frames at one of the ``fps`` rates (defaults: 30-60 frames, 1-5 s).
    """
    if videos_per_class < 1 or frames < 2 or size < 16 or size % 2 or not fps or min(fps) <= 0:
        raise ValueError("synthetic data needs videos_per_class >= 1, frames >= 2, an even size >= 16 and "
                         f"positive fps (got {videos_per_class}, {frames}, {size}, {list(fps)})")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    out = Path(out)
    names, chosen = synthetic_classes(groups, classes_per_group)
    eval_videos = eval_videos_per_class or max(1, videos_per_class // 4)
    jobs = [(str(out), split, label, (seed, split_id, CLASSES.index(label), v), frames, size, tuple(fps))
            for split, split_id in SPLIT_IDS.items() for label in names
            for v in range(videos_per_class if split == "train" else eval_videos)]
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers == 1:
        rows = list(progress(map(_write_one, jobs), len(jobs), "synthetic data", "videos"))
    else:
        # fork where there is one: the workers need no imports of their own (spawn would re-import torch)
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            rows = list(progress(pool.map(_write_one, jobs, chunksize=4), len(jobs), "synthetic data", "videos"))
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    # Mirroring turns "move_left" into "move_right": training must not flip these videos.
    meta = {"classes": names, "groups": chosen, "horizontal_flip": False}
    (out / "annotations" / "classes.json").write_text(json.dumps(meta, indent=1))
    for split in SPLIT_IDS:
        with open(out / "annotations" / f"{split}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
            writer.writerows(row for row in rows if row[4] == split)
    return out


def builtin_dataset(folder: Path | None = None) -> Path:
    """The default synthetic dataset (all five groups, 48 train and 12 + 12 eval videos per class, 64 px, 30-60
    frames), written on first use under the cache folder and reused afterwards.

    It is written to a temporary folder and renamed into place (``write_folder_atomic``), so two processes
    starting together never see (or leave) half a dataset: the second rename fails and that process uses the
    first one's copy.
    """
    final = (folder or cache_dir()) / f"synthetic-v{VERSION}"
    if (final / "annotations" / "classes.json").is_file():
        return final
    return write_folder_atomic(final, write_synthetic_dataset)
