"""Leaderboards: results rows combined over seeds into one line per model variant (each field as its schema says:
``Field.seeds``), written as CSV, Markdown and JSON (each file replaced atomically). The tables' columns are the
schema's (``schema.columns``): the Markdown, the CSV, the HTML report and the wandb table show the same ones, and the
tables people read its default view first (``Field.default_view``), the other columns a table or a click away."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..files import write_atomic
from ..profiling.counting import COUNTER
from .folder import ResultsFolder, variant_of
from .schema import (
    ACCURACY_FIELDS,
    ALL_TASKS,
    FIELD,
    KEY_FIELDS,
    LAST_FIELDS,
    LINE_LABEL,
    MEAN_FIELDS,
    Column,
    columns,
    decimals,
    is_missing,
    percent,
    task_of,
    with_derived,
)


def _measured(values: list[float]) -> list[float]:
    """The values that were measured: None and NaN left out (statistics.stdev fails on a NaN with
    ``'float' object has no attribute 'numerator'``)."""
    return [v for v in values if not is_missing(v)]


def _mean(values: list[float]) -> float | None:
    values = _measured(values)
    return statistics.fmean(values) if values else None


def _std(values: list[float]) -> float | None:
    values = _measured(values)
    return statistics.stdev(values) if len(values) > 1 else None


# Student's t at 97.5 % for 1..30 degrees of freedom (beyond: the normal's 1.96): a 95 % interval of a mean.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def ci95(std: float | None, n: int | None) -> float | None:
    """Half-width of the 95 % confidence interval of a mean over ``n`` seeds with standard deviation ``std``;
    None for fewer than two seeds (one run says nothing about the noise)."""
    if std is None or not n or n < 2:
        return None
    return (T_975[n - 2] if n - 1 <= len(T_975) else 1.96) * std / math.sqrt(n)


def within_noise(a: dict[str, Any], b: dict[str, Any], field: str = "video_top1") -> bool | None:
    """Whether two leaderboard lines' 95 % intervals of ``field`` overlap: None when either has one seed."""
    ca, cb = a.get(f"{field}_ci95"), b.get(f"{field}_ci95")
    if ca is None or cb is None or a.get(field) is None or b.get(field) is None:
        return None
    return abs(a[field] - b[field]) <= ca + cb


