"""wandb for sweeps: one run per entry (group = sweep, name = model variant) and one leaderboard run per sweep.

Offline by default: runs are written under ``<out>/<sweep>/wandb/`` and uploaded later with ``wandb sync``.
The run of an entry whose process was killed is set aside (``wandb/unfinished/``), so that a half run is not
uploaded as if it were whole. The results files never depend on wandb.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..files import write_atomic
from ..results.leaderboard import board_task
from ..results.schema import columns, with_derived
from .config import Entry

PROJECT = "lit-video"
LAYER_COLUMNS = ["name", "type", "output_shape", "receptive_field", "gmacs", "params", "calls"]
LOGGED_FILE = ".wandb-leaderboard"  # the digest of the last leaderboard logged
RUN_FILE = "wandb_run.json"  # in an entry's folder from its run's start: which run it is (``set_aside``)
UNFINISHED_DIR = "unfinished"  # under wandb/: the runs of entries killed before they finished


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


def record_run(run: Any, entry_dir: Path) -> dict[str, Any]:
    """The entry's run's location (``run_location``), kept in ``entry_dir`` as soon as the run starts
    (``RUN_FILE``): should the entry's process be killed, the sweep knows which run it left unfinished."""
    location = run_location(run, entry_dir.parents[1])
    write_atomic(entry_dir / RUN_FILE, json.dumps(location))
    return location


def set_aside(entry_dir: Path) -> Path | None:
    """Move the run ``entry_dir`` records (``record_run``), one its entry did not finish, from ``wandb/`` to
    ``wandb/unfinished/``, where neither ``wandb sync wandb/offline-run-*`` nor ``wandb sync wandb`` (which looks
    one folder down) finds it: a half run is not uploaded as if it were whole. ``wandb sync`` given its folder
    still uploads it. Returns where it went; None where there was no run."""
    record = entry_dir / RUN_FILE
    if not record.is_file():
        return None
    run = entry_dir.parents[1] / json.loads(record.read_text())["dir"]
    if not run.is_dir():
        return None
    unfinished = run.parent / UNFINISHED_DIR
    unfinished.mkdir(exist_ok=True)
    return run.replace(unfinished / run.name)


def log_cost(run: Any, report: Any, speed: dict[str, Any], cost: dict[str, Any], views: int) -> None:
    """The row's cost fields (``cost``: parameters, GMACs, throughput, latency, memory, MFU, the optical flow's ms
    per clip) with their derived ones (GFLOPs) into the run's summary, beside what the profiler measured them with,
    and the per-layer FLOP table. Accuracy joins the summary as Lightning logs the test metrics."""
    import wandb

    run.summary.update({
        **{k: v for k, v in with_derived(cost).items() if v is not None}, "eval_views": views,
        "flop_counter": report.counter, "batch_size": speed["batch_size"],
        "peak_gflops_per_s": speed["peak_gflops_per_s"],
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
    names = [f.name for f in columns(board_task(board))] + ["error"]
    table = wandb.Table(columns=names, data=[[line.get(c) for c in names] for line in board])
    run = wandb.init(project=PROJECT, group=sweep, name=f"{sweep}-leaderboard", job_type="leaderboard",
                     dir=str(save_dir), mode=mode, config={"sweep": sweep})
    try:
        run.log({"leaderboard": table, **{f"plots/{p.stem}": wandb.Image(str(p)) for p in plots}})
    finally:
        run.finish()
    write_atomic(marker, digest + "\n")
