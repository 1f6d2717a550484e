"""The HTML report's leaderboard charts in headless Chromium. They are inline SVG whose text stays text, so the
browser lays it out in its own font: no two of its boxes (getBoundingClientRect) may overlap either, for the
committed main job's board (17 lines) and for its first two lines. The pages are written to the test's temporary
folder, never over results/lecture."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import LECTURE, lecture_folder
from test_report_html import browser, open_page  # noqa: F401  (browser: a fixture, the system's Chromium)

from lit_video.report.html import write_html_report
from lit_video.results.folder import RESULTS_FILE, read_rows
from lit_video.results.leaderboard import leaderboard

pytestmark = pytest.mark.integration  # headless Chromium

# For each leaderboard chart of the page: how many texts it draws, and each pair of them whose boxes overlap.
OVERLAPS = """() => Object.fromEntries(Array.from(document.querySelectorAll("#charts figure")).map((figure) => {
    const texts = Array.from(figure.querySelectorAll("svg text")).filter((t) => t.textContent.trim())
        .map((t) => [t.textContent, t.getBoundingClientRect()]);
    const hits = [];
    texts.forEach(([a, p], i) => texts.slice(i + 1).forEach(([b, q]) => {
        if (p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom) hits.push([a, b]);
    }));
    return [figure.id, {texts: texts.length, hits}];
}))"""


def two_line_folder(folder: Path) -> Path:
    """A results folder holding the rows of the committed board's first two lines, and their leaderboard."""
    kept = {h for line in leaderboard(read_rows(LECTURE / RESULTS_FILE))[:2] for h in line["config_hashes"]}
    return lecture_folder(folder, lambda row: row["config_hash"] in kept, "two lines")


@pytest.mark.parametrize("lines", [17, 2])
def test_no_text_of_a_report_chart_overlaps_another(browser, tmp_path, lines):  # noqa: F811
    source = LECTURE if lines == 17 else two_line_folder(tmp_path / "two")
    page = write_html_report(source, tmp_path / "index.html")
    tab = open_page(browser, page)
    try:
        charts = tab.evaluate(OVERLAPS)
        assert set(charts) == {"chart-accuracy_vs_gmacs", "chart-throughput_vs_gmacs", "chart-group_accuracy"}
        for name, chart in charts.items():
            assert chart["texts"] >= 10 + lines // 2, name  # titles, ticks, legend and the points' names
            assert chart["hits"] == [], name
        assert tab.problems == []
    finally:
        tab.close()
