"""Leaderboard plots (PNG, matplotlib's Agg backend): accuracy and speed vs compute, per-group accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, and safe in a child process or CI
import matplotlib.pyplot as plt  # noqa: E402

from ..files import write_atomic  # noqa: E402
from .rows import DONE_STATUSES  # noqa: E402


def _save(fig: Any, path: Path) -> None:
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))
    plt.close(fig)


def _scatter(board: list[dict[str, Any]], x: str, y: str, xlabel: str, ylabel: str, title: str,
             path: Path, scale_y: float = 1.0, log_y: bool = False) -> Path | None:
    """One point per leaderboard line, labelled with the model, one colour per dataset; x on a log scale."""
    points = [line for line in board if line.get(x) and line.get(y) is not None]
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for dataset in sorted({p["dataset"] for p in points}):
        mine = [p for p in points if p["dataset"] == dataset]
        ax.scatter([p[x] for p in mine], [p[y] * scale_y for p in mine], label=str(dataset), s=40)
        for p in mine:
            ax.annotate(p["variant"], (p[x], p[y] * scale_y), fontsize=7, xytext=(4, 3),
                        textcoords="offset points")
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title="dataset", fontsize=8)
    _save(fig, path)
    return path


def model_colours(n: int) -> list[tuple[float, ...]]:
    """``n`` colours, all different up to 20: matplotlib's default cycle repeats after 10 (two models shared a
    colour in a 12-model chart), so more than 10 take tab20's; beyond 20 they repeat."""
    palette = plt.get_cmap("tab10" if n <= 10 else "tab20").colors
    return [palette[i % len(palette)] for i in range(n)]


def _group_bars(board: list[dict[str, Any]], path: Path) -> Path | None:
    """Per-group video accuracy, one bar per model in each group (e.g. the synthetic motion classes)."""
    lines = [line for line in board if line.get("group_acc")]
    groups = sorted({g for line in lines for g in line["group_acc"]})
    if not groups:
        return None
    several = len({line["dataset"] for line in lines}) > 1
    labels = [f"{line['variant']} ({line['dataset']})" if several else line["variant"] for line in lines]
    width = 0.8 / len(lines)
    colours = model_colours(len(lines))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.4 * len(groups) * len(lines)), 5))
    for i, (line, label) in enumerate(zip(lines, labels, strict=True)):
        xs = [g + (i - (len(lines) - 1) / 2) * width for g in range(len(groups))]
        stds = [(line.get("group_acc_std") or {}).get(g) for g in groups]  # over seeds; None with one seed
        ax.bar(xs, [100 * (line["group_acc"].get(g) or 0.0) for g in groups], width, label=label,
               color=colours[i], yerr=[100 * (s or 0.0) for s in stds],
               error_kw={"elinewidth": 0.8, "capsize": 2})
    ax.set_xticks(range(len(groups)), groups)
    ax.set(ylabel="video top-1 within the group (%)", ylim=(0, 105),
           title="Accuracy per class group (bars: mean over seeds; whiskers: ± std)")
    ax.grid(True, axis="y", alpha=0.3)
    # Below the axes: inside, it hid the bars of the last group.
    ax.legend(fontsize=7, ncol=min(len(lines), 4), loc="upper center", bbox_to_anchor=(0.5, -0.08))
    _save(fig, path)
    return path


def write_plots(out_dir: str | Path, board: list[dict[str, Any]]) -> list[Path]:
    """Write the leaderboard's PNG plots into ``out_dir``; returns the files written."""
    out_dir = Path(out_dir)
    ok = [line for line in board if line["status"] == "ok"]
    costed = [line for line in board if line["status"] in DONE_STATUSES]
    written = [
        _scatter(ok, "gmacs_per_video", "video_top1", "GMACs per video (all eval views, log scale)",
                 "video top-1 (%)", "Accuracy vs compute", out_dir / "accuracy_vs_gmacs.png", scale_y=100),
        _scatter(costed, "gmacs_per_clip", "infer_clips_per_s", "GMACs per clip (log scale)",
                 "inference clips/s (log scale)", "Inference throughput vs compute",
                 out_dir / "throughput_vs_gmacs.png", log_y=True),
        _group_bars(ok, out_dir / "group_accuracy.png"),
    ]
    return [path for path in written if path is not None]
