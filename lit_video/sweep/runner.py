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
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..files import remove_temporaries
from ..machine import usable_cores
from ..results.folder import ResultsFolder, append_rows, latest_rows, read_rows
from ..results.leaderboard import write_leaderboards
from ..results.lock import results_lock
from ..results.plots import write_plots
from ..results.schema import DONE_STATUSES, percent
from ..terminal import console as terminal_console
from ..terminal import duration, fit
from . import tracking
from .cluster import run_on_cluster
from .config import Entry, Sweep
from .jobs import Outcome, expected_fit, finished_rows, jobs, kill_running, profile_child, run_child, wall_times
from .merge import check_same_data, describe, merge_rows, set_aside_old_rows


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (from 1): every ``count``-th job of the sweep (a model's seeds stay together),
    the same ones whenever the config is the same; its rows go to ``rows/shard-I-of-N.jsonl``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``I/N``; ValueError for anything else, an empty text included (an unset variable in a job script)."""
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


class SweepProgress:
    """What a running sweep prints: a line per finished entry (how it ended, its key result, its wall time) and, in
    a terminal, a live status area below those lines (a bar with the counts, the ETA, the running jobs with their
    elapsed time). Piped, the lines alone: a log reads as a list of finished entries."""

    def __init__(self, sweep: Sweep, console: Console):
        self.sweep, self.console = sweep, console
        self.start = time.monotonic()
        self.durations: list[float] = []  # of entries run (not skipped) in this invocation
        self.done = self.failed = self.skipped = 0
        self.running: dict[int, tuple[list[Entry], str, float]] = {}  # id(job) -> (job, what it does, since)
        self.live = Live(self, console=console, refresh_per_second=1, transient=True) if console.is_terminal else None

    def __enter__(self) -> SweepProgress:
        if self.live:
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.live.stop()

    def eta(self, remaining: int) -> float | None:
        mean = sum(self.durations) / len(self.durations) if self.durations else None
        return None if mean is None else mean * remaining / self.sweep.parallel

    @property
    def finished(self) -> int:
        """Entries done, failed or skipped: the progress, whatever order the jobs run in."""
        return self.done + self.failed + self.skipped

    def already_done(self, count: int) -> None:
        """A resume's skipped entries, in one line."""
        self.skipped += count
        if count:
            self.console.print(f"{count} entr{'y' if count == 1 else 'ies'} already done, skipped "
                               "(--no-resume runs them again)")

    def started(self, job: list[Entry], doing: str) -> None:
        """A job started ``doing`` something. Piped, a line says so (the live area shows it in a terminal): a job's
        entries end together, and a transformer's three seeds take a quarter of an hour. Not for a profile,
        which is seconds."""
        self.running[id(job)] = (job, doing, time.monotonic())
        if self.live is None and doing != "profiling":
            end = f" ({doing})"
            self.console.print(f"{'started':<8} {job_name(job, self.console.width - 9 - len(end))}{end}")

    def ended(self, job: list[Entry], rows: list[dict[str, Any]], walls: list[float]) -> None:
        """A job's entries finished (or failed): a line each, and the counts."""
        self.running.pop(id(job), None)
        for entry, row, wall in zip(job, rows, walls, strict=True):
            if row["status"] == "failed":
                self.failed += 1
            else:
                self.done += 1
            line = Text(entry_line(entry, row, wall, self.console.width), no_wrap=True)
            line.stylize("red" if row["status"] == "failed" else "green", 0, len(row["status"]))
            self.console.print(line)
        self.durations += walls

    def __rich__(self) -> RenderableType:
        total, now = len(self.sweep.entries), time.monotonic()
        bar = Table.grid(expand=True, padding=(0, 1))
        bar.add_column(ratio=1)
        bar.add_column(no_wrap=True)
        bar.add_row(ProgressBar(total=total, completed=self.finished),
                    f"{self.finished}/{total} entries  ETA {duration(self.eta(total - self.finished))}")
        counts = Text(f"sweep {self.sweep.name}: ok {self.done}  failed {self.failed}  skipped {self.skipped}  "
                      f"elapsed {duration(now - self.start)}", no_wrap=True, overflow="ellipsis")
        running = Table.grid(expand=True, padding=(0, 1))
        running.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        running.add_column(no_wrap=True)
        running.add_column(no_wrap=True, justify="right")
        for job, doing, since in self.running.values():
            running.add_row(f"  {job_name(job)}", doing, duration(now - since))
        return Group(bar, counts, running)


def job_name(job: list[Entry], width: int | None = None) -> str:
    """``variant on dataset, seed(s) ...``: a job (or an entry) as the sweep's output names it; in ``width``
    columns, the label is cut and the seeds kept (three lines of one model read apart)."""
    seeds = ", ".join(str(entry.seed) for entry in job)
    seeds = f", seed{'s' if len(job) > 1 else ''} {seeds}"
    label = f"{job[0].variant} on {job[0].dataset}"
    return (label if width is None else fit(label, width - len(seeds))) + seeds


def entry_line(entry: Entry, row: dict[str, Any], wall: float, width: int) -> str:
    """One finished entry in ``width`` columns: how it ended, which entry, its key result (video top-1, a
    profile-only entry's GMACs, a failure's error: cut where it does not fit) and its wall time."""
    status, name = f"{row['status']:<8}", job_name([entry])
    if row["status"] == "failed":
        error = (row["error"] or "").strip().splitlines()
        return fit(f"{status} {name}  {duration(wall)}  {error[0] if error else ''}", width)
    result = (f"{row['gmacs_per_video']:.3f} GMACs/video" if row["status"] == "profiled" else
              f"video top-1 {percent(row['video_top1'])} %")
    end = f"  {result}  {duration(wall)}"
    return f"{status} {job_name([entry], width - len(status) - 1 - len(end))}{end}"


def refresh_outputs(out_dir: Path, sweep: Sweep, merge: bool = True) -> tuple[list[dict[str, Any]], list[Path]]:
    """Regenerate the leaderboards and plots from results.jsonl (the rows of this sweep's current entries), with
    the rows of shards and cluster jobs merged into it first (``merge.merge_rows``; ``merge``: not merged just
    now)."""
    if merge:
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


def run_sweep(sweep: Sweep, out_root: str | Path, resume: bool = True, wandb_mode: str | None = "offline",
              console: Console | None = None, shard: Shard | None = None, launcher: str = "local",
              cluster: Any = None, set_aside: bool = False) -> int:
    """Run every entry of ``sweep`` into ``out_root/<name>/``; returns 0, or 1 if any entry failed. Raises
    results.lock.ResultsFolderBusy, before touching anything, when another writer has that folder, and
    merge.RowsDisagree, before any entry starts, when the rows already there were measured on other data than the
    sweep's now (``set_aside``: they are moved aside first, ``merge.set_aside_old_rows``; not in a shard, which
    shares the folder). Ctrl-C: says which rows are kept, then raises KeyboardInterrupt (the command says how to
    resume).

    ``shard``: only that shard's jobs, its rows in ``rows/`` (no tables: ``--merge`` builds them once every shard is
    done); shards share the folder with each other, never with a whole sweep or a merge. ``launcher``: ``local``
    runs the jobs here; ``slurm`` (or ``submitit-local``, the same path on this machine) submits each job with
    submitit (``cluster.ClusterOptions`` ``cluster``) and merges their rows as they finish."""
    if set_aside and shard is not None:
        raise ValueError("a shard shares the results folder with the other shards: it cannot set their rows aside")
    out_dir = Path(out_root) / sweep.name
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = "lit-video sweep" + ("" if shard is None else f" --shard {shard.index}/{shard.count}")
    with results_lock(out_dir, writer, None if shard is None else shard.name):
        return _run_sweep(sweep, out_dir, resume, wandb_mode, console or terminal_console(), shard, launcher,
                          cluster, set_aside)


def _run_sweep(sweep: Sweep, out_dir: Path, resume: bool, wandb_mode: str | None, console: Console,
               shard: Shard | None, launcher: str, cluster: Any, set_aside: bool) -> int:
    # Per-entry logs, checkpoints and wandb files stay out of git; the tables and plots are the record.
    ResultsFolder(out_dir).git_ignore("runs/", "wandb/", "cluster/", ".lock*", ".wandb-leaderboard")
    remove_temporaries(out_dir)
    if set_aside:
        console.print(set_aside_old_rows(out_dir, sweep), soft_wrap=True)
    # The pre-flight of the rows: other data stops the sweep before any entry (merge_rows checks it first).
    if shard is not None:
        check_same_data(out_dir, sweep)
    elif (report := merge_rows(out_dir, sweep)).added:
        console.print(describe(report))
    folder = ResultsFolder(out_dir)
    results_path = folder.results_file if shard is None else folder.rows_dir / f"{shard.name}.jsonl"
    results_path.parent.mkdir(exist_ok=True)
    done = folder.done_hashes() if resume else set()
    mine = {e.entry_id for job in (shard.select(jobs(sweep.entries)) if shard else [sweep.entries]) for e in job}
    todo = [entry for entry in sweep.entries if entry.entry_id in mine and entry.config_hash not in done]
    progress = SweepProgress(sweep, console)
    progress.skipped = len(sweep.entries) - len(mine)  # other shards' entries: counted, not announced
    progress.already_done(len(mine) - len(todo))
    failures: list[tuple[Entry, str]] = []
    outputs = None  # the latest tables and plots

    def tally(job: list[Entry], rows: list[dict[str, Any]], started: float) -> None:
        """Report a finished job's entries, then regenerate the tables and plots (not in a shard)."""
        nonlocal outputs
        progress.ended(job, rows, wall_times(job, folder.runs_dir, started))
        failures.extend((entry, str(row["error"])) for entry, row in zip(job, rows, strict=True)
                        if row["status"] == "failed")
        if shard is None:
            outputs = refresh_outputs(out_dir, sweep)

    def record(job: list[Entry], outcomes: list[Outcome], started: float) -> None:
        rows = finished_rows(job, outcomes, folder.runs_dir, wandb_mode, console)
        append_rows(results_path, rows)
        tally(job, rows, started)

    grouped = jobs(todo)
    try:
        with progress:
            if launcher == "local":
                _run_local(sweep, grouped, folder.runs_dir, wandb_mode, progress, record)
            else:
                for job in grouped:
                    progress.started(job, f"on {launcher}")
                run_on_cluster(grouped, out_dir, wandb_mode, launcher, cluster, tally, console)
    except KeyboardInterrupt:
        kept = len(read_rows(results_path)) if results_path.exists() else 0
        ran = progress.done + progress.failed
        console.print("interrupted: the running entries are lost; the finished ones are kept:")
        console.print(f"  {kept} row{'' if kept == 1 else 's'} ({ran} from this run) in {results_path}",
                      soft_wrap=True)
        raise
    took = duration(time.monotonic() - progress.start)
    if shard is not None:
        console.print(f"sweep {sweep.name}, {shard.name}: {progress.done} done, {progress.failed} failed in {took}; "
                      f"rows in {results_path}. Once every shard is done, `lit-video sweep CONFIG --merge` builds "
                      "the leaderboard.")
        return 1 if failures else 0
    # Nothing ran: the config may still have changed which rows count.
    board, plots = outputs or refresh_outputs(out_dir, sweep)
    return _report(sweep.name, board, plots, out_dir, wandb_mode, console, failures,
                   f"sweep {sweep.name}: {progress.done} done, {progress.failed} failed, {progress.skipped} "
                   f"skipped in {took}")


def _run_local(sweep: Sweep, grouped: list[list[Entry]], runs: Path, wandb_mode: str | None,
               progress: SweepProgress, record: Callable[[list[Entry], list[Outcome], float], None]) -> None:
    """Run the jobs here, one at a time or ``sweep.parallel`` at once, handing each one's outcomes to ``record``."""
    if sweep.parallel == 1:
        for job in grouped:
            progress.started(job, "running")
            started = time.monotonic()
            record(job, run_child(job, runs, wandb_mode), started)
        return
    # Every model profiled first, alone on the machine (a speed measured beside a neighbour's training would be the
    # neighbour's as much as the model's); then `parallel` jobs train at a time on their share of the cores. A
    # profile-only job is all profile, so it runs whole in the first phase.
    trained = []
    for job in grouped:
        progress.started(job, "profiling" if job[0].train else "running")
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
                progress.started(job, f"training, {threads} thread{'s' if threads > 1 else ''}")
                future = pool.submit(run_child, job, runs, wandb_mode, threads, profiled=True)
                running[future] = (job, time.monotonic())
            for future in wait(running, return_when=FIRST_COMPLETED).done:
                job, started = running.pop(future)
                record(job, future.result(), started)


def _report(name: str, board: list[dict[str, Any]], plots: list[Path], out_dir: Path, wandb_mode: str | None,
            console: Console, failures: list[tuple[Entry, str]], summary: str) -> int:
    """Log the leaderboard to wandb; print its top ten, the failures, then ``summary`` and where the leaderboard is
    (the last lines: what a user reads first). 1 if any entry failed, else 0."""
    if wandb_mode:  # unless this board is logged already (a sweep killed after its last row never logged it)
        tracking.log_leaderboard(name, board, plots, wandb_mode, out_dir)
    width = console.width
    for line in [line for line in board if line["status"] == "ok"][:10]:
        end = f"  video top-1 {percent(line['video_top1']):>5} %  {line['gmacs_per_video']:8.3f} GMACs/video"
        label = fit(f"{line['variant']} ({line['dataset']})", width - 5 - len(end))
        console.print(f"{line['rank']:>3}. {label:<{width - 5 - len(end)}}{end}", no_wrap=True)
    if failures:
        console.print(f"{len(failures)} entr{'y' if len(failures) == 1 else 'ies'} failed (errors in full: "
                      "leaderboard.md, Failed entries):", style="red")
        for entry, error in failures:
            first = error.strip().splitlines()[0] if error.strip() else ""
            console.print(fit(f"  {job_name([entry])}: {first}", width))
    console.print(summary)
    console.print(f"leaderboard: {ResultsFolder(out_dir).leaderboard_file('md')}", soft_wrap=True)
    return 1 if failures else 0


def merge_sweep(sweep: Sweep, out_root: str | Path, wandb_mode: str | None = "offline",
                console: Console | None = None, set_aside: bool = False) -> int:
    """``--merge``: bring every shard's and cluster job's rows into ``results.jsonl`` and write the leaderboard and
    plots, running nothing; 0 when every entry of the sweep has a done row, else 1 (the entries failed or not run
    yet are listed). Raises merge.RowsDisagree, writing nothing, for rows measured on other data than the sweep's
    now (``set_aside``: moved aside first), and results.lock.ResultsFolderBusy while another writer has the
    folder."""
    console = console or terminal_console()
    out_dir = Path(out_root) / sweep.name
    if not out_dir.is_dir():
        console.print(f"no results folder {out_dir}: run the sweep (or its shards) first", style="red")
        return 1
    with results_lock(out_dir, "lit-video sweep --merge"):
        if set_aside:
            console.print(set_aside_old_rows(out_dir, sweep), soft_wrap=True)
        console.print(describe(merge_rows(out_dir, sweep)))
        board, plots = refresh_outputs(out_dir, sweep, merge=False)
        rows = {row["config_hash"]: row for row in latest_rows(ResultsFolder(out_dir).rows(),
                                                                [e.config_hash for e in sweep.entries])}
        failures = [(e, rows[e.config_hash]["error"] or "failed") if e.config_hash in rows else (e, "no row yet")
                    for e in sweep.entries
                    if e.config_hash not in rows or rows[e.config_hash]["status"] not in DONE_STATUSES]
        return _report(sweep.name, board, plots, out_dir, wandb_mode, console, failures,
                       f"sweep {sweep.name}: {len(sweep.entries) - len(failures)} of {len(sweep.entries)} entries "
                       "done")
