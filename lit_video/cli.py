"""The ``lit-video`` command.

``fit | validate | test`` go through LightningCLI (YAML configs, ``--print_config``; ``train.VideoCLI``, for the task
a config names); the other subcommands (``models``, ``data``, ``profile``, ``sweep``, ``compare``, ``report``,
``visualize``) are small argparse programs, each in the ``cli.py`` of its package. A command's modules are imported
when it runs: ``--help``, ``--version`` and ``models`` (read from the registry's catalog) import no torch.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .names import close_to, matching
from .terminal import HelpFormatter, plain, width, wrap

# What each command does; each command's own --help lists its subcommands and options.
SUBCOMMANDS = {
    "fit": "train a model (LightningCLI; --help for all options)",
    "validate": "evaluate a checkpoint on the validation split",
    "test": "evaluate a checkpoint on the test split (multi-clip, video-level)",
    "models": "the model registry: one line per model, or one model's card",
    "data": "the built-in synthetic dataset, unreadable videos, optical flow",
    "profile": "GMACs / GFLOPs, parameters, receptive fields, throughput, memory and MFU of a model",
    "sweep": "the main job: train, test and profile many models, write leaderboards",
    "compare": "two leaderboards side by side, with regressions flagged",
    "report": "reports from a sweep's results or from the model registry",
    "visualize": "what a trained model looks for, and where in space and time it looks",
}

# What `lit-video models` prints, measured by `lit-video models --write-catalog` (lit_video/report/catalog.py).
CATALOG = Path(__file__).resolve().parent / "models" / "catalog.json"
GAP = "  "  # between the columns of a table
# A file system that refuses a command's files: what to do about each refusal (the reason is the system's own).
DISK_ERRORS = {errno.ENOSPC: "free some space there, or write elsewhere",
               errno.EDQUOT: "free some space there, or write elsewhere",
               errno.EROFS: "write elsewhere, or mount it writable",
               errno.EACCES: "write elsewhere, or get permission to write there",
               errno.EPERM: "write elsewhere, or get permission to write there"}


def read_catalog() -> dict[str, dict[str, Any]]:
    """The catalog's entries by model name."""
    try:
        return {entry["name"]: entry for entry in json.loads(CATALOG.read_text())}
    except FileNotFoundError:
        raise SystemExit(f"lit-video models: {CATALOG} is missing; write it: lit-video models --write-catalog"
                         ) from None


def _amount(value: float) -> str:
    """A cost in at most 5 characters with 3 significant figures or more: 0.015, 3.88, 38.53, 451.5."""
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.1f}"


def _top1(entry: dict[str, Any]) -> float | None:
    return next((p["top1"] for p in entry["published"] if p["top1"] is not None), None)


def table(entries: list[dict[str, Any]], columns: int) -> list[str]:
    """One line per model; the columns that do not fit in ``columns`` characters are left out from the right."""
    header = ("name", "family", "clip", "GMACs", "params", "top1")
    rows = [(e["name"], e["family"], f"{e['frames']}x{e['size']}", _amount(e["gmacs"]), _amount(e["params"] / 1e6),
             "-" if _top1(e) is None else f"{_top1(e):.1f}") for e in entries]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    shown = len(header)
    while shown > 1 and sum(widths[:shown]) + len(GAP) * (shown - 1) > columns:
        shown -= 1

    def line(cells: tuple[str, ...]) -> str:
        cells = tuple(zip(cells[:shown], widths[:shown], strict=True))
        return GAP.join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(cells))  # numbers right

    datasets = sorted({p["dataset"] for e in entries for p in e["published"] if p["top1"] is not None})
    legend = (f"GMACs and params (millions): lit-video's count of one clip at the model's default clip (frames x "
              f"size), {entries[0]['num_classes']} classes. top1: the published top-1 accuracy, % on "
              f"{', '.join(datasets) or 'its dataset'}, under its own protocol. `lit-video models NAME`: one "
              "model's card.")
    return [line(header), *(line(row).rstrip() for row in rows), "", *wrap(legend, columns)]


def _field(label: str, value: str, columns: int) -> list[str]:
    """``label`` and ``value`` wrapped beside it."""
    indent = " " * 15
    first, *rest = wrap(value, columns, indent) or [indent]
    return [f"{label:<14} {first[len(indent):]}", *rest]


