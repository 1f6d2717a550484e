"""What optical flow costs: milliseconds per frame pair of ``compute_flow`` for each method OpenCV offers, at the
main job's frame size and at the usual 112 and 224 px, on OpenCV's default threads and on one thread (what each
``lit-video data flow`` worker uses). The two-stream method pays this for every pair of frames it reads.

    python benchmarks/bench_flow.py [--sizes 32 112 224] [--repeats 5]

The clip is ``translated_texture``: a smooth random texture moving 2 px right and 1 px up a frame (17 frames, 16
pairs); flow methods spend their time differently on noise and on structure, so the frames are not random noise.
Writes results/machine/flow_cost.{md,json}.
"""

from __future__ import annotations

import argparse
import sys

import cv2
from common import write_result

from lit_video.data.flow import METHODS, translated_texture
from lit_video.profiling.flow_cost import flow_ms_per_pair


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 112, 224])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median)")
    args = parser.parse_args()
    methods = [m for m in METHODS if m != "tvl1" or hasattr(cv2, "optflow")]
    default_threads = cv2.getNumThreads()
    rows = []
    table = ["| method | frame size | OpenCV threads | ms per frame pair | pairs / s |", "|---|---|---|---|---|"]
    for method in methods:
        for size in args.sizes:
            frames = translated_texture(2, -1, frames=17, size=size)
            for threads in dict.fromkeys([default_threads, 1]):
                cv2.setNumThreads(threads)
                ms = flow_ms_per_pair(frames, method, args.repeats)
                rows.append({"method": method, "size": size, "threads": threads, "ms_per_pair": ms})
                table.append(f"| {method} | {size} x {size} | {threads} | {ms:.2f} | {1000 / ms:.0f} |")
            cv2.setNumThreads(default_threads)
    table += ["", f"OpenCV {cv2.__version__}; TV-L1 {'included' if 'tvl1' in methods else 'not offered (no contrib)'}; "
              f"median of {args.repeats} runs over 16 frame pairs."]
    write_result("flow_cost", {"opencv": cv2.__version__, "rows": rows}, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