def line_key(line: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies a leaderboard line (a row or a line of any leaderboard file): its ``KEY_FIELDS``."""
    return tuple(variant_of(line) if k == "variant" else line.get(k) for k in KEY_FIELDS)


def leaderboard(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (dataset, model variant, clip shape, eval views): ok seeds averaged, best video top-1 first.

    Only trained lines are ranked. A profile-only line (status ``profiled``) has cost figures and no accuracy; a
    line whose every seed failed stays on the board, unranked and last, with its error, so a failure is seen.
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(line_key(row), []).append(row)
    board = []
    for key, members in groups.items():
        ok = [r for r in members if r.get("status") == "ok"]
        profiled = [r for r in members if r.get("status") == "profiled"]  # cost measured, never trained
        costed = ok or profiled
        use = costed or members
        line: dict[str, Any] = dict(zip(KEY_FIELDS, key, strict=True))
        line |= {name: FIELD[name].of(use[-1]) for name in LAST_FIELDS}
        line["seeds"] = len(ok)
        line["config_hashes"] = [r.get("config_hash") for r in members]  # the rows behind the line, every status
        for name in ACCURACY_FIELDS:
            values = [r.get(name) for r in ok]
            line[name], line[f"{name}_std"] = _mean(values), _std(values)
            line[f"{name}_ci95"] = ci95(line[f"{name}_std"], len(_measured(values)))
        for name in MEAN_FIELDS:
            line[name] = _mean([r.get(name) for r in costed])
        group_names = sorted({g for r in ok for g in (r.get("group_acc") or {})})
        per_group = {g: [(r.get("group_acc") or {}).get(g) for r in ok] for g in group_names}
        line["group_acc"] = {g: _mean(values) for g, values in per_group.items()}
        line["group_acc_std"] = {g: _std(values) for g, values in per_group.items()}
        line["stream_acc"] = stream_means(ok)
        line = with_derived(line)
        failed = [r for r in members if r.get("status") == "failed"]
        line["status"] = "ok" if ok else "profiled" if profiled else "failed"
        line["failed_seeds"] = [r.get("seed") for r in failed]
        line["error"] = failed[-1].get("error") if failed else None
        board.append(line)
    board.sort(key=lambda r: (str(r["dataset"]), r["video_top1"] is None, -(r["video_top1"] or 0.0),
                              r["variant"]))
    ranks: dict[str, int] = {}
    above: dict[str, dict[str, Any]] = {}
    for line in board:  # trained lines ranked within each dataset; a line within noise of the one above says so
        if line["status"] != "ok":
            line["rank"], line["within_noise_of"] = None, None
            continue
        ranks[line["dataset"]] = line["rank"] = ranks.get(line["dataset"], 0) + 1
        previous = above.get(line["dataset"])
        line["within_noise_of"] = previous["variant"] if previous and within_noise(previous, line) else None
        above[line["dataset"]] = line
    return board


def stream_means(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    """Each stream's test accuracies of a multi-stream model, averaged over ``rows`` (seeds), with their standard
    deviation: ``{stream: {"video_top1", "video_top1_std", "group_acc", "group_acc_std"}}``; None for other
    models."""
    streams = list(dict.fromkeys(s for r in rows for s in r.get("stream_acc") or {}))
    means = {}
    for stream in streams:
        accs = [(r.get("stream_acc") or {}).get(stream) or {} for r in rows]
        groups = sorted({g for a in accs for g in a.get("group_acc") or {}})
        per_group = {g: [(a.get("group_acc") or {}).get(g) for a in accs] for g in groups}
        top1 = [a.get("video_top1") for a in accs]
        means[stream] = {"video_top1": _mean(top1), "video_top1_std": _std(top1),
                         "group_acc": {g: _mean(v) for g, v in per_group.items()},
                         "group_acc_std": {g: _std(v) for g, v in per_group.items()}}
    return means or None


def pct_std(mean: Any, std: Any) -> str:
    """A per-group accuracy: mean ± standard deviation over seeds (the mean alone with one seed)."""
    return percent(mean) + ("" if mean is None or std is None else f" ± {100 * std:.1f}")


def line_name(line: dict[str, Any]) -> str:
    """A line's name in the tables people read: its variant label, and its model's name where a label given in
    the sweep does not start with it (a derived label does: ``single_frame[backbone=resnet34]``)."""
    variant, model = variant_of(line), str(line.get("model"))
    return variant if variant.startswith(model) else f"{variant} ({model})"


def shown_columns(task: str, groups: Iterable[str] = ()) -> list[Column]:
    """The columns of the tables people read (the Markdown, the HTML report): the schema's, but ``model``, which
    the variant's cell names (``line_name``)."""
    return [c for c in columns(task, groups) if c.field.name != "model"]


def cell_text(column: Column, line: dict[str, Any]) -> str:
    """What the tables people read show of ``line`` in ``column``."""
    name = column.field.name
    if name == "rank" and line.get("within_noise_of"):  # no better than the line above beyond noise
        return f"{line['rank']} (≈{line['rank'] - 1})"
    if name == "variant":
        return line_name(line)
    if column.group is not None:  # a class group's accuracy, with its spread over seeds
        return pct_std(column.value(line), (line.get(f"{name}_std") or {}).get(column.group))
    return column.field.format(column.value(line))


def markdown_columns(task: str, groups: Iterable[str] = ()) -> list[Column]:
    """The Markdown's columns: it lists ok lines only (the others get sections of their own), so no status."""
    return [c for c in shown_columns(task, groups) if c.field.name != "status"]


def profiled_columns(task: str) -> list[Column]:
    """What identifies a profile-only line and what it costs: the Markdown columns every task has (no metric), but
    those of a fit."""
    return [c for c in markdown_columns(task) if c.field.tasks == ALL_TASKS
            and c.field.name not in ("rank", "seeds", "train_time_s", "data_clips_per_s", "memory_format")]


STAMP = ("device", "git_sha", "error")  # compare needs the device: speeds compare on one device only


def group_names(board: list[dict[str, Any]]) -> list[str]:
    """The class groups of a board's lines, each a column of its tables."""
    return sorted({g for line in board for g in line.get("group_acc") or {}})


def board_task(board: list[dict[str, Any]]) -> str:
    """The task of a board's lines (a sweep trains one task)."""
    return task_of(board[0] if board else {})


def to_csv(board: list[dict[str, Any]]) -> str:
    """Every column (a class group's accuracy in place, its spread over seeds after them all) and the stamp."""
    groups = group_names(board)
    table = columns(board_task(board), groups)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in table] + [f"group_acc_std/{g}" for g in groups] + list(STAMP))
    for line in board:
        cells = [c.value(line) for c in table] + [(line.get("group_acc_std") or {}).get(g) for g in groups]
        writer.writerow(["" if v is None else v for v in cells + [line.get(k) for k in STAMP]])
    return out.getvalue()


