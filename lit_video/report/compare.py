"""``lit-video compare A B``: two leaderboards side by side per model, with deltas and regressions flagged.

A and B are sweep folders, ``leaderboard.json`` / ``.csv`` files, or ``results.jsonl`` files. A line of B
regresses when an accuracy drops by more than ``--threshold`` points and, where both sides have several seeds,
beyond the noise (their 95 % intervals over seeds do not overlap; with one seed the output says the threshold
alone judged it); when a speed figure gets worse by more than ``--speed-threshold`` (only when both ran on the
same device: speeds of different machines do not compare); or when a model that passed in A failed or is
missing in B. ``--fail-on-regression`` makes that exit 1, to guard CI.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..results.folder import ResultsFolder, read_rows
from ..results.leaderboard import leaderboard, line_key, within_noise
from ..results.schema import DONE_STATUSES, FIELDS, HEADERS, KEY_FIELDS

# What compare judges (``Field.better``): accuracies in points (a % field), speeds relatively (a timed field, on one
# device only), the rest noted where it changed (GMACs: a different model or input).
ACCURACY_METRICS = tuple(f.name for f in FIELDS if f.better and f.unit == "%")
SPEED_METRICS = {f.name: f.better == "higher" for f in FIELDS if f.better and f.timed}  # field: higher is better
FIGURES = tuple(f.name for f in FIELDS if f.better)
COST_FIGURES = tuple(f for f in FIGURES if f not in ACCURACY_METRICS and f not in SPEED_METRICS)


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


def _key(line: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(k) for k in line_key(line))


def compare_boards(a: list[dict[str, Any]], b: list[dict[str, Any]], threshold: float = 1.0,
                   speed_threshold: float = 0.10) -> list[Comparison]:
    """Match lines by (dataset, model variant, clip shape, eval views); ``threshold`` is in accuracy points
    (%)."""
    lines_a, lines_b = {_key(x): x for x in a}, {_key(x): x for x in b}
    result = []
    for key in [*lines_a, *[k for k in lines_b if k not in lines_a]]:
        la, lb = lines_a.get(key), lines_b.get(key)
        regressions, notes = [], []
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
                drop = f"{HEADERS[field]} {100 * va:.1f} -> {100 * vb:.1f}"
                noise = within_noise(la, lb, field)
                if noise:  # a drop the seeds' own spread explains is no regression
                    notes.append(f"{drop}: within the noise over seeds (95 % intervals overlap)")
                else:
                    regressions.append(drop + (" (one seed: judged against --threshold alone)"
                                               if noise is None else " (beyond the noise over seeds)"))
            if la.get("device") == lb.get("device"):
                for field, higher_better in SPEED_METRICS.items():
                    va, vb = la.get(field), lb.get(field)
                    if not va or vb is None:
                        continue
                    change = (vb - va) / va if higher_better else (va - vb) / va  # < 0 means worse
                    if change < -speed_threshold:
                        regressions.append(f"{HEADERS[field]} {va:.1f} -> {vb:.1f} ({100 * change:+.0f}%)")
            else:
                notes.append("different devices: speeds not compared")
            for field in COST_FIGURES:
                if la.get(field) != lb.get(field):
                    notes.append(f"{HEADERS[field]} changed (a different model or input)")
        result.append(Comparison(key, la, lb, regressions, notes))
    return result


def _cell(la: dict[str, Any] | None, lb: dict[str, Any] | None, field: str, percent: bool) -> str:
    scale = 100 if percent else 1
    va = None if la is None else la.get(field)
    vb = None if lb is None else lb.get(field)
    if va is None and vb is None:
        return ""
    show = lambda v: "-" if v is None else f"{scale * v:,.{1 if abs(scale * v) >= 10 else 3}f}"  # noqa: E731
    if va is None or vb is None:
        return f"{show(va)} → {show(vb)}"
    delta = f"{scale * (vb - va):+.1f}" if percent else (f"{100 * (vb - va) / va:+.0f}%" if va else "")
    return f"{show(va)} → {show(vb)} ({delta})"


TABLE_WIDTH = 160  # below this many columns a table of every figure squeezes its cells unreadably


def print_comparison(rows: list[Comparison], name_a: str, name_b: str, console: Console) -> None:
    """Each figure as A → B (delta): a table on a wide terminal, a block per line on a narrow one or in a pipe
    (80 columns), then one line per regression and note, readable in a CI log."""
    console.print(f"A = {name_a}\nB = {name_b}", soft_wrap=True, highlight=False)
    for row in rows if console.width < TABLE_WIDTH else []:
        verdict = "[red]REGRESSION[/]" if row.regressions else "ok"
        console.print(f"\n{_what(row)}: {verdict}", soft_wrap=True)
        for field in FIGURES:
            cell = _cell(row.a, row.b, field, field in ACCURACY_METRICS)
            if cell:
                console.print(f"  {HEADERS[field]:<16} {cell}", soft_wrap=True, highlight=False)
    if console.width >= TABLE_WIDTH:
        table = Table()
        for header in ("dataset", "variant", *(HEADERS[f] for f in FIGURES), "verdict"):
            table.add_column(header, overflow="fold")
        for row in rows:
            verdict = "[red]REGRESSION[/]" if row.regressions else "ok"
            table.add_row(row.key[KEY_FIELDS.index("dataset")], row.key[KEY_FIELDS.index("variant")],
                          *[_cell(row.a, row.b, f, f in ACCURACY_METRICS) for f in FIGURES], verdict)
        console.print(table)
    console.print()
    for row in rows:
        for regression in row.regressions:
            console.print(f"[red]REGRESSION[/] {_what(row)}: {regression}", soft_wrap=True)
        for note in row.notes:
            console.print(f"note: {_what(row)}: {note}", soft_wrap=True)


def _what(row: Comparison) -> str:
    return f"{row.key[KEY_FIELDS.index('variant')]} on {row.key[KEY_FIELDS.index('dataset')]}"


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
    if args.json:
        lines = [{"model": (r.a or r.b).get("model"), **dict(zip(KEY_FIELDS, r.key, strict=True)), "a": r.a,
                  "b": r.b, "regressions": r.regressions, "notes": r.notes} for r in rows]
        print(json.dumps(lines, indent=2, default=str))
    else:
        console = Console()
        print_comparison(rows, args.a, args.b, console)
        if regressed:
            console.print(f"[red]{len(regressed)} regression(s)[/] beyond {args.threshold} points "
                          f"/ {100 * args.speed_threshold:.0f}% speed")
        else:
            console.print("no regressions")
    return 1 if regressed and args.fail_on_regression else 0
