"""The sweep runner: the seeds of each model in one process of their own (a job), one row per entry, tables and
plots after each job.

An entry that crashes, runs out of memory (on a GPU it is retried once at half the batch size), hits a NaN
loss or times out gets a ``failed`` row with its error, and the sweep goes on (a job that dies takes its
unfinished seeds with it; each gets the reason). Rows are appended by this
process only, atomically, so a sweep killed at any moment loses at most the entry in flight; ``--resume``
skips the entries whose config hash already has an ``ok`` row.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.text import Text

from ..files import remove_temporaries
from ..machine import usable_cores
from ..results.folder import ResultsFolder, append_row, latest_rows
from ..results.leaderboard import write_leaderboards
from ..results.plots import write_plots
from ..results.schema import DONE_STATUSES
from . import tracking
from .cluster import run_on_cluster
from .config import Entry, Sweep
from .jobs import Outcome, expected_fit, finished_rows, jobs, kill_running, profile_child, run_child
from .merge import describe, merge_rows

LOCK_FILE = ".lock"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (from 1): every ``count``-th job of the sweep (a model's seeds stay together),
    the same ones whenever the config is the same; its rows go to ``rows/shard-I-of-N.jsonl``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        index, _, count = text.partition("/")
        try:
            shard = cls(int(index), int(count))
        except ValueError:
            shard = None
        if shard is None or not 1 <= shard.index <= shard.count:
            raise ValueError(f"--shard {text!r}: give I/N with 1 <= I <= N, e.g. 1/4")
        return shard

    @property
    def name(self) -> str:
        return f"shard-{self.index}-of-{self.count}"

    def select(self, grouped: list[list[Entry]]) -> list[list[Entry]]:
        return grouped[self.index - 1::self.count]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class SweepDisplay:
    """The sweep's own progress (entries done / total, current entry, ETA), printed above Lightning's bar."""

    def __init__(self, sweep: Sweep, console: Console):
        self.sweep, self.console = sweep, console
        self.start = time.monotonic()
        self.durations: list[float] = []  # of entries run (not skipped) in this invocation
        self.done = self.failed = self.skipped = 0

    def eta(self, remaining: int) -> float | None:
        mean = sum(self.durations) / len(self.durations) if self.durations else None
        return None if mean is None else mean * remaining / self.sweep.parallel

    @property
    def finished(self) -> int:
        """Entries done, failed or skipped: the progress, whatever order the jobs run in."""
        return self.done + self.failed + self.skipped

    def show(self, job: list[Entry], doing: str = "now") -> None:
        total, entry = len(self.sweep.entries), job[0]
        seeds = ", ".join(str(e.seed) for e in job)
        lines = [
            ProgressBar(total=total, completed=self.finished, width=50),
            Text(f"{self.finished}/{total} entries   ok {self.done}   failed {self.failed}   "
                 f"skipped {self.skipped}"),
            Text(f"{doing}: {entry.variant} on {entry.dataset}, seed{'s' if len(job) > 1 else ''} {seeds}"),
            Text(f"elapsed {_duration(time.monotonic() - self.start)}   "
                 f"ETA {_duration(self.eta(total - self.finished))}"),
        ]
        self.console.print(Panel(Group(*lines), title=f"sweep {self.sweep.name}", expand=False))


def refresh_outputs(out_dir: Path, sweep: Sweep) -> tuple[list[dict[str, Any]], list[Path]]:
    """Regenerate the leaderboards and plots from results.jsonl (the rows of this sweep's current entries), with
    the rows of shards and cluster jobs merged into it first (``merge.merge_rows``)."""
    merge_rows(out_dir, sweep)
    rows = latest_rows(ResultsFolder(out_dir).rows(), [e.config_hash for e in sweep.entries])
    board = write_leaderboards(out_dir, rows, f"Leaderboard: sweep {sweep.name}")
    return board, write_plots(out_dir, board)


@contextlib.contextmanager
def _killed_on_exit() -> Iterator[None]:
    """Jobs running in other threads die with the sweep: Ctrl-C reaches the main thread only."""
    try:
        yield
    except BaseException:
        kill_running()
        raise


class ResultsFolderBusy(Exception):
    """Another sweep is writing to the same results folder."""


@contextlib.contextmanager
def results_lock(out_dir: Path, name: str = LOCK_FILE) -> Iterator[None]:
    """One writer per results folder: an OS lock on ``<out_dir>/.lock``, held while the sweep runs (a shard locks
    only its own rows, ``.lock-shard-I-of-N``, so that shards run side by side). The kernel drops it when the holder
    exits in any way, SIGKILL included, so a dead sweep never leaves the folder locked. The file says who holds it.
    (``flock``: a folder shared over NFS may not honour it.)"""
    handle = open(out_dir / name, "a+")  # held open as long as the lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise ResultsFolderBusy(f"results folder {out_dir} ({name}) is in use by {holder}; wait for it to finish "
                                "or give another --out") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"lit-video sweep (pid {os.getpid()} on {socket.gethostname()}, "
                     f"since {time.strftime('%Y-%m-%d %H:%M:%S')})\n")
        handle.flush()
        yield
    finally:
        handle.close()


def run_sweep(sweep: Sweep, out_root: str | Path, resume: bool = True, wandb_mode: str | None = "offline",
              console: Console | None = None, shard: Shard | None = None, launcher: str = "local",
              cluster: Any = None) -> int:
    """Run every entry of ``sweep`` into ``out_root/<name>/``; returns 0, or 1 if any entry failed. Raises
    ResultsFolderBusy, before touching anything, when another sweep writes to that folder, and merge.RowsDisagree
    when the rows already there cannot share a leaderboard.

    ``shard``: only that shard's jobs, its rows in ``rows/`` (no tables: ``--merge`` builds them once every shard is
    done). ``launcher``: ``local`` runs the jobs here; ``slurm`` (or ``submitit-local``, the same path on this
    machine) submits each job with submitit (``cluster.ClusterOptions`` ``cluster``) and merges their rows as they
    finish."""
    out_dir = Path(out_root) / sweep.name
    out_dir.mkdir(parents=True, exist_ok=True)
    with results_lock(out_dir, LOCK_FILE if shard is None else f"{LOCK_FILE}-{shard.name}"):
        return _run_sweep(sweep, out_dir, resume, wandb_mode, console or Console(), shard, launcher, cluster)


def _run_sweep(sweep: Sweep, out_dir: Path, resume: bool, wandb_mode: str | None, console: Console,
               shard: Shard | None, launcher: str, cluster: Any) -> int:
    # Per-entry logs, checkpoints and wandb files stay out of git; the tables and plots are the record.
    ResultsFolder(out_dir).git_ignore("runs/", "wandb/", "cluster/", ".lock*", ".wandb-leaderboard")
    remove_temporaries(out_dir)
    if shard is None and (report := merge_rows(out_dir, sweep)).added:  # a conflict stops the sweep here
        console.print(describe(report))
    folder = ResultsFolder(out_dir)
    results_path = folder.results_file if shard is None else folder.rows_dir / f"{shard.name}.jsonl"
    results_path.parent.mkdir(exist_ok=True)
    done = folder.done_hashes() if resume else set()
    display = SweepDisplay(sweep, console)
    failures: list[tuple[Entry, str]] = []
    mine = {e.entry_id for job in (shard.select(jobs(sweep.entries)) if shard else [sweep.entries]) for e in job}
    todo = []
    for entry in sweep.entries:
        if entry.entry_id not in mine:
            display.skipped += 1
        elif entry.config_hash in done:
            display.skipped += 1
            console.print(f"[dim]skip {entry.entry_id}: done (same config hash in {out_dir})[/]")
        else:
            todo.append(entry)
    outputs = None  # the latest tables and plots

    def tally(job: list[Entry], rows: list[dict[str, Any]], started: float) -> None:
        """Count and report a finished job's rows, then regenerate the tables and plots (not in a shard)."""
        nonlocal outputs
        for entry, row in zip(job, rows, strict=True):
            if row["status"] == "failed":
                display.failed += 1
                failures.append((entry, str(row["error"])))
                console.print(f"[red]{entry.entry_id} failed:[/] {row['error']}")
            else:
                display.done += 1
        display.durations += [(time.monotonic() - started) / len(job)] * len(job)
        if shard is None:
            outputs = refresh_outputs(out_dir, sweep)

    def record(job: list[Entry], outcomes: list[Outcome], started: float) -> None:
        rows = finished_rows(job, outcomes, folder.runs_dir, wandb_mode, console)
        for row in rows:
            append_row(results_path, row)
        tally(job, rows, started)

    runs = folder.runs_dir
    if launcher != "local":
        run_on_cluster(jobs(todo), out_dir, wandb_mode, launcher, cluster, tally, console)
    elif sweep.parallel == 1:
        for job in jobs(todo):
            display.show(job)
            started = time.monotonic()
            record(job, run_child(job, runs, wandb_mode), started)
    else:
        # Every model profiled first, alone on the machine (a speed measured beside a neighbour's training would
        # be the neighbour's as much as the model's); then `parallel` jobs train at a time on their share of the
        # cores. A profile-only job is all profile, so it runs whole in the first phase.
        trained = []
        for job in jobs(todo):
            display.show(job, "profiling" if job[0].train else "now")
            started = time.monotonic()
            if not job[0].train:
                record(job, run_child(job, runs, wandb_mode), started)
            elif error := profile_child(job, runs):
                record(job, [Outcome("failed", error=error)] * len(job), started)
            else:
                trained.append(job)
        # Longest first (by the measured training speed), so that no core idles at the end beside a long job.
        trained.sort(key=lambda job: -expected_fit(job, runs))
        threads = max(1, usable_cores() // sweep.parallel)
        with ThreadPoolExecutor(sweep.parallel) as pool, _killed_on_exit():
            running: dict[Future[list[Outcome]], tuple[list[Entry], float]] = {}
            while trained or running:
                while trained and len(running) < sweep.parallel:
                    job = trained.pop(0)
                    display.show(job, f"training ({threads} thread(s) each, {sweep.parallel} at once)")
                    future = pool.submit(run_child, job, runs, wandb_mode, threads, profiled=True)
                    running[future] = (job, time.monotonic())
                for future in wait(running, return_when=FIRST_COMPLETED).done:
                    job, started = running.pop(future)
                    record(job, future.result(), started)
    if shard is not None:
        console.print(f"sweep {sweep.name}, {shard.name}: {display.done} done, {display.failed} failed in "
                      f"{_duration(time.monotonic() - display.start)}; rows in {results_path}. Once every shard "
                      f"is done, `lit-video sweep CONFIG --merge` builds the leaderboard.")
        return 1 if failures else 0
    # Nothing ran: the config may still have changed which rows count.
    board, plots = outputs or refresh_outputs(out_dir, sweep)
    console.print(f"sweep {sweep.name}: {display.done} done, {display.skipped} skipped, "
                  f"{display.failed} failed in {_duration(time.monotonic() - display.start)}; "
                  f"results in {out_dir}")
    return _report(sweep.name, board, plots, out_dir, wandb_mode, console, failures)


def _report(name: str, board: list[dict[str, Any]], plots: list[Path], out_dir: Path, wandb_mode: str | None,
            console: Console, failures: list[tuple[Entry, str]]) -> int:
    """Log the leaderboard to wandb, print its top ten and the failures; 1 if any entry failed, else 0."""
    if wandb_mode:  # unless this board is logged already (a sweep killed after its last row never logged it)
        tracking.log_leaderboard(name, board, plots, wandb_mode, out_dir)
    for line in [line for line in board if line["status"] == "ok"][:10]:
        console.print(f"  {line['rank']:>2}. {line['variant']:<22} {100 * line['video_top1']:5.1f}% "
                      f"video top-1  {line['gmacs_per_video']:.3f} GMACs/video  {line['dataset']}")
    if failures:
        console.print(f"[red]{len(failures)} entr{'y' if len(failures) == 1 else 'ies'} failed:[/]")
        for entry, error in failures:
            console.print(f"  [red]{entry.entry_id}[/]: {error.splitlines()[0] if error else ''}")
        return 1
    return 0


def merge_sweep(sweep: Sweep, out_root: str | Path, wandb_mode: str | None = "offline",
                console: Console | None = None) -> int:
    """``--merge``: bring every shard's and cluster job's rows into ``results.jsonl`` and write the leaderboard and
    plots, running nothing; 0 when every entry of the sweep has a done row, else 1 (the entries failed or not run
    yet are listed). Raises merge.RowsDisagree, writing nothing, for rows measured on different data."""
    console = console or Console()
    out_dir = Path(out_root) / sweep.name
    if not out_dir.is_dir():
        console.print(f"[red]no results folder {out_dir}: run the sweep (or its shards) first[/]")
        return 1
    with results_lock(out_dir):
        console.print(describe(merge_rows(out_dir, sweep)))
        board, plots = refresh_outputs(out_dir, sweep)
        rows = {row["config_hash"]: row for row in latest_rows(ResultsFolder(out_dir).rows(),
                                                                [e.config_hash for e in sweep.entries])}
        failures = [(e, rows[e.config_hash]["error"] or "failed") if e.config_hash in rows else (e, "no row yet")
                    for e in sweep.entries
                    if e.config_hash not in rows or rows[e.config_hash]["status"] not in DONE_STATUSES]
        console.print(f"sweep {sweep.name}: {len(sweep.entries) - len(failures)} of {len(sweep.entries)} entries "
                      f"done; results in {out_dir}")
        return _report(sweep.name, board, plots, out_dir, wandb_mode, console, failures)
