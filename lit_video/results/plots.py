"""Leaderboard charts (matplotlib, Agg backend): accuracy vs compute with its Pareto front, throughput vs compute,
per-group accuracy. Each is built once (``leaderboard_charts``) and written as a PNG beside the tables
(``write_plots``) or as SVG into the HTML report (``svg``), where hovering a point names its model.

Made to be read at any number of models: each figure has a fixed size, so its fonts do not shrink or grow with
the models (the report scales a chart to its column); point names are placed where they overlap nothing
(``label_points``); legends sit outside the axes; log axes print plain numbers (``plain_log_ticks``); whiskers stop
at the axis, and show where they were cut."""

from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, and safe in a child process or CI
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from ..files import display_name, write_atomic  # noqa: E402
from .schema import DONE_STATUSES  # noqa: E402

SVG_NS = "http://www.w3.org/2000/svg"
# Font sizes (points), the same in every chart whatever the number of models.
LABEL_SIZE, LEGEND_SIZE = 8, 9
MARKER_SIZE = 40  # a scatter's points, in points²
# Legends go outside the axes, where they hide no point, bar or name: a scatter's below its x label, in a row (at the
# right, a long entry narrowed the plot, and the report showed it smaller than its neighbour); the bars' at the
# right, a column in the bars' order.
LEGEND_BELOW = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.13), "fontsize": LEGEND_SIZE, "frameon": False}
LEGEND_RIGHT = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "fontsize": LEGEND_SIZE}


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
    """``n`` colours, all different up to 20; beyond 20 they repeat. tab20's ten strong colours (tab10's) come
    first, then its ten light ones: taken in tab20's order, neighbouring bars were a colour and its own light shade,
    which read as one."""
    colours = plt.get_cmap("tab20").colors
    palette = colours[0::2] + colours[1::2]
    return [palette[i % len(palette)] for i in range(n)]


def plain_log_ticks(axis: Any) -> None:
    """Label a log axis with plain numbers (0.02, 500), not powers of ten (2×10⁻², whose minor labels ran
    together). Ticks at 1, 2, 3 and 5 times each power of ten over up to 1.5 decades, at 1, 2 and 5 over up to 3,
    and at the powers beyond; under one decade, at round steps (five at most: their labels are longer). Minor
    ticks stay, unlabelled, for the grid. Call it once the axis' limits are set."""
    low, high = sorted(axis.get_view_interval())
    decades = math.log10(high / low)
    if decades < 1:
        axis.set_major_locator(MaxNLocator(nbins=5))
    else:
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0) if decades <= 1.5 else
                                          (1.0, 2.0, 5.0) if decades <= 3 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


Segment = tuple[tuple[float, float], tuple[float, float]]


def _crosses(box: Bbox, segment: Segment) -> bool:
    """Whether the segment meets ``box``: what is left of it once clipped to each side in turn (Liang-Barsky)."""
    (x0, y0), (x1, y1) = segment
    low, high = 0.0, 1.0  # the part of the segment, as fractions of it, still inside
    for step, room in ((x0 - x1, x0 - box.x0), (x1 - x0, box.x1 - x0), (y0 - y1, y0 - box.y0), (y1 - y0, box.y1 - y0)):
        if step == 0:
            if room < 0:  # parallel to this side, and outside it
                return False
        elif step < 0:
            low = max(low, room / step)
        else:
            high = min(high, room / step)
    return low <= high


