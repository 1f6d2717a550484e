"""Where the main job's time goes: the sweep's own work (checking every entry, tables, plots, the leaderboard's
wandb run) and, per entry, its process start-up (Python, torch and Lightning imports), building the run (data,
model, Trainer), profiling, fitting (decoding included: the loader's workers decode while the model trains) and
testing.

    python benchmarks/bench_sweep_time.py                 # runs configs/sweeps/lecture.yaml into a temporary folder
    python benchmarks/bench_sweep_time.py --from DIR      # splits a finished sweep folder (DIR/<name>/) instead

Each job (the seeds of one model, one process) writes spec.json as its process starts and each entry's
result.json as that entry ends: an entry's wall time runs from the previous one's result (or the spec) to its
own; "start-up" is what the entry's own timings (details.json) do not cover: the process start for a job's first
entry, little for the others.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import write_result

REPO = Path(__file__).resolve().parent.parent
PARTS = ("start-up", "build_s", "profile_s", "fit_s", "test_s")


def job_splits(spec_path: Path) -> dict[str, dict[str, float]]:
    """Seconds per part of each finished entry of the job ``spec_path`` started (unfinished ones left out)."""
    splits, previous = {}, spec_path.stat().st_mtime
    runs = spec_path.parent.parent  # the spec names its entries' folders as the sweep saw them (maybe relative)
    for entry_dir in (runs / Path(d).name for d in json.loads(spec_path.read_text())["entry_dirs"]):
        result, details = entry_dir / "result.json", entry_dir / "details.json"
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
    splits = {name: split for spec in sorted((args.source / "runs").glob("*/spec.json"))
              for name, split in job_splits(spec).items()}
    entries = sum(s["wall"] for s in splits.values())
    table = ["| entry | wall s | " + " | ".join(p.removesuffix("_s") for p in PARTS) + " |",
             "|---|---|" + "---|" * len(PARTS)]
    for name, s in splits.items():
        table.append(f"| {name} | {s['wall']:.1f} | " + " | ".join(f"{s[p]:.1f}" for p in PARTS) + " |")
    sums = {p: sum(s[p] for s in splits.values()) for p in PARTS}
    table.append(f"| **all entries** | **{entries:.1f}** | "
                 + " | ".join(f"{sums[p]:.1f} ({100 * sums[p] / entries:.0f}%)" for p in PARTS) + " |")
    if total is not None:
        table += ["", f"Main job wall time {total:.1f} s: entries {entries:.1f} s, the sweep's own work "
                      f"(checks, tables, plots, wandb) {total - entries:.1f} s."]
    write_result("sweep_time", {"config": args.config, "total_s": total, "entries": splits}, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
