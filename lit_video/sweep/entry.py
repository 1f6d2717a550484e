"""One sweep entry in its own process: fit, test (multi-clip, video level), profile, and report a results row.

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
import traceback
from pathlib import Path
from typing import Any

from . import tracking
from .config import Entry, data_default
from .results import device_name, git_sha, make_row, precision_dtype, versions, write_atomic

SPEC_FILE, RESULT_FILE = "spec.json", "result.json"


def eval_views(entry: Entry) -> int:
    """Views averaged per test video: clips x crops."""
    clips = entry.data.get("test_clips", data_default("test_clips"))
    crops = entry.data.get("test_crops", data_default("test_crops"))
    return int(clips) * int(crops)


def base_row(entry: Entry, **fields: Any) -> dict[str, Any]:
    """A row with what is known before running: the entry, the machine and software stamp."""
    from ..models import model_info

    return make_row(
        model=entry.name, family=model_info(entry.name).family, dataset=entry.dataset,
        frames=entry.data["frames"], fps=entry.data["fps"], size=entry.data["size"],
        eval_views=eval_views(entry), seed=entry.seed,
        device=device_name(entry.trainer.get("accelerator", "auto")),
        dtype=precision_dtype(entry.trainer.get("precision")), versions=versions(), git_sha=git_sha(),
        config_hash=entry.config_hash, **fields,
    )


def dataset_fingerprint(datamodule: Any) -> dict[str, Any]:
    """The video count and the DataModule's hash of the classes and every split's file list and labels."""
    return {"videos": len(datamodule.info.videos()), "hash": datamodule.fingerprint}


def profile_options(entry: Entry) -> dict[str, Any]:
    """measure_throughput options: the sweep's, else the device and dtype the entry trained with."""
    import torch

    accelerator = entry.trainer.get("accelerator", "auto")
    on_gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    dtype = precision_dtype(entry.trainer.get("precision")).removesuffix("-mixed")
    return {"device": "cuda" if on_gpu else "cpu",
            "dtype": dtype if dtype in ("bfloat16", "float16") else "float32", **entry.profile}


def run_entry(entry: Entry, entry_dir: Path, wandb_mode: str | None) -> dict[str, Any]:
    """Profile, fit and test ``entry``; returns its results row. Raises whatever training raises."""
    from lightning.pytorch.loggers import CSVLogger

    from ..cli import fit_and_test
    from ..data import VideoDataModule
    from ..module import VideoClassifier
    from ..profiling import count_flops, measure_throughput, model_input_shape

    # Cost first (weights do not change it, and a model that cannot run fails before training): one clip of
    # the tested architecture, as VideoClassifier builds it for this data.
    data = VideoDataModule(**entry.data)
    frames, size = entry.data["frames"], entry.data["size"]
    net = VideoClassifier(**entry.model, num_classes=data.num_classes, multi_label=data.multi_label,
                          frames=frames, size=size).model
    clip = model_input_shape(entry.name, 1, frames, size)
    report = count_flops(net, clip, receptive_field=False)  # receptive fields: `lit-video profile --layers`
    speed = measure_throughput(net, clip, gmacs=report.gmacs, **profile_options(entry))
    views = eval_views(entry)

    loggers: list[Any] = [CSVLogger(str(entry_dir), name="logs")]
    if wandb_mode:
        logger = tracking.entry_logger(entry, wandb_mode, entry_dir.parents[1])
        tracking.log_cost(logger.experiment, report, speed, views)
        loggers.append(logger)
    result = fit_and_test(entry.model, entry.data, entry.trainer, entry.seed, entry_dir, loggers=loggers)
    metrics = result["metrics"]
    row = base_row(
        entry, dataset_fingerprint=dataset_fingerprint(data), params=report.params,
        gmacs_per_clip=report.gmacs, gmacs_per_video=report.gmacs * views,
        clip_top1=metrics.get("test/clip_top1"), clip_top5=metrics.get("test/clip_top5"),
        # Multi-label data reports hit@k, its top-k.
        video_top1=metrics.get("test/video_top1", metrics.get("test/video_hit1")),
        video_top5=metrics.get("test/video_top5", metrics.get("test/video_hit5")),
        mean_class_acc=metrics.get("test/mean_class_acc"),
        group_acc={k.removeprefix("test/group_acc/"): v for k, v in metrics.items()
                   if k.startswith("test/group_acc/")} or None,
        train_time_s=result["train_time_s"],
        **{k: speed[k] for k in ("infer_clips_per_s", "latency_ms_p50", "latency_ms_p95", "train_clips_per_s",
                                 "peak_mem_mb", "mfu")},
        status="ok", error=None,
    )
    # What the row summarises, in full, beside the entry's logs.
    details = {"resolved_config": result["config"], "metrics": metrics, "flops": report.to_dict(),
               "throughput": speed}
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
