"""Sweeps on a cluster with submitit: each job of the sweep (a model's seeds on one dataset) is a cluster job that
runs exactly what a local sweep runs for it (``runner.run_child``: the entries in a process of their own, with
their timeouts and out-of-memory retry) and writes its rows to a file of its own, ``rows/job-<entry>.jsonl``.
The sweep process waits for the jobs and merges their rows into ``results.jsonl`` and the leaderboard as each
finishes; if it is stopped, the jobs go on, and ``lit-video sweep CONFIG --merge`` builds the leaderboard from
the rows they wrote. A cluster job that dies before writing its rows (time limit, node failure) gets ``failed``
rows with the reason and the end of its log, as an entry that dies locally does.

``slurm`` submits to SLURM (a job array); ``submitit-local`` runs the same jobs as processes on this machine with
submitit's local executor, to try a config or test the path without a cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from ..results.folder import ResultsFolder, append_row, append_rows, read_rows
from .config import ClusterOptions, Entry
from .entry import base_row
from .jobs import finished_rows, run_child

LAUNCHERS = ("local", "slurm", "submitit-local")
CLUSTER_FOLDER = "cluster"  # submitit's job files and logs, under the sweep's results folder
LOG_TAIL = 2000  # characters of a dead cluster job's log kept in its rows


def job_rows_file(job: list[Entry], out_dir: Path) -> Path:
    return ResultsFolder(out_dir).rows_dir / f"job-{job[0].entry_id}.jsonl"


def run_cluster_job(entries: list[dict[str, Any]], out_dir: str, wandb_mode: str | None) -> list[str]:
    """What a cluster job runs: the job's entries as a local sweep runs them, each row appended to the job's own
    row file. Returns the rows' statuses."""
    job, runs = [Entry.from_dict(spec) for spec in entries], ResultsFolder(out_dir).runs_dir
    rows = finished_rows(job, run_child(job, runs, wandb_mode), runs, wandb_mode)
    path = job_rows_file(job, Path(out_dir))
    append_rows(path, rows)
    return [row["status"] for row in rows]


def executor(out_dir: Path, launcher: str, options: ClusterOptions, timeout_min: int) -> Any:
    """A submitit executor for ``launcher`` with ``options``; its files and logs in ``out_dir/cluster/``."""
    import submitit

    if launcher not in LAUNCHERS[1:]:
        raise ValueError(f"unknown launcher {launcher!r}: choose one of {', '.join(LAUNCHERS)}")
    made = submitit.AutoExecutor(folder=out_dir / CLUSTER_FOLDER / "%j",
                                 cluster="slurm" if launcher == "slurm" else "local")
    made.update_parameters(name=f"lit-video-{out_dir.name}", timeout_min=options.timeout_min or timeout_min,
                           gpus_per_node=options.gpus_per_node, cpus_per_task=options.cpus_per_task,
                           mem_gb=options.mem_gb, slurm_partition=options.partition,
                           slurm_array_parallelism=options.array_parallelism)
    return made


def run_on_cluster(grouped: list[list[Entry]], out_dir: Path, wandb_mode: str | None, launcher: str,
                   options: ClusterOptions | None, finished: Callable[[list[Entry], list[dict[str, Any]], float],
                                                                     None], console: Console) -> None:
    """Submit each job of ``grouped`` (one array), wait for them, and hand each finished job's rows to
    ``finished(job, rows, started)``; a job that died without its rows gets ``failed`` rows (written to its file)."""
    import submitit  # imported here: only a sweep on a cluster needs it

    if not grouped:
        return
    timeout_min = int(max(sum(entry.timeout_s for entry in job) for job in grouped) / 60) + 10
    made = executor(out_dir, launcher, options or ClusterOptions(), timeout_min)
    for job in grouped:
        job_rows_file(job, out_dir).unlink(missing_ok=True)  # a new try of this job: its rows start afresh
    with made.batch():
        submitted = [made.submit(run_cluster_job, [entry.to_dict() for entry in job], str(out_dir), wandb_mode)
                     for job in grouped]
    started = time.monotonic()
    console.print(f"submitted {len(submitted)} job(s) with submitit ({launcher}): "
                  f"{', '.join(str(s.job_id) for s in submitted)}; logs in {out_dir / CLUSTER_FOLDER}")
    by_id = {s.job_id: job for s, job in zip(submitted, grouped, strict=True)}
    poll = 1.0 if launcher == "submitit-local" else 30.0
    for done in submitit.helpers.as_completed(submitted, poll_frequency=poll):
        job, path = by_id[done.job_id], job_rows_file(by_id[done.job_id], out_dir)
        try:
            done.result()
        except Exception as err:  # noqa: BLE001  (the job died: what submitit says, and its log)
            written = {row["config_hash"] for row in read_rows(path)}
            log = (done.stderr() or "")[-LOG_TAIL:].strip()
            for entry in job:
                if entry.config_hash not in written:
                    append_row(path, base_row(entry, status="failed", error=(
                        f"cluster job {done.job_id} ended without this entry's row: {str(err)[-LOG_TAIL:]}"
                        + (f"; its log: {log}" if log else ""))))
        rows = {row["config_hash"]: row for row in read_rows(path)}
        finished(job, [rows[entry.config_hash] for entry in job], started)