def markdown_text(text: Any, code: bool = False) -> str:
    """``text`` that a row or a user gave (a label, a device, an error, a path) as Markdown that shows it as written,
    for every Markdown lit-video writes: each character that could start markup escaped (``|``, a table's cell
    break; ``[``, a link or an image from the network; ``<``, raw HTML or a link; backticks, emphasis, ``&``
    entities, GitHub's ``~`` and ``$``; ``_`` but inside a word, where it is none), a line break a space. ``code``:
    a code span instead, its fence longer than any run of backticks in it (nothing inside is markup; not for a
    table's cell, where ``|`` still ends it)."""
    text = re.sub(r"[\r\n]+", " ", str(text))
    if code:
        fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
        pad = " " if text.startswith("`") or text.endswith("`") else ""
        return f"{fence}{pad}{text}{pad}{fence}"
    text = re.sub(r"([\\`*\[<|&~$])", r"\\\1", text)
    return re.sub(r"(?<![^\W_])_|_(?![^\W_])", r"\\_", text)


def notes(board: list[dict[str, Any]]) -> list[str]:
    """What a leaderboard's figures mean and where they were measured (Markdown paragraphs), for every rendering
    of it (the Markdown table, the HTML report)."""
    devices = sorted({str(line["device"]) for line in board if line.get("device")})
    shas = sorted({str(line["git_sha"]) for line in board if line.get("git_sha")})
    # Speeds are measured with the device's threads; a sweep with `parallel` fits models side by side on fewer.
    fit_threads = sorted({line["train_threads"] for line in board if line.get("train_threads")})
    fits = f" Fits (train s) ran with {' or '.join(map(str, fit_threads))} torch thread(s) each." if fit_threads else ""
    machine, commit = (markdown_text(", ".join(values) or "unknown") for values in (devices, shas))
    return [f"Machine: {machine}. lit-video commit: {commit}.{fits}",
            "Accuracies are video-level (softmax averaged over the eval views) unless marked clip; "
            f"GMACs = 10^9 multiply-accumulates counted by {COUNTER}, GFLOPs = 2 x GMACs; "
            "± in a class group's column and ± (seeds) are the standard deviation over seeds, 95% CI ± the "
            "half-width of the 95 % confidence interval "
            "of the mean (Student's t); a rank marked (≈N) is within noise of rank N (their intervals overlap), "
            "so the two are not told apart. A line with one seed has no interval: its rank is not a claim. "
            "Train clips/s is the model's training speed alone (the profiler, on synthetic clips); loader clips/s "
            "the training loader's in the fit's own process, and below the model's the loader is the bottleneck; "
            "layout is the memory format the fit trained in."]


