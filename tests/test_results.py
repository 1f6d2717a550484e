"""Results rows, atomic files and leaderboards, without training anything."""

from __future__ import annotations

import csv
import json
import re
from html import unescape
from itertools import pairwise
from pathlib import Path

import pytest
from helpers import MARKUP_LABEL, html_tables, markdown_as_html

from lit_video.files import write_atomic
from lit_video.results.folder import BadRow, ResultsFolder, append_row, latest_rows, read_rows, scan_rows, write_rows
from lit_video.results.leaderboard import leaderboard, to_csv, to_markdown, write_leaderboards
from lit_video.results.plots import write_plots
from lit_video.results.schema import FIELDS, ROW_FIELDS, columns, make_row, metric_fields, row_problems
from lit_video.sweep.entry import precision_dtype

RESULTS = Path(__file__).parents[1] / "results"  # the committed results folders


def row(model, seed, top1, status="ok", **extra):
    base = dict(model=model, family=model, dataset="synthetic", frames=8, fps=5.0, size=32, eval_views=2,
                seed=seed, params=2_000_000, gmacs_per_clip=0.25, gmacs_per_video=0.5, video_top1=top1,
                clip_top1=top1, infer_clips_per_s=50.0, config_hash=f"{model}-{seed}", status=status,
                group_acc=None if top1 is None else {"motion": top1, "appearance": 1 - top1})
    return make_row(**{**base, **extra})


def test_row_has_exactly_the_schema_fields():
    assert list(row("c3d", 0, 0.5)) == list(ROW_FIELDS)
    with pytest.raises(KeyError, match="not results row fields"):
        make_row(modle="typo")
    assert len({f.name for f in FIELDS}) == len(FIELDS)  # each field defined once


def _markdown_tables(md: str) -> list[list[str]]:
    """The headers of each table of a Markdown leaderboard, in order."""
    return [line.strip("| ").split(" | ") for line, rule in pairwise(md.splitlines())
            if line.startswith("| ") and rule.startswith("| ---")]


def test_every_table_shows_the_schemas_columns_and_a_row_of_an_earlier_version_its_defaults():
    """The CSV, the Markdown and the HTML report's table are projections of the schema: each shows every column of
    the task's, a class group's accuracy in its place (the Markdown and the HTML without `model`, which the variant's
    cell names, and the Markdown without `status`, which its sections say)."""
    from lit_video.report.html import Section, leaderboard_table

    old = {k: v for k, v in row("c3d", 0, 0.5).items() if k != "task"}  # written before rows named their task
    (line,) = leaderboard([old, row("c3d", 1, 0.7)])
    assert line["task"] == "classification"
    table = columns("classification", ["appearance", "motion"])
    assert next(csv.reader(to_csv([line]).splitlines()))[:len(table)] == [c.name for c in table]
    assert "group_acc/appearance" in [c.name for c in table] and "params" in [c.name for c in table]
    shown = [c.header for c in table if c.field.name != "model"]
    main, more = _markdown_tables(to_markdown([line], "t"))
    assert sorted(main + more[2:]) == sorted(h for h in shown if h != "status")  # the second: by rank and variant
    html = [c["header"] for c in leaderboard_table([line], [Section("line-0", line)])["columns"]]
    assert html == shown


