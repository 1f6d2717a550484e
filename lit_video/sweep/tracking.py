"""wandb for sweeps: one run per entry (group = sweep, name = model variant) and one leaderboard run per sweep.

Offline by default: runs are written under ``<out>/<sweep>/wandb/`` and uploaded later with ``wandb sync``.
The results files never depend on wandb.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..files import write_atomic
from ..profiling import gflops
from .config import Entry
from .leaderboard import COLUMNS

PROJECT = "lit-video"
LAYER_COLUMNS = ["name", "type", "output_shape", "receptive_field", "gmacs", "params", "calls"]
BOARD_COLUMNS = [field for field, _, _ in COLUMNS] + ["error"]
LOGGED_FILE = ".wandb-leaderboard"  # the digest of the last leaderboard logged


def entry_logger(entry: Entry, mode: str, save_dir: Path) -> dict[str, Any]:
    """The Trainer's wandb logger of one entry, as a config section; its config is the entry's (Lightning adds the
    resolved init arguments of the model and the data when training starts)."""
    return {"class_path": "lightning.pytorch.loggers.WandbLogger",
            "init_args": {"project": PROJECT, "group": entry.sweep, "name": entry.variant, "job_type": "entry",
                          "tags": [entry.dataset, entry.name], "config": json.loads(json.dumps(entry.to_dict())),
                          "save_dir": str(save_dir), "offline": mode == "offline"}}


def run_location(run: Any, sweep_dir: Path) -> dict[str, Any]:
    """Where a wandb run is: its folder relative to the sweep's results folder (``wandb/offline-run-...``, what
    ``wandb sync`` takes), its id and, online, its URL."""
    folder = Path(run.dir).parent  # run.dir is the run's files/ folder
    return {"dir": os.path.relpath(folder, sweep_dir), "id": run.id, "url": run.url}


def log_cost(run: Any, report: Any, speed: dict[str, Any], views: int) -> None:
    """Parameters, GMACs, throughput, latency, memory, MFU (and the optical flow's cost, where the model takes
    flow) into the run's summary, and the per-layer FLOP table. Accuracy joins the summary as Lightning logs the
    test metrics."""
    import wandb

    run.summary.update({
        "params": report.params, "gmacs_per_clip": report.gmacs, "gflops_per_clip": gflops(report.gmacs),
        "gmacs_per_video": report.gmacs * views, "gflops_per_video": gflops(report.gmacs * views),
        "eval_views": views, "flop_counter": report.counter,
        **{k: speed[k] for k in ("batch_size", "infer_clips_per_s", "latency_ms_p50", "latency_ms_p95",
                                 "train_clips_per_s", "peak_mem_mb", "mfu", "peak_gflops_per_s")},
        # A model that takes optical flow pays for computing it too (``flow_cost``).
        **({f"flow_{k}": v for k, v in speed["flow"].items()} if "flow" in speed else {}),
    })
    rows = [[json.dumps(v) if isinstance(v, list) else v for v in (getattr(layer, c) for c in LAYER_COLUMNS)]
            for layer in report.layers]
    run.log({"flops/layers": wandb.Table(columns=LAYER_COLUMNS, data=rows)})


def log_leaderboard(sweep: str, board: list[dict[str, Any]], plots: list[Path], mode: str,
                    save_dir: Path) -> None:
    """One run for the whole sweep (same group): the leaderboard as a wandb Table and the plots as images;
    nothing when this very board was logged last time (``.wandb-leaderboard`` keeps its digest)."""
    import wandb

    digest = hashlib.sha256(json.dumps(board, sort_keys=True, default=str).encode()).hexdigest()
    marker = save_dir / LOGGED_FILE
    if marker.is_file() and marker.read_text().strip() == digest:
        return
    table = wandb.Table(columns=BOARD_COLUMNS, data=[[line.get(c) for c in BOARD_COLUMNS] for line in board])
    run = wandb.init(project=PROJECT, group=sweep, name=f"{sweep}-leaderboard", job_type="leaderboard",
                     dir=str(save_dir), mode=mode, config={"sweep": sweep})
    try:
        run.log({"leaderboard": table, **{f"plots/{p.stem}": wandb.Image(str(p)) for p in plots}})
    finally:
        run.finish()
    write_atomic(marker, digest + "\n")
