"""``lit-video report KIND ...``: reports generated from a sweep's results or from the model registry (one
subcommand per kind)."""

from __future__ import annotations

import argparse
import shlex
import sys

from ..files import write_atomic
from ..terminal import HelpFormatter


def _command(*words: str, out: str | None) -> str:
    """The command line that makes this report, for the report to name."""
    return shlex.join(["lit-video", "report", *words, *(["--out", out] if out else [])])


def _deliver(kind: str, text: str, out: str | None, summary: str) -> None:
    """The Markdown to ``out``, or to stdout where no --out is given; the summary then goes to stderr, so that a pipe
    gets the Markdown alone. A committed report (docs/) is rewritten only when named with --out."""
    if out is None:
        sys.stdout.write(text)
        print(f"lit-video report {kind}: {summary}", file=sys.stderr)
    else:
        write_atomic(out, text)
        print(f"wrote {out}: {summary}")


def lecture_claims(args: argparse.Namespace) -> int:
    from ..results.folder import read_rows
    from .lecture_claims import render, results_file

    try:
        rows = read_rows(results_file(args.results))
    except (FileNotFoundError, ValueError) as err:
        print(f"lit-video report lecture-claims: {err}", file=sys.stderr)
        return 2
    text, verdicts = render(rows, args.results, _command("lecture-claims", args.results, out=args.out))
    counts = {v: verdicts.count(v) for v in dict.fromkeys(verdicts)}
    _deliver("lecture-claims", text, args.out, ", ".join(f"{n} {v}" for v, n in counts.items()))
    return 0


def fidelity(args: argparse.Namespace) -> int:
    from .fidelity import FAILS, fidelity_rows, render

    rows = fidelity_rows()
    failing = [f"{r.model} {r.quantity}" for r in rows if r.verdict == FAILS]
    _deliver("fidelity", render(rows, _command("fidelity", out=args.out)), args.out,
             f"{len(rows)} published figures, {len(failing)} failing" + (f" ({', '.join(failing)})" if failing else ""))
    return 1 if failing else 0


def html_report(args: argparse.Namespace) -> int:
    from ..results.lock import ResultsFolderBusy
    from .html import write_html_report

    try:
        path = write_html_report(args.results, args.out)
    except (FileNotFoundError, ValueError, ResultsFolderBusy) as err:
        print(f"lit-video report html: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): open it in a browser, no server needed")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lit-video report", description=__doc__, formatter_class=HelpFormatter)
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    claims = kinds.add_parser("lecture-claims", help="the lecture's claims on each video family, checked "
                              "against a sweep's class-group accuracies, with verdicts (Markdown)",
                              description="For each claim of the lecture on what a video family can see, the "
                              "evidence of a sweep (accuracy per class group over seeds) and a verdict by "
                              "stated rules.")
    claims.add_argument("results", help="a sweep's results folder (holding results.jsonl), e.g. results/lecture")
    claims.add_argument("--out", metavar="FILE", help="write the Markdown to FILE (default: print it); "
                        "--out docs/lecture_claims.md rewrites the committed one")
    claims.set_defaults(run=lecture_claims)
    report = kinds.add_parser("fidelity", help="every published figure of the registry beside lit-video's count "
                              "of the same network at the same input (Markdown)",
                              description="Published GMACs, parameters and layer figures (with their sources) "
                              "beside lit-video's own count; exits 1 if a figure disagrees without a documented "
                              "reason.")
    report.add_argument("--out", metavar="FILE", help="write the Markdown to FILE (default: print it); "
                        "--out docs/fidelity.md rewrites the committed one")
    report.set_defaults(run=fidelity)
    page = kinds.add_parser("html", help="a sweep's results as one self-contained web page: the leaderboard "
                            "(sortable, filterable), charts, lecture claims and a section per model",
                            description="Writes RESULTS/index.html: no external requests, opens from disk. The "
                            "per-model sections (config, FLOPs per layer, curves, confusion matrix, throughput "
                            "per batch size, machine, wandb run) read the entries' folders under RESULTS/runs/; "
                            "a page built with them is never overwritten by one without them (a clone of the "
                            "repository has no runs/). Every sweep writes it at its end.")
    page.add_argument("results", help="a sweep's results folder (holding leaderboard.json), e.g. my_results/lecture")
    page.add_argument("--out", default=None, help="the HTML file to write (default: RESULTS/index.html)")
    page.set_defaults(run=html_report)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
