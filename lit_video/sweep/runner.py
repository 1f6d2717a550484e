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
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.text import Text

from ..files import remove_temporaries, write_atomic
from . import tracking
from .config import Entry, Sweep
from .entry import COST_FILE, PROFILE_FILE, PROFILE_SPEC_FILE, RESULT_FILE, SPEC_FILE, base_row
from .leaderboard import write_leaderboards
from .merge import describe, merge_rows
from .plots import write_plots
from .rows import DONE_STATUSES, RESULTS_FILE, ROWS_DIR, RUNS_DIR, append_row, done_hashes, latest_rows, read_rows

STDERR_TAIL = 2000  # characters of a dead entry's stderr kept as its error
LOCK_FILE = ".lock"


@dataclass
class Outcome:
    status: str  # ok (the row says ok or profiled) | failed
    row: dict[str, Any] | None = None
    error: str | None = None
    oom: bool = False


def _tail(path: Path) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-STDERR_TAIL:].strip()


def jobs(entries: list[Entry]) -> list[list[Entry]]:
    """The entries grouped into jobs, one process each: the consecutive seeds of one variant on one dataset."""
    grouped: list[list[Entry]] = []
    for entry in entries:
        if grouped and (grouped[-1][0].variant, grouped[-1][0].dataset) == (entry.variant, entry.dataset):
            grouped[-1].append(entry)
        else:
            grouped.append([entry])
    return grouped


_RUNNING: set[int] = set()  # the process groups of the jobs running now (several in a parallel sweep)


def _kill_running() -> None:
    """Kill every running job with its workers (the sweep is going down: Ctrl-C)."""
    for pid in list(_RUNNING):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def _run_process(spec: dict[str, Any], spec_path: Path, timeout: float, what: str,
                 stdout_path: Path | None = None) -> str | None:
    """Run ``python -m lit_video.sweep.entry spec_path`` with ``spec`` within ``timeout`` seconds; None when it
    exited 0, else why it did not (timed out, killed, or its exit code and the tail of its stderr). ``what``
    names the timeout's setting in that message; ``stdout_path``: where its output goes (default: ours)."""
    write_atomic(spec_path, json.dumps({**spec, "parent_pid": os.getpid()}, indent=2, default=str))
    stderr_path = spec_path.with_name(spec_path.stem.replace("spec", "stderr") + ".log")
    with contextlib.ExitStack() as files:
        stderr = files.enter_context(stderr_path.open("w"))
        stdout = files.enter_context(stdout_path.open("w")) if stdout_path else None
        # Own session (process group), so a timeout kills the job with its data-loading workers.
        child = subprocess.Popen([sys.executable, "-m", "lit_video.sweep.entry", str(spec_path)],
                                 stdout=stdout, stderr=stderr, start_new_session=True)
        _RUNNING.add(child.pid)
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            return f"timed out after {timeout:g} s ({what})"
        except BaseException:  # Ctrl-C: take the job down with the sweep
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            raise
        finally:
            _RUNNING.discard(child.pid)
    code = child.returncode
    if code == 0:
        return None
    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    hint = " (SIGKILL: out of memory?)" if code == -signal.SIGKILL else ""
    return f"entry process died ({how}){hint}; stderr: {_tail(stderr_path)}"


def run_child(job: list[Entry], runs_dir: Path, wandb_mode: str | None, threads: int | None = None,
              profiled: bool = False) -> list[Outcome]:
    """Run one job (``jobs``) in a fresh Python process within its entries' summed timeouts; one outcome per
    entry, in order. Never raises for the entries' failures: an entry the process did not finish is failed with
    the reason (timeout, or the process's death and the tail of its stderr). ``profiled``: ``profile_job``
    measured the job's cost already; ``threads``: torch's threads while fitting (None: the process's)."""
    dirs = [runs_dir / entry.entry_id for entry in job]
    for entry_dir in dirs:
        entry_dir.mkdir(parents=True, exist_ok=True)
        (entry_dir / RESULT_FILE).unlink(missing_ok=True)
    spec = {"entries": [e.to_dict() for e in job], "entry_dirs": [str(d) for d in dirs], "wandb": wandb_mode,
            "phase": "train" if profiled else None, "threads": threads}
    timeout = sum(entry.timeout_s for entry in job)
    # Jobs that run side by side write their progress bars to a file each, not over one another.
    died = _run_process(spec, dirs[0] / SPEC_FILE, timeout,
                        f"timeout_s in the sweep config: {job[0].timeout_s:g} s an entry",
                        dirs[0] / "stdout.log" if threads else None)
    outcomes = []
    for entry_dir in dirs:
        result_path = entry_dir / RESULT_FILE
        if not result_path.exists():
            outcomes.append(Outcome("failed", error=died or "entry process ended without a result"))
            continue
        result = json.loads(result_path.read_text())
        outcomes.append(Outcome("ok", row=result["row"]) if result["status"] == "ok" else
                        Outcome("failed", error=result["error"], oom=result.get("oom", False)))
    return outcomes