def test_the_default_view_is_the_schemas_and_shows_the_groups_first(tmp_path):
    """Which columns a reader sees first is said once (``Field.default_view``): the Markdown's first table and the
    HTML's columns before any is chosen; the Markdown's second table has the rest, by rank and variant."""
    from lit_video.report.html import Section, leaderboard_table

    board = write_leaderboards(tmp_path, [row("c3d", 0, 0.6), row("lrcn", 0, 0.5)], "view")
    groups = ["appearance", "motion"]
    default = [c.header for c in columns("classification", groups) if c.default_view]
    assert default == ["#", "variant", "video top-1 %", "95% CI ±", "appearance %", "motion %", "params (M)",
                       "GMACs/video", "infer clips/s"]
    md = (tmp_path / "leaderboard.md").read_text()
    main, more = _markdown_tables(md)
    assert main == default
    assert more[:2] == ["#", "variant"] and not set(more[2:]) & set(default) and "clip top-1 %" in more
    assert "| 1 | c3d | 60.0 |  | 40.0 | 60.0 | 2.00 | 0.500 | 50.0 |" in md  # one seed: no interval
    assert "| 1 | c3d | c3d | synthetic |" in md.split("## Every other column")[1]  # the same line, by rank and variant
    html = leaderboard_table(board, [Section(f"line-{i}", line) for i, line in enumerate(board)])["columns"]
    assert [c["header"] for c in html if c["default_view"]] == default
    assert [c["number"] for c in html] == list(range(1, len(html) + 1))  # what the chooser's rules hide by


def test_a_line_names_its_model_once_and_a_label_that_hides_it_names_it_too(tmp_path):
    rows = [row("c3d", 0, 0.6), row("single_frame", 0, 0.5, variant="single_frame[backbone=resnet34]"),
            row("lrcn", 0, 0.4, variant="baseline")]  # a label given in the sweep
    write_leaderboards(tmp_path, rows, "names")
    main = (tmp_path / "leaderboard.md").read_text().split("## Every other column")[0]
    assert "| 1 | c3d |" in main and "| 2 | single_frame\\[backbone=resnet34] |" in main  # no link: text
    assert "| 3 | baseline (lrcn) |" in main
    assert "c3d (c3d)" not in main and "| model |" not in main


def test_a_label_reaches_the_markdown_as_text_not_markup(tmp_path):
    """A label (and a device, an error) with Markdown in it: shown as written, in its own cell, fetching nothing."""
    rows = [row("c3d", 0, 0.6, device=MARKUP_LABEL), row("lrcn", 0, 0.5, variant=MARKUP_LABEL),
            row("lrcn", 0, None, variant=MARKUP_LABEL, config_hash="x", status="failed", error=MARKUP_LABEL)]
    write_leaderboards(tmp_path, rows, "labels")
    html = markdown_as_html((tmp_path / "leaderboard.md").read_text())
    assert "<img" not in html and "<a " not in html and "<b>" not in html and "<em>" not in html
    for table in html_tables(html):
        assert {len(cells) for cells in table} == {len(table[0])}
    main = html_tables(html)[0]
    assert [cells[1] for cells in main[1:]] == ["c3d", f"{MARKUP_LABEL} (lrcn)"]
    text = re.sub(r"<[^>]+>", "", html)
    assert f"Machine: {MARKUP_LABEL}." in unescape(text)
    assert f"{MARKUP_LABEL} on synthetic (seed 0): {MARKUP_LABEL}" in unescape(text)  # the failed entry


def test_a_tests_metrics_become_the_rows_fields():
    metrics = {"test/video_top1": 0.5, "test/video_top5": 0.9, "test/clip_top1": 0.4, "test/clip_top5": 0.8,
               "test/mean_class_acc": 0.45, "test/group_acc/motion": 0.3, "test/loss": 1.2}
    fields = metric_fields(metrics)
    assert (fields["video_top1"], fields["video_top5"], fields["clip_top1"], fields["clip_top5"]) == (0.5, 0.9, 0.4,
                                                                                                     0.8)
    assert fields["mean_class_acc"] == 0.45 and fields["group_acc"] == {"motion": 0.3}
    assert fields["stream_acc"] is None and "loss" not in fields
    multi = metric_fields({"test/video_hit1": 0.7, "test/video_hit5": 1.0})  # multi-label data: hit@k is its top-k
    assert (multi["video_top1"], multi["video_top5"], multi["clip_top1"]) == (0.7, 1.0, None)


