"""``lit-video sweep CONFIG``: train, test and profile every model x dataset x seed of a sweep config.

Writes ``<out>/<name>/results.jsonl`` (one row per entry), ``leaderboard.csv/.md/.json`` and PNG plots, and
one wandb run per entry (offline by default: no account needed, ``wandb sync`` later). Exit status: 0 when
every entry passed, 1 when any failed (the sweep still runs the others), 2 for a config that cannot run.
"""

from __future__ import annotations

import argparse
import os
import sys

from .config import SweepConfigError, load_sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lit-video sweep", description=__doc__.splitlines()[0])
    parser.add_argument("config", help="sweep YAML, e.g. configs/sweeps/lecture.yaml")
    parser.add_argument("--out", default="results", help="results folder; the sweep writes OUT/<name>/ "
                                                         "(default: results)")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="skip entries that already have an ok row with the same config hash "
                             "(default: on)")
    parser.add_argument("--wandb", choices=("offline", "online"), default="offline",
                        help="offline (default) writes runs to sync later; online streams them "
                             "(needs a login)")
    parser.add_argument("--no-wandb", action="store_true",
                        help="no wandb runs (the results files never need it)")
    args = parser.parse_args(argv)
    try:
        sweep = load_sweep(args.config)
    except SweepConfigError as err:
        print(f"lit-video sweep: configuration error: {err}", file=sys.stderr)
        return 2
    from .runner import ResultsFolderBusy, run_sweep

    if not args.no_wandb:
        os.environ.setdefault("WANDB_SILENT", "true")
    try:
        return run_sweep(sweep, args.out, resume=args.resume, wandb_mode=None if args.no_wandb else args.wandb)
    except ResultsFolderBusy as err:
        print(f"lit-video sweep: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
