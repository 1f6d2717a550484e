"""Sweep results: the row schema, the machine stamp, the append-only ``results.jsonl`` and the leaderboards.

Every file is written atomically (a temporary file in the same folder, then ``os.replace``), so a sweep killed
at any moment leaves each file either as it was or complete, never truncated.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# The fields of one results row, in this order (DESIGN.md, "Results").
ROW_FIELDS = (
    "model", "family", "dataset", "dataset_fingerprint", "frames", "fps", "size", "eval_views", "seed",
    "params", "gmacs_per_clip", "gmacs_per_video", "clip_top1", "clip_top5", "video_top1", "video_top5",
    "mean_class_acc", "group_acc", "train_time_s", "infer_clips_per_s", "latency_ms_p50", "latency_ms_p95",
    "train_clips_per_s", "peak_mem_mb", "mfu", "device", "dtype", "versions", "git_sha", "config_hash",
    "status", "error",
)
# Leaderboard figures averaged over seeds; the accuracies also get a standard deviation.
ACCURACY = ("video_top1", "video_top5", "clip_top1", "clip_top5", "mean_class_acc")
COST = ("params", "gmacs_per_clip", "gmacs_per_video", "infer_clips_per_s", "latency_ms_p50",
        "latency_ms_p95", "train_clips_per_s", "peak_mem_mb", "mfu", "train_time_s")
# One leaderboard line per (dataset, model, clip shape, eval views): the seeds of an entry are averaged.
GROUP_KEY = ("dataset", "model", "frames", "size", "fps", "eval_views")
RESULTS_FILE = "results.jsonl"
# Temporary files of atomic writes; a killed sweep may leave some, the next one removes them.
TEMP_PREFIX = ".tmp-"


def make_row(**fields: Any) -> dict[str, Any]:
    """A results row with exactly ROW_FIELDS (missing ones None); unknown fields are a programming error."""
    unknown = set(fields) - set(ROW_FIELDS)
    if unknown:
        raise KeyError(f"not results row fields: {sorted(unknown)}")
    return {k: fields.get(k) for k in ROW_FIELDS}


# ----------------------------------------------------------------------------------------------- the stamp
def git_sha(repo: str | Path | None = None) -> str | None:
    """The commit of the lit-video checkout (``-dirty`` when tracked files differ), or None outside git."""
    repo = Path(repo) if repo else Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(accelerator: str = "auto") -> str:
    """What ran the entry: the GPU's name, or the CPU's with torch's thread count (speeds depend on both)."""
    import torch

    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {cpu_name()}, {torch.get_num_threads()} threads"


def versions() -> dict[str, Any]:
    import lightning
    import torch
    import torchvision

    import lit_video

    return {"lit_video": lit_video.__version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "lightning": lightning.__version__,
            "cuda": torch.version.cuda, "python": platform.python_version()}


def precision_dtype(precision: Any) -> str:
    """The compute dtype a Trainer ``precision`` setting means (``"bf16-mixed"`` -> ``bfloat16-mixed``)."""
    text = str(precision if precision is not None else "32-true")
    names = {"64": "float64", "32": "float32", "16": "float16", "bf16": "bfloat16",
             "transformer-engine": "fp8"}
    base, _, mode = text.partition("-")
    dtype = names.get(base, base)
    return f"{dtype}-mixed" if mode == "mixed" else dtype


# ------------------------------------------------------------------------------------------------- files
def write_atomic(path: str | Path, data: str | bytes | Callable[[Path], None]) -> None:
    """Replace ``path`` in one step: ``data`` (text, bytes, or a function that writes a given path) goes to a
    temporary file beside it, which is fsynced and renamed over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        if callable(data):
            data(Path(tmp))
        else:
            Path(tmp).write_bytes(data.encode() if isinstance(data, str) else data)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove_temporaries(folder: str | Path) -> None:
    """Delete what a killed writer left behind: its temporary files (the real files are intact)."""
    for path in Path(folder).glob(f"{TEMP_PREFIX}*"):
        path.unlink(missing_ok=True)


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


# ----------------------------------------------------------------------------------------- leaderboards
def latest_rows(rows: Iterable[dict[str, Any]], hashes: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The last row of each config hash (a rerun replaces a failed try), restricted to ``hashes`` if given."""
    latest = {row["config_hash"]: row for row in rows}
    if hashes is not None:
        keep = set(hashes)
        latest = {h: r for h, r in latest.items() if h in keep}
    return list(latest.values())


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.fmean(values) if values else None


def _std(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.stdev(values) if len(values) > 1 else None


def leaderboard(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (dataset, model, clip shape, eval views): ok seeds averaged, best video top-1 first.

    A line whose every seed failed stays on the board (ranked last) with its error, so a failure is seen.
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(k) for k in GROUP_KEY), []).append(row)
    board = []
    for key, members in groups.items():
        ok = [r for r in members if r.get("status") == "ok"]
        use = ok or members
        line: dict[str, Any] = dict(zip(GROUP_KEY, key, strict=True))
        line["family"] = use[-1].get("family")
        line["seeds"] = len(ok)
        for name in ACCURACY:
            line[name] = _mean([r.get(name) for r in ok])
            line[f"{name}_std"] = _std([r.get(name) for r in ok])
        for name in COST:
            line[name] = _mean([r.get(name) for r in ok])
        for unit in ("clip", "video"):  # gflops = 2 x gmacs (one multiply-accumulate is two operations)
            gmacs = line[f"gmacs_per_{unit}"]
            line[f"gflops_per_{unit}"] = None if gmacs is None else 2 * gmacs
        group_names = sorted({g for r in ok for g in (r.get("group_acc") or {})})
        line["group_acc"] = {g: _mean([(r.get("group_acc") or {}).get(g) for r in ok]) for g in group_names}
        line["device"] = use[-1].get("device")
        line["git_sha"] = use[-1].get("git_sha")
        line["dataset_fingerprint"] = use[-1].get("dataset_fingerprint")
        failed = [r for r in members if r.get("status") != "ok"]
        line["status"] = "ok" if ok else "failed"
        line["failed_seeds"] = [r.get("seed") for r in failed]
        line["error"] = failed[-1].get("error") if failed else None
        board.append(line)
    board.sort(key=lambda r: (str(r["dataset"]), r["video_top1"] is None, -(r["video_top1"] or 0.0),
                              r["model"]))
    ranks: dict[str, int] = {}
    for line in board:  # ranked within each dataset
        ranks[line["dataset"]] = line["rank"] = ranks.get(line["dataset"], 0) + 1
    return board


