"""``lit-video compare A B``: two leaderboards as a table of deltas, one line per model, regressions flagged.

A and B are sweep folders, ``leaderboard.json`` / ``.csv`` files, or ``results.jsonl`` files. A line of B
regresses when an accuracy drops by more than ``--threshold`` points and, where both sides have several seeds,
beyond the noise (their 95 % intervals over seeds do not overlap; with one seed the output says the threshold
alone judged it); when a speed figure gets worse by more than ``--speed-threshold`` (only when both ran on the
same device: speeds of different machines do not compare); or when a model that passed in A failed or is
missing in B. ``--fail-on-regression`` makes that exit 1, to guard CI. Lines are compared only where both were
measured on the same data (their ``dataset_fingerprint``, where both boards record it): a line of one dataset label
measured on other data is noted, not judged, and where no line compares at all the command exits 2 saying why. The
table shows the key figures (``TABLE_METRICS``); below it, each flagged line's regressions say which figures and by
how much.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from ..results.folder import ResultsFolder, read_rows
from ..results.leaderboard import leaderboard, line_key, within_noise
from ..results.schema import DONE_STATUSES, FIELD, FIELDS, HEADERS, KEY_FIELDS
from ..terminal import console as terminal_console
from ..terminal import fit

# What compare judges (``Field.better``): accuracies in points (a % field), speeds relatively (a timed field, on one
# device only), the rest noted where it changed (GMACs: a different model or input).
ACCURACY_METRICS = tuple(f.name for f in FIELDS if f.better and f.unit == "%")
SPEED_METRICS = {f.name: f.better == "higher" for f in FIELDS if f.better and f.timed}  # field: higher is better
FIGURES = tuple(f.name for f in FIELDS if f.better)
COST_FIGURES = tuple(f for f in FIGURES if f not in ACCURACY_METRICS and f not in SPEED_METRICS)
# The table's figures, A, B and the change for each: the first accuracy and the first speed compare judges (video
# top-1, which ranks the leaderboard, and inference clips/s). Every figure is judged; the details name the rest.
TABLE_METRICS = (ACCURACY_METRICS[0], next(iter(SPEED_METRICS)))


def load_board(path: str | Path) -> list[dict[str, Any]]:
    """A leaderboard from a sweep folder, a leaderboard.json/.csv or a results.jsonl; errors name the path."""
    path = Path(path)
    if path.is_dir():
        folder = ResultsFolder(path)
        candidates = (folder.leaderboard_file("json"), folder.results_file, folder.leaderboard_file("csv"))
        for candidate in candidates:
            if candidate.is_file():
                return load_board(candidate)
        raise ValueError(f"{path}: no {', '.join(c.name for c in candidates[:-1])} or {candidates[-1].name} in this "
                         "folder")
    if not path.is_file():
        raise ValueError(f"{path}: no such file or folder")
    try:
        if path.suffix == ".jsonl":
            return leaderboard(read_rows(path))
        if path.suffix == ".json":
            board = json.loads(path.read_text())
        elif path.suffix == ".csv":
            with path.open(newline="") as f:
                board = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]
        else:
            raise ValueError("expected a .json, .csv or .jsonl leaderboard")
    except (json.JSONDecodeError, csv.Error, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable leaderboard ({err})") from err
    if not isinstance(board, list) or not all(isinstance(r, dict) and "model" in r for r in board):
        raise ValueError(f"{path}: not a leaderboard (expected a list of lines with a `model` field)")
    return board


def _number(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@dataclass
class Comparison:
    key: tuple[Any, ...]
    a: dict[str, Any] | None
    b: dict[str, Any] | None
    regressions: list[str]
    notes: list[str]

    @property
    def both(self) -> bool:
        return self.a is not None and self.b is not None

    @property
    def compared(self) -> bool:
        """Both lines there, measured on the same data: B's figures judged against A's."""
        return self.both and other_data(self.a, self.b) is None


def _key(line: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(k) for k in line_key(line))


def compare_boards(a: list[dict[str, Any]], b: list[dict[str, Any]], threshold: float = 1.0,
                   speed_threshold: float = 0.10) -> list[Comparison]:
    """Match lines by (dataset, model variant, clip shape, eval views) and compare those measured on the same data;
    ``threshold`` is in accuracy points (%)."""
    lines_a, lines_b = {_key(x): x for x in a}, {_key(x): x for x in b}
    result = []
    for key in [*lines_a, *[k for k in lines_b if k not in lines_a]]:
        la, lb = lines_a.get(key), lines_b.get(key)
        regressions, notes = [], []
        if la and lb and (data := other_data(la, lb)):  # one label, other videos: no figure of B means a change
            result.append(Comparison(key, la, lb, [], [f"measured on different data ({data}): not compared"]))
            continue
        # A profile-only line has cost figures to compare and no accuracy.
        a_ok, b_ok = (x is not None and x.get("status") in DONE_STATUSES for x in (la, lb))
        if a_ok and lb is None:
            regressions.append("missing in B")
        elif a_ok and not b_ok:
            regressions.append(f"failed in B: {lb.get('error')}")
        elif la is None:
            notes.append("new in B")
        if a_ok and b_ok:
            for field in ACCURACY_METRICS:
                va, vb = la.get(field), lb.get(field)
                if va is None or vb is None or 100 * (va - vb) <= threshold:
                    continue
                drop = f"{HEADERS[field]} {100 * va:.1f} -> {100 * vb:.1f} ({100 * (vb - va):+.1f} points"
                noise = within_noise(la, lb, field)
                if noise:  # a drop the seeds' own spread explains is no regression
                    notes.append(f"{drop}): within the noise over seeds (95 % intervals overlap)")
                elif noise is None:
                    regressions.append(f"{drop}; one seed: judged against --threshold alone)")
                else:  # the gap between the two 95 % intervals
                    beyond = 100 * (va - vb - la[f"{field}_ci95"] - lb[f"{field}_ci95"])
                    regressions.append(f"{drop}, {beyond:.1f} beyond the noise over seeds)")
            if la.get("device") == lb.get("device"):
                for field, higher_better in SPEED_METRICS.items():
                    va, vb = la.get(field), lb.get(field)
                    if not va or vb is None:
                        continue
                    change = (vb - va) / va if higher_better else (va - vb) / va  # < 0 means worse
                    if change < -speed_threshold:
                        regressions.append(f"{HEADERS[field]} {va:.4g} -> {vb:.4g} ({100 * change:+.0f}%)")
            else:
                notes.append("different devices: speeds not compared")
            for field in COST_FIGURES:
                if la.get(field) != lb.get(field):
                    notes.append(f"{HEADERS[field]} changed (a different model or input)")
        result.append(Comparison(key, la, lb, regressions, notes))
    return result


def other_data(la: dict[str, Any], lb: dict[str, Any]) -> str | None:
    """``A: 32 videos, hash ...; B: 5000 videos, hash ...`` where the two lines were measured on different data;
    None where on the same, or where a side does not say (a CSV leaderboard, a row older than fingerprints)."""
    data_a, data_b = la.get("dataset_fingerprint"), lb.get("dataset_fingerprint")
    if not data_a or not data_b or data_a == data_b:
        return None
    text = FIELD["dataset_fingerprint"].format
    return f"A: {text(data_a)}; B: {text(data_b)}"


def nothing_compared(rows: list[Comparison], a: list[dict[str, Any]], b: list[dict[str, Any]]) -> str:
    """Why no line was compared: the lines A and B share were measured on different data, or they share none, and
    then which key fields set the boards apart (a field whose values in A and in B have none in common)."""
    if any(row.a and row.b for row in rows):
        return "every line A and B share was measured on different data (see the notes)"
    values = lambda board, field: {str(line.get(field)) for line in board}  # noqa: E731
    apart = [f"{field} (A: {', '.join(sorted(values(a, field)))}; B: {', '.join(sorted(values(b, field)))})"
             for field in KEY_FIELDS if values(a, field).isdisjoint(values(b, field))]
    return (f"no line of B matches one of A (by {', '.join(KEY_FIELDS)})"
            + (f"; they differ in {'; '.join(apart)}" if apart else ""))


def _figure(value: float | None, percent: bool) -> str:
    if value is None:
        return "-"
    value = 100 * value if percent else value
    return f"{value:.1f}" if percent or abs(value) < 100 else f"{value:.0f}"


def _change(va: float | None, vb: float | None, percent: bool) -> str:
    """B's change from A: in points for a percentage, else relative (none where a side has no figure)."""
    if va is None or vb is None or (not percent and not va):
        return ""
    return f"{100 * (vb - va):+.1f}" if percent else f"{100 * (vb - va) / va:+.0f}%"


