"""What every benchmark script shares: the machine stamp, writing results/machine/<name>.json and .md, and a
validation curve."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import lightning as L

from lit_video.profiling import machine_info

RESULTS = Path(__file__).resolve().parent.parent / "results" / "machine"


def stamp() -> dict[str, Any]:
    """The machine, and how busy it was: other processes on the same cores make timings pessimistic."""
    return {**machine_info(), "load_average_1m": os.getloadavg()[0],
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def write_result(name: str, payload: dict[str, Any], table: list[str]) -> Path:
    """``results/machine/<name>.json`` (payload + stamp) and ``<name>.md`` (the stamp and ``table`` lines)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = stamp()
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": machine, **payload}, indent=1, default=str))
    header = (f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['threads']} torch threads, "
              f"torch {machine['torch']}, load average {machine['load_average_1m']:.2f} at "
              f"{machine['date']}.")
    (RESULTS / f"{name}.md").write_text("\n".join([f"# {name}", "", header, "", *table, ""]))
    print("\n".join(table))
    return RESULTS / f"{name}.json"


class ValidationCurve(L.Callback):
    """The validation metrics after each epoch (Lightning keeps only the latest), and the training clip accuracy
    of the epoch (on augmented clips, as trained). Read at the training epoch's end, which follows its validation,
    so the module's video-level metrics are logged by then."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        metrics = trainer.callback_metrics
        self.epochs.append({k: float(v) for k, v in metrics.items()
                            if k.startswith("val/") or k == "train/clip_top1"})
