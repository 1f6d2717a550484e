"""A sweep's jobs: the seeds of one model on one dataset, run in a fresh Python process of their own
(``python -m lit_video.sweep.entry``), each entry's outcome read back from its folder. The local runner and a cluster
job (``cluster``) run a job the same way, through ``run_child``, and turn its outcomes into rows with
``finished_rows`` (an entry out of GPU memory retried once at half its batch size).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from ..files import write_atomic
from ..results.schema import row_problems
from . import tracking
from .config import Entry
from .entry import COST_FILE, PROFILE_FILE, PROFILE_SPEC_FILE, RESULT_FILE, SPEC_FILE, base_row

STDERR_TAIL = 2000  # characters of a dead entry's stderr kept as its error


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


def kill_running() -> None:
    """Kill every running job with its workers (the sweep is going down: Ctrl-C)."""
    for pid in list(_RUNNING):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def _run_process(spec: dict[str, Any], spec_path: Path, timeout: float, what: str) -> str | None:
    """Run ``python -m lit_video.sweep.entry spec_path`` with ``spec`` within ``timeout`` seconds; None when it
    exited 0, else why it did not (timed out, killed, or its exit code and the tail of its stderr). ``what``
    names the timeout's setting in that message. Its output goes to files beside the spec (``spec.json``:
    ``stdout.log``, ``stderr.log``): the sweep's own progress is the only thing on the sweep's output."""
    write_atomic(spec_path, json.dumps({**spec, "parent_pid": os.getpid()}, indent=2, default=str))
    stdout_path, stderr_path = (spec_path.with_name(spec_path.stem.replace("spec", stream) + ".log")
                                for stream in ("stdout", "stderr"))
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
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
        _close_wandb_record(entry_dir)  # the run a process killed before left (the sweep was: this is a resume)
        (entry_dir / RESULT_FILE).unlink(missing_ok=True)
    spec = {"entries": [e.to_dict() for e in job], "entry_dirs": [str(d) for d in dirs], "wandb": wandb_mode,
            "phase": "train" if profiled else None, "threads": threads}
    timeout = sum(entry.timeout_s for entry in job)
    died = _run_process(spec, dirs[0] / SPEC_FILE, timeout,
                        f"timeout_s in the sweep config: {job[0].timeout_s:g} s an entry")
    outcomes = []
    for entry_dir in dirs:
        _close_wandb_record(entry_dir)
        if (result := _result(entry_dir)) is None:
            outcomes.append(Outcome("failed", error=died or "entry process ended without a result"))
            continue
        outcomes.append(Outcome("ok", row=result["row"]) if result["status"] == "ok" else
                        Outcome("failed", error=result["error"], oom=result.get("oom", False)))
    return outcomes


def _close_wandb_record(entry_dir: Path) -> None:
    """An entry's record of its wandb run (``tracking.record_run``) done with: the run set aside where the entry
    did not finish (no result: its process was killed, or the sweep was), then the record removed, so that it
    names the entry's next run only."""
    if not (entry_dir / RESULT_FILE).exists():
        tracking.set_aside(entry_dir)
    (entry_dir / tracking.RUN_FILE).unlink(missing_ok=True)


def _result(entry_dir: Path) -> dict[str, Any] | None:
    """What the entry process wrote of an entry (``entry.run_job``), None where it wrote nothing."""
    path = entry_dir / RESULT_FILE
    return json.loads(path.read_text()) if path.exists() else None


def wall_times(job: list[Entry], runs_dir: Path, started: float) -> list[float]:
    """The seconds each entry of a finished job took, as its process timed it, adding up to the job's time since
    ``started`` (``time.monotonic()``): the rest (the process's start-up, or the time until it died) goes to the
    first entry the process did not time, or else to the first entry, which waited for the start-up."""
    measured = [(_result(runs_dir / entry.entry_id) or {}).get("wall_s") for entry in job]
    rest = max(0.0, time.monotonic() - started - sum(w for w in measured if w is not None))
    first = next((i for i, w in enumerate(measured) if w is None), 0)
    return [(w or 0.0) + (rest if i == first else 0.0) for i, w in enumerate(measured)]


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


def expected_fit(job: list[Entry], runs_dir: Path) -> float:
    """What a job's fits take, in proportion: epochs x seeds over the training speed its profile measured (0
    where unknown)."""
    profile = json.loads((runs_dir / job[0].entry_id / PROFILE_FILE).read_text())
    epochs = job[0].config["trainer"].get("max_epochs") or 1
    return len(job) * epochs / profile["train_clips_per_s"] if profile.get("train_clips_per_s") else 0.0


def finished_rows(job: list[Entry], outcomes: list[Outcome], runs_dir: Path, wandb_mode: str | None,
                  console: Console | None = None) -> list[dict[str, Any]]:
    """The rows of a job's outcomes, one per entry: an entry out of GPU memory is first retried once at half its
    batch size; a failed entry's row carries its error, and so does an entry whose row the results schema refuses
    (``schema.row_problems``)."""
    rows = []
    for entry, outcome in zip(job, outcomes, strict=True):
        if outcome.oom and (smaller := _halved_batch(entry)) is not None:
            if console:
                console.print(f"{entry.entry_id}: out of memory; retrying once at batch size "
                              f"{smaller.config['data']['batch_size']}", style="yellow")
            (outcome,) = run_child([smaller], runs_dir, wandb_mode)
        if outcome.status == "ok":
            row = {**outcome.row, "config_hash": entry.config_hash}  # as configured, even after a retry
            if problems := row_problems(row):  # a NaN accuracy, say: never written, and the entry not done
                row = base_row(entry, status="failed", error=f"the entry's row was refused: {'; '.join(problems)}")
        else:
            row = base_row(entry, status="failed", error=outcome.error)
        rows.append(row)
    return rows


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
