"""``lit-video report html RESULTS_DIR``: a sweep's results as one web page, ``RESULTS_DIR/index.html``, that opens
from disk with no server and no network: its style, script and charts are inside it.

The page holds the leaderboard (the columns of ``leaderboard.md``: its default view, ``Field.default_view``, the
others a click away in a column chooser; a line's label stays in place when the table scrolls sideways; sorted by
clicking a header, filtered by family, dataset and status in the browser), the leaderboard's charts as SVG
(``results.plots``, the same figures as the PNGs; hovering a point or bar names its model), the lecture's claims where
the rows have class groups (``report.lecture_claims``), and one section per leaderboard line built from its entries'
folders (``runs/<entry>/``): the resolved config, the per-layer FLOP table, the training and validation curves, the
confusion matrix of the test predictions, the throughput per batch size, the machine stamp, the wandb run and the
videos each seed skipped. A sweep writes it at its end; a results folder without ``runs/`` (a copy from git) gets
the page without the per-model detail, and says so, but never over a page that was built with those folders
(``write_html_report``). Its paths are relative to the results folder (``Paths``), and the command it shows writes
it again and nothing else (``PageCommand``), so that a page made in a temporary folder can be committed.

Why SVG by matplotlib, not a JavaScript charting library: matplotlib is already the project's, its SVG needs no
script to draw, and a page of 20 models stays near a megabyte; Plotly inlined adds 3.5 MB to every page, Vega-Lite
with its runtime about 0.8 MB. Tooltips are SVG ``<title>`` elements, which browsers show on hover.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..data.skipped import SKIPPED_FILE, read_skipped
from ..files import display_name, write_atomic
from ..results.folder import (
    DETAILS_FILE,
    PREDICTIONS_FILE,
    RUNS_DIR,
    ResultsFolder,
    UnreadableFile,
    latest_rows,
    read_json,
)
from ..results.leaderboard import board_task, cell_text, group_names, line_key, notes, pct_std, shown_columns
from ..results.lock import results_lock
from ..results.plots import Chart, leaderboard_charts, model_colours, svg
from ..results.schema import ACCURACY_FIELDS, HEADERS, LINE_LABEL, task_of

HERE = Path(__file__).parent
# The curves drawn from an entry's CSV log (``logs/version_*/metrics.csv``): (column, label); loss and accuracy.
LOSS_CURVES = (("train/loss", "train loss"), ("val/loss", "validation loss"))
ACCURACY_CURVES = (("train/clip_top1", "train clip top-1"), ("val/video_top1", "validation video top-1"))
CONFUSION_LABELS_UP_TO = 60  # classes named on the confusion matrix's axes up to this many
SKIPPED_SHOWN = 100  # a seed's skipped videos listed up to this many (the rest: its skipped_videos.txt)


@dataclass
class Seed:
    """One entry of a leaderboard line (one seed): its row and what its folder holds (None where missing)."""

    row: dict[str, Any]
    folder: Path
    details: dict[str, Any] | None = None
    predictions: dict[str, Any] | None = None
    log: list[dict[str, str]] | None = None  # the CSV log's rows
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # each file of the folder left out, and why

    def read(self, path: Path | None, read: Callable[[Path], Any]) -> Any:
        """What ``read`` makes of the folder's file ``path``: None where there is none, and None where it cannot be
        read or does not hold what it should, with the file and why in ``unreadable``: the page is written all
        the same, and the line's section names it."""
        if path is None or not path.is_file():
            return None
        try:
            return read(path)
        except UnreadableFile as err:
            self.unreadable.append((path, err.why))
        except OSError as err:
            self.unreadable.append((path, err.strerror or str(err)))
        return None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (video, why) of its skipped_videos.txt


@dataclass
class Section:
    """One leaderboard line's part of the page."""

    anchor: str
    line: dict[str, Any]
    seeds: list[Seed] = field(default_factory=list)