def _labels(rows: list[Comparison]) -> list[str]:
    """Each line's name: its variant, with its dataset where the boards have several, and its whole key where
    that is still ambiguous (a line whose clip changed is two lines: missing in B, new in B)."""
    at = {name: KEY_FIELDS.index(name) for name in ("variant", "dataset")}
    several = len({row.key[at["dataset"]] for row in rows}) > 1
    labels = [row.key[at["variant"]] + (f" ({row.key[at['dataset']]})" if several else "") for row in rows]
    return [label if labels.count(label) == 1 else " ".join(row.key) for label, row in zip(labels, rows, strict=True)]


FLAG = "REGRESSED"
WIDTHS = {True: 5, False: 6}  # a figure's column: a percentage (100.0), else a speed or size (123456)


def table_lines(rows: list[Comparison], width: int) -> list[Text]:
    """The table: a line per model, its name then A, B and the change for each of ``TABLE_METRICS``, and the flag;
    within ``width`` columns (a long name is cut, the details below name it whole)."""
    groups = [(HEADERS[f], WIDTHS[f in ACCURACY_METRICS]) for f in TABLE_METRICS]
    numbers = sum(3 * (w + 1) for _, w in groups)
    labels = _labels(rows)
    name = max(8, min(max(map(len, labels), default=0), width - numbers - len(FLAG) - 1))
    lines = [Text("".join(f" {header:>{3 * (w + 1) - 1}}" for header, w in groups).rjust(name + numbers)),
             Text(f"{'variant':<{name}}" + "".join(f" {'A':>{w}} {'B':>{w}} {'Δ':>{w}}" for _, w in groups))]
    for row, label in zip(rows, labels, strict=True):
        cells = [fit(label, name).ljust(name)]
        for field in TABLE_METRICS:
            percent, w = field in ACCURACY_METRICS, WIDTHS[field in ACCURACY_METRICS]
            va, vb = (None if line is None else line.get(field) for line in (row.a, row.b))
            change = _change(va, vb, percent) if row.compared else ""
            cells.append(f" {_figure(va, percent):>{w}} {_figure(vb, percent):>{w}} {change:>{w}}")
        line = Text("".join(cells))
        if row.regressions:
            line.append(f" {FLAG}", style="bold red")
        lines.append(line)
    return lines


