"""Leaderboard charts (matplotlib, Agg backend): accuracy vs compute with its Pareto front, throughput vs compute,
per-group accuracy. Each is built once (``leaderboard_charts``) and written as a PNG beside the tables
(``write_plots``) or as SVG into the HTML report (``svg``), where hovering a point names its model."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, and safe in a child process or CI
import matplotlib.pyplot as plt  # noqa: E402

from ..files import write_atomic  # noqa: E402
from .schema import DONE_STATUSES  # noqa: E402

SVG_NS = "http://www.w3.org/2000/svg"


@dataclass
class Chart:
    """A figure and the tooltip of each of its marked artists (``gid`` -> text), shown on hover in SVG."""

    name: str
    fig: Any
    tooltips: dict[str, str] = field(default_factory=dict)

    def mark(self, artist: Any, text: str) -> None:
        gid = f"{self.name}-{len(self.tooltips)}"
        artist.set_gid(gid)
        self.tooltips[gid] = text


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: none has less or equal cost (x) and more or equal accuracy (y),
    one of them strictly. Ordered by cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:  # better than everything as cheap or cheaper
            front.append(i)
            best = points[i][1]
    return front


def model_colours(n: int) -> list[tuple[float, ...]]:
    """``n`` colours, all different up to 20: matplotlib's default cycle repeats after 10 (two models shared a
    colour in a 12-model chart), so more than 10 take tab20's; beyond 20 they repeat."""
    palette = plt.get_cmap("tab10" if n <= 10 else "tab20").colors
    return [palette[i % len(palette)] for i in range(n)]


def _tip(line: dict[str, Any], x: str, y: str, scale_y: float) -> str:
    return f"{line['variant']} ({line['dataset']}): {x} {line[x]:.4g}, {y} {line[y] * scale_y:.4g}"


def _scatter(name: str, board: list[dict[str, Any]], x: str, y: str, xlabel: str, ylabel: str, title: str,
             scale_y: float = 1.0, log_y: bool = False, front: bool = False) -> Chart | None:
    """One point per leaderboard line, labelled with the model, one colour per dataset; x on a log scale. With
    ``front``, each dataset's Pareto front (highest y for the x) is drawn as a dashed staircase."""
    points = [line for line in board if line.get(x) and line.get(y) is not None]
    if not points:
        return None
    chart = Chart(name, plt.figure(figsize=(8, 5.5)))
    ax = chart.fig.add_subplot()
    for colour, dataset in zip(model_colours(10), sorted({str(p["dataset"]) for p in points}), strict=False):
        mine = [p for p in points if str(p["dataset"]) == dataset]
        for i, p in enumerate(mine):  # one artist a point: each gets its own tooltip
            dot = ax.scatter([p[x]], [p[y] * scale_y], s=40, color=colour, label=dataset if i == 0 else None)
            chart.mark(dot, _tip(p, x, y, scale_y))
            ax.annotate(p["variant"], (p[x], p[y] * scale_y), fontsize=7, xytext=(4, 3), textcoords="offset points")
        if front:
            best = [mine[i] for i in pareto_front([(p[x], p[y]) for p in mine])]
            ax.step([p[x] for p in best], [p[y] * scale_y for p in best], where="post", color=colour,
                    linestyle="--", linewidth=1, alpha=0.7, label=f"Pareto front ({dataset})")
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return chart


