"""`lit-video report html`: the page a real sweep writes at its end, checked as HTML here and in headless Chromium.

The sweep is the test run's one finished sweep (conftest.py, ``finished_sweep``): two seeds of single_frame and
lecture_late_fusion trained on the tiny dataset, lecture_3d_cnn profiled only and a fourth model failed (a learning
rate that turns the loss into NaN), so that the page has every kind of line. The browser tests drive the system's
Chromium (Debian's ``chromium``) with Playwright: without them they skip, unless LIT_VIDEO_REQUIRE_BROWSER is set
(``.ci/run`` installs Chromium and sets it, so CI never skips them). A screenshot of the page goes to
LIT_VIDEO_SCREENSHOTS (a folder; default: the test's temporary folder).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
from helpers import MARKUP_LABEL, lecture_folder
from markupsafe import escape

from lit_video import cli
from lit_video.report import cli as report_cli
from lit_video.results.folder import INDEX_FILE, ResultsFolder, write_rows
from lit_video.results.leaderboard import write_leaderboards
from lit_video.results.lock import LOCK_FILE

pytestmark = pytest.mark.integration  # a real sweep, and headless Chromium

GROUPS = ("appearance", "direction")
REPO = Path(__file__).resolve().parents[1]


# -- the page as HTML --------------------------------------------------------------------------------------------

def test_the_sweep_writes_one_self_contained_page(finished_sweep):
    page = (finished_sweep / INDEX_FILE).read_text()
    board = json.loads((finished_sweep / "leaderboard.json").read_text())
    assert {line["status"] for line in board} == {"ok", "profiled", "failed"}
    # Nothing is fetched: no script, style, image or link to anything outside the file.
    assert not re.search(r"""<(script|link|img|iframe)[^>]*\b(src|href)=""", page)
    assert not re.search(r"""\b(src|href)=["']?(https?:)?//""", page)
    assert page.count('<article id="line-') == len(board)
    # The three charts; the curves and confusion matrix of each trained line; the failed line's curves, up to its NaN.
    assert page.count('<svg ') == 3 + 2 * 2 + 1
    assert page.count('<svg ') == page.count("</svg>")
    for line in board:  # every line in the table, marked with its status
        assert f'data-status="{line["status"]}"' in page and line["variant"] in page
    failed = next(line for line in board if line["status"] == "failed")
    assert "nan" in failed["error"].lower() and str(escape(failed["error"])) in page  # as the template escapes it
    for header in ("GMACs/video", "GFLOPs/clip", "infer clips/s", "latency p50 ms", "peak mem MB", "± (seeds)"):
        assert f"<button type=\"button\">{header}</button>" in page
    assert "Claim 1:" in page  # the lecture's claims: the rows have class groups
    assert "FLOPs per layer" in page and "Throughput per batch size" in page and "Resolved config" in page
    assert "offline-run-" in page  # each trained entry's wandb run


def test_confusion_matrix_counts_the_saved_test_predictions(finished_sweep):
    from lit_video.report.html import confusion_counts, load_sections

    results = ResultsFolder(finished_sweep)
    sections = {s.line["variant"]: s for s in load_sections(results, results.board())}
    single = sections["single_frame"]
    assert [seed.row["seed"] for seed in single.seeds] == [0, 1]
    classes, counts, seeds = confusion_counts(single.seeds)
    assert seeds == 2 and len(classes) == len(counts) == 4
    videos = sum(map(sum, counts))
    assert videos == 2 * single.seeds[0].row["dataset_fingerprint"]["videos"] // 3  # the test split, each seed
    correct = sum(counts[i][i] for i in range(4))
    assert correct / videos == pytest.approx(single.line["video_top1"])  # equal seeds: the mean is the pooled rate
    assert confusion_counts(sections["lecture_3d_cnn"].seeds) is None  # profiled: no predictions


