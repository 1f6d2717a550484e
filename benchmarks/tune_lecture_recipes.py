"""How the main job's per-model recipes were chosen: on validation data, never on test.

For every trained model of the sweep (configs/sweeps/lecture.yaml by default), fits its config as the sweep would
(first seed) at the sweep's learning rate times each ``--lr-factors``, and records the validation accuracy after
every epoch, overall and per class group, with the fit time. The test split is never read.

    python benchmarks/tune_lecture_recipes.py                          # every trained model, lr x 1/3, 1, 3
    python benchmarks/tune_lecture_recipes.py --models lrcn --lr-factors 1 3 --seeds 0 1 2 --epochs 16 \
        --out recipe_search_lrcn                                        # one model's search, every seed

The committed searches: recipe_search.md (the trained models' recipes, seed 2: ``--seeds 2 --lr-factors 1``,
before early fusion's went to 24 epochs at lr 3e-3), recipe_search_early_fusion.md (``--models early_fusion
--lr-factors 0.5 1 --seeds 0 1 2 --epochs 24``, when its lr was 6e-3), recipe_search_lrcn.md (the command
above), recipe_search_late_fusion_fc.md (``--models late_fusion_fc --lr-factors 0.333 1 --seeds 0 1 2 --epochs
16``) and recipe_search_conv_gru.md (``--models conv_gru --lr-factors 1 3 --seeds 0 --epochs 16``): why those
two are profile-only in the main job. The video transformers': recipe_search_transformers.md (``--models
timesformer_divided vivit_factorised_self_attention --lr-factors 0.333 1 --epochs 32 --seeds 0``, at the CLI's lr
3e-3) and recipe_search_transformers_all.md (all seven, ``--lr-factors 1 --seeds 0`` at lr 1e-3 and 24 epochs).
two_stream's: recipe_search_two_stream.md (``--models two_stream --lr-factors 0.333 1 3 --seeds 0 --epochs 24
--out recipe_search_two_stream``, at the CLI's lr 3e-3).

Writes results/machine/recipe_search.{md,json} (``--out``). A recipe is good when it reaches its plateau on validation
within the epoch budget; the sweep config then keeps the learning rate with the best final validation accuracy
and the fewest epochs that reach it (LRCN: 1e-3 and 3e-3 end alike overall, 51-58 %, but only 1e-3 learns the
appearance group on every seed, 98-100 % against 79-100 %).
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

from common import ValidationCurve, write_result

from lit_video.sweep.config import Entry, load_sweep
from lit_video.train import build_run, resolve_config

REPO = Path(__file__).resolve().parent.parent


def fit_on_validation(config: dict, folder: str) -> tuple[list[dict[str, float]], float]:
    config = copy.deepcopy(config)
    config["trainer"].update(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, default_root_dir=folder)
    run = build_run(config)
    curve = ValidationCurve()
    run.trainer.callbacks.append(curve)
    start = time.perf_counter()
    run.trainer.fit(run.model, datamodule=run.datamodule)
    return curve.epochs, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "sweeps" / "lecture.yaml"))
    parser.add_argument("--models", nargs="*",
                        help="variants to tune (default: every trained one; a profile-only one when named)")
    parser.add_argument("--lr-factors", nargs="+", type=float, default=[1 / 3, 1.0, 3.0])
    parser.add_argument("--epochs", type=int, help="max_epochs (default: the sweep's)")
    parser.add_argument("--seeds", nargs="+", type=int, help="seeds to fit (default: the sweep's first)")
    parser.add_argument("--out", default="recipe_search", help="results/machine/<out>.md and .json")
    args = parser.parse_args()
    sweep = load_sweep(args.config)
    # A profile-only item has one entry, at the first seed: a named seed refits its config with that seed.
    variants: dict[str, Entry] = {}  # each variant's first entry (its first seed)
    for e in sweep.entries:
        if e.variant in args.models if args.models else e.train:
            variants.setdefault(e.variant, e)
    entries = [entry.with_seed(seed) for entry in variants.values() for seed in args.seeds or [entry.seed]]
    results, table = [], []
    for entry in entries:
        table += [f"## {entry.variant}, seed {entry.seed}", "",
                  "| lr | epochs | fit s | val top-1 % by epoch | train clip top-1 % (last) | val % per group (last) |",
                  "|---|---|---|---|---|---|"]
        for factor in args.lr_factors:
            config = copy.deepcopy(entry.config)
            # The entry's own lr, or the CLI's default where the sweep leaves it out.
            config["model"]["lr"] = lr = resolve_config(entry.config)["model"]["lr"] * factor
            if args.epochs:
                config["trainer"]["max_epochs"] = args.epochs
            with tempfile.TemporaryDirectory() as folder:
                curve, fit_s = fit_on_validation(config, folder)
            results.append({"variant": entry.variant, "seed": entry.seed, "lr": lr, "fit_s": fit_s, "curve": curve})
            by_epoch = " ".join(f"{100 * e.get('val/video_top1', float('nan')):.0f}" for e in curve)
            groups = " ".join(f"{k.removeprefix('val/group_acc/')} {100 * v:.0f}"
                              for k, v in curve[-1].items() if k.startswith("val/group_acc/")) if curve else ""
            train = f"{100 * curve[-1]['train/clip_top1']:.0f}" if curve and "train/clip_top1" in curve[-1] else "-"
            line = f"| {lr:.2g} | {len(curve)} | {fit_s:.0f} | {by_epoch} | {train} | {groups} |"
            table.append(line)
            print(entry.variant, entry.seed, line, flush=True)
        table.append("")
    write_result(args.out, {"config": args.config, "runs": results}, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