def markdown_table(table: list[Column], lines: list[dict[str, Any]]) -> list[str]:
    """``lines`` as a Markdown table of ``table``'s columns."""
    rows = [[c.header for c in table], ["---"] * len(table), *([cell_text(c, line) for c in table] for line in lines)]
    return ["| " + " | ".join(map(markdown_text, row)) + " |" for row in rows]


def to_markdown(board: list[dict[str, Any]], title: str) -> str:
    """The trained lines in two tables: the default view (``Field.default_view``: accuracy, by class group too, and
    cost), then every other column by rank and variant; then each stream alone, the profiled and failed lines."""
    groups, task = group_names(board), board_task(board)
    table = markdown_columns(task, groups)
    trained = [line for line in board if line["status"] == "ok"]
    lines = [f"# {title}", "", *notes(board), "", *markdown_table([c for c in table if c.default_view], trained)]
    lines += ["", "## Every other column", "", "The lines above, by rank and variant.", "",
              *markdown_table([c for c in table if c.field.name in LINE_LABEL or not c.default_view], trained)]
    loaded = [line for line in board if line["status"] == "ok" and line.get("data_clips_per_s")]
    if loaded:
        bound = [line["variant"] for line in loaded
                 if line.get("train_clips_per_s") and line["data_clips_per_s"] < line["train_clips_per_s"]]
        bound_text = markdown_text(", ".join(bound) or "none")
        lines += ["", f"Loader-bound lines (loader clips/s below train clips/s): {bound_text}."]
    streamed = [line for line in board if line["status"] == "ok" and line.get("stream_acc")]
    if streamed:
        lines += ["", "## Each stream alone", "",
                  "Models with several outputs (two_stream: a spatial stream on one RGB frame, a temporal stream on "
                  "optical flow) scored one stream at a time on the same views; the table above has their fused "
                  "prediction. GMACs are per clip, of that stream's network; the flow's own cost is the table's "
                  "`flow ms/clip`.", "",
                  "| model | stream | GMACs/clip | video top-1 % | ± (seeds) | "
                  + " | ".join(markdown_text(f"{g} %") for g in groups) + " |", "|" + "---|" * (5 + len(groups))]
        for line in streamed:
            for stream, acc in line["stream_acc"].items():
                gmacs = (line.get("stream_gmacs_per_clip") or {}).get(stream)
                cells = [line_name(line), stream, decimals(4)(gmacs), percent(acc["video_top1"]),
                         percent(acc["video_top1_std"])]
                cells += [pct_std(acc["group_acc"].get(g), acc["group_acc_std"].get(g)) for g in groups]
                lines.append("| " + " | ".join(map(markdown_text, cells)) + " |")
    profiled = [line for line in board if line["status"] == "profiled"]
    if profiled:
        lines += ["", "## Profiled only", "",
                  "Not trained in this sweep (`profile_only`, the sweep config says why: a run its budget allows "
                  "would not mean anything): cost figures only.", "", *markdown_table(profiled_columns(task), profiled)]
    failed = [line for line in board if line["failed_seeds"]]
    if failed:
        lines += ["", "## Failed entries", ""]
        for line in failed:
            seeds = ", ".join(str(s) for s in line["failed_seeds"])
            lines.append(f"- {markdown_text(line['variant'], code=True)} on {markdown_text(line['dataset'])} "
                         f"(seed {seeds}): {markdown_text(line['error'])}")
    return "\n".join(lines) + "\n"


def write_leaderboards(out_dir: str | Path, rows: list[dict[str, Any]], title: str) -> list[dict[str, Any]]:
    """Regenerate the results folder's leaderboard.csv/.md/.json from rows (each file replaced atomically); returns
    the board."""
    folder, board = ResultsFolder(out_dir), leaderboard(rows)
    write_atomic(folder.leaderboard_file("json"), json.dumps(board, indent=2, default=str) + "\n")
    write_atomic(folder.leaderboard_file("csv"), to_csv(board))
    write_atomic(folder.leaderboard_file("md"), to_markdown(board, title))
    return board
