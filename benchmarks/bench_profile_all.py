"""Wall time of `lit-video profile --all` (counting only) as a user runs it: a fresh process, with imports.

    python benchmarks/bench_profile_all.py

Target: under 30 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from common import write_result


def main() -> None:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "import sys; from lit_video.profiling.cli import main; "
                           "sys.exit(main(['--all', '--json']))"], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    rows = json.loads(done.stdout)
    table = [f"`lit-video profile --all`: {len(rows)} models in {wall:.1f} s wall (target < 30 s), imports "
             f"included; counting time per model {sum(r['count_time_s'] for r in rows):.1f} s in all.", "",
             "| model | input | GMACs / clip | GFLOPs / clip | published GMACs | params (M) | count s |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        shape = r["input_shape"]
        shape = "x".join(map(str, shape)) if isinstance(shape, list) else shape
        table.append(f"| {r['model']} | {shape} | {r['gmacs']:.3f} | {r['gflops']:.3f} | "
                     f"{r['published_gmacs'] or '-'} | {r['params'] / 1e6:.2f} | {r['count_time_s']:.2f} |")
    write_result("profile_all", {"wall_s": wall, "rows": rows}, table)


if __name__ == "__main__":
    main()
