"""Sweep results rows: the schema of one row and the append-only ``results.jsonl`` that holds them.

The sweep's parent process alone appends, by rewriting the file atomically (``lit_video.files.write_atomic``), so
a sweep killed at any moment leaves the file as it was or complete, never truncated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..files import write_atomic

# The fields of one results row, in this order (DESIGN.md, "Results"); `variant` labels the model variant;
# `train_threads` is torch's threads during the fit (the speed columns are measured with the device's threads).
# Multi-stream models (two_stream) add each stream's GMACs (`stream_gmacs_per_clip`) and test accuracy
# (`stream_acc`: stream -> video_top1, group_acc), and models that take optical flow the milliseconds computing it
# takes per clip (`flow_ms_per_clip`), a cost the GMACs leave out. `data_clips_per_s` is the training loader's rate in
# the fit's process (below `train_clips_per_s`, the loader is the bottleneck); `memory_format` the layout the fit
# trained in (the speed columns' own is in details.json, `throughput.options`).
ROW_FIELDS = (
    "model", "variant", "family", "dataset", "dataset_fingerprint", "frames", "fps", "size", "eval_views", "seed",
    "params", "gmacs_per_clip", "gmacs_per_video", "stream_gmacs_per_clip", "flow_ms_per_clip", "clip_top1",
    "clip_top5", "video_top1", "video_top5", "mean_class_acc", "group_acc", "group_classes", "stream_acc",
    "train_time_s", "train_threads", "infer_clips_per_s", "latency_ms_p50", "latency_ms_p95", "train_clips_per_s",
    "data_clips_per_s", "peak_mem_mb", "mfu", "device", "dtype", "memory_format", "versions", "git_sha", "config_hash",
    "status", "error",
)
RESULTS_FILE = "results.jsonl"
# The statuses of an entry that is done (resume skips it): trained and tested, or profiled only (its config says so).
DONE_STATUSES = ("ok", "profiled")
# The fields measured by timing (and the layout chosen by timing), which differ from run to run of one entry.
TIMED_FIELDS = ("flow_ms_per_clip", "train_time_s", "infer_clips_per_s", "latency_ms_p50", "latency_ms_p95",
                "train_clips_per_s", "data_clips_per_s", "peak_mem_mb", "mfu", "memory_format")
# Where a shard (``--shard I/N``) or a cluster job writes its own rows, one file each, beside results.jsonl; merging
# (``merge.merge_rows``) brings them into results.jsonl.
ROWS_DIR = "rows"
# Each entry's own folder (logs, checkpoint, details.json, predictions.json) is ``RUNS_DIR/<config.entry_id>``.
RUNS_DIR = "runs"


def make_row(**fields: Any) -> dict[str, Any]:
    """A results row with exactly ROW_FIELDS (missing ones None); unknown fields are a programming error."""
    unknown = set(fields) - set(ROW_FIELDS)
    if unknown:
        raise KeyError(f"not results row fields: {sorted(unknown)}")
    return {k: fields.get(k) for k in ROW_FIELDS}


def variant_of(row: dict[str, Any]) -> str:
    """The row's model variant label (rows written before variants existed: the model's name)."""
    return str(row.get("variant") or row.get("model"))


def precision_dtype(precision: Any) -> str:
    """The compute dtype a Trainer ``precision`` setting means (``"bf16-mixed"`` -> ``bfloat16-mixed``)."""
    text = str(precision if precision is not None else "32-true")
    names = {"64": "float64", "32": "float32", "16": "float16", "bf16": "bfloat16",
             "transformer-engine": "fp8"}
    base, _, mode = text.partition("-")
    dtype = names.get(base, base)
    return f"{dtype}-mixed" if mode == "mixed" else dtype


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``results.jsonl`` (none if it does not exist). A torn last line, which only a copy made
    outside lit-video could leave, is skipped; a bad line elsewhere is an error naming the line."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):
                break
            raise ValueError(f"{path}: line {number} is not a JSON results row ({err})") from err
    return rows


def append_row(path: str | Path, row: dict[str, Any]) -> None:
    """Append one row to ``results.jsonl`` by rewriting the file atomically (it holds one line per entry)."""
    rows = [*read_rows(path), row]
    write_atomic(path, "".join(json.dumps(r, default=str) + "\n" for r in rows))


def latest_rows(rows: Iterable[dict[str, Any]], hashes: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The last row of each config hash (a rerun replaces a failed try), restricted to ``hashes`` if given."""
    latest = {row["config_hash"]: row for row in rows}
    if hashes is not None:
        keep = set(hashes)
        latest = {h: r for h, r in latest.items() if h in keep}
    return list(latest.values())


def row_files(out_dir: str | Path) -> list[Path]:
    """A sweep's row files: ``results.jsonl`` and each shard's or cluster job's file in ``rows/``."""
    out_dir = Path(out_dir)
    return [out_dir / RESULTS_FILE, *sorted((out_dir / ROWS_DIR).glob("*.jsonl"))]


def done_hashes(out_dir: str | Path) -> set[str]:
    """The config hashes with an ``ok`` (or ``profiled``) row in any of the sweep's row files: what resume skips."""
    return {row["config_hash"] for path in row_files(out_dir) for row in read_rows(path)
            if row.get("status") in DONE_STATUSES}
