"""``lit-video sweep CONFIG``: train, test and profile every model x dataset x seed of a sweep config.

Writes ``<out>/<name>/results.jsonl`` (one row per entry), ``leaderboard.csv/.md/.json``, PNG plots and, through
``lit-video sweep``, the HTML report ``index.html``, and one wandb run per entry (offline by default: no account
needed, ``wandb sync`` later). Exit status: 0 when every entry passed, 1 when any failed (the sweep still runs the
others), 2 for a config that cannot run, a results folder another writer has, or rows there measured on other
data than the config's now (``--set-aside-old-rows`` moves them aside).

Across machines: ``--launcher slurm`` submits each job (a model's seeds) to SLURM with submitit and merges the rows
as jobs finish; ``--shard I/N`` runs every N-th job, for a scheduler of your own; ``--merge`` builds the
leaderboard from every shard's and job's rows.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from ..report.html import write_after_sweep
from ..terminal import HelpFormatter
from .config import SweepConfigError, load_sweep


def main(argv: list[str] | None = None) -> int:
    """The command: run (or merge) the sweep, then write its HTML report (a command may use both the sweep and
    the report; the sweep's library modules never import the report)."""
    parser = argparse.ArgumentParser(prog="lit-video sweep", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n")[2], formatter_class=HelpFormatter)
    parser.add_argument("config", help="sweep YAML, e.g. configs/sweeps/lecture.yaml")
    parser.add_argument("--out", default="my_results",
                        help="results folder; the sweep writes OUT/<name>/ (default: my_results, which git ignores; "
                             "--out results rewrites the committed results)")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="skip entries that already have an ok row with the same config hash "
                             "(default: on)")
    parser.add_argument("--wandb", choices=("offline", "online"), default="offline",
                        help="offline (default) writes runs to sync later; online streams them "
                             "(needs a login)")
    parser.add_argument("--no-wandb", action="store_true",
                        help="no wandb runs (the results files never need it)")
    parser.add_argument("--set-aside-old-rows", action="store_true",
                        help="first move the rows measured on other data than the config's now (the data changed "
                             "since), and their entries' folders, into OUT/<name>/set-aside-<date>/; with the whole "
                             "sweep or --merge, not a shard")
    where = parser.add_argument_group("across machines")
    where.add_argument("--launcher", choices=("local", "slurm", "submitit-local"), default="local",
                       help="local (default): run the jobs here; slurm: one SLURM job per model's seeds, with "
                            "submitit; submitit-local: the same jobs as local processes")
    where.add_argument("--shard", metavar="I/N", help="run only shard I of N (every N-th job), its rows in "
                                                      "OUT/<name>/rows/; then --merge")
    where.add_argument("--merge", action="store_true",
                       help="run nothing: merge the shards' and jobs' rows and write the leaderboard")
    slurm = parser.add_argument_group("slurm (override the config's `slurm` section)")
    slurm.add_argument("--partition")
    slurm.add_argument("--gpus", type=int, dest="gpus_per_node", help="GPUs per job")
    slurm.add_argument("--cpus", type=int, dest="cpus_per_task", help="CPUs per job")
    slurm.add_argument("--mem-gb", type=int, dest="mem_gb", help="memory per job, GB")
    slurm.add_argument("--time-min", type=int, dest="timeout_min",
                       help="time limit per job, minutes (default: its entries' timeout_s summed, + 10)")
    slurm.add_argument("--array-parallelism", type=int, dest="array_parallelism",
                       help="jobs of the array running at once")
    args = parser.parse_args(argv)
    if args.shard is not None and (args.launcher != "local" or args.merge):
        parser.error("--shard runs a share of the jobs here: it goes with neither --launcher nor --merge")
    if args.shard is not None and args.set_aside_old_rows:
        parser.error("--set-aside-old-rows rewrites every shard's rows: run it with the whole sweep or --merge, "
                     "not --shard")
    from ..results.lock import ResultsFolderBusy
    from .merge import RowsDisagree
    from .runner import Shard, merge_sweep, run_sweep

    try:  # an empty --shard (an unset variable in a job script) is an error, not the whole sweep
        shard = Shard.parse(args.shard) if args.shard is not None else None
    except ValueError as err:
        parser.error(str(err))
    try:
        sweep = load_sweep(args.config)
    except SweepConfigError as err:
        print(f"lit-video sweep: configuration error: {err}", file=sys.stderr)
        return 2
    if sweep.auto and args.launcher == "local" and not args.merge:  # what it chose on this machine
        print(sweep.auto)
    if not args.no_wandb:
        os.environ.setdefault("WANDB_SILENT", "true")
    wandb_mode = None if args.no_wandb else args.wandb
    try:
        if args.merge:
            status = merge_sweep(sweep, args.out, wandb_mode, set_aside=args.set_aside_old_rows)
        else:
            cluster = sweep.cluster.overridden(**{k: getattr(args, k) for k in (
                "partition", "gpus_per_node", "cpus_per_task", "mem_gb", "timeout_min", "array_parallelism")})
            status = run_sweep(sweep, args.out, resume=args.resume, wandb_mode=wandb_mode, shard=shard,
                               launcher=args.launcher, cluster=cluster, set_aside=args.set_aside_old_rows)
    except (ResultsFolderBusy, RowsDisagree) as err:
        print(f"lit-video sweep: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the runner said what is kept; the same command, resuming, runs the rest
        resume = [arg for arg in (sys.argv[1:] if argv is None else argv) if arg != "--no-resume"]
        print(f"resume with: {shlex.join(['lit-video', 'sweep', *resume])}")
        return 130
    if shard is None:  # a shard writes rows only: its merge writes the page
        status = max(status, write_after_sweep(Path(args.out) / sweep.name))
    return status


if __name__ == "__main__":
    sys.exit(main())