def _group_bars(name: str, board: list[dict[str, Any]]) -> Chart | None:
    """Per-group video accuracy, one bar per model in each group (e.g. the synthetic motion classes)."""
    lines = [line for line in board if line.get("group_acc")]
    groups = sorted({g for line in lines for g in line["group_acc"]})
    if not groups:
        return None
    several = len({line["dataset"] for line in lines}) > 1
    labels = [f"{line['variant']} ({line['dataset']})" if several else line["variant"] for line in lines]
    width = 0.8 / len(lines)
    colours = model_colours(len(lines))
    chart = Chart(name, plt.figure(figsize=(max(6.0, 0.4 * len(groups) * len(lines)), 5)))
    ax = chart.fig.add_subplot()
    for i, (line, label) in enumerate(zip(lines, labels, strict=True)):
        xs = [g + (i - (len(lines) - 1) / 2) * width for g in range(len(groups))]
        stds = [(line.get("group_acc_std") or {}).get(g) for g in groups]  # over seeds; None with one seed
        bars = ax.bar(xs, [100 * (line["group_acc"].get(g) or 0.0) for g in groups], width, label=label,
                      color=colours[i], yerr=[100 * (s or 0.0) for s in stds],
                      error_kw={"elinewidth": 0.8, "capsize": 2})
        for bar, group, std in zip(bars, groups, stds, strict=True):
            acc = line["group_acc"].get(group)
            chart.mark(bar, f"{label} on {group}: " + ("no videos" if acc is None else f"{100 * acc:.1f} %")
                       + ("" if std is None else f" ± {100 * std:.1f}"))
    ax.set_xticks(range(len(groups)), groups)
    ax.set(ylabel="video top-1 within the group (%)", ylim=(0, 105),
           title="Accuracy per class group (bars: mean over seeds; whiskers: ± std)")
    ax.grid(True, axis="y", alpha=0.3)
    # Below the axes: inside, it hid the bars of the last group.
    ax.legend(fontsize=7, ncol=min(len(lines), 4), loc="upper center", bbox_to_anchor=(0.5, -0.08))
    return chart


def leaderboard_charts(board: list[dict[str, Any]]) -> list[Chart]:
    """The leaderboard's charts, each named as its PNG file (those with nothing to show left out)."""
    ok = [line for line in board if line["status"] == "ok"]
    costed = [line for line in board if line["status"] in DONE_STATUSES]
    charts = [
        _scatter("accuracy_vs_gmacs", ok, "gmacs_per_video", "video_top1",
                 "GMACs per video (all eval views, log scale)", "video top-1 (%)",
                 "Accuracy vs compute (dashed: the Pareto front)", scale_y=100, front=True),
        _scatter("throughput_vs_gmacs", costed, "gmacs_per_clip", "infer_clips_per_s", "GMACs per clip (log scale)",
                 "inference clips/s (log scale)", "Inference throughput vs compute", log_y=True),
        _group_bars("group_accuracy", ok),
    ]
    return [chart for chart in charts if chart is not None]


def write_plots(out_dir: str | Path, board: list[dict[str, Any]]) -> list[Path]:
    """Write the leaderboard's PNG charts into ``out_dir``; returns the files written."""
    written = []
    for chart in leaderboard_charts(board):
        path = Path(out_dir) / f"{chart.name}.png"
        write_atomic(path, lambda tmp, fig=chart.fig: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))
        plt.close(chart.fig)
        written.append(path)
    return written


def svg(chart: Chart) -> str:
    """The chart as an SVG element to inline in HTML (the figure is closed): text as text (no glyph outlines),
    scalable to its container, each marked artist with a ``<title>`` (the browser's tooltip), and no ids but those
    referenced inside it and the marks', so that several charts share one page. Deterministic: the ids matplotlib
    hashes are salted with the chart's name, and no date is written."""
    # One font named, not matplotlib's list of fallbacks on every text (a third of a chart's bytes).
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": chart.name,
                                "font.sans-serif": ["DejaVu Sans", "Arial"]}):
        buffer = io.StringIO()
        chart.fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(chart.fig)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    text = buffer.getvalue()
    root = ET.fromstring(text)
    for metadata in root.findall(f"{{{SVG_NS}}}metadata"):  # matplotlib's RDF stamp: not needed inline
        root.remove(metadata)
    referenced = set(re.findall(r"#([^\s\"')]+)", text))
    for element in root.iter():
        for part in ("text", "tail"):  # the indentation between elements: a fifth of the bytes
            if getattr(element, part) is not None and not getattr(element, part).strip():
                setattr(element, part, None)
        gid = element.get("id")
        if gid in chart.tooltips:
            title = ET.Element(f"{{{SVG_NS}}}title")
            title.text = chart.tooltips[gid]
            element.insert(0, title)
        elif gid is not None and gid not in referenced:
            del element.attrib["id"]  # matplotlib's figure_1, axes_1, ...: the same in every chart
    for size in ("width", "height"):  # the viewBox keeps the proportions; CSS sets the width
        root.attrib.pop(size, None)
    root.set("role", "img")
    root.set("aria-label", " / ".join(ax.get_title() for ax in chart.fig.axes if ax.get_title()) or chart.name)
    root.set("class", "chart")
    return ET.tostring(root, encoding="unicode")