def test_append_is_atomic_and_a_torn_line_is_reported_and_left_out(tmp_path, capsys):
    path = tmp_path / "results.jsonl"
    append_row(path, row("c3d", 0, 0.5))
    append_row(path, row("c3d", 1, 0.7))
    assert [r["seed"] for r in read_rows(path)] == [0, 1]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left behind
    with path.open("a") as f:  # a copy cut short mid-line
        f.write('{"model": "lrcn", "se')
    assert len(read_rows(path)) == 2
    assert f"{path}:3: not JSON" in " ".join(capsys.readouterr().err.split())  # wrapped to the terminal
    append_row(path, row("lrcn", 0, 0.4))  # after the torn line, which stays for a person to mend
    assert [r["seed"] for r in read_rows(path)] == [0, 1, 0]
    assert path.read_text().splitlines()[2] == '{"model": "lrcn", "se'


GOOD_ROWS = {
    "ok": row("c3d", 0, 0.5),
    "profiled": row("c3d", 0, None, status="profiled"),
    "failed": row("c3d", 0, None, status="failed", error="RuntimeError: boom"),
    "older version": {k: v for k, v in row("c3d", 0, 0.5).items() if k not in ("task", "variant", "train_threads")},
    "a newer version's field": {**row("c3d", 0, 0.5), "newer_field": [1, 2]},
}


@pytest.mark.parametrize("kind", GOOD_ROWS)
def test_the_schema_accepts_every_row_a_sweep_writes_and_those_of_other_versions(kind):
    assert row_problems(GOOD_ROWS[kind]) == []


@pytest.mark.parametrize(("change", "reason"), [
    ({"video_top1": float("nan")}, "video_top1 is NaN, not a fraction in [0, 1]"),
    ({"video_top1": 5.0}, "video_top1 is 5.0, not a fraction in [0, 1]"),
    ({"video_top1": -0.5}, "video_top1 is -0.5, not a fraction in [0, 1]"),
    ({"video_top1": None}, "video_top1 is missing: an ok row needs it"),
    ({"gmacs_per_video": None}, "gmacs_per_video is missing: an ok row needs it"),
    ({"status": "profiled", "params": None}, "params is missing: a profiled row needs it"),
    ({"infer_clips_per_s": float("inf")}, "infer_clips_per_s is Infinity, not a number >= 0"),
    ({"seed": "0"}, 'seed is "0", not an integer'),
    ({"frames": 8.5}, "frames is 8.5, not an integer >= 0"),
    ({"model": 3}, "model is 3, not text"),
    ({"status": "done"}, 'status is "done", not one of ok, profiled, failed'),
    ({"status": "failed", "error": None}, "error is missing: a failed row needs it"),
    ({"config_hash": None}, "config_hash is missing: every row needs it"),
    ({"group_acc": {"motion": 1.5}}, 'group_acc["motion"] is 1.5, not a fraction in [0, 1]'),
    ({"group_acc": [0.5]}, "group_acc is [0.5], not a mapping"),
    ({"stream_acc": {"rgb": {"video_top1": 2.0}}}, 'stream_acc["rgb"]["video_top1"] is 2.0, not a fraction'),
    ({"dataset_fingerprint": {"videos": -1, "hash": "ab"}}, 'dataset_fingerprint["videos"] is -1, not an integer'),
])
def test_the_schema_names_what_is_wrong_with_a_row(change, reason):
    problems = row_problems({**row("c3d", 0, 0.5), **change})
    assert len(problems) == 1 and problems[0].startswith(reason), problems