def print_comparison(rows: list[Comparison], name_a: str, name_b: str, console: Console) -> None:
    """The table of deltas, then each flagged line's regressions and the notes (a note every line shares once),
    wrapped to the console's width: readable in a terminal, a pipe and a CI log alike."""
    console.print(f"A: {name_a}\nB: {name_b}\n", soft_wrap=True)
    for line in table_lines(rows, console.width):
        console.print(line, soft_wrap=True)
    wrap = lambda text: textwrap.fill(text, console.width, initial_indent="  ", subsequent_indent="    ")  # noqa: E731
    labels = dict(zip(map(id, rows), _labels(rows), strict=True))
    flagged = [row for row in rows if row.regressions]
    if flagged:
        console.print(f"\n{FLAG} ({len(flagged)} of {len(rows)} lines):", style="bold red")
        for row in flagged:
            for regression in row.regressions:
                console.print(wrap(f"{labels[id(row)]}: {regression}"))
    notes: dict[str, list[str]] = defaultdict(list)  # note -> the lines that have it
    for row in rows:
        for note in row.notes:
            notes[note].append(labels[id(row)])
    if notes:
        console.print("\nNotes:")
        for note, where in notes.items():
            where_text = f"every line ({len(where)})" if len(where) == len(rows) > 1 else ", ".join(where)
            console.print(wrap(f"{where_text}: {note}"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lit-video compare", description=__doc__.splitlines()[0])
    parser.add_argument("a", help="the reference: a sweep folder, leaderboard.json/.csv or results.jsonl")
    parser.add_argument("b", help="the candidate, in the same forms")
    parser.add_argument("--threshold", type=float, default=1.0,
                        help="accuracy drop, in points (%%), beyond which B regresses (default: 1.0)")
    parser.add_argument("--speed-threshold", type=float, default=0.10,
                        help="relative slowdown (same device only) beyond which B regresses (default: 0.10)")
    parser.add_argument("--fail-on-regression", action="store_true", help="exit 1 when any line regresses")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    args = parser.parse_args(argv)
    if args.threshold < 0 or args.speed_threshold < 0:
        print("lit-video compare: --threshold and --speed-threshold must be >= 0", file=sys.stderr)
        return 2
    try:
        board_a, board_b = load_board(args.a), load_board(args.b)
    except ValueError as err:
        print(f"lit-video compare: {err}", file=sys.stderr)
        return 2
    rows = compare_boards(board_a, board_b, args.threshold, args.speed_threshold)
    regressed = [r for r in rows if r.regressions]
    compared = any(r.compared for r in rows)
    elsewhere = sum(r.both and not r.compared for r in rows)  # on different data
    if args.json:
        lines = [{"model": (r.a or r.b).get("model"), **dict(zip(KEY_FIELDS, r.key, strict=True)), "a": r.a,
                  "b": r.b, "compared": r.compared, "regressions": r.regressions, "notes": r.notes} for r in rows]
        print(json.dumps(lines, indent=2, default=str))
    else:
        console = terminal_console()
        print_comparison(rows, args.a, args.b, console)
        if compared:
            limits = f"beyond {args.threshold} points / {100 * args.speed_threshold:.0f}% speed"
            summary = (f"{len(regressed)} of {len(rows)} lines regressed ({limits})" if regressed
                       else f"no regressions ({limits})")
            if elsewhere:
                summary += f"; {elsewhere} line{'s' * (elsewhere != 1)} measured on different data, not compared"
            console.print(f"\n{summary}")
    if not compared:  # "no regressions" would read as a pass
        print(f"lit-video compare: nothing compared: {nothing_compared(rows, board_a, board_b)}", file=sys.stderr)
        return 2
    return 1 if regressed and args.fail_on_regression else 0
