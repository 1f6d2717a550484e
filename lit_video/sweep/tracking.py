"""wandb for sweeps: one run per entry (group = sweep, name = model) and one leaderboard run per sweep.

Offline by default: runs are written under ``<out>/<sweep>/wandb/`` and uploaded later with ``wandb sync``.
The results files never depend on wandb.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .config import Entry

PROJECT = "lit-video"
LAYER_COLUMNS = ["name", "type", "output_shape", "receptive_field", "gmacs", "params", "calls"]
BOARD_COLUMNS = ["rank", "model", "family", "dataset", "frames", "size", "seeds", "video_top1", "video_top5",
                 "clip_top1", "mean_class_acc", "params", "gmacs_per_clip", "gmacs_per_video",
                 "gflops_per_video", "infer_clips_per_s", "latency_ms_p50", "latency_ms_p95",
                 "train_clips_per_s", "peak_mem_mb", "mfu", "status", "error"]


def entry_logger(entry: Entry, mode: str, save_dir: Path) -> Any:
    """The Lightning logger of one entry's run; its config is the entry's (Lightning adds the resolved init
    arguments of the model and the data when training starts)."""
    from lightning.pytorch.loggers import WandbLogger

    return WandbLogger(project=PROJECT, group=entry.sweep, name=entry.name, job_type="entry",
                       tags=[entry.dataset], config=entry.to_dict(), save_dir=str(save_dir),
                       offline=mode == "offline")


def log_cost(run: Any, report: Any, speed: dict[str, Any], views: int) -> None:
    """Parameters, GMACs, throughput, latency, memory and MFU into the run's summary, and the per-layer FLOP
    table. Accuracy joins the summary as Lightning logs the test metrics."""
    import wandb

    run.summary.update({
        "params": report.params, "gmacs_per_clip": report.gmacs, "gflops_per_clip": report.gflops,
        "gmacs_per_video": report.gmacs * views, "gflops_per_video": report.gflops * views,
        "eval_views": views, "flop_counter": report.counter,
        **{k: speed[k] for k in ("batch_size", "infer_clips_per_s", "latency_ms_p50", "latency_ms_p95",
                                 "train_clips_per_s", "peak_mem_mb", "mfu", "peak_gflops_per_s")},
    })
    rows = [[json.dumps(v) if isinstance(v, list) else v for v in (getattr(layer, c) for c in LAYER_COLUMNS)]
            for layer in report.layers]
    run.log({"flops/layers": wandb.Table(columns=LAYER_COLUMNS, data=rows)})


def log_leaderboard(sweep: str, board: list[dict[str, Any]], plots: list[Path], mode: str,
                    save_dir: Path) -> None:
    """One run for the whole sweep (same group): the leaderboard as a wandb Table and the plots as images."""
    import wandb

    table = wandb.Table(columns=BOARD_COLUMNS, data=[[line.get(c) for c in BOARD_COLUMNS] for line in board])
    run = wandb.init(project=PROJECT, group=sweep, name=f"{sweep}-leaderboard", job_type="leaderboard",
                     dir=str(save_dir), mode=mode, config={"sweep": sweep})
    try:
        run.log({"leaderboard": table, **{f"plots/{p.stem}": wandb.Image(str(p)) for p in plots}})
    finally:
        run.finish()