def test_a_bad_line_is_reported_once_as_file_line_reason_and_the_rest_loads(tmp_path, capsys):
    """Rows written by hand or by an older version: a line cut in half in the middle, values the schema refuses
    and an ok row without its metrics are each left out with one line naming the file, the line and why."""
    path = tmp_path / "results.jsonl"
    lines = [json.dumps(row("c3d", 0, 0.5)), '{"model": "lrcn", "se', json.dumps(row("lrcn", 0, 5.0)),
             json.dumps(row("lrcn", 1, None)), json.dumps(row("lrcn", 2, float("nan"))), "[1, 2]",
             json.dumps(row("c3d", 1, 0.7))]
    path.write_text("\n".join(lines) + "\n")
    assert [(r["model"], r["seed"]) for r in read_rows(path)] == [("c3d", 0), ("c3d", 1)]
    err = capsys.readouterr().err
    for number, reason in ((2, "not JSON"), (3, "video_top1 is 5.0, not a fraction in [0, 1]"),
                           (4, "video_top1 is missing: an ok row needs it"), (5, "video_top1 is NaN"),
                           (6, "not a JSON object")):
        assert f"{path}:{number}: {reason}" in " ".join(err.split()), err
    assert "left out" in err and err.count(str(path)) == 5
    assert [b.number for b in scan_rows(path)[1]] == [2, 3, 4, 5, 6]
    read_rows(path)
    assert capsys.readouterr().err == ""  # reported once, however often the file is read
    folder = ResultsFolder(tmp_path)
    assert folder.done_hashes() == {"c3d-0", "c3d-1"}  # an ok row without its metrics is not done: resume runs it


def test_a_bad_row_is_never_written(tmp_path):
    path = tmp_path / "results.jsonl"
    append_row(path, row("c3d", 0, 0.5))
    before = path.read_text()
    for bad in (row("lrcn", 0, float("nan")), row("lrcn", 0, 5.0), row("lrcn", 0, None)):
        with pytest.raises(BadRow, match=r"lrcn on synthetic, seed 0: video_top1 is"):
            append_row(path, bad)
        with pytest.raises(BadRow):
            write_rows(path, [row("c3d", 1, 0.5), bad])
    assert path.read_text() == before  # nothing written, not even the good row beside it
    assert "NaN" not in before


def test_every_committed_results_folder_has_only_good_rows():
    """The results committed under results/ (written by this version or an earlier one) all load whole."""
    files = sorted(RESULTS.glob("**/*.jsonl"))
    assert files
    for path in files:
        rows, bad = scan_rows(path)
        assert rows and bad == [], bad