def _intersect(a: Segment, b: Segment) -> bool:
    """Whether two segments cross (each one's ends on either side of the other)."""
    def side(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    return side(*a, b[0]) * side(*a, b[1]) < 0 and side(*b, a[0]) * side(*b, a[1]) < 0


NEAR = 2.0  # points between a name beside its point and the marker's edge
RINGS = (14, 24, 36, 52, 72, 96, 126, 160, 200)  # the distances (points) of the names joined by a leader line


def _places(away: float) -> list[tuple[float, float]]:
    """Where a point's name may go, nearest first, as (distance from the marker's edge in points, direction in
    degrees): beside the point (right, left, above, below, then the diagonals), then on growing rings, each tried
    in the directions nearest ``away`` first (away from the point's neighbours: names fan out of a crowd)."""
    def turn(angle: float) -> float:
        return abs((angle - away + 180) % 360 - 180)
    return ([(NEAR, angle) for angle in (0, 180, 90, 270, 45, 135, 315, 225)]
            + [(radius, angle) for radius in RINGS for angle in sorted(range(0, 360, 15), key=turn)])


def label_points(ax: Any, points: list[tuple[float, float]], names: list[str], marker_size: float,
                 lines: list[list[tuple[float, float]]] = ()) -> None:
    """Write each point's name inside the axes where it overlaps no other name, no point, no leader line and no
    line of ``lines`` (data coordinates). Greedy and deterministic: the most crowded points first (they have the
    fewest free places; ties in the order given), each takes the first free place of ``_places``. A leader line may
    cross another leader, then a name, only where no place is left without; a point left with no free place at all
    gets its name beside it all the same. ``marker_size`` is the scatter's ``s`` (points²). Call it once the
    axes' limits are final: the places are worked out in display coordinates and written as offsets in points, so
    the PNG and the SVG (other resolutions) place them the same."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    pixels = fig.dpi / 72  # per point
    pad = 2 * pixels  # between boxes: room for a browser's font a little wider than matplotlib's
    frame = ax.get_window_extent()
    centres = [tuple(xy) for xy in ax.transData.transform(points)]
    radius = math.sqrt(marker_size) / 2  # points
    reach = radius * pixels + pad
    markers = [Bbox.from_extents(x - reach, y - reach, x + reach, y + reach) for x, y in centres]
    strokes: list[Segment] = []  # what no name may cross: the lines, then the leaders
    for line in lines:
        drawn = [tuple(xy) for xy in ax.transData.transform(line)]
        strokes += list(zip(drawn, drawn[1:], strict=False))
    labels: list[Bbox] = []
    leaders: list[Segment] = []

    def free(box: Bbox, leader: Segment | None, others: list[Bbox], leniency: int) -> bool:
        return (frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
                and not any(box.overlaps(other) for other in others)
                and not any(_crosses(box, stroke) for stroke in strokes)
                and not (leader and leniency < 1 and any(_intersect(leader, other) for other in leaders))
                and not (leader and leniency < 2 and any(_crosses(label, leader) for label in labels)))

    def neighbours(i: int) -> list[tuple[float, float]]:
        return [c for j, c in enumerate(centres) if j != i and math.dist(c, centres[i]) < RINGS[-1] / 2 * pixels]

    for i in sorted(range(len(points)), key=lambda i: -len(neighbours(i))):
        (x, y), crowd = centres[i], neighbours(i)
        away = math.degrees(math.atan2(y - sum(c[1] for c in crowd) / len(crowd),
                                       x - sum(c[0] for c in crowd) / len(crowd))) if crowd else 0.0
        others = markers[:i] + markers[i + 1:] + labels  # its own marker: the name may come as close as NEAR
        measure = Text(text=names[i], fontsize=LABEL_SIZE)
        measure.set_figure(fig)
        width, height = measure.get_window_extent(renderer).size
        tries = [(leniency, place) for leniency in range(3) for place in _places(away)]
        for leniency, (distance, angle) in [*tries, (2, (NEAR, 0))]:  # the last: beside it all the same
            dx, dy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            # The box's edge or corner that faces the point (0: left/bottom, 1: right/top), ``distance`` from it.
            fx = 0.0 if dx > 0.3 else 1.0 if dx < -0.3 else 0.5
            fy = 0.0 if dy > 0.3 else 1.0 if dy < -0.3 else 0.5
            offset = (dx * (radius + distance), dy * (radius + distance))  # points
            anchor = (x + offset[0] * pixels, y + offset[1] * pixels)
            box = Bbox.from_bounds(anchor[0] - fx * width, anchor[1] - fy * height, width, height).padded(pad)
            leader = ((x, y), anchor) if distance > NEAR else None
            if free(box, leader, others, leniency):
                break
        ax.annotate(names[i], points[i], xytext=offset, textcoords="offset points", fontsize=LABEL_SIZE,
                    ha=("left", "center", "right")[int(2 * fx)], va=("bottom", "center", "top")[int(2 * fy)],
                    arrowprops=leader and {"arrowstyle": "-", "linewidth": 0.5, "color": "0.45", "shrinkA": 0,
                                           "shrinkB": 2, "relpos": (fx, fy)})
        labels.append(box)
        if leader:
            leaders.append(leader)
            strokes.append(leader)


def _tip(line: dict[str, Any], x: str, y: str, scale_y: float) -> str:
    return f"{line['variant']} ({line['dataset']}): {x} {line[x]:.4g}, {y} {line[y] * scale_y:.4g}"


def _scatter(name: str, board: list[dict[str, Any]], x: str, y: str, xlabel: str, ylabel: str, title: str,
             scale_y: float = 1.0, log_y: bool = False, front: bool = False) -> Chart | None:
    """One point per leaderboard line, named beside it (``label_points``), one colour per dataset; x on a log scale.
    With ``front``, each dataset's Pareto front (highest y for the x) is drawn as a dashed staircase."""
    points = [line for line in board if line.get(x) and line.get(y) is not None]
    if not points:
        return None
    chart = Chart(name, plt.figure(figsize=(8, 5.5)))
    ax = chart.fig.add_subplot()
    fronts = []  # each dataset's staircase, which no name may cross
    for colour, dataset in zip(model_colours(10), sorted({str(p["dataset"]) for p in points}), strict=False):
        mine = [p for p in points if str(p["dataset"]) == dataset]
        for i, p in enumerate(mine):  # one artist a point: each gets its own tooltip
            dot = ax.scatter([p[x]], [p[y] * scale_y], s=MARKER_SIZE, color=colour, label=dataset if i == 0 else None,
                             zorder=3)
            chart.mark(dot, _tip(p, x, y, scale_y))
        if front:
            best = [(p[x], p[y] * scale_y) for p in (mine[i] for i in pareto_front([(p[x], p[y]) for p in mine]))]
            ax.step(*zip(*best, strict=True), where="post", color=colour, linestyle="--", linewidth=1, alpha=0.7,
                    label=f"Pareto front ({dataset})")
            fronts.append([corner for (x0, y0), (x1, _) in zip(best, best[1:], strict=False)
                           for corner in ((x0, y0), (x1, y0))] + best[-1:])
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.margins(0.08)  # room for the names of the points at the edges
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.set(xlim=ax.get_xlim(), ylim=ax.get_ylim())  # final: the names are placed in display coordinates
    for axis in (ax.xaxis, ax.yaxis) if log_y else (ax.xaxis,):
        plain_log_ticks(axis)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(**LEGEND_BELOW, ncol=4)
    label_points(ax, [(p[x], p[y] * scale_y) for p in points], [p["variant"] for p in points], MARKER_SIZE, fronts)
    return chart


def _group_bars(name: str, board: list[dict[str, Any]]) -> Chart | None:
    """Per-group video accuracy, one bar per model in each group (e.g. the synthetic motion classes), left to right
    in the legend's order, top to bottom. A whisker (± std over seeds) stops at 0 or 100 %, and ends in a
    triangle where it was cut."""
    lines = [line for line in board if line.get("group_acc")]
    groups = sorted({g for line in lines for g in line["group_acc"]})
    if not groups:
        return None
    several = len({line["dataset"] for line in lines}) > 1
    labels = [f"{line['variant']} ({line['dataset']})" if several else line["variant"] for line in lines]
    width = 0.8 / len(lines)
    colours = model_colours(len(lines))
    # As wide as the report's page (the report shows it across both chart columns), at any number of models.
    chart = Chart(name, plt.figure(figsize=(16, 5)))
    ax = chart.fig.add_subplot()
    cut: dict[float, list[float]] = {100.0: [], 0.0: []}  # where a whisker was cut: the bars' x
    keys = []  # the legend: the models, then the cut whiskers' mark
    for i, (line, label) in enumerate(zip(lines, labels, strict=True)):
        xs = [g + (i - (len(lines) - 1) / 2) * width for g in range(len(groups))]
        stds = [(line.get("group_acc_std") or {}).get(g) for g in groups]  # over seeds; None with one seed
        means = [100 * (line["group_acc"].get(g) or 0.0) for g in groups]
        spreads = [100 * (std or 0.0) for std in stds]
        below = [min(spread, mean) for mean, spread in zip(means, spreads, strict=True)]
        above = [min(spread, 100 - mean) for mean, spread in zip(means, spreads, strict=True)]
        bars = ax.bar(xs, means, width, label=label, color=colours[i], yerr=[below, above],
                      error_kw={"elinewidth": 0.8, "capsize": 2})
        keys.append(bars)
        cut[100.0] += [x for x, mean, spread in zip(xs, means, spreads, strict=True) if mean + spread > 100]
        cut[0.0] += [x for x, mean, spread in zip(xs, means, spreads, strict=True) if mean - spread < 0]
        for bar, group, std in zip(bars, groups, stds, strict=True):
            acc = line["group_acc"].get(group)
            chart.mark(bar, f"{label} on {group}: " + ("no videos" if acc is None else f"{100 * acc:.1f} %")
                       + ("" if std is None else f" ± {100 * std:.1f}"))
    for edge, marker in ((100.0, "^"), (0.0, "v")):
        if cut[edge]:
            keys += ax.plot(cut[edge], [edge] * len(cut[edge]), linestyle="none", marker=marker, markersize=4,
                            color="black", clip_on=False, label=f"± std cut at {edge:g} %")
    ax.set_xticks(range(len(groups)), groups)
    ax.set(ylabel="video top-1 within the group (%)", ylim=(0, 105), xlim=(-0.5, len(groups) - 0.5),
           title="Accuracy per class group (bars: mean over seeds; whiskers: ± std)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(handles=keys, **LEGEND_RIGHT, ncol=math.ceil(len(keys) / 15))
    return chart


def leaderboard_charts(board: list[dict[str, Any]]) -> list[Chart]:
    """The leaderboard's charts, each named as its PNG file (those with nothing to show left out)."""
    # The names the charts draw as text; a dataset's is its root folder's, which may not be UTF-8.
    board = [{**line, **{key: display_name(line[key]) for key in ("variant", "dataset") if isinstance(line[key], str)}}
             for line in board]
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
    root.set("aria-label", " / ".join(ax.get_title().replace("\n", " ") for ax in chart.fig.axes if ax.get_title())
             or chart.name)
    root.set("class", "chart")
    return ET.tostring(root, encoding="unicode")
