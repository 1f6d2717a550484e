"""What the visualisations of a trained model show, measured: for checkpoints of the main sweep (or any trained on the
built-in data), the direction of motion in each motion-direction class model, the stripes in the appearance class
models, the motion energy as the temporal penalty rises, and where the saliency of each order-class test video peaks
against the frames of its brightness snap.

    python benchmarks/bench_visualize.py \
        --ckpt my_results/lecture/runs/slow_fusion-synthetic-seed0-*/logs/version_0/checkpoints/*.ckpt

Thresholds as in tests/test_visualize_trained.py: a cosine above cos 45 = 0.707 (nearer the class's direction than
any other direction class's); a stripe ratio above 2 (horizontal) or below 0.5 (vertical); saliency peaks on a snap's
frames in at least 3 videos of 4 (the table gives the rate of a frame drawn at random).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import write_result

from lit_video.data.synthetic import DIRECTIONS
from lit_video.visualize import load_trained_model
from lit_video.visualize.checks import brightness_snaps, direction_cosine, stripe_ratio
from lit_video.visualize.class_model import ClassModelSettings, class_model, motion_energy
from lit_video.visualize.saliency import saliency

PENALTIES = (0.0, 1.0, 10.0, 100.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, help="a checkpoint of a model trained on the built-in data")
    parser.add_argument("--seeds", type=int, default=3, help="class-model starts per setting (default 3)")
    args = parser.parse_args()
    start = time.perf_counter()
    model = load_trained_model(args.ckpt)
    seeds = range(args.seeds)
    cosines = {name: {w: [direction_cosine(class_model(model, model.class_index(name), ClassModelSettings(
        temporal=w, seed=s))["rgb"], DIRECTIONS[name]) for s in seeds] for w in PENALTIES[:3]} for name in DIRECTIONS}
    stripes = {name: [stripe_ratio(class_model(model, model.class_index(name), ClassModelSettings(
        temporal=1.0, seed=s))["rgb"]) for s in seeds] for name in ("horizontal_stripes", "vertical_stripes")}
    energy = {w: motion_energy(class_model(model, model.class_index("move_right"), ClassModelSettings(temporal=w))[
        "rgb"]) for w in PENALTIES}
    peaks = []
    for label in ("sawtooth_up", "sawtooth_down"):
        for video in sorted((model.root / "test" / label).glob("*.mp4")):
            result = saliency(model, video, model.class_index(label))
            snaps = brightness_snaps(result.frames)
            peak = int(result.per_frame.argmax())
            peaks.append({"video": video.name, "class": label, "probability": result.probability, "peak": peak,
                          "snap_frames": snaps.tolist(), "hit": peak in snaps})
    seconds = time.perf_counter() - start
    name = Path(args.ckpt).parts[-5] if len(Path(args.ckpt).parts) >= 5 else args.ckpt
    table = [f"Checkpoint: `{name}` ({model.module.hparams.name}, {model.frames} frames of {model.size} px); "
             f"class models: {ClassModelSettings().steps} steps, seeds 0-{args.seeds - 1}; {seconds:.0f} s in all.",
             "", "Motion-direction class models: cosine between the clip's mean optical flow and the class's direction "
             "(min / mean over seeds; > 0.707 passes):", "",
             "| class | " + " | ".join(f"temporal {w:g}" for w in PENALTIES[:3]) + " |",
             "|---|" + "---|" * 3]
    for cls, by_w in cosines.items():
        table.append(f"| {cls} | " + " | ".join(f"{min(v):.3f} / {np.mean(v):.3f}" for v in by_w.values()) + " |")
    table += ["", "Appearance class models (temporal penalty 1): change down / across the temporal mean "
              "(> 2 horizontal, < 0.5 vertical):", "", "| class | per seed |", "|---|---|"]
    table += [f"| {cls} | {', '.join(f'{r:.2f}' for r in ratios)} |" for cls, ratios in stripes.items()]
    table += ["", "Motion energy of move_right's class model (seed 0) as the temporal penalty rises:", "",
              "| temporal penalty | " + " | ".join(f"{w:g}" for w in energy) + " |", "|---|" + "---|" * len(energy),
              "| motion energy | " + " | ".join(f"{e:.4f}" for e in energy.values()) + " |", ""]
    hits = sum(p["hit"] for p in peaks)
    chance = np.mean([len(p["snap_frames"]) / model.frames for p in peaks])  # a peak frame drawn at random
    table += [f"Saliency (gradient x input) of the order-class test videos: the peak frame is on a brightness snap in "
              f"{hits} of {len(peaks)} ({100 * hits / len(peaks):.0f} %; a frame drawn at random would be "
              f"{100 * chance:.0f} %).", "",
              "| video | class | p | peak frame | snap frames | hit |", "|---|---|---|---|---|---|"]
    table += [f"| {p['video']} | {p['class']} | {p['probability']:.2f} | {p['peak']} | {p['snap_frames']} | "
              f"{'yes' if p['hit'] else 'no'} |" for p in peaks]
    write_result("visualize_checks", {"checkpoint": args.ckpt, "cosines": cosines, "stripes": stripes,
                                      "motion_energy": energy, "saliency_peaks": peaks, "seconds": seconds}, table)


if __name__ == "__main__":
    main()