def test_a_folders_gitignore_gains_what_it_lacks_and_keeps_its_own_lines(tmp_path):
    folder, ignore = ResultsFolder(tmp_path), tmp_path / ".gitignore"
    folder.git_ignore("runs/", "wandb/")
    assert ignore.read_text() == "runs/\nwandb/\n"
    ignore.write_text("runs/\n# the folder's own\nnotes.txt")  # an older list, edited by hand
    folder.git_ignore("runs/", "wandb/", ".lock*")
    assert ignore.read_text() == "runs/\n# the folder's own\nnotes.txt\nwandb/\n.lock*\n"
    before = ignore.stat().st_mtime_ns
    folder.git_ignore("wandb/", "runs/")
    assert ignore.stat().st_mtime_ns == before  # nothing lacking: not rewritten


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "leaderboard.md"
    write_atomic(path, "old\n")

    def explode(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(path, explode)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["leaderboard.md"]


def test_leaderboard_averages_seeds_ranks_and_keeps_failures(tmp_path):
    rows = [row("c3d", 0, 0.6), row("c3d", 1, 0.8), row("single_frame", 0, 0.65),
            row("lrcn", 0, None, status="failed", error="RuntimeError: boom")]
    board = leaderboard(rows)
    assert [line["model"] for line in board] == ["c3d", "single_frame", "lrcn"]
    c3d = board[0]
    assert c3d["rank"] == 1 and c3d["seeds"] == 2
    assert c3d["video_top1"] == pytest.approx(0.7)
    assert c3d["video_top1_std"] == pytest.approx(0.1414, abs=1e-3)
    assert c3d["gflops_per_video"] == pytest.approx(2 * c3d["gmacs_per_video"])
    assert c3d["group_acc"]["motion"] == pytest.approx(0.7)
    assert c3d["group_acc_std"]["motion"] == pytest.approx(0.1414, abs=1e-3)  # each group: mean and spread
    assert board[2]["status"] == "failed" and board[2]["error"] == "RuntimeError: boom"

    write_leaderboards(tmp_path, rows, "test board")
    md = (tmp_path / "leaderboard.md").read_text()
    assert "| 1 | c3d |" in md and "70.0 ± 14.1" in md and "## Failed entries" in md and "boom" in md
    assert "GMACs" in md and "FLOPs" in md and " FLOPs " not in md.replace("GFLOPs", "")
    with (tmp_path / "leaderboard.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [t["model"] for t in table] == ["c3d", "single_frame", "lrcn"]
    assert float(table[0]["group_acc/motion"]) == pytest.approx(0.7)
    assert float(table[0]["group_acc_std/motion"]) == pytest.approx(0.1414, abs=1e-3)
    assert json.loads((tmp_path / "leaderboard.json").read_text())[0]["model"] == "c3d"
    assert board[0]["config_hashes"] == ["c3d-0", "c3d-1"]  # the rows behind the line (the HTML report's sections)

    plots = write_plots(tmp_path, board)
    assert {p.name for p in plots} == {"accuracy_vs_gmacs.png", "throughput_vs_gmacs.png",
                                       "group_accuracy.png"}
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in plots)


def test_a_nan_among_the_rows_a_leaderboard_combines_counts_as_not_measured():
    """What statistics.stdev makes of a NaN: `'float' object has no attribute 'numerator'`."""
    (line,) = leaderboard([row("c3d", 0, float("nan")), row("c3d", 1, 0.5), row("c3d", 2, 0.7)])
    assert line["video_top1"] == pytest.approx(0.6)
    assert line["video_top1_std"] == pytest.approx(0.1414, abs=1e-3)


def test_every_model_of_a_chart_has_its_own_colour_up_to_20():
    from lit_video.results.plots import model_colours

    for n in (3, 10, 12, 20):
        assert len(set(model_colours(n))) == n


def test_pareto_front_keeps_the_points_nothing_cheaper_beats():
    from lit_video.results.plots import pareto_front

    points = [(1.0, 0.5), (2.0, 0.4), (2.0, 0.7), (4.0, 0.7), (8.0, 0.9), (0.5, 0.2)]
    assert pareto_front(points) == [5, 0, 2, 4]  # by cost: (0.5, .2), (1, .5), (2, .7), (8, .9)
    assert pareto_front([]) == []


def test_svg_charts_carry_tooltips_and_share_a_page():
    import matplotlib.pyplot as plt

    from lit_video.results.plots import Chart, svg

    pages = []
    for name in ("one", "two"):
        chart = Chart(name, plt.figure())
        ax = chart.fig.add_subplot()
        for i in range(3):
            chart.mark(ax.scatter([i], [i]), f"model {i} of {name}")
        pages.append(svg(chart))
    assert all(page.count("<title>") == 3 and "model 2 of" in page for page in pages)
    ids = [i for page in pages for i in re.findall(r'\bid="([^"]+)"', page)]
    assert len(ids) == len(set(ids))  # no id twice in one document
    assert svg(Chart("one", plt.figure())) == svg(Chart("one", plt.figure()))  # deterministic


def test_latest_row_per_config_hash_wins():
    rows = [row("c3d", 0, None, status="failed", error="x"), row("c3d", 0, 0.5), row("lrcn", 0, 0.4)]
    latest = latest_rows(rows, hashes=["c3d-0"])
    assert len(latest) == 1 and latest[0]["status"] == "ok"


@pytest.mark.parametrize(("precision", "dtype"), [(None, "float32"), ("32-true", "float32"),
                                                  ("bf16-mixed", "bfloat16-mixed"), ("16-true", "float16")])
def test_precision_dtype(precision, dtype):
    assert precision_dtype(precision) == dtype


def test_variants_of_one_model_are_lines_of_their_own(tmp_path):
    """An ablation over a backbone: one model, two variants, each its own line, named by its label."""
    rows = [row("single_frame", 0, 0.6, variant="single_frame[backbone=resnet18]", config_hash="a"),
            row("single_frame", 0, 0.5, variant="single_frame[backbone=resnet34]", config_hash="b"),
            row("c3d", 0, 0.4)]  # written before variants existed: its variant is the model's name
    board = write_leaderboards(tmp_path, rows, "ablation")
    assert [line["variant"] for line in board] == ["single_frame[backbone=resnet18]",
                                                   "single_frame[backbone=resnet34]", "c3d"]
    assert [line["model"] for line in board] == ["single_frame", "single_frame", "c3d"]
    md = (tmp_path / "leaderboard.md").read_text()
    assert "| 1 | single_frame\\[backbone=resnet18] |" in md and "| 2 | single_frame\\[backbone=resnet34] |" in md
    with (tmp_path / "leaderboard.csv").open() as f:
        assert [t["variant"] for t in csv.DictReader(f)] == [line["variant"] for line in board]


def test_lines_within_noise_over_seeds_are_marked_not_ranked_apart(tmp_path):
    """Three seeds each: 62.0 +- 5 vs 60.0 +- 5 points overlap (≈), 30 +- 1 is below both beyond noise."""
    rows = [row(m, s, top, config_hash=f"{m}-{s}") for m, tops in
            (("c3d", (0.57, 0.62, 0.67)), ("lrcn", (0.55, 0.60, 0.65)), ("conv_gru", (0.29, 0.30, 0.31)))
            for s, top in enumerate(tops)]
    board = write_leaderboards(tmp_path, rows, "noise")
    by_model = {line["model"]: line for line in board}
    # t(0.975, 2 dof) = 4.303: the half-width of the 95 % interval is 4.303 x 5 / sqrt(3) = 12.4 points.
    assert by_model["c3d"]["video_top1_ci95"] == pytest.approx(4.303 * 0.05 / 3 ** 0.5, rel=1e-3)
    assert by_model["lrcn"]["within_noise_of"] == "c3d" and by_model["conv_gru"]["within_noise_of"] is None
    md = (tmp_path / "leaderboard.md").read_text()
    assert "| 2 (≈1) | lrcn |" in md and "| 3 | conv_gru |" in md and "| 1 | c3d |" in md
    one_seed = write_leaderboards(tmp_path / "one", [row("c3d", 0, 0.6), row("lrcn", 0, 0.59)], "one seed")
    assert one_seed[0]["video_top1_ci95"] is None and one_seed[1]["within_noise_of"] is None


def test_profile_only_lines_show_cost_unranked_and_apart(tmp_path):
    rows = [row("c3d", 0, None, status="profiled", config_hash="c3d-p"), row("lrcn", 0, 0.5)]
    board = write_leaderboards(tmp_path, rows, "profiled")
    c3d = next(line for line in board if line["model"] == "c3d")
    assert c3d["status"] == "profiled" and c3d["rank"] is None and c3d["video_top1"] is None
    assert c3d["gmacs_per_clip"] == 0.25 and c3d["infer_clips_per_s"] == 50.0
    md = (tmp_path / "leaderboard.md").read_text()
    ranked, profiled = md.split("## Profiled only")
    assert "| c3d |" not in ranked and "| 1 | lrcn |" in ranked and "| c3d |" in profiled
    assert "Failed entries" not in md


def test_the_markdown_names_the_loader_bound_lines_and_each_layout(tmp_path):
    rows = [row("c3d", 0, 0.6, train_clips_per_s=40.0, data_clips_per_s=30.0, memory_format="channels_last"),
            row("lrcn", 0, 0.5, train_clips_per_s=40.0, data_clips_per_s=900.0, memory_format="contiguous")]
    write_leaderboards(tmp_path, rows, "test board")
    md = (tmp_path / "leaderboard.md").read_text()
    assert "Loader-bound lines (loader clips/s below train clips/s): c3d." in md
    header = " | ".join(_markdown_tables(md)[1])  # the table of the other columns
    assert "loader clips/s | layout" in header
    assert "| 30.0 | channels_last |" in md and "| 900.0 | contiguous |" in md