def profile_child(job: list[Entry], runs_dir: Path) -> str | None:
    """A parallel sweep's profile phase for one trained job (``entry.profile_job``) in a fresh process: None
    when its cost is measured and kept for ``run_child(..., profiled=True)``, else why not."""
    entry_dir = runs_dir / job[0].entry_id
    entry_dir.mkdir(parents=True, exist_ok=True)
    for stale in (COST_FILE, PROFILE_FILE):
        (entry_dir / stale).unlink(missing_ok=True)
    spec = {"entries": [job[0].to_dict()], "entry_dirs": [str(entry_dir)], "phase": "profile"}
    died = _run_process(spec, entry_dir / PROFILE_SPEC_FILE, job[0].timeout_s,
                        f"timeout_s in the sweep config: {job[0].timeout_s:g} s")
    if (entry_dir / COST_FILE).exists():
        return None
    outcome = json.loads((entry_dir / PROFILE_FILE).read_text()) if (entry_dir / PROFILE_FILE).exists() else {}
    return f"profiling failed: {outcome.get('error') or died}"


def _expected_fit(job: list[Entry], runs_dir: Path) -> float:
    """What a job's fits take, in proportion: epochs x seeds over the training speed its profile measured (0
    where unknown)."""
    profile = json.loads((runs_dir / job[0].entry_id / PROFILE_FILE).read_text())
    epochs = job[0].config["trainer"].get("max_epochs") or 1
    return len(job) * epochs / profile["train_clips_per_s"] if profile.get("train_clips_per_s") else 0.0


def finished_rows(job: list[Entry], outcomes: list[Outcome], runs_dir: Path, wandb_mode: str | None,
                  console: Console | None = None) -> list[dict[str, Any]]:
    """The rows of a job's outcomes, one per entry: an entry out of GPU memory is first retried once at half its
    batch size; a failed entry's row carries its error."""
    rows = []
    for entry, outcome in zip(job, outcomes, strict=True):
        if outcome.oom and (smaller := _halved_batch(entry)) is not None:
            if console:
                console.print(f"[yellow]{entry.entry_id}: out of memory; retrying once at batch size "
                              f"{smaller.config['data']['batch_size']}[/]")
            (outcome,) = run_child([smaller], runs_dir, wandb_mode)
        if outcome.status == "ok":
            rows.append({**outcome.row, "config_hash": entry.config_hash})  # as configured, even after a retry
        else:
            rows.append(base_row(entry, status="failed", error=outcome.error))
    return rows


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


def _halved_batch(entry: Entry) -> Entry | None:
    """The entry at half its batch size, for one retry after a GPU out-of-memory; None if it cannot shrink."""
    batch = entry.config["data"]["batch_size"]
    if batch <= 1:
        return None
    profile = dict(entry.profile)
    if "batch_sizes" in profile:
        profile["batch_sizes"] = sorted({max(1, b // 2) for b in profile["batch_sizes"]})
    config = {**entry.config, "data": {**entry.config["data"], "batch_size": batch // 2}}
    return replace(entry, config=config, profile=profile)


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
    rows = latest_rows(read_rows(out_dir / RESULTS_FILE), [e.config_hash for e in sweep.entries])
    board = write_leaderboards(out_dir, rows, f"Leaderboard: sweep {sweep.name}")
    return board, write_plots(out_dir, board)


@contextlib.contextmanager
def _killed_on_exit() -> Iterator[None]:
    """Jobs running in other threads die with the sweep: Ctrl-C reaches the main thread only."""
    try:
        yield
    except BaseException:
        _kill_running()
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
    write_atomic(out_dir / ".gitignore", "runs/\nwandb/\ncluster/\n.lock*\n.wandb-leaderboard\n")
    remove_temporaries(out_dir)
    if shard is None and (report := merge_rows(out_dir, sweep)).added:  # a conflict stops the sweep here
        console.print(describe(report))
    results_path = out_dir / RESULTS_FILE if shard is None else out_dir / ROWS_DIR / f"{shard.name}.jsonl"
    results_path.parent.mkdir(exist_ok=True)
    done = done_hashes(out_dir) if resume else set()
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
        rows = finished_rows(job, outcomes, out_dir / RUNS_DIR, wandb_mode, console)
        for row in rows:
            append_row(results_path, row)
        tally(job, rows, started)

    runs = out_dir / RUNS_DIR
    if launcher != "local":
        from .cluster import run_on_cluster

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
        trained.sort(key=lambda job: -_expected_fit(job, runs))
        threads = max(1, (os.cpu_count() or 1) // sweep.parallel)
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
        rows = {row["config_hash"]: row for row in latest_rows(read_rows(out_dir / RESULTS_FILE),
                                                                [e.config_hash for e in sweep.entries])}
        failures = [(e, rows[e.config_hash]["error"] or "failed") if e.config_hash in rows else (e, "no row yet")
                    for e in sweep.entries
                    if e.config_hash not in rows or rows[e.config_hash]["status"] not in DONE_STATUSES]
        console.print(f"sweep {sweep.name}: {len(sweep.entries) - len(failures)} of {len(sweep.entries)} entries "
                      f"done; results in {out_dir}")
        return _report(sweep.name, board, plots, out_dir, wandb_mode, console, failures)
