"""Does a model fit a class group it misses on validation? Per-group clip accuracy on the training and the
validation split after one sweep entry's recipe, with builder options or the learning rate changed. The test split
is never read.

    python benchmarks/probe_group_fit.py vivit_factorised_encoder                        # the main job's recipe
    python benchmarks/probe_group_fit.py vivit_factorised_encoder --model-args tubelet=1  # one frame per token
    python benchmarks/probe_group_fit.py vivit_factorised_encoder --lr 3e-4

Each run appends to results/machine/probe_group_fit.{md,json} (``--out``). Training accuracy is on the training
split's clips as the loader gives them (augmented), in eval mode. Low on both splits: the model does not fit the
group (capacity, optimisation); high on train and low on validation: it fits the training videos without
generalising.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import torch
import yaml
from common import RESULTS, write_result

from lit_video.sweep.config import load_sweep
from lit_video.train import build_run, resolve_config

REPO = Path(__file__).resolve().parent.parent


def group_accuracy(model: torch.nn.Module, loader, groups: dict[str, list[int]]) -> dict[str, float]:
    """Clip accuracy within each group of classes (``groups``: group -> class indices)."""
    group_of = {label: group for group, labels in groups.items() for label in labels}
    hits, seen = Counter(), Counter()
    with torch.no_grad():
        for batch in loader:
            predicted = model(batch["video"]).argmax(-1)
            for p, y in zip(predicted.tolist(), batch["label"].tolist(), strict=True):
                group = group_of[y]
                seen[group] += 1
                hits[group] += p == y
    return {group: hits[group] / seen[group] for group in groups if seen[group]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a variant of the sweep")
    parser.add_argument("--config", default=str(REPO / "configs" / "sweeps" / "lecture.yaml"))
    parser.add_argument("--model-args", nargs="+", default=[], metavar="KEY=VALUE", help="values read as YAML")
    parser.add_argument("--lr", type=float, help="instead of the entry's learning rate")
    parser.add_argument("--seed", type=int, help="default: the sweep's first")
    parser.add_argument("--out", default="probe_group_fit")
    args = parser.parse_args()
    entry = next(e for e in load_sweep(args.config).entries if e.variant == args.model)
    entry = entry.with_seed(args.seed) if args.seed is not None else entry
    config = copy.deepcopy(entry.config)
    changes = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.model_args)}
    config["model"]["model_args"] = {**config["model"].get("model_args", {}), **changes}
    config["model"]["lr"] = lr = args.lr or resolve_config(entry.config)["model"]["lr"]
    with tempfile.TemporaryDirectory() as folder:
        config["trainer"].update(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                                 enable_model_summary=False, default_root_dir=folder)
        run = build_run(config)
        run.trainer.fit(run.model, datamodule=run.datamodule)
        model, data = run.model.eval(), run.datamodule
        splits = {split: group_accuracy(model, loader, data.groups)
                  for split, loader in (("train", data.train_dataloader()), ("val", data.val_dataloader()))}
    record = {"model": args.model, "seed": entry.seed, "lr": lr, "model_args": changes,
              "epochs": config["trainer"]["max_epochs"], "clip_accuracy": splits}
    previous = RESULTS / f"{args.out}.json"
    runs = json.loads(previous.read_text())["runs"] if previous.exists() else []
    runs = [r for r in runs if {k: r[k] for k in record if k != "clip_accuracy"}
            != {k: record[k] for k in record if k != "clip_accuracy"}] + [record]
    groups = list(data.groups)
    table = ["| model | seed | lr | epochs | model args | split | " + " | ".join(groups) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(groups)]
    for r in runs:
        for split, accuracy in r["clip_accuracy"].items():
            table.append(f"| {r['model']} | {r['seed']} | {r['lr']:.2g} | {r['epochs']} | "
                         f"{', '.join(f'{k}={v}' for k, v in r['model_args'].items()) or '-'} | {split} | "
                         + " | ".join(f"{100 * accuracy.get(g, float('nan')):.0f}" for g in groups) + " |")
    write_result(args.out, {"config": args.config, "runs": runs}, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