def card(entry: dict[str, Any], columns: int) -> list[str]:
    """Everything the catalog holds on one model worth reading, published figures beside lit-video's count."""
    e = entry
    least = [f"{e['min_frames']} frames"] * (e["min_frames"] > 1) + [f"{e['min_size']} px a side"] * (e["min_size"] > 1)
    takes = f"clips of at least {' and '.join(least)}" if least else "clips of any length and size"
    if e["fixed_shape"]:
        takes = "only its default clip (its shape is fixed)"
    outputs = "one tensor, the prediction"
    if e["outputs"]:
        outputs = f"{', '.join(e['outputs'])} (named, in a dict; the prediction is 'fused')"
    options = ", ".join(f"{k}={v}" if v is not None else k for k, v in e["options"].items())
    lines = [f"{e['name']}: family {e['family']}, task {e['task']}", "", *wrap(plain(e["description"]), columns), ""]
    for label, value in (
        ("inputs", " + ".join(e["modalities"])),
        ("default clip", f"{e['frames']} frames of {e['size']}x{e['size']} px at {e['fps']:g} fps"),
        ("takes", takes),
        ("outputs", outputs),
        ("cost", f"{_amount(e['gmacs'])} GMACs, {e['params'] / 1e6:.2f} M parameters (lit-video's count of one "
                 f"default clip, {e['num_classes']} classes; GFLOPs = 2 x GMACs)"),
        ("options", f"{options or 'none'} (--model.model_args)"),
        *([("heavy", "seconds to build or run on a 2-core CPU even on a tiny clip")] if e["heavy"] else []),
    ):
        lines += _field(label, value, columns)
    for figure in e["published"]:
        lines += ["", *_field("published", figure["summary"] or f"layer figures at {figure['input']}", columns),
                  *_field("source", figure["source"], columns)]
        for row in figure["measured"]:
            number = "{:,}" if row["quantity"] == "params" else "{:.4g}"
            lines += _field("lit-video", f"{number.format(row['measured'])} {row['quantity']} against "
                                         f"{number.format(row['published'])} ({row['difference']:+.1%}): "
                                         f"{row['verdict']}", columns)
        if figure["differs"]:
            lines += _field("differs", figure["differs"], columns)
    if not e["published"]:
        lines += ["", *_field("published", "nothing: lit-video's own construction", columns)]
    return lines


def models_main(argv: list[str]) -> int:
    """``lit-video models``: the registry as a table, one model's card, or JSON."""
    parser = argparse.ArgumentParser(
        prog="lit-video models", formatter_class=HelpFormatter,
        description="The model registry: one line per model, or with a model's name its card. Costs are read "
                    f"from the registry's catalog ({CATALOG.name}, written by --write-catalog), so listing "
                    "imports no torch.")
    parser.add_argument("pattern", nargs="?",
                        help="a model's name for its card, or the models a glob ('vivit*') or a word ('fusion') "
                             "picks")
    parser.add_argument("--json", action="store_true", help="the picked models' catalog entries as JSON")
    parser.add_argument("--write-catalog", action="store_true",
                        help="count every model now (imports torch; ~15 s on 2 cores) and rewrite the catalog")
    args = parser.parse_args(argv)
    if args.write_catalog:
        from .files import write_atomic
        from .report.catalog import render

        write_atomic(CATALOG, render())
        print(f"wrote {CATALOG}")
        return 0
    entries = read_catalog()
    names = [args.pattern] if args.pattern in entries else matching(entries, args.pattern)
    if not names:
        # A pattern's typo is often in a part of the names ('vivt*'): the parts are suggested too, as words; only
        # the closest of names and parts, which are many.
        parts = {part for name in entries for part in name.split("_") if len(part) > 2}
        close = close_to(args.pattern, {*entries, *parts}, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else "`lit-video models` lists them all"
        print(f"lit-video models: no model matches {args.pattern!r}; {hint}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([entries[n] for n in names], indent=1))
    else:
        picked = card(entries[args.pattern], width()) if args.pattern in entries else \
            table([entries[n] for n in names], width())
        print("\n".join(picked))
    return 0


def _print_help() -> None:
    columns = width()
    print("usage: lit-video <command> [options]\n       lit-video --version\n")
    print("\n".join(wrap("A benchmark suite for video-understanding architectures.", columns)) + "\n")
    for name, text in SUBCOMMANDS.items():
        first, *rest = wrap(text, columns - 13)  # "  " + the name's 10 + " "
        print(f"  {name:<10} {first}", *(f"{' ' * 13}{line}" for line in rest), sep="\n")
    print("\n`lit-video <command> --help` for a command's options.")


def disk_error(command: str, err: OSError) -> str | None:
    """The one line a command ends with where the file system refuses a file (full, read-only, not the user's):
    the file, the reason and the way out. None for any other error, which is a bug to see in full."""
    way = DISK_ERRORS.get(err.errno)
    if way is None:
        return None
    where = "" if err.filename is None else f"{err.filename}: "
    return f"{'lit-video ' + command if command else 'lit-video'}: {where}{err.strerror}: {way}"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return run_command(argv)
    except BrokenPipeError:
        # The reader left early (`lit-video models | head`): nothing is wrong. Python would still flush stdout at
        # exit into the closed pipe and print a traceback, so stdout goes to /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        line = disk_error(argv[0] if argv else "", err)  # a bare `lit-video` prints its help
        if line is None:
            raise
        print(line, file=sys.stderr)
        return 1


def run_command(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        _print_help()
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"lit-video {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command == "models":
        return models_main(rest)
    if command == "data":
        from .data.cli import main as data_main

        return data_main(rest)
    if command == "profile":
        from .profiling.cli import main as profile_main

        return profile_main(rest)
    if command == "sweep":
        from .sweep.cli import main as sweep_main

        return sweep_main(rest)
    if command == "compare":
        from .report.compare import main as compare_main

        return compare_main(rest)
    if command == "report":
        from .report.cli import main as report_main

        return report_main(rest)
    if command == "visualize":
        from .visualize.cli import main as visualize_main

        return visualize_main(rest)
    if command not in ("fit", "validate", "test", "predict"):
        print(f"lit-video: unknown command {command!r}; choose from {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    from .train import ConfigError, VideoCLI, task_of

    try:
        # LightningCLI warns when given args while sys.argv holds others; from the console they are the same.
        VideoCLI(args=None if argv == sys.argv[1:] else argv, task=task_of(rest))
    except ConfigError as err:
        print(f"lit-video {command}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
