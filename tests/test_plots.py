"""The leaderboard's charts as a reader sees them: no text on another, plain numbers on log axes, whiskers cut at the
axis with the cut shown, and the same fonts at 2 models as at 20. The boards are the committed main job's
(results/lecture/results.jsonl through the project's own ``leaderboard``) and its first two lines."""

from __future__ import annotations

import os
from itertools import combinations
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Text

from lit_video.data.synthetic import CLASSES
from lit_video.report.html import Section, Seed, confusion_chart
from lit_video.results.folder import read_rows
from lit_video.results.leaderboard import leaderboard
from lit_video.results.plots import LABEL_SIZE, label_points, leaderboard_charts, svg

LECTURE = Path(__file__).resolve().parents[1] / "results" / "lecture" / "results.jsonl"


@pytest.fixture(scope="module")
def lecture_board() -> list[dict]:
    return leaderboard(read_rows(LECTURE))


def drawn_texts(fig) -> list[tuple[str, object]]:
    """Every text the figure draws, with its box in display pixels: title, axis labels, the tick labels in view,
    legend entries, point names."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ticks, shown = set(), []
    for ax in fig.axes:
        for axis, view, along in ((ax.xaxis, ax.get_xlim(), 0), (ax.yaxis, ax.get_ylim(), 1)):
            ticks |= {id(label) for tick in axis.majorTicks + axis.minorTicks for label in (tick.label1, tick.label2)}
            low, high = sorted(view)
            shown += [label for label in axis.get_ticklabels(which="both")
                      if low <= label.get_position()[along] <= high]
    texts = shown + [t for t in fig.findobj(Text) if id(t) not in ticks]
    # Text's own box: an annotation's get_window_extent adds its leader line, which may pass near other names.
    return [(t.get_text(), Text.get_window_extent(t, renderer)) for t in texts
            if t.get_visible() and t.get_text().strip()]


def overlapping(fig) -> list[tuple[str, str]]:
    texts = drawn_texts(fig)
    return [(a, b) for (a, box_a), (b, box_b) in combinations(texts, 2) if box_a.overlaps(box_b)]


@pytest.mark.integration  # builds and draws the three charts of a 17-line board: about 3 s on 2 cores
def test_no_text_of_a_chart_overlaps_another_at_17_lines_or_2(lecture_board):
    for board in (lecture_board, lecture_board[:2]):
        charts = leaderboard_charts(board)
        assert [chart.name for chart in charts] == ["accuracy_vs_gmacs", "throughput_vs_gmacs", "group_accuracy"]
        for chart in charts:
            texts = [text for text, _ in drawn_texts(chart.fig)]
            assert overlapping(chart.fig) == [], chart.name
            if chart.name != "group_accuracy":  # every point named, once (a point's tooltip starts with its name)
                assert all(texts.count(tip.split(" (")[0]) == 1 for tip in chart.tooltips.values())
            plt.close(chart.fig)


@pytest.mark.integration  # as above
def test_log_axes_read_as_plain_numbers_and_fonts_do_not_depend_on_the_models(lecture_board):
    sizes = {}
    for board in (lecture_board, lecture_board[:2]):
        for chart in leaderboard_charts(board):
            ax = chart.fig.axes[0]
            for axis in (ax.xaxis, ax.yaxis):
                if axis.get_scale() == "log":
                    chart.fig.canvas.draw()
                    labels = [label.get_text() for label in axis.get_ticklabels(which="major") if label.get_text()]
                    assert len(labels) >= 2 and all(float(text) > 0 for text in labels), labels  # 0.02, not 2×10⁻²
                    assert not any(label.get_text() for label in axis.get_ticklabels(which="minor"))
            fonts = sorted({t.get_fontsize() for t in chart.fig.findobj(Text) if t.get_text().strip()})
            sizes.setdefault(chart.name, []).append((tuple(chart.fig.get_size_inches()), fonts))
            plt.close(chart.fig)
    for name, (many, two) in sizes.items():
        assert many == two, name  # the same figure and fonts: the report scales both alike


def test_whiskers_stop_at_100_percent_and_each_cut_is_marked(lecture_board):
    ok = [line for line in lecture_board if line["status"] == "ok"]
    cut = sum(mean + (line.get("group_acc_std") or {}).get(group, 0.0) > 1
              for line in ok for group, mean in line["group_acc"].items())
    assert cut > 0  # the committed board has whiskers past 100 % (the case this checks)
    chart = next(c for c in leaderboard_charts(ok) if c.name == "group_accuracy")
    ax = chart.fig.axes[0]
    whiskers = [y for collection in ax.collections for segment in collection.get_segments() for _, y in segment]
    assert whiskers and 0 <= min(whiskers) and max(whiskers) <= 100
    marks = [line for line in ax.lines if line.get_marker() == "^"]
    assert len(marks) == 1 and list(marks[0].get_ydata()) == [100.0] * cut
    assert "± std cut at 100 %" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(chart.fig)


def test_names_of_a_crowd_of_points_do_not_overlap():
    """Twelve points within a few pixels of each other, and one far away: every name finds a place of its own."""
    fig = plt.figure(figsize=(8, 5.5))
    ax = fig.add_subplot()
    points = [(1.0 + 0.01 * i, 1.0 + 0.01 * (i % 3)) for i in range(12)] + [(3.0, 3.0)]
    ax.scatter(*zip(*points, strict=True), s=40)
    ax.set(xlim=(0, 4), ylim=(0, 4))
    label_points(ax, points, [f"model_number_{i}" for i in range(len(points))], 40)
    assert overlapping(fig) == []
    names = [t for t in ax.texts if t.get_text().startswith("model_number_")]
    assert len(names) == len(points) and all(t.get_fontsize() == LABEL_SIZE for t in names)
    lone = next(t for t in names if t.get_text() == "model_number_12")
    assert lone.arrow_patch is None  # alone: beside its point, no leader line
    plt.close(fig)


def test_a_confusion_matrix_text_overlaps_no_other(tmp_path):
    """The report's confusion matrix of the synthetic classes, summed over three seeds as the main job's page has
    them, with the colour bar's top label at its very top (30 videos): on one line, the title ran over it."""
    def predictions(shift: int) -> dict:  # each class's 12 test videos: 10 right, 2 taken for another class
        return {"classes": CLASSES, "videos": [{"label": c, "top": [c if v < 10 else (c + shift) % len(CLASSES)]}
                                               for c in range(len(CLASSES)) for v in range(12)]}

    seeds = [Seed({"seed": s}, tmp_path, predictions=predictions(s + 1)) for s in range(3)]
    chart = confusion_chart(Section("line-x", {"variant": "x"}, seeds))
    texts = [text for text, _ in drawn_texts(chart.fig)]
    assert "30" in texts and any(f"{30 * len(CLASSES)}/{36 * len(CLASSES)} on the diagonal" in t for t in texts)
    assert overlapping(chart.fig) == []
    plt.close(chart.fig)


def test_names_from_folders_that_are_not_utf8_are_drawn_with_a_replacement_character(lecture_board, tmp_path):
    """A class folder's or a dataset root's name that is not UTF-8 (os.fsdecode keeps its bytes as surrogates,
    which matplotlib cannot draw): each chart names it with U+FFFD in their place."""
    name = os.fsdecode(b"caf\xe9")
    board = [{**line, "variant": f"{line['variant']} {name}", "dataset": name} for line in lecture_board[:2]]
    predictions = {"classes": [name, "solid"], "videos": [{"label": 0, "top": [0]}, {"label": 1, "top": [0]}]}
    charts = [*leaderboard_charts(board), confusion_chart(Section("line-x", {}, [Seed({}, tmp_path,
                                                                                        predictions=predictions)]))]
    for chart in charts:
        page = svg(chart)
        assert "caf\ufffd" in page and name not in page, chart.name
