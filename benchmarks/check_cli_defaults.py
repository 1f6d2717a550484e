"""Do the CLI's defaults train every family sensibly on a dataset this project did not make?

A user's first run gives a model and the data and nothing else: the optimiser, learning rate, schedule, weight
decay, augmentation and clip sampling are the CLI's defaults. This script writes a small motion-only dataset with a
renderer of its own (random-dot motion, unrelated to the built-in generator: no shapes, no palette, no groups),
in the plainest layout (``<class>/<video>.mp4``, split 3:1:1 by the folder reader) and fits each model with only
``model.name``, ``data.root``, ``data.size`` (the videos' own 64 px: the models' default 112 would only upsample
them) and ``trainer.max_epochs`` set, then tests it (video-level, the CLI's default views).

Classes: dots drifting up or down, slowly (0.75 px a frame) or fast (2.5 px a frame), wrapping around. Every
frame is uniform random dots whatever the class, so a frame-independent model stays at chance (25 %) and a model
that compares frames can reach 100 %. Vertical motion keeps its label under the default horizontal flip.

    python benchmarks/check_cli_defaults.py                           # the lecture's trainable families
    python benchmarks/check_cli_defaults.py --models slow_fusion single_frame --epochs 12

Writes results/machine/cli_defaults.{md,json} (``--out``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ValidationCurve, write_result

from lit_video.data import write_video
from lit_video.train import build_run, fit_and_test

CLASSES = {"up_slow": (-1, 0.75), "up_fast": (-1, 2.5), "down_slow": (1, 0.75), "down_fast": (1, 2.5)}
MODELS = ("single_frame", "late_fusion_pool", "late_fusion_fc", "early_fusion", "slow_fusion", "lrcn", "conv_gru")


def dot_motion(direction: int, speed: float, rng: np.random.Generator, frames: int = 24, size: int = 64,
               dots: int = 60) -> np.ndarray:
    """``(T, H, W, 3)`` uint8: bright 2x2 dots on a dark, noisy field, all moving vertically at ``speed`` px a
    frame (``direction`` -1 up, +1 down) and wrapping around; positions, brightness and field random per video."""
    x = rng.integers(0, size - 1, dots)
    y0 = rng.uniform(0, size, dots)
    level = rng.uniform(10, 60)
    brightness = rng.uniform(150, 255, dots)
    video = np.empty((frames, size, size, 3), np.uint8)
    for t in range(frames):
        frame = np.full((size, size), level) + rng.normal(0, 6, (size, size))
        y = ((y0 + direction * speed * t) % (size - 1)).astype(int)  # (dots,): wrapped rows
        for dy in (0, 1):
            for dx in (0, 1):
                frame[y + dy, x + dx] = brightness
        video[t] = np.clip(frame, 0, 255).astype(np.uint8)[..., None]  # grey in RGB: (H, W) -> (H, W, 3)
    return video


def write_dataset(root: Path, videos_per_class: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for label, (direction, speed) in CLASSES.items():
        for i in range(videos_per_class):
            write_video(root / label / f"{label}_{i:03d}.mp4", dot_motion(direction, speed, rng), fps=12.0)
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--videos-per-class", type=int, default=40, help="split 3:1:1 into train, val, test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="cli_defaults", help="results/machine/<out>.md and .json")
    args = parser.parse_args()
    results, table = [], ["| model | epochs | fit s | test video top-1 % (chance 25) | val video top-1 % |",
                          "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        root = write_dataset(Path(folder) / "dot_motion", args.videos_per_class, args.seed)
        for name in args.models:
            # What `lit-video fit --model.name NAME --data.root ROOT --data.size 64 --trainer.max_epochs E`
            # parses to, plus quiet output and no files beside the temporary folder.
            config = {"seed_everything": args.seed, "model": {"name": name},
                      "data": {"root": str(root), "size": 64},
                      "trainer": {"max_epochs": args.epochs, "logger": False, "enable_checkpointing": False,
                                  "enable_progress_bar": False, "enable_model_summary": False,
                                  "default_root_dir": folder}}
            started = time.perf_counter()
            run = build_run(config)
            curve = ValidationCurve()
            run.trainer.callbacks.append(curve)
            result = fit_and_test(run)
            val = curve.epochs[-1] if curve.epochs else {}
            row = {"model": name, "epochs": args.epochs, "fit_s": result["train_time_s"],
                   "wall_s": time.perf_counter() - started, "test": result["metrics"], "val": val,
                   "config": result["config"]}
            results.append(row)
            line = (f"| {name} | {args.epochs} | {row['fit_s']:.0f} | "
                    f"{100 * result['metrics']['test/video_top1']:.1f} | {100 * val.get('val/video_top1', 0):.1f} |")
            table.append(line)
            print(line, flush=True)
    defaults = results[0]["config"]["model"] if results else {}
    table += ["", "CLI defaults used: " + ", ".join(f"{k} {defaults[k]}" for k in
                                                     ("lr", "weight_decay", "warmup_ratio", "min_lr_ratio")
                                                     if k in defaults) + "; AdamW, warm-up then cosine."]
    write_result(args.out, {"videos_per_class": args.videos_per_class, "seed": args.seed, "runs": results}, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
