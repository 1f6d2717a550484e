"""Start-up time of the commands a person runs first, each in a fresh process as from a shell, and whether it
imported torch: `lit-video --help`, `--version`, `models` (the catalog, no torch), one model's card, against
`import lit_video.models` (the registry, which imports torch) for scale.

    python benchmarks/bench_cli_startup.py [--repeats 5]

Target: --help, --version and models under 1 s without torch.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from common import write_result

# Each command, then whether torch was imported (stdout's last line).
RUN = "import sys; from lit_video.cli import main; main(sys.argv[1:]); print('torch' in sys.modules)"
CASES = {
    "lit-video --help": [sys.executable, "-c", RUN, "--help"],
    "lit-video --version": [sys.executable, "-c", RUN, "--version"],
    "lit-video models": [sys.executable, "-c", RUN, "models"],
    "lit-video models c3d": [sys.executable, "-c", RUN, "models", "c3d"],
    "import lit_video.models (for scale)": [sys.executable, "-c", "import lit_video.models; print(True)"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per command (median)")
    args = parser.parse_args()
    rows = []
    for name, command in CASES.items():
        times, torch = [], None
        for _ in range(args.repeats):
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            times.append(time.perf_counter() - start)
            torch = done.stdout.splitlines()[-1] == "True"
        rows.append({"command": name, "median_s": statistics.median(times), "min_s": min(times), "torch": torch})
    table = [f"Fresh processes, median of {args.repeats} (target: --help, --version, models under 1 s, no torch).",
             "", "| command | median s | min s | imports torch |", "| --- | --- | --- | --- |"]
    table += [f"| `{r['command']}` | {r['median_s']:.2f} | {r['min_s']:.2f} | {'yes' if r['torch'] else 'no'} |"
              for r in rows]
    write_result("cli_startup", {"repeats": args.repeats, "rows": rows}, table)


if __name__ == "__main__":
    main()