def test_a_section_holds_the_rows_its_line_averages_not_stale_ones(finished_sweep, tmp_path):
    """A row of an earlier config of the same model (another hash, left in results.jsonl) is not the line's."""
    from lit_video.report.html import load_sections
    from lit_video.results.folder import append_row, read_rows

    copy = tmp_path / "small"
    shutil.copytree(finished_sweep, copy)
    stale = next(r for r in read_rows(copy / "results.jsonl") if r["variant"] == "single_frame")
    append_row(copy / "results.jsonl", {**stale, "config_hash": "0" * 16, "video_top1": 0.0})
    results = ResultsFolder(copy)
    single = next(s for s in load_sections(results, results.board()) if s.line["variant"] == "single_frame")
    assert sorted(seed.row["config_hash"] for seed in single.seeds) == sorted(single.line["config_hashes"])
    assert all(seed.folder.is_dir() for seed in single.seeds)


def test_a_section_shows_the_videos_each_seed_skipped(finished_sweep, tmp_path):
    """A seed that skipped an unreadable video: its row's count and its folder's list, with why, in its section."""
    from lit_video.report.html import Paths, load_sections, render_page, skipped_videos
    from lit_video.results.folder import read_rows, write_rows

    copy = tmp_path / "small"
    shutil.copytree(finished_sweep, copy)
    rows = read_rows(copy / "results.jsonl")
    assert {r["skipped_videos"] for r in rows if r["status"] == "ok"} == {0}  # the tiny dataset reads whole
    skipped = next(r for r in rows if (r["variant"], r["seed"]) == ("single_frame", 1))
    skipped["skipped_videos"] = 1
    write_rows(copy / "results.jsonl", rows)
    listed = ResultsFolder(copy).entry_dir(skipped) / "skipped_videos.txt"
    listed.write_text("/data/train/cut_short.mp4\tmoov atom not found\n")
    page = render_page(copy)
    assert page.count("skipped 1 video") == 1  # that seed's alone
    assert "Seed 1 skipped 1 video" in page and "<code>/data/train/cut_short.mp4</code>" in page
    assert "moov atom not found" in page
    listed.write_bytes(b"/data/train/caf\xe9.mp4\tcut short\n")  # a name that is not UTF-8: the page stays UTF-8
    page = render_page(copy)
    assert "<code>/data/train/caf\ufffd.mp4</code>" in page and page.encode()
    listed.unlink()  # a results folder without the list (runs/ is not in git): the count, and where the list was
    results = ResultsFolder(copy)
    single = next(s for s in load_sections(results, results.board()) if s.line["variant"] == "single_frame")
    (shown,) = skipped_videos(single.seeds, Paths.of(results, single.seeds))
    assert shown["count"] == 1 and not shown["videos"] and shown["file"].endswith("/skipped_videos.txt")


def test_merging_a_sweep_writes_its_page(finished_sweep, finished_sweep_config, tmp_path):
    """``lit-video sweep CONFIG --merge`` (shards or cluster jobs done) ends as a sweep does: with the page."""
    out = tmp_path / "results"
    shutil.copytree(finished_sweep, out / "small")
    (out / "small" / INDEX_FILE).unlink()
    assert cli.main(["sweep", str(finished_sweep_config), "--out", str(out), "--merge", "--no-wandb"]) == 1  # failed
    assert (out / "small" / INDEX_FILE).read_text().count('<article id="line-') == 4


