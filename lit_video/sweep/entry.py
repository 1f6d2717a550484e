"""One sweep entry in its own process: build the run, profile its model, fit, test, and report a results row.

``python -m lit_video.sweep.entry SPEC.json`` reads the entry spec the sweep wrote and writes ``result.json``
beside it: ``{"status": "ok", "row": {...}}`` or ``{"status": "failed", "error", "oom", "traceback"}``.
The parent alone appends rows to ``results.jsonl``; a crash here costs this entry only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from ..files import write_atomic
from ..models import model_info
from ..profiling.machine import accelerator_device, device_name, git_sha, versions
from . import tracking
from .config import Entry
from .rows import make_row, precision_dtype

SPEC_FILE, RESULT_FILE = "spec.json", "result.json"


def base_row(entry: Entry, device: Any = None, **fields: Any) -> dict[str, Any]:
    """A row with what is known before running: the entry, the machine and software stamp. ``device``: what the
    entry ran on (default: what its Trainer's accelerator picks on this machine)."""
    data = entry.config["data"]
    return make_row(
        model=entry.name, variant=entry.variant, family=model_info(entry.name).family, dataset=entry.dataset,
        frames=data["frames"], fps=data["fps"], size=data["size"], eval_views=entry.eval_views, seed=entry.seed,
        device=device_name(device or accelerator_device(entry.accelerator)),
        dtype=precision_dtype(entry.precision), versions=versions(), git_sha=git_sha(),
        config_hash=entry.config_hash, **fields,
    )


def entry_config(entry: Entry, entry_dir: Path, wandb_mode: str | None) -> dict[str, Any]:
    """The entry's CLI config, with its folder and loggers: a CSV log in ``entry_dir`` and, unless wandb is off,
    a wandb run in the sweep's ``wandb/`` folder."""
    loggers = [{"class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(entry_dir), "name": "logs"}}]
    if wandb_mode:
        loggers.append(tracking.entry_logger(entry, wandb_mode, entry_dir.parents[1]))
    trainer = {**entry.config["trainer"], "default_root_dir": str(entry_dir), "logger": loggers}
    return {**entry.config, "trainer": trainer}


def profile_options(entry: Entry, device: Any) -> Any:
    """ThroughputOptions: the sweep's ``profile`` section, on the device and in the dtype the entry trains with."""
    from ..profiling import ThroughputOptions

    dtype = precision_dtype(entry.precision).removesuffix("-mixed")
    return ThroughputOptions(**{"device": str(device),
                                "dtype": dtype if dtype in ("bfloat16", "float16") else "float32",
                                **entry.profile})


def run_entry(entry: Entry, entry_dir: Path, wandb_mode: str | None) -> dict[str, Any]:
    """Build, profile, fit and test ``entry``; returns its results row. Raises whatever training raises."""
    import torch
    from lightning.pytorch.loggers import WandbLogger

    from ..profiling import count_flops, measure_throughput, model_input_shape
    from ..train import build_run, finish_wandb, fit_and_test

    started = time.perf_counter()
    run = build_run(entry_config(entry, entry_dir, wandb_mode))
    built = time.perf_counter()
    data, device = run.datamodule, run.trainer.strategy.root_device
    fingerprint = {"videos": len(data.info.videos()), "hash": data.fingerprint}  # before training: cheap, may fail
    # Cost first (weights do not change it): one clip of the very model that then trains. Profiling draws random
    # inputs; the fork keeps the training after it what the same config trains in `lit-video fit`.
    clip = model_input_shape(entry.name, 1, data.frames, data.size)
    with torch.random.fork_rng(devices=[]):
        report = count_flops(run.model.model, clip, receptive_field=False)  # receptive fields: `profile --layers`
        speed = measure_throughput(run.model.model, clip, profile_options(entry, device), report=report)
    for logger in run.trainer.loggers:
        if isinstance(logger, WandbLogger):
            tracking.log_cost(logger.experiment, report, speed, data.eval_views)
    cost = {"dataset_fingerprint": fingerprint, "params": report.params, "gmacs_per_clip": report.gmacs,
            "gmacs_per_video": report.gmacs * data.eval_views,
            **{k: speed[k] for k in ("infer_clips_per_s", "latency_ms_p50", "latency_ms_p95", "train_clips_per_s",
                                     "peak_mem_mb", "mfu")}}
    # Where the entry's time goes (benchmarks/bench_sweep_time.py adds up a sweep's).
    timings = {"build_s": built - started, "profile_s": time.perf_counter() - built}
    details = {"flops": report.to_dict(), "throughput": speed, "timings": timings}
    if not entry.train:  # profile-only: what the model costs, and no accuracy from a run too short to mean one
        finish_wandb(run.trainer)
        write_atomic(entry_dir / "details.json", json.dumps(details, indent=1, default=str))
        return base_row(entry, device, **cost, status="profiled", error=None)

    result = fit_and_test(run)
    metrics = result["metrics"]
    row = base_row(
        entry, device, **cost,
        clip_top1=metrics.get("test/clip_top1"), clip_top5=metrics.get("test/clip_top5"),
        # Multi-label data reports hit@k, its top-k.
        video_top1=metrics.get("test/video_top1", metrics.get("test/video_hit1")),
        video_top5=metrics.get("test/video_top5", metrics.get("test/video_hit5")),
        mean_class_acc=metrics.get("test/mean_class_acc"),
        group_acc={k.removeprefix("test/group_acc/"): v for k, v in metrics.items()
                   if k.startswith("test/group_acc/")} or None,
        train_time_s=result["train_time_s"], status="ok", error=None,
    )
    # What the row summarises, in full, beside the entry's logs.
    timings.update(fit_s=result["train_time_s"], test_s=result["test_time_s"])
    details = {"resolved_config": result["config"], "metrics": metrics, **details}
    write_atomic(entry_dir / "details.json", json.dumps(details, indent=1, default=str))
    return row


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the sweep dies (a killed sweep must not leave entries running)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec_path = Path(argv[0])
    spec = json.loads(spec_path.read_text())
    entry_dir = spec_path.parent
    _die_with_parent()
    if spec.get("parent_pid") and os.getppid() != spec["parent_pid"]:
        return 1  # the sweep is already gone
    try:
        row = run_entry(Entry.from_dict(spec["entry"]), entry_dir, spec.get("wandb"))
        outcome: dict[str, Any] = {"status": "ok", "row": row}
    except Exception as err:  # report every failure to the parent, which records it and goes on
        import torch

        oom = isinstance(err, torch.OutOfMemoryError)  # a GPU's; the sweep retries it at half the batch size
        outcome = {"status": "failed", "error": f"{type(err).__name__}: {err}".strip(), "oom": oom,
                   "traceback": traceback.format_exc()}
        traceback.print_exc()
        with contextlib.suppress(Exception):  # wandb trouble must not hide the real error
            import wandb

            if wandb.run is not None:
                wandb.run.summary.update({"status": "failed", "error": outcome["error"]})
                wandb.finish(exit_code=1)
    write_atomic(entry_dir / RESULT_FILE, json.dumps(outcome, indent=2, default=str))
    return 0 if outcome["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