@dataclass(frozen=True)
class Paths:
    """How the page names files, so that it reads the same wherever the results folder is copied (a temporary
    folder's page committed to git): a path in the results folder relative to it, be it where the folder is or where
    it was when its entries ran; any other path (a dataset's root) as recorded."""

    places: tuple[Path, ...]  # the results folder, resolved, and where its entries' details say it was

    @classmethod
    def of(cls, results: ResultsFolder, seeds: list[Seed]) -> Paths:
        """The places of ``results``: where it is, and each folder that its entries' details name an entry folder in
        (``<place>/runs/<entry id>``)."""
        entries, places = {seed.folder.name for seed in seeds}, {results.path.resolve()}
        for text in (text for seed in seeds for text in _texts(seed.details)):
            parts = Path(text).parts
            places |= {Path(*parts[:i]) for i in range(1, len(parts) - 1)
                       if parts[i] == RUNS_DIR and parts[i + 1] in entries}
        return cls(tuple(places))

    def __call__(self, path: str | Path) -> str:
        for candidate in (Path(path), Path(path).resolve()):  # as recorded (where the folder was), and from here
            for place in self.places:
                if candidate.is_relative_to(place):
                    return candidate.relative_to(place).as_posix()
        return str(path)

    def in_config(self, value: Any) -> Any:
        """A config with its paths named as the page names them (a text with a ``/`` may be one)."""
        if isinstance(value, dict):
            return {key: self.in_config(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.in_config(item) for item in value]
        return self(value) if isinstance(value, str) and "/" in value and not re.match(r"\w+://", value) else value


@dataclass(frozen=True)
class PageCommand:
    """The command that writes the page again, to copy and run: from the working directory where the results folder
    is in it (the repository's root: ``results/lecture``), else in the results folder (``where``). It writes this
    page (``--out`` where that is not the folder's own ``index.html``) and nothing else."""

    folder: str  # the results folder, as the command names it
    text: str
    where: str | None

    @classmethod
    def of(cls, results: ResultsFolder, out: Path) -> PageCommand:
        folder, here = results.path.resolve(), Path.cwd().resolve()
        base = here if folder.is_relative_to(here) else folder
        command = ["lit-video", "report", "html", os.path.relpath(folder, base)]
        if out.resolve() != results.index_file.resolve():
            command += ["--out", os.path.relpath(out.resolve(), base)]
        return cls(command[3], shlex.join(command), None if base == here else "in the results folder")


def _texts(value: Any) -> Iterator[str]:
    """Every text in a JSON value."""
    if isinstance(value, dict | list):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _texts(item)
    elif isinstance(value, str):
        yield value


def _details(path: Path) -> dict[str, Any]:
    details = read_json(path)
    if not isinstance(details, dict):
        raise UnreadableFile(path, "not a JSON object")
    return details


def _predictions(path: Path) -> dict[str, Any]:
    """A predictions.json (``train.test_predictions``), checked against its own classes: each video's label (a list
    of them for multi-label data) and top classes are among them, so that counting them indexes no other class."""
    predictions = _details(path)
    classes, videos = predictions.get("classes"), predictions.get("videos")
    if not (isinstance(classes, list) and isinstance(videos, list) and all(isinstance(v, dict) for v in videos)):
        raise UnreadableFile(path, "not test predictions (a list of classes and one of videos)")
    for video in videos:
        label = video.get("label")
        for index in [*(label if isinstance(label, list) else [label]), *(video.get("top") or [None])]:
            if not (isinstance(index, int) and 0 <= index < len(classes)):
                raise UnreadableFile(path, f"does not match its classes (video {video.get('video')}: class {index}, "
                                           f"{len(classes)} classes)")
    return predictions


def _csv_log(folder: Path) -> Path | None:
    """The entry's CSV log: its last version's, the entry's latest fit."""
    logs = sorted(folder.glob("logs/version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[-1]))
    return logs[-1] if logs else None


def _csv_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    except (ValueError, csv.Error) as err:  # ValueError: UnicodeDecodeError, where it is not text
        raise UnreadableFile(path, f"not CSV ({err})") from err


def load_seed(results: ResultsFolder, row: dict[str, Any]) -> Seed:
    seed = Seed(row, results.entry_dir(row))
    seed.details = seed.read(seed.folder / DETAILS_FILE, _details)
    seed.predictions = seed.read(seed.folder / PREDICTIONS_FILE, _predictions)
    seed.log = seed.read(_csv_log(seed.folder), _csv_rows)
    seed.skipped = seed.read(seed.folder / SKIPPED_FILE, read_skipped) or []
    return seed


def load_sections(results: ResultsFolder, board: list[dict[str, Any]]) -> list[Section]:
    """The board's lines, each with the rows it averages (its ``config_hashes``; a board written before lines named
    them: the latest rows of its key) and their folders, by seed."""
    sections = [Section(f"line-{i}", line) for i, line in enumerate(board)]
    by_hash = {h: s for s in sections for h in s.line.get("config_hashes") or ()}
    by_key = {line_key(s.line): s for s in sections if "config_hashes" not in s.line}
    for row in sorted(latest_rows(results.rows()), key=lambda r: r.get("seed") or 0):
        section = by_hash.get(row.get("config_hash")) or by_key.get(line_key(row))
        if section is not None:
            section.seeds.append(load_seed(results, row))
    return sections


# -- the leaderboard table ---------------------------------------------------------------------------------------

def _sort_value(value: Any) -> Any:
    """What the browser sorts a cell by: the raw number, or the text; empty for none (sorted last)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def leaderboard_table(board: list[dict[str, Any]], sections: list[Section]) -> dict[str, Any]:
    """The columns (header, numeric or not, in the default view or not) and every line's cells (text shown, value
    sorted by), with its family, dataset and status for the filters."""
    table = shown_columns(board_task(board), group_names(board))
    rows = []
    for line, section in zip(board, sections, strict=True):
        cells = [{"text": cell_text(c, line), "value": _sort_value(c.value(line)),
                  "link": section.anchor if c.field.name == "variant" else None} for c in table]
        rows.append({"cells": cells, "family": str(line.get("family")), "dataset": str(line.get("dataset")),
                     "status": line["status"], "error": line.get("error")})
    columns = []
    for number, c in enumerate(table, 1):
        numeric = all(isinstance(_sort_value(c.value(line)), int | float) for line in board
                      if c.value(line) is not None)
        # Its kind styles it: a line's label stays in place when the table scrolls sideways, text aligns left.
        kind = "label" if c.field.name in LINE_LABEL else "" if numeric else "text"
        columns.append({"number": number, "header": c.header, "numeric": numeric, "default_view": c.default_view,
                        "kind": kind})
    return {"columns": columns, "rows": rows}


# -- one line's section ------------------------------------------------------------------------------------------

def curves_chart(section: Section) -> Chart | None:
    """Loss and accuracy against the optimiser step, one colour per seed: training every ``log_every_n_steps``,
    validation once per epoch."""
    import matplotlib.pyplot as plt

    logged = [seed for seed in section.seeds if seed.log]
    if not logged:
        return None
    chart = Chart(f"{section.anchor}-curves", plt.figure(figsize=(10, 3.6)))
    loss_ax, acc_ax = chart.fig.subplots(1, 2)
    for colour, seed in zip(model_colours(len(logged)), logged, strict=True):
        for ax, curves, scale in ((loss_ax, LOSS_CURVES, 1.0), (acc_ax, ACCURACY_CURVES, 100.0)):
            for (column, label), style in zip(curves, ("-", "o-"), strict=True):
                points = [(int(r["step"]), scale * float(r[column])) for r in seed.log if r.get(column)]
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, style, color=colour, linewidth=1, markersize=3,
                            alpha=0.55 if style == "-" else 1.0, label=f"{label}, seed {seed.row['seed']}")
    loss_ax.set(xlabel="optimiser step", ylabel="loss", title="Loss")
    acc_ax.set(xlabel="optimiser step", ylabel="%", title="Accuracy", ylim=(0, 101))
    for ax in (loss_ax, acc_ax):
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a fit that failed at once has no accuracy yet
            ax.legend(fontsize=6)
    chart.fig.tight_layout()
    return chart


def confusion_counts(seeds: list[Seed]) -> tuple[list[str], list[list[int]], int] | None:
    """Test videos counted by (true class, predicted class), summed over the seeds that saved predictions
    (single-label data only): ``(classes, counts K x K, seeds counted)``."""
    saved = [s.predictions for s in seeds if s.predictions and not s.predictions.get("multi_label")]
    if not saved:
        return None
    classes = saved[0]["classes"]
    counts = [[0] * len(classes) for _ in classes]
    for predictions in saved:
        for video in predictions["videos"]:
            counts[video["label"]][video["top"][0]] += 1
    return classes, counts, len(saved)


def confusion_chart(section: Section) -> Chart | None:
    import matplotlib.pyplot as plt

    found = confusion_counts(section.seeds)
    if found is None:
        return None
    classes, counts, n = found
    classes = [display_name(str(name)) for name in classes]  # a class folder's name may not be UTF-8
    k = len(classes)
    side = min(12.0, max(4.0, 0.22 * k + 2))
    chart = Chart(f"{section.anchor}-confusion", plt.figure(figsize=(side + 1.5, side)))
    ax = chart.fig.add_subplot()
    image = ax.imshow(counts, cmap="Blues", interpolation="nearest")
    chart.fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="test videos")
    if k <= CONFUSION_LABELS_UP_TO:
        ax.set_xticks(range(k), classes, rotation=90, fontsize=6)
        ax.set_yticks(range(k), classes, fontsize=6)
    correct = sum(counts[i][i] for i in range(k))
    total = sum(map(sum, counts))
    ax.set(xlabel="predicted class", ylabel="true class",
           # Two lines: on one, the title ran over the colour bar's top label.
           title=f"Test videos by true and predicted class\n({n} seed{'s' if n > 1 else ''} summed; "
                 f"{correct}/{total} on the diagonal)")
    return chart


def layer_table(details: dict[str, Any] | None) -> dict[str, Any] | None:
    flops = (details or {}).get("flops")
    if not flops:
        return None
    rows = [[layer["name"], layer["type"], "×".join(map(str, layer.get("output_shape") or [])),
             "×".join(map(str, layer.get("receptive_field") or [])), f"{layer['gmacs']:.4f}", f"{layer['params']:,}",
             str(layer.get("calls", ""))] for layer in flops.get("layers", [])]
    measured = any(layer.get("receptive_field") for layer in flops.get("layers", []))
    shape = flops.get("input_shape")
    shapes = shape.items() if isinstance(shape, dict) else [(None, shape)]  # a multi-stream model: one per stream
    shape = ", ".join(("" if name is None else f"{name} ") + "×".join(map(str, dims or [])) for name, dims in shapes)
    return {"rows": rows, "counter": flops.get("counter"), "input_shape": shape,
            "gmacs": flops.get("gmacs"), "params": flops.get("params"), "receptive_fields": measured}


# The profiler's figures at each batch size: (field, header, format); the leaderboard's headers where it has the field.
PER_BATCH = (("batch_size", "batch", "{}"), *((f, HEADERS[f], "{:.1f}") for f in (
    "infer_clips_per_s", "latency_ms_p50", "latency_ms_p95", "train_clips_per_s")),
    ("peak_mem_mb", "peak mem MB (inference)", "{:.0f}"), ("train_peak_mem_mb", "peak mem MB (training)", "{:.0f}"))


def throughput_table(details: dict[str, Any] | None) -> dict[str, Any] | None:
    speed = (details or {}).get("throughput")
    if not speed or not speed.get("per_batch"):
        return None
    rows = [[("" if point.get(key) is None else fmt.format(point[key])) for key, _, fmt in PER_BATCH]
            for point in speed["per_batch"]]
    return {"headers": [h for _, h, _ in PER_BATCH], "rows": rows, "options": speed.get("options"),
            "peak_source": speed.get("peak_source"), "flow": speed.get("flow")}


def machine_stamp(seeds: list[Seed]) -> dict[str, Any]:
    """Where and with what the line was measured: its last seed's row stamp, and the profiler's machine."""
    if not seeds:  # a leaderboard.json without the results.jsonl behind it
        return {}
    row = seeds[-1].row
    machine = ((seeds[0].details or {}).get("throughput") or {}).get("machine")
    return {"device": row.get("device"), "dtype": row.get("dtype"), "git_sha": row.get("git_sha") or "unknown",
            "versions": row.get("versions"), "machine": machine, "train_threads": row.get("train_threads"),
            "dataset_fingerprint": row.get("dataset_fingerprint")}


def skipped_videos(seeds: list[Seed], paths: Paths) -> list[dict[str, Any]]:
    """The seeds that skipped videos: how many (the row's count; the list's length for a row that has none), the
    first ``SKIPPED_SHOWN`` of their list (empty where the entry's folder is not here) and where the whole is."""
    shown = []
    for seed in seeds:
        count = seed.row.get("skipped_videos") or len(seed.skipped)
        if count:
            shown.append({"seed": seed.row.get("seed"), "count": count, "file": paths(seed.folder / SKIPPED_FILE),
                          "videos": [(display_name(paths(video)), display_name(why))  # a name not UTF-8: U+FFFD
                                     for video, why in seed.skipped[:SKIPPED_SHOWN]],
                          "more": max(0, len(seed.skipped) - SKIPPED_SHOWN)})
    return shown


def entry_config(seed: Seed, paths: Paths) -> str | None:
    """The entry's resolved config as YAML."""
    config = (seed.details or {}).get("resolved_config")
    return None if config is None else yaml.safe_dump(paths.in_config(config), sort_keys=False, width=110)


def section_view(section: Section, paths: Paths) -> dict[str, Any]:
    """What the template shows of one line."""
    seeds = section.seeds
    first = next((s for s in seeds if s.details), None)
    config_seed = next((s for s in seeds if (s.details or {}).get("resolved_config")), first)
    curves, line = curves_chart(section), section.line
    task = task_of(line)
    return {
        "anchor": section.anchor, "line": line, "status": line["status"],
        "title": f"{line['variant']} ({line['dataset']}, {line['frames']}×{line['size']} px, "
                 f"{line['eval_views']} views)",
        "summary": [(name.replace("_", " "), pct_std(line.get(name), line.get(f"{name}_std")))
                    for name in ACCURACY_FIELDS if line.get(name) is not None],
        "folders_missing": [paths(s.folder) for s in seeds if not s.folder.is_dir()],
        "unreadable": [(paths(file), why) for s in seeds for file, why in s.unreadable],
        "errors": [(s.row.get("seed"), s.row.get("error")) for s in seeds if s.row.get("status") == "failed"],
        "skipped": skipped_videos(seeds, paths),
        "config": entry_config(config_seed, paths) if config_seed else None,
        "layers": layer_table(first.details if first else None),
        "curves": curves and svg(curves),
        "task": TASK_PARTS[task].line(section),
        "throughput": throughput_table(first.details if first else None),
        "machine": machine_stamp(seeds),
        "wandb": [(s.row.get("seed"), (s.details or {}).get("wandb")) for s in seeds],
        "checkpoints": [(s.row.get("seed"), checkpoint and paths(checkpoint))
                        for s in seeds for checkpoint in [(s.details or {}).get("checkpoint")]],
    }


# -- the page ----------------------------------------------------------------------------------------------------

def _markdown(text: str, demote: int = 0) -> str:
    """Markdown (tables too) as HTML; headings ``demote`` levels lower, to sit under the page's own. No raw HTML, no
    link and no image: the page fetches nothing and leads nowhere else, whatever a label slipped past its writer's
    escaping (``leaderboard.markdown_text``) would say."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False}).enable("table").disable(["link", "image", "autolink"])
    rendered = parser.render(text)
    return re.sub(r"<(/?)h([1-6])>", lambda m: f"<{m[1]}h{min(6, int(m[2]) + demote)}>", rendered)


def lecture_claims_html(rows: list[dict[str, Any]], command: PageCommand) -> str | None:
    """The lecture-claims report of these rows, where they have class groups: made, and made again, by the page's
    command."""
    from .lecture_claims import render

    if not any(r.get("group_acc") for r in rows):
        return None
    text, _ = render(rows, command.folder, command.text)
    return _markdown(text.split("\n", 1)[1], demote=1)  # without its title: the page's section has one


# -- each task's parts -------------------------------------------------------------------------------------------

def classification_page(rows: list[dict[str, Any]], command: PageCommand) -> dict[str, Any]:
    """The page's classification part: the lecture's claims (``classification_page.html.j2``)."""
    claims = lecture_claims_html(rows, command)
    return {"claims": claims, "nav": [("claims", "Lecture claims")] if claims else []}


def classification_line(section: Section) -> dict[str, Any]:
    """A line's classification part: the confusion matrix of its test predictions and each stream's accuracy
    (``classification_line.html.j2``)."""
    confusion = confusion_chart(section)
    return {"confusion": confusion and svg(confusion), "stream_acc": section.line.get("stream_acc"),
            "multi_label": any((s.predictions or {}).get("multi_label") for s in section.seeds)}


@dataclass(frozen=True)
class TaskParts:
    """What the page shows of a task besides what every task has (leaderboard, charts, cost, curves, config,
    machine): ``page`` for the whole page and ``line`` for each line's section, rendered by the templates
    ``<task>_page.html.j2`` and ``<task>_line.html.j2``."""

    page: Callable[[list[dict[str, Any]], PageCommand], dict[str, Any]]
    line: Callable[[Section], dict[str, Any]]


TASK_PARTS = {"classification": TaskParts(classification_page, classification_line)}


def render_page(results_dir: str | Path, out: str | Path | None = None) -> str:
    """The report of the sweep in ``results_dir`` as one HTML document, to be written to ``out`` (default
    ``results_dir/index.html``)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    results = ResultsFolder(results_dir)
    board = results.board()
    sections = load_sections(results, board)
    rows = [seed.row for section in sections for seed in section.seeds]
    paths = Paths.of(results, [seed for section in sections for seed in section.seeds])
    command = PageCommand.of(results, Path(out) if out is not None else results.index_file)
    task = board_task(board)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["json"] = lambda value: json.dumps(value, default=str)
    table = leaderboard_table(board, sections)
    views = [section_view(section, paths) for section in sections]
    return env.get_template("report.html.j2").render(
        missing=sorted(Path(folder).name for view in views for folder in view["folders_missing"]),
        name=results.path.resolve().name, generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        command=command, task=task,
        notes=_markdown("\n".join(notes(board))), table=table,
        families=sorted({row["family"] for row in table["rows"]}),
        datasets=sorted({row["dataset"] for row in table["rows"]}),
        statuses=sorted({row["status"] for row in table["rows"]}),
        charts=[(chart.name, svg(chart)) for chart in leaderboard_charts(board)],
        page=TASK_PARTS[task].page(rows, command),
        sections=views,
        style=(HERE / "templates" / "report.css").read_text(), script=(HERE / "templates" / "report.js").read_text(),
    )


# The entry folders a page was built without, named in its head: what a rewrite compares to know it drops nothing.
MISSING_MARK = re.compile(r'<meta name="lit-video-missing-entry-folders" content="([^"]*)">')


class PageWouldLoseDetail(ValueError):
    """A rewrite of a page without entry folders the page was built with (a clone has no ``runs/``)."""


def missing_folders(page: str) -> set[str]:
    """The entry folders ``page`` was built without (none for a page written before it said so)."""
    mark = MISSING_MARK.search(page)
    return set(mark[1].split()) if mark else set()


def write_html_report(results_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of ``results_dir`` to ``out`` (default ``results_dir/index.html``); returns the path. Raises
    PageWouldLoseDetail, writing nothing, where the page there was built with entry folders this one lacks, and
    ResultsFolderBusy where the page goes into the folder while another writer has it."""
    results = ResultsFolder(results_dir)
    path = Path(out) if out is not None else results.index_file
    # Into the folder, the page is one more writer: never beside a running sweep, whose rows and page are half
    # written. Written elsewhere, it only reads the folder.
    inside = results.path.is_dir() and path.resolve().is_relative_to(results.path.resolve())
    with results_lock(results.path, "lit-video report html") if inside else contextlib.nullcontext():
        page = render_page(results_dir, path)
        if path.is_file() and (lost := missing_folders(page) - missing_folders(path.read_text())):
            raise PageWouldLoseDetail(
                f"{path} not overwritten: it was built with {len(lost)} entry folder(s) missing from "
                f"{results.runs_dir} (runs/ is not in git); give --out FILE, or delete the page to rebuild it without "
                "them")
        write_atomic(path, page)
    return path


def write_after_sweep(results_dir: Path) -> int:
    """``lit-video sweep``'s last step: the page of the sweep that just wrote ``results_dir``. 0, or 1 when it could
    not be written (said why; the rows, tables and plots are there all the same)."""
    try:
        path = write_html_report(results_dir)
    except Exception as err:  # a report must not hide the sweep's own outcome: say what broke and exit non-zero
        print(f"lit-video sweep: the HTML report could not be written: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(f"report: {path} (open it in a browser)")
    return 0
