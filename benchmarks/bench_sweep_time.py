"""Where the main job's time goes: the sweep's own work (checking every entry, tables, plots, the leaderboard's
wandb run) and, per process, its start-up (Python, torch and Lightning imports), building the run (data, model,
Trainer), profiling, preparing the data (the optical-flow cache of a model that takes flow), fitting (decoding
included: the loader's workers decode while the model trains) and testing.

    python benchmarks/bench_sweep_time.py                 # runs configs/sweeps/lecture.yaml into a temporary folder
    python benchmarks/bench_sweep_time.py --from DIR      # splits a finished sweep folder (DIR/<name>/) instead

Each job (the seeds of one model, one process) writes spec.json as its process starts and each entry's
result.json as that entry ends: an entry's wall time runs from the previous one's result (or the spec) to its
own; "start-up" is what the entry's own timings (details.json) do not cover: the process start for a job's first
entry, little for the others. A parallel sweep (``parallel`` > 1) first profiles each trained model in a process
of its own (profile_spec.json to profile.json), then trains several jobs at a time: their process-seconds add up
to more than the phase's wall time, which the last table gives.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from common import write_result

from lit_video.results.folder import DETAILS_FILE
from lit_video.sweep.entry import RESULT_FILE

REPO = Path(__file__).resolve().parent.parent
PARTS = ("start-up", "build_s", "profile_s", "prepare_s", "loader_s", "fit_s", "test_s")


def profile_split(spec_path: Path) -> dict[str, dict[str, float]]:
    """Seconds per part of a parallel sweep's profile process (``spec_path``: its profile_spec.json)."""
    outcome_path = spec_path.with_name("profile.json")
    if not outcome_path.is_file():
        return {}
    timings = json.loads(outcome_path.read_text()).get("timings", {})
    wall = outcome_path.stat().st_mtime - spec_path.stat().st_mtime
    split = {part: timings.get(part, 0.0) for part in PARTS[1:]}
    return {f"{spec_path.parent.name} (profile)": {"wall": wall, "start-up": wall - sum(split.values()), **split}}


def phases(runs: Path) -> list[tuple[str, float]]:
    """Wall seconds of a sweep's phases, from its files' times (after its checks and data, which come before the
    results folder is opened): to the first job, the profile phase of a parallel sweep (every profile process and
    profile-only job), the jobs (or training phase), after the last job."""
    def mtime(paths: Iterable[Path]) -> list[float]:
        return [p.stat().st_mtime for p in paths]

    sweep_dir = runs.parent
    started, ended = (sweep_dir / ".gitignore").stat().st_mtime, (sweep_dir / "leaderboard.md").stat().st_mtime
    profiled = mtime(runs.glob("*/profile_spec.json"))
    trained = mtime(p for p in runs.glob("*/spec.json") if (p.parent / "profile_spec.json").exists())
    first_job, last_result = min(mtime(runs.glob("*/*spec.json"))), max(mtime(runs.glob("*/result.json")))
    parts = [("results folder opened to the first job", first_job - started)]
    if profiled and trained:
        parts += [("profile phase (one process at a time)", min(trained) - first_job),
                  ("training phase (jobs side by side)", last_result - min(trained))]
    else:
        parts.append(("jobs (one at a time)", last_result - first_job))
    return parts + [("after the last job (tables, plots, wandb)", ended - last_result)]


def job_splits(spec_path: Path) -> dict[str, dict[str, float]]:
    """Seconds per part of each finished entry of the job ``spec_path`` started (unfinished ones left out)."""
    splits, previous = {}, spec_path.stat().st_mtime
    runs = spec_path.parent.parent  # the spec names its entries' folders as the sweep saw them (maybe relative)
    for entry_dir in (runs / Path(d).name for d in json.loads(spec_path.read_text())["entry_dirs"]):
        result, details = entry_dir / RESULT_FILE, entry_dir / DETAILS_FILE
        if not (result.is_file() and details.is_file()):
            break
        timings = json.loads(details.read_text()).get("timings", {})
        wall, previous = result.stat().st_mtime - previous, result.stat().st_mtime
        split = {part: timings.get(part, 0.0) for part in PARTS[1:]}
        splits[entry_dir.name] = {"wall": wall, "start-up": wall - sum(split.values()), **split}
    return splits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", type=Path, help="a finished sweep folder (OUT/<name>/)")
    parser.add_argument("--config", default=str(REPO / "configs" / "sweeps" / "lecture.yaml"))
    args = parser.parse_args()
    total = None
    if args.source is None:
        out = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lit_video.sweep.cli", args.config, "--out", str(out)], check=True,
                       stdout=subprocess.DEVNULL)
        total = time.perf_counter() - start
        (args.source,) = [p for p in out.iterdir() if p.is_dir()]
    runs = args.source / "runs"
    splits = {name: split for spec in sorted(runs.glob("*/profile_spec.json"))
              for name, split in profile_split(spec).items()}
    splits.update({name: split for spec in sorted(runs.glob("*/spec.json"))
                   for name, split in job_splits(spec).items()})
    entries = sum(s["wall"] for s in splits.values())
    table = ["| process / entry | wall s | " + " | ".join(p.removesuffix("_s") for p in PARTS) + " |",
             "|---|---|" + "---|" * len(PARTS)]
    for name, s in splits.items():
        table.append(f"| {name} | {s['wall']:.1f} | " + " | ".join(f"{s[p]:.1f}" for p in PARTS) + " |")
    sums = {p: sum(s[p] for s in splits.values()) for p in PARTS}
    table.append(f"| **all (process-seconds)** | **{entries:.1f}** | "
                 + " | ".join(f"{sums[p]:.1f} ({100 * sums[p] / entries:.0f}%)" for p in PARTS) + " |")
    walls = phases(runs)
    table += ["", "| phase | wall s |", "|---|---|", *(f"| {name} | {wall:.1f} |" for name, wall in walls),
              f"| **from the sweep's first file to its last** | **{sum(w for _, w in walls):.1f}** |"]
    if total is not None:
        table += ["", f"Main job wall time {total:.1f} s, the command's start and its checks included."]
    write_result("sweep_time", {"config": args.config, "total_s": total, "entries": splits,
                                "phases": dict(walls)}, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