def test_report_command_rewrites_the_page_and_works_without_the_entry_folders(finished_sweep, tmp_path, capsys):
    copy = tmp_path / "small"
    shutil.copytree(finished_sweep, copy, ignore=shutil.ignore_patterns("runs", "wandb"))  # what git holds
    # The sweep's page, built with runs/, is not overwritten by one without: it says so and writes nothing.
    full = (copy / INDEX_FILE).read_text()
    assert report_cli.main(["html", str(copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{copy / INDEX_FILE} not overwritten: it was built with 7 entry folder(s) " \
        f"missing from {copy / 'runs'}" in err
    assert (copy / INDEX_FILE).read_text() == full
    assert report_cli.main(["html", str(copy), "--out", str(tmp_path / "elsewhere.html")]) == 0  # as the error says
    (copy / INDEX_FILE).unlink()
    assert report_cli.main(["html", str(copy)]) == 0
    assert "index.html" in capsys.readouterr().out
    page = (copy / INDEX_FILE).read_text()
    assert page.count('<svg ') == 3  # the charts only: curves and matrices need runs/
    assert "Not in this results folder" in page
    assert report_cli.main(["html", str(copy)]) == 0  # over a page built without the same folders: nothing lost
    assert report_cli.main(["html", str(tmp_path / "nothing")]) == 2
    assert "no leaderboard.json in" in capsys.readouterr().err


def test_the_pages_paths_are_its_folders_and_its_command_writes_only_the_page(finished_sweep, tmp_path, monkeypatch):
    """A page made in a temporary folder can be committed: it names no path of the machine that made it (the entries'
    folders, configs and checkpoints relative to the results folder, wherever it was when they ran), and the command
    it shows, copied and run, writes that page and nothing else."""
    copy = tmp_path / "small"
    shutil.copytree(finished_sweep, copy)
    assert report_cli.main(["html", str(copy)]) == 0  # a folder outside the working directory
    page = (copy / INDEX_FILE).read_text()
    for where in (tmp_path, finished_sweep):  # where it is, and where its entries ran
        assert str(where) not in page
        assert str(where) not in "".join((copy / name).read_text() for name in ("leaderboard.md", "leaderboard.json"))
    assert "default_root_dir: runs/single_frame-" in page and "save_dir: runs/single_frame-" in page
    assert "Regenerate (in the results folder): <code>lit-video report html .</code>" in page
    assert "lecture-claims" not in page  # the claims' part is made again by the page's command, not by one of its own

    monkeypatch.chdir(tmp_path)  # as from the repository's root: the folder named from here
    assert report_cli.main(["html", "small", "--out", "pages/small.html"]) == 0
    assert "Regenerate: <code>lit-video report html small --out pages/small.html</code>" in (
        tmp_path / "pages" / "small.html").read_text()
    assert report_cli.main(["html", "small"]) == 0
    command = re.search(r"Regenerate: <code>(.*?)</code>", (copy / INDEX_FILE).read_text())[1]
    assert command == "lit-video report html small"
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    assert cli.main(shlex.split(command)[1:]) == 0
    changed = [p for p in tmp_path.rglob("*") if p.is_file() and before.get(p) != p.stat().st_mtime_ns]
    assert sorted(changed) == [copy / LOCK_FILE, copy / INDEX_FILE]  # and the lock it held (git-ignored): who held it


def test_a_sweep_rerun_where_git_put_its_results_keeps_them(finished_sweep, finished_sweep_config, tmp_path,
                                                           monkeypatch, capsys):
    """A sweep writes to my_results/ unless told otherwise. Rerun over results without runs/ (as a clone has them),
    it finds the entries done, and leaves the page and the folder's own .gitignore lines as they were."""
    clone = tmp_path / "my_results" / "small"
    shutil.copytree(finished_sweep, clone, ignore=shutil.ignore_patterns("runs", "wandb"))
    (clone / ".gitignore").write_text("runs/\nnotes.txt\n")  # an older list, and a line of the folder's own
    page = (clone / INDEX_FILE).read_text()
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sweep", str(finished_sweep_config), "--no-wandb"]) == 1  # the NaN entries fail again
    out = capsys.readouterr()
    assert "0 done, 2 failed, 5 skipped" in out.out and not (tmp_path / "results").exists()
    assert f"{Path('my_results/small') / INDEX_FILE} not overwritten" in out.err
    assert (clone / INDEX_FILE).read_text() == page
    assert (clone / ".gitignore").read_text().splitlines()[:2] == ["runs/", "notes.txt"]
    assert {"wandb/", "cluster/", ".lock*"} <= set((clone / ".gitignore").read_text().splitlines())


def test_entry_files_that_cannot_be_read_are_named_and_the_rest_of_the_page_is_written(tmp_path, capsys):
    """A truncated details.json, an empty predictions.json and predictions naming a class the file does not have:
    the line's section names each file and why it is left out, and shows what the other files hold. A class whose
    folder's name is not UTF-8 is named on the confusion matrix with U+FFFD for the bytes that are not."""
    from lit_video.report.html import write_html_report

    results = ResultsFolder(lecture_folder(tmp_path / "small", lambda row: row["model"] in ("single_frame", "c3d")))
    folders = [results.entry_dir(row) for row in results.rows() if row["model"] == "single_frame"]
    details = json.dumps({"resolved_config": {"model": {"name": "single_frame"}}})

    def predictions(label: int) -> str:
        return json.dumps({"classes": [os.fsdecode(b"caf\xe9"), "solid"], "multi_label": False,
                           "videos": [{"video": "v.mp4", "label": label, "top": [0, 1], "probs": [0.6, 0.4]}]})

    for folder, texts in zip(folders, [(details[:25], predictions(0)), (details, predictions(7)), (details, "")],
                             strict=True):
        folder.mkdir(parents=True)
        for name, text in zip(("details.json", "predictions.json"), texts, strict=True):
            (folder / name).write_text(text)
    page = write_html_report(results.path).read_text()
    runs = [f"runs/{folder.name}" for folder in folders]
    assert f"missing: <code>{runs[0]}/details.json</code>: not JSON (Unterminated string starting at" in page
    assert (f"missing: <code>{runs[1]}/predictions.json</code>: does not match its classes (video v.mp4: class 7, "
            "2 classes)") in page
    assert f"missing: <code>{runs[2]}/predictions.json</code>: empty" in page
    assert page.count('<article id="line-') == 2  # the rest of the page: both lines
    assert "(1 seed summed; 1/1 on the diagonal)" in page and "caf\ufffd" in page  # seed 0's predictions
    assert "Resolved config" in page  # seed 1's details
    board = results.leaderboard_file("json")  # without it, no page: one line that names it
    board.write_text(board.read_text()[:300])
    assert report_cli.main(["html", str(results.path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lit-video report html: {board}: not JSON (") and err.count("\n") == 1


# -- the page in a browser ---------------------------------------------------------------------------------------

def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium, the system's, driven by Playwright (no browser download)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        why = f"playwright is not installed ({err})"
    else:
        why = None if _chromium() else "no chromium executable on PATH (Debian: apt-get install chromium)"
    if why:
        if os.environ.get("LIT_VIDEO_REQUIRE_BROWSER"):
            raise RuntimeError(f"LIT_VIDEO_REQUIRE_BROWSER is set but {why}")
        pytest.skip(why)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium(), headless=True)
        yield chromium
        chromium.close()


def open_page(browser, path: Path):
    """``path`` loaded from disk in a new tab; ``tab.problems`` collects console errors, page errors and every
    request for anything but the file itself."""
    url = path.resolve().as_uri()
    tab = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    tab.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    tab.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    tab.on("request", lambda req: problems.append(f"request: {req.url}") if req.url != url else None)
    tab.goto(url)
    tab.wait_for_load_state("load")
    tab.problems = problems
    return tab


@pytest.fixture
def page(browser, finished_sweep):
    tab = open_page(browser, finished_sweep / INDEX_FILE)
    yield tab
    tab.close()


def screenshot_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LIT_VIDEO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _column(page, header: str) -> list[str]:
    """The data-value of each shown line's cell under ``header``, top to bottom."""
    return page.evaluate("""(header) => {
        const table = document.getElementById("board");
        const index = Array.from(table.tHead.rows[0].cells).findIndex((th) => th.textContent.trim() === header);
        return Array.from(table.tBodies[0].rows).filter((r) => !r.hidden).map((r) => r.cells[index].dataset.value);
    }""", header)


def test_page_loads_with_no_errors_and_no_requests(page):
    assert page.title() == "lit-video: sweep small"
    assert page.locator("#board tbody tr").count() == 4
    assert page.locator("#shown").inner_text() == "4 of 4 lines shown"
    assert page.problems == []


def test_clicking_a_header_sorts_the_lines(page):
    header = page.locator("#board thead th", has_text="GMACs/video").first
    header.locator("button").click()
    shown = _column(page, "GMACs/video")
    values = [float(v) for v in shown[:3]]
    assert values == sorted(values) and shown[3] == ""  # three lines have a cost; the failed one, none: last
    assert header.get_attribute("aria-sort") == "ascending"
    header.locator("button").click()
    shown = _column(page, "GMACs/video")
    assert [float(v) for v in shown[:3]] == sorted(values, reverse=True) and shown[3] == ""
    assert header.get_attribute("aria-sort") == "descending"
    # Accuracy: the lines without one (profiled, failed) stay last whichever the direction.
    top1 = page.locator("#board thead th", has_text="video top-1 %").first.locator("button")
    for _ in range(2):
        top1.click()
        shown = _column(page, "video top-1 %")
        numbers = [float(v) for v in shown if v]
        assert shown[-2:] == ["", ""] and len(numbers) == 2
    assert numbers == sorted(numbers, reverse=True)
    page.locator("#board thead th", has_text="variant").first.locator("button").click()
    assert _column(page, "variant") == sorted(_column(page, "variant"), key=str.lower)
    assert page.problems == []


def test_the_filters_hide_lines(page):
    page.select_option("#filter-status", "ok")
    assert sorted(_column(page, "status")) == ["ok", "ok"]
    assert page.locator("#shown").inner_text() == "2 of 4 lines shown"
    page.select_option("#filter-status", "")
    families = page.evaluate("Array.from(document.querySelectorAll('#filter-family option')).map(o => o.value)")
    family = families[1]
    page.select_option("#filter-family", family)
    assert set(_column(page, "family")) == {family} and len(_column(page, "family")) < 4
    page.select_option("#filter-family", "")
    page.fill("#filter-text", "single_frame")
    assert _column(page, "variant") == ["single_frame"]
    page.fill("#filter-text", "")
    assert len(_column(page, "variant")) == 4
    assert page.problems == []


def _header(page, text: str):
    return page.locator("#board thead th").filter(has_text=re.compile(f"^{re.escape(text)}$"))


def test_the_default_view_fits_1400_px_and_the_chooser_shows_every_column(page):
    """At 1400 px the default view (accuracy, by class group too, beside cost) fits without scrolling sideways; the
    column chooser shows the others, one or all, and takes them away again."""
    table, wrap, viewport = page.evaluate("""() => {
        const table = document.getElementById("board");
        return [table.scrollWidth, table.parentElement.clientWidth, window.innerWidth];
    }""")
    assert viewport == 1400 and table <= wrap < viewport
    for header in (*(f"{g} %" for g in GROUPS), "video top-1 %", "GMACs/video"):
        box = _header(page, header).bounding_box()
        assert box is not None and box["x"] + box["width"] <= wrap
    clip, params = _header(page, "clip top-1 %"), _header(page, "params (M)")
    assert clip.is_hidden() and params.is_visible()
    total = page.locator("#column-chooser input").count()
    page.locator("#column-chooser summary").click()
    page.get_by_label("clip top-1 %", exact=True).check()
    page.get_by_label("params (M)", exact=True).uncheck()
    assert clip.is_visible() and params.is_hidden()
    page.locator("#columns-all").click()
    assert page.locator("#columns-shown").inner_text() == f"{total} of {total}"
    assert all(cell.is_visible() for cell in page.locator("#board tbody tr").first.locator("td").all())
    assert page.evaluate("document.getElementById('board').scrollWidth") > wrap  # every column: it scrolls
    page.locator("#columns-default").click()
    assert clip.is_hidden() and params.is_visible()
    assert page.evaluate("document.getElementById('board').scrollWidth") == table
    assert page.problems == []


def test_a_lines_label_stays_in_place_when_the_table_scrolls_sideways(page):
    page.locator("#column-chooser summary").click()
    page.locator("#columns-all").click()
    page.locator("#column-chooser summary").click()
    cells = page.locator("#board tbody tr").first.locator("td")
    rank, variant, family = (cells.nth(i) for i in range(3))
    before = [cell.bounding_box() for cell in (rank, variant, family)]
    page.evaluate("document.querySelector('.table-wrap').scrollLeft = 600")
    after = [cell.bounding_box() for cell in (rank, variant, family)]
    assert [box["x"] for box in after[:2]] == [box["x"] for box in before[:2]]
    assert after[2]["x"] < before[2]["x"] - 500  # the rest scrolled under them
    for cell, box in zip((rank, variant), after[:2], strict=True):  # in front of what scrolls under it
        on_top = page.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('td')?.cellIndex",
                               [box["x"] + box["width"] - 3, box["y"] + box["height"] / 2])
        assert on_top == cell.evaluate("td => td.cellIndex")
    assert page.problems == []


def test_every_chart_renders_and_a_screenshot_is_written(page, tmp_path):
    charts = page.locator("svg.chart")
    assert charts.count() == 3 + 2 * 2 + 1  # as test_the_sweep_writes_one_self_contained_page counts them
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        assert box["width"] > 200 and box["height"] > 100
        assert chart.locator("path, use, image").count() > 10  # drawn, not an empty frame
    names = page.eval_on_selector_all("#charts svg title", "titles => titles.map(t => t.textContent)")
    assert any(n.startswith("single_frame (") for n in names)  # hovering a point names its model
    for group in GROUPS:
        assert any(f"on {group}:" in n for n in names)
    shot = screenshot_folder(tmp_path) / "report_finished_sweep.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    assert page.problems == []


def test_the_committed_main_report_opens_clean(browser, tmp_path):
    """results/lecture/index.html, the main job's page as committed: no errors or requests, every chart drawn."""
    folder = REPO / "results" / "lecture"
    board = json.loads((folder / "leaderboard.json").read_text())
    tab = open_page(browser, folder / INDEX_FILE)
    try:
        assert tab.locator("#board tbody tr").count() == len(board)
        assert tab.locator("article.model").count() == len(board)
        trained = sum(line["status"] == "ok" for line in board)
        charts = tab.locator("svg.chart")
        assert charts.count() == 3 + 2 * trained  # each trained line: its curves and its confusion matrix
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box["width"] > 200 and box["height"] > 100
        folder = screenshot_folder(tmp_path)
        tab.screenshot(path=str(folder / "report_lecture.png"))  # the top: the leaderboard
        tab.locator("#charts").screenshot(path=str(folder / "report_lecture_charts.png"))
        assert tab.problems == []
    finally:
        tab.close()


def test_a_label_with_markup_is_text_on_the_page_and_fetches_nothing(browser, tmp_path):
    """A label the config accepts, with Markdown in it: the page shows it as written, in one cell of each table
    (the leaderboard's, the lecture claims'), and no element of the page points outside it."""
    from lit_video.report.html import write_html_report

    folder = lecture_folder(tmp_path / "small", lambda row: row["model"] in ("single_frame", "slow_fusion"))
    rows = [{**row, "variant": MARKUP_LABEL} if row["model"] == "single_frame" else row
            for row in ResultsFolder(folder).rows()]
    write_rows(folder / "results.jsonl", rows)
    write_leaderboards(folder, rows, "labels")
    tab = open_page(browser, write_html_report(folder))
    try:
        links = tab.eval_on_selector_all("[src], [*|href]", """els => els.map(e => e.getAttribute("src")
            ?? e.getAttribute("href") ?? e.getAttributeNS("http://www.w3.org/1999/xlink", "href"))""")
        assert len(links) > 10 and not [link for link in links if re.match(r"\s*(https?:)?//", link)]
        tables = tab.eval_on_selector_all("table", """tables => tables.map(t => Array.from(t.rows).map(
            r => Array.from(r.cells).map(c => c.textContent.trim())))""")
        assert len(tables) == 1 + 7  # the leaderboard; the lecture claims' (each claim's, every trained model's)
        for table in tables:
            assert {len(cells) for cells in table} == {len(table[0])}
        board, claim = tables[0], tables[1]
        assert f"{MARKUP_LABEL} (single_frame)" in [cells[1] for cells in board]
        assert claim[1][0] == f"single_frame ({MARKUP_LABEL})"
        assert tab.problems == []  # no request
    finally:
        tab.close()


def test_the_page_is_not_written_into_a_folder_another_writer_holds(tmp_path, capsys):
    """A sweep running there: the page would show its rows half written and race its own page; one line says who
    holds the folder. A page written elsewhere only reads the folder."""
    from lit_video.results.lock import results_lock

    with results_lock(tmp_path, "lit-video sweep"):
        assert report_cli.main(["html", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith(f"lit-video report html: results folder {tmp_path} is in use by lit-video sweep (pid ")
        assert report_cli.main(["html", str(tmp_path), "--out", str(tmp_path.parent / "page.html")]) == 2
        assert "no leaderboard.json in" in capsys.readouterr().err  # it got as far as reading