# Columns of leaderboard.csv / .md: (field, header, formatter for the Markdown table).
def _pct(v: Any) -> str:
    return "" if v is None else f"{100 * v:.1f}"


def _num(digits: int) -> Callable[[Any], str]:
    return lambda v: "" if v is None else f"{v:,.{digits}f}"


def _millions(v: Any) -> str:
    return "" if v is None else f"{v / 1e6:.2f}"


COLUMNS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("rank", "#", str), ("model", "model", str), ("family", "family", str), ("dataset", "dataset", str),
    ("frames", "frames", str), ("size", "size", str), ("fps", "fps", str), ("eval_views", "views", str),
    ("seeds", "seeds", str),
    ("video_top1", "video top-1 %", _pct), ("video_top1_std", "± (seeds)", _pct),
    ("video_top5", "video top-5 %", _pct), ("clip_top1", "clip top-1 %", _pct),
    ("mean_class_acc", "mean class acc %", _pct), ("params", "params (M)", _millions),
    ("gmacs_per_clip", "GMACs/clip", _num(3)), ("gflops_per_clip", "GFLOPs/clip", _num(3)),
    ("gmacs_per_video", "GMACs/video", _num(3)), ("gflops_per_video", "GFLOPs/video", _num(3)),
    ("infer_clips_per_s", "infer clips/s", _num(1)), ("latency_ms_p50", "latency p50 ms", _num(1)),
    ("latency_ms_p95", "latency p95 ms", _num(1)), ("train_clips_per_s", "train clips/s", _num(1)),
    ("peak_mem_mb", "peak mem MB", _num(0)), ("mfu", "MFU %", _pct), ("train_time_s", "train s", _num(0)),
    ("status", "status", str),
]


def _group_names(board: list[dict[str, Any]]) -> list[str]:
    return sorted({g for line in board for g in line.get("group_acc") or {}})


def to_csv(board: list[dict[str, Any]]) -> str:
    groups = _group_names(board)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    stamp = ["device", "git_sha", "error"]  # compare needs the device: speeds compare on one device only
    writer.writerow([field for field, _, _ in COLUMNS] + [f"group_acc/{g}" for g in groups] + stamp)
    for line in board:
        cells = [line.get(field) for field, _, _ in COLUMNS] + [line["group_acc"].get(g) for g in groups]
        writer.writerow(["" if v is None else v for v in cells + [line.get(k) for k in stamp]])
    return out.getvalue()


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(board: list[dict[str, Any]], title: str) -> str:
    from ..profiling.counting import COUNTER

    groups = _group_names(board)
    headers = [header for _, header, _ in COLUMNS if header != "status"] + [f"{g} %" for g in groups]
    lines = [f"# {title}", ""]
    devices = sorted({str(line["device"]) for line in board if line.get("device")})
    shas = sorted({str(line["git_sha"]) for line in board if line.get("git_sha")})
    lines += [f"Machine: {', '.join(devices) or 'unknown'}. "
              f"lit-video commit: {', '.join(shas) or 'unknown'}.",
              "Accuracies are video-level (softmax averaged over the eval views) unless marked clip; "
              f"GMACs = 10^9 multiply-accumulates counted by {COUNTER}, GFLOPs = 2 x GMACs; "
              "± is the standard deviation over seeds.", ""]
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for line in board:
        if line["status"] != "ok":
            continue
        cells = [fmt(line.get(field)) for field, header, fmt in COLUMNS if header != "status"]
        cells += [_pct(line["group_acc"].get(g)) for g in groups]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    failed = [line for line in board if line["failed_seeds"]]
    if failed:
        lines += ["", "## Failed entries", ""]
        for line in failed:
            seeds = ", ".join(str(s) for s in line["failed_seeds"])
            error = _md_cell(str(line["error"]))
            lines.append(f"- `{line['model']}` on {line['dataset']} (seed {seeds}): {error}")
    return "\n".join(lines) + "\n"


def write_leaderboards(out_dir: str | Path, rows: list[dict[str, Any]], title: str) -> list[dict[str, Any]]:
    """Regenerate leaderboard.csv/.md/.json from rows (each file replaced atomically); returns the board."""
    out_dir = Path(out_dir)
    board = leaderboard(rows)
    write_atomic(out_dir / "leaderboard.json", json.dumps(board, indent=2, default=str) + "\n")
    write_atomic(out_dir / "leaderboard.csv", to_csv(board))
    write_atomic(out_dir / "leaderboard.md", to_markdown(board, title))
    return board
