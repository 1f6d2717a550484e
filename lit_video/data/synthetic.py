"""The built-in synthetic dataset: small real H.264 videos in the Kinetics layout, made to tell models apart.

Two groups of classes:
- ``appearance``: a disc whose colour names the class, moving in a random direction (motion says nothing);
- ``motion``: the same grey bar in every class; only its motion (left, right, up, down, turning) names the class.
Objects wrap around the frame edges and start anywhere, so any single frame of a motion class looks like any
other: a single-frame model is at chance on them, and only a model that compares frames can solve them.
Videos come at several native frame rates (12, 25, 30 fps) and lengths, and motion is set in pixels per
second, so sampling clips by time (not by frame count) is what makes the clips of one class look alike.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from lit_video.files import cache_dir, write_folder_atomic

# Appearance classes: disc colour (RGB). Motion classes: bar velocity (x, y in frame sizes per second, turns/s).
APPEARANCE = {"red_disc": (220, 40, 40), "green_disc": (40, 200, 60), "blue_disc": (50, 80, 230),
              "yellow_disc": (230, 210, 40), "magenta_disc": (210, 50, 200), "cyan_disc": (40, 210, 210)}
MOTION = {"move_left": (-1, 0, 0), "move_right": (1, 0, 0), "move_up": (0, -1, 0), "move_down": (0, 1, 0),
          "turn_clockwise": (0, 0, 1), "turn_anticlockwise": (0, 0, -1)}
BAR_COLOUR = (235, 235, 235)
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
VERSION = 3  # bump when the files change (rendering, encoding, classes.json), so cached copies are regenerated


def synthetic_classes(classes: int) -> tuple[list[str], dict[str, list[str]]]:
    """``classes`` class names, half appearance and half motion, and the two groups."""
    if not 2 <= classes <= len(APPEARANCE) + len(MOTION):
        raise ValueError(f"--classes must be between 2 and {len(APPEARANCE) + len(MOTION)}, got {classes}")
    n_motion = min(classes - classes // 2, len(MOTION))
    appearance = list(APPEARANCE)[: classes - n_motion]
    motion = list(MOTION)[:n_motion]
    return appearance + motion, {"appearance": appearance, "motion": motion}


def write_video(path: str | Path, frames: np.ndarray, fps: float, crf: int = 20) -> Path:
    """Encode uint8 RGB frames ``(T, H, W, 3)``: H.264 (yuv420p) in .mp4/.mkv/.mov, VP9 in .webm, MPEG-4 in .avi."""
    path = Path(path)
    codec = {".webm": "libvpx-vp9", ".avi": "mpeg4"}.get(path.suffix.lower(), "libx264")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1  # one thread: byte-identical output for a seed
        if codec == "libx264":
            # veryfast: twice as fast as the default preset, same size. No macroblock-tree rate control: with it
            # x264's output varies from run to run even on one thread (measured: 3 to 7 of 64 built-in videos).
            stream.options = {"crf": str(crf), "preset": "veryfast", "x264-params": "no-mbtree=1"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())
    return path


def render_video(label: str, num_frames: int, fps: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """Frames ``(T, size, size, 3)`` uint8 of one video of class ``label``."""
    background = 90 + rng.normal(0, 12, (size, size, 1)) + rng.normal(0, 6, (1, 1, 3))  # (H, W, 3) static texture
    speed = rng.uniform(0.25, 0.4) * size  # pixels per second
    x0, y0, angle0 = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(0, math.pi)
    if label in APPEARANCE:
        heading = rng.uniform(0, 2 * math.pi)
        vx, vy, turn = math.cos(heading), math.sin(heading), 0.0
        colour = np.array(APPEARANCE[label]) + rng.normal(0, 10, 3)
    else:
        vx, vy, turn = MOTION[label]
        colour = np.array(BAR_COLOUR) + rng.normal(0, 10, 3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)  # (H, W) pixel coordinates
    video = np.empty((num_frames, size, size, 3), np.uint8)
    for i in range(num_frames):
        t = i / fps
        # Offsets on a torus: the object wraps around the edges, so every position is equally likely.
        dx = (xx - (x0 + vx * speed * t) + size / 2) % size - size / 2
        dy = (yy - (y0 + vy * speed * t) + size / 2) % size - size / 2
        if label in APPEARANCE:
            mask = dx**2 + dy**2 < (0.14 * size) ** 2
        else:
            angle = angle0 + turn * 0.5 * 2 * math.pi * t  # half a turn per second
            along = dx * math.cos(angle) + dy * math.sin(angle)
            across = -dx * math.sin(angle) + dy * math.cos(angle)
            mask = (np.abs(along) < 0.22 * size) & (np.abs(across) < 0.06 * size)
        frame = background + rng.normal(0, 3, (size, size, 1))  # (H, W, 3) with a little sensor noise
        frame[mask] = colour
        video[i] = np.clip(frame, 0, 255).astype(np.uint8)
    return video


def write_synthetic_dataset(out: str | Path, classes: int = 8, videos_per_class: int = 40,
                            eval_videos_per_class: int | None = None, frames: int = 60, size: int = 64,
                            fps: Sequence[float] = (12, 25, 30), seed: int = 0) -> Path:
    """Write the dataset to ``out`` in the Kinetics layout; the same arguments give the same bytes.

    ``videos_per_class`` train videos per class, ``eval_videos_per_class`` (default a quarter of that) each
    for val and test. Each video has between ``frames // 2`` and ``frames`` frames at one of the ``fps`` rates.
    """
    if videos_per_class < 1 or frames < 2 or size < 16 or size % 2 or not fps or min(fps) <= 0:
        raise ValueError("synthetic data needs videos_per_class >= 1, frames >= 2, an even size >= 16 and "
                         f"positive fps (got {videos_per_class}, {frames}, {size}, {list(fps)})")
    out = Path(out)
    names, groups = synthetic_classes(classes)
    eval_videos = eval_videos_per_class or max(1, videos_per_class // 4)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    # Mirroring turns "move_left" into "move_right": training must not flip these videos.
    meta = {"classes": names, "groups": groups, "horizontal_flip": False}
    (out / "annotations" / "classes.json").write_text(json.dumps(meta, indent=1))
    for split, split_id in SPLIT_IDS.items():
        with open(out / "annotations" / f"{split}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
            for c, label in enumerate(names):
                for v in range(videos_per_class if split == "train" else eval_videos):
                    rng = np.random.default_rng([seed, split_id, c, v])
                    video_fps = float(fps[int(rng.integers(len(fps)))])
                    num_frames = int(rng.integers(frames // 2, frames + 1))
                    end = math.ceil(num_frames / video_fps)
                    video_id = f"{split}{c:02d}{v:04d}"
                    write_video(out / split / label / f"{video_id}_{0:06d}_{end:06d}.mp4",
                                render_video(label, num_frames, video_fps, size, rng), video_fps)
                    writer.writerow([label, video_id, 0, end, split])
    return out


def builtin_dataset(folder: Path | None = None) -> Path:
    """The default synthetic dataset, written on first use under the cache folder and reused afterwards.

    It is written to a temporary folder and renamed into place (``write_folder_atomic``), so two processes
    starting together never see (or leave) half a dataset: the second rename fails and that process uses the
    first one's copy.
    """
    final = (folder or cache_dir()) / f"synthetic-v{VERSION}"
    if (final / "annotations" / "classes.json").is_file():
        return final
    return write_folder_atomic(final, write_synthetic_dataset)
