"""Reading video at Kinetics' size: each decoding backend, the training loader and the evaluation loader.

    python benchmarks/bench_loader.py [--videos 12] [--eval-videos 8] [--workers 0 2]

The files are made here to Kinetics' measure (340 x 256, 30 fps, 10 s, H.264 with a keyframe every 8 s, so that a
seek decodes from the keyframe before it, as in real footage); clips of 16 frames at 5 fps, 112 px crops of a
128 px resize. One run prints, in clips/s and as a ratio to raw decord (the decoding library alone):
- each backend's single-clip read (lit-video's ``read_frames``) on a plan of 3 clips per video;
- the training loader (one random clip per video), with 0 and 2 workers;
- the evaluation loader at 10 clips x 3 crops per video (each video decoded once) against the per-view path (each
  view read and transformed by itself), in videos/s, with the same batch size and workers.
Targets (2 cores): single-clip read with the default backend >= 0.9x raw decord; evaluation >= 5x the per-view path.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from common import write_result

from lit_video.data import VideoDataModule
from lit_video.data.decode import AUTO_ORDER, backend_unavailable
from lit_video.data.synthetic import write_video
from lit_video.profiling.data_speed import (
    clip_plan,
    eval_speedup,
    loader_throughput,
    raw_decode_throughput,
    read_throughput,
)

WIDTH, HEIGHT, FPS, SECONDS, KEYINT = 340, 256, 30, 10, 240
CLIP = {"frames": 16, "fps": 5.0, "size": 112, "resize": 128, "batch_size": 8}


def kinetics_like_frames(seed: int) -> np.ndarray:
    """10 s of a textured scene panning under a camera, with noise: ``uint8 (300, 256, 340, 3)``; detail and motion
    everywhere, so that the codec has the work real footage gives it."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (HEIGHT // 8 + 24, WIDTH // 8 + 24, 3), dtype=np.uint8)
    scene = np.repeat(np.repeat(coarse, 8, 0), 8, 1)  # blocks of 8 px: texture at several scales after coding
    frames = np.empty((FPS * SECONDS, HEIGHT, WIDTH, 3), np.uint8)
    for t in range(len(frames)):
        dy, dx = int(48 + 40 * np.sin(t / 40)), int(t * 0.6) % 180  # a slow pan
        frames[t] = scene[dy:dy + HEIGHT, dx:dx + WIDTH]
    noise = rng.integers(-12, 13, frames.shape, dtype=np.int16)
    return np.clip(frames + noise, 0, 255).astype(np.uint8)


def kinetics_like_dataset(root: Path, videos: int) -> Path:
    """``videos`` test files (two classes) and, under other names (hard links), the same files as the training
    split, in the Kinetics layout; validation is on the test split (``val_split="test"``)."""
    (root / "annotations").mkdir(parents=True)
    rows = {"train": [], "test": []}
    for k in range(videos):
        label = "ab"[k % 2]
        test = write_video(root / "videos" / f"test{k:02d}_000000_000010.mp4", kinetics_like_frames(k), FPS,
                           crf=23, keyint=KEYINT)
        os.link(test, root / "videos" / f"train{k:02d}_000000_000010.mp4")
        for split in rows:
            rows[split].append([label, f"{split}{k:02d}", 0, 10, split])
    for split, split_rows in rows.items():
        with open(root / "annotations" / f"{split}.csv", "w", newline="") as f:
            csv.writer(f).writerows([["label", "youtube_id", "time_start", "time_end", "split"], *split_rows])
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=12, help="files to make (default 12)")
    parser.add_argument("--eval-videos", type=int, default=8,
                        help="of them, the videos the 10 x 3 evaluation is timed on (the per-view path is slow)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="loader workers to time")
    args = parser.parse_args()
    backends = [b for b in AUTO_ORDER if backend_unavailable(b) is None]
    with tempfile.TemporaryDirectory() as tmp:
        root = kinetics_like_dataset(Path(tmp) / "kinetics_like", args.videos)
        common = {"root": str(root), "val_split": "test", **CLIP}

        def data(**options) -> VideoDataModule:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a hard-linked file listed in two splits is meant here
                return VideoDataModule(**{**common, **options})

        plan = clip_plan(data(test_clips=3, backend="decord"))
        raw = raw_decode_throughput(plan, "decord")
        reads = {b: read_throughput(plan, b) for b in backends}
        train = {w: loader_throughput(data(num_workers=w).train_dataloader()) for w in args.workers}
        evaluation = {}
        for w in args.workers:
            dm = data(num_workers=w, test_clips=10, test_crops=3)
            dm.dataset("test").videos = dm.dataset("test").videos[:args.eval_videos]
            evaluation[w] = eval_speedup(dm)
    default_backend = inspect.signature(VideoDataModule).parameters["backend"].default
    table = [f"{args.videos} Kinetics-like files ({WIDTH} x {HEIGHT}, {FPS} fps, {SECONDS} s, H.264 keyframes every "
             f"{KEYINT // FPS} s); clips of {CLIP['frames']} frames at {CLIP['fps']} fps, {CLIP['size']} px crops of "
             f"a {CLIP['resize']} px resize, batch {CLIP['batch_size']}; torch threads {torch.get_num_threads()} "
             f"(loader workers 1 each).", "",
             f"Single-clip reads: {len(plan)} clips (3 per video), one process.", "",
             "| read | clips/s | / raw decord |", "| --- | --- | --- |",
             f"| raw decord (`VideoReader.get_batch`) | {raw['clips_per_s']:.1f} | 1.00 |"]
    for b, r in reads.items():
        mark = " (default)" if b == default_backend else ""
        table.append(f"| `read_frames`, {b}{mark} | {r['clips_per_s']:.1f} | "
                     f"{r['clips_per_s'] / raw['clips_per_s']:.2f} |")
    table += ["", "Training loader (one random clip per video, decord):", "",
              "| workers | clips/s | / raw decord |", "| --- | --- | --- |"]
    for w, r in train.items():
        table.append(f"| {w} | {r['clips_per_s']:.1f} | {r['clips_per_s'] / raw['clips_per_s']:.2f} |")
    table += ["", f"Evaluation at 10 clips x 3 crops per video, {args.eval_videos} videos (decord):", "",
              "| workers | decoded once: videos/s | per view: videos/s | speed-up | clips/s decoded once |",
              "| --- | --- | --- | --- | --- |"]
    for w, r in evaluation.items():
        table.append(f"| {w} | {r['loader']['videos_per_s']:.2f} | {r['per_view']['videos_per_s']:.2f} | "
                     f"{r['speedup']:.1f}x | {r['loader']['clips_per_s']:.1f} |")
    write_result("loader", {"files": {"width": WIDTH, "height": HEIGHT, "fps": FPS, "seconds": SECONDS,
                                      "keyint": KEYINT, "videos": args.videos}, "clip": CLIP,
                            "raw_decord": raw, "reads": reads, "train_loader": train, "eval": evaluation}, table)


if __name__ == "__main__":
    main()
