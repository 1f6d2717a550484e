"""The DataModule's loader against raw decoding of the same clip plan, per decode backend.

    python benchmarks/bench_loader.py [--workers 2] [--videos-per-class 6]

Target: the loader reaches >= 80% of raw decord clips/s (raw = the decoding library alone, in one process).
"""

from __future__ import annotations

import argparse
import tempfile

from common import write_result

from lit_video.data import write_synthetic_dataset
from lit_video.profiling.data_speed import data_throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader workers to try")
    parser.add_argument("--videos-per-class", type=int, default=6, help="test videos per class (4 classes)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_synthetic_dataset(f"{tmp}/data", groups=("appearance", "direction"), classes_per_group=2,
                                       videos_per_class=2, eval_videos_per_class=args.videos_per_class, frames=60,
                                       size=64)
        config = {"root": str(root), "frames": 8, "fps": 5.0, "size": 64, "batch_size": 8, "test_clips": 4}
        runs = {w: data_throughput(**config, num_workers=w) for w in args.workers}
    table = [f"Test split of a synthetic dataset (4 classes x {args.videos_per_class} videos, 64 px, 30-60 "
             f"frames), clips of {config['frames']} frames at {config['fps']} fps, "
             f"{config['test_clips']} clips per video.", "",
             "| backend | workers | loader clips/s | raw clips/s (same backend) | loader / raw decord |",
             "| --- | --- | --- | --- | --- |"]
    for workers, run in runs.items():
        for backend, row in run["backends"].items():
            table.append(f"| {backend} | {workers} | {row['loader']['clips_per_s']:.1f} | "
                         f"{row['raw']['clips_per_s']:.1f} | {100 * row['loader_vs_raw_decord']:.0f}% |")
    write_result("loader", {"config": config, "runs": runs}, table)


if __name__ == "__main__":
    main()
