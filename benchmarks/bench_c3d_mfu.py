"""C3D inference at 3x16x112x112 under each speed option the profiler offers: clips/s, MFU, ratio to baseline; and
the profiler's default (no options: the layout `auto` chooses) against C3D written out in plain PyTorch, run in
channels_last_3d and contiguous, with the layout the default took and why.

    python benchmarks/bench_c3d_mfu.py [--repeats 3] [--no-compile] [--batch 8]
                                       [--default-only] [--remeasure-layout]

Targets: >= 60% MFU (achieved FLOP/s over the fp32/bf16 matmul peak of this machine, measured in the same
``measure_throughput`` call as each row; a row whose MFU would exceed 100% shows the measurement error instead); the
default >= 0.9x the plain-PyTorch channels_last_3d reference at `lit-video profile`'s batch, timed in the same
run. ``--default-only`` skips the option rows (a quick check: ``--default-only --batch 1 --repeats 1``);
``--remeasure-layout`` has the default measure its layout choice again, whatever ``layouts.json`` holds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import write_result
from torch import nn

from lit_video.memory_format import describe_choice, describe_runs
from lit_video.models import create_model
from lit_video.profiling import (
    ThroughputOptions,
    count_flops,
    gflops,
    machine_peak_gflops,
    measure_throughput,
)
from lit_video.profiling.cli import build_parser as profile_parser
from lit_video.terminal import HelpFormatter

SHAPE = (1, 3, 16, 112, 112)
PLAIN_LAYOUTS = {"channels_last_3d": torch.channels_last_3d, "contiguous": torch.contiguous_format}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile row (slow)")
    parser.add_argument("--batch", type=int, default=profile_parser().get_default("batch_size"),
                        help="batch of the default against plain PyTorch (default: lit-video profile's)")
    parser.add_argument("--default-only", action="store_true", help="only the default against plain PyTorch")
    parser.add_argument("--remeasure-layout", action="store_true",
                        help="the default measures its layout choice again, whatever the cache holds")
    args = parser.parse_args()
    model = create_model("c3d", num_classes=400)
    gmacs = count_flops(model, SHAPE).gmacs
    cores = torch.get_num_threads()
    rows, skipped, peaks, table = {}, {}, {}, []
    if not args.default_only:
        rows, skipped, peaks, table = option_rows(model, gmacs, cores, args)
    # The default against the reference a user would write: C3D's layers in plain PyTorch, in each layout.
    default = measure_throughput(model, SHAPE, ThroughputOptions(
        batch_sizes=(args.batch,), threads=cores, train=False, repeats=args.repeats, warmup=1,
        remeasure_layout=args.remeasure_layout), gmacs=gmacs)
    clips_per_s = next(r for r in default["per_batch"] if r["batch_size"] == args.batch)["infer_clips_per_s"]
    choice = default["options"]["memory_format_choice"]
    plain = plain_c3d()
    references = {layout: plain_clips_per_s(plain, args.batch, args.repeats, layout)
                  for layout in PLAIN_LAYOUTS}
    ratios = {layout: clips_per_s / reference for layout, reference in references.items()}
    why = f"{describe_choice(choice)}; {describe_runs(choice)}" if choice["seconds"] else describe_choice(choice)
    table += ["", f"Without options against plain PyTorch (batch {args.batch}, same run, median of {args.repeats} "
              "runs):", "",
              "| what | clips/s | default / it |", "| --- | --- | --- |",
              *(f"| plain-PyTorch C3D, {layout} | {reference:.3f} | {ratios[layout]:.2f} |"
                for layout, reference in references.items()),
              f"| lit-video default ({choice['memory_format']}) | {clips_per_s:.3f} | |",
              "", f"The default ran {choice['memory_format']} ({why}).",
              "", f"Default / channels_last_3d reference: {ratios['channels_last_3d']:.2f} (target 0.9); "
              f"/ contiguous reference: {ratios['contiguous']:.2f}."]
    payload = {"gmacs_per_clip": gmacs, "input": list(SHAPE), "rows": rows, "skipped": skipped,
               "matmul_peaks_gflops_per_s": peaks,
               "default_vs_plain_reference": {"batch": args.batch, "default_clips_per_s": clips_per_s,
                                              "reference_clips_per_s": references, "ratio": ratios,
                                              "chosen": choice["memory_format"], "choice": choice, "why": why}}
    write_result("c3d_mfu", payload, table)


def option_rows(model: nn.Module, gmacs: float, cores: int, args: argparse.Namespace):
    """Each speed option's row at batch 1 (or 4), its MFU and its ratio to the fp32 batch-1 baseline: the rows, the
    options skipped and why, the matmul peaks and the table's lines."""
    options = {
        "baseline (fp32, batch 1, contiguous)": {"memory_format": "contiguous"},
        "batch 4": {"batch_sizes": (4,), "memory_format": "contiguous"},
        "channels_last_3d": {"memory_format": "channels_last"},
        "channels_last_3d, batch 4": {"memory_format": "channels_last", "batch_sizes": (4,)},
        "1 thread": {"threads": 1, "memory_format": "contiguous"},
        "bf16 autocast": {"dtype": "bfloat16", "memory_format": "contiguous"},
    }
    if not args.no_compile:
        options["torch.compile, batch 4"] = {"compile": True, "batch_sizes": (4,), "memory_format": "contiguous"}
    # Where bf16 has no fast kernel (a CPU without AVX-512 BF16 / AMX), one C3D clip takes minutes: measure
    # the bf16 matmul peak first and skip the row, saying why, when it is under a tenth of fp32's.
    peaks = {dt: machine_peak_gflops("cpu", dt) for dt in ("float32", "bfloat16")}
    skipped = {}
    if peaks["bfloat16"] < 0.1 * peaks["float32"]:
        skipped["bf16 autocast"] = (f"bf16 matmul peak {peaks['bfloat16']:.2f} GFLOP/s vs fp32 "
                                    f"{peaks['float32']:.1f}: no fast bf16 kernels on this CPU")
        del options["bf16 autocast"]
    rows = {}
    for label, opts in options.items():
        run = ThroughputOptions(**{"batch_sizes": (1,), "threads": cores, **opts}, train=False,
                                repeats=args.repeats, warmup=1)
        result = measure_throughput(model, SHAPE, run, gmacs=gmacs)
        rows[label] = {k: result[k] for k in ("batch_size", "infer_clips_per_s", "latency_ms_p50", "mfu",
                                              "mfu_error", "peak_gflops_per_s", "peak_source",
                                              "achieved_gflops_per_s", "peak_mem_mb", "options", "per_batch")}
        print(label, rows[label], flush=True)
    base = rows["baseline (fp32, batch 1, contiguous)"]["infer_clips_per_s"]
    table = [f"C3D {'x'.join(map(str, SHAPE[1:]))}: {gmacs:.2f} GMACs ({gflops(gmacs):.2f} GFLOPs) per clip, "
             "counter torch.utils.flop_counter; inference, median of "
             f"{args.repeats} runs.", "",
             "| options | batch | clips/s | x baseline | achieved GFLOP/s | peak GFLOP/s (matmul, same "
             "dtype, same call) | MFU |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for label, row in rows.items():
        table.append(f"| {label} | {row['batch_size']} | {row['infer_clips_per_s']:.3f} | "
                     f"{row['infer_clips_per_s'] / base:.2f} | {row['achieved_gflops_per_s']:.1f} | "
                     f"{row['peak_gflops_per_s']:.1f} | {_mfu(row)} |")
    table += [f"| {label} | - | skipped: {why} | | | | |" for label, why in skipped.items()]
    measured = [k for k in rows if rows[k]["mfu"] is not None]
    best = max(measured, key=lambda k: rows[k]["mfu"]) if measured else None
    table += ["", f"Best: {best}, MFU {100 * rows[best]['mfu']:.1f}% (target 60%)." if best else
              "Best: none, every MFU was a measurement error (see the rows)."]
    return rows, skipped, peaks, table


def plain_c3d(num_classes: int = 400) -> nn.Sequential:
    """C3D's layers as a user would write them in plain PyTorch (Tran et al. 2015): the reference for the default."""
    layers, channels = [], 3
    for width, convs, pool in ((64, 1, (1, 2, 2)), (128, 1, 2), (256, 2, 2), (512, 2, 2), (512, 2, 2)):
        for _ in range(convs):
            layers += [nn.Conv3d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
            channels = width
        layers.append(nn.MaxPool3d(pool, pool))
    # (B, 512, 1, 3, 3) after pool5 at 16 x 112 x 112 -> (B, 4608)
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512 * 3 * 3, 4096), nn.ReLU(inplace=True), nn.Dropout(),
                         nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(), nn.Linear(4096, num_classes))


def plain_clips_per_s(model: nn.Module, batch: int, repeats: int, layout: str) -> float:
    """Inference clips/s of ``model`` in ``layout`` (``channels_last_3d`` or ``contiguous``), timed the plain way:
    median of ``repeats`` after one, as ``measure_throughput`` times the default."""
    memory_format = PLAIN_LAYOUTS[layout]
    model = model.eval().to(memory_format=memory_format)
    x = torch.randn(batch, *SHAPE[1:]).contiguous(memory_format=memory_format)
    times = []
    with torch.inference_mode():
        model(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def _mfu(row: dict) -> str:
    return row["mfu_error"] if row["mfu"] is None else f"{100 * row['mfu']:.1f}%"


if __name__ == "__main__":
    main()
