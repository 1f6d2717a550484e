"""C3D inference at 3x16x112x112 under each speed option the profiler offers: clips/s, MFU, ratio to baseline; and
the profiler's default (no options) against C3D written out in plain PyTorch and run in channels_last_3d.

    python benchmarks/bench_c3d_mfu.py [--repeats 3] [--no-compile]

Targets: >= 60% MFU (achieved FLOP/s over the fp32/bf16 matmul peak of this machine, measured in the same
``measure_throughput`` call as each row; a row whose MFU would exceed 100% shows the measurement error instead); the
default at batch 4 >= 0.9x the plain-PyTorch channels_last_3d reference, timed in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import write_result
from torch import nn

from lit_video.models import create_model
from lit_video.profiling import (
    ThroughputOptions,
    count_flops,
    gflops,
    machine_peak_gflops,
    measure_throughput,
)

SHAPE = (1, 3, 16, 112, 112)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile row (slow)")
    args = parser.parse_args()
    model = create_model("c3d", num_classes=400)
    gmacs = count_flops(model, SHAPE).gmacs
    cores = torch.get_num_threads()
    options = {
        "baseline (fp32, batch 1, contiguous)": {"memory_format": "contiguous"},
        "batch 4": {"batch_sizes": (4,), "memory_format": "contiguous"},
        "channels_last_3d": {"memory_format": "channels_last"},
        "channels_last_3d, batch 4": {"memory_format": "channels_last", "batch_sizes": (4,)},
        "default (memory format auto), batch 4": {"batch_sizes": (4,)},
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
    # The default against the reference a user would write: C3D's layers in plain PyTorch, channels_last_3d.
    default = next(r for r in rows["default (memory format auto), batch 4"]["per_batch"] if r["batch_size"] == 4)
    reference = plain_clips_per_s(plain_c3d(), 4, args.repeats)
    ratio = default["infer_clips_per_s"] / reference
    chosen = rows["default (memory format auto), batch 4"]["options"]["memory_format"]
    table += ["", "Without options against plain PyTorch (batch 4, same run):", "",
              "| what | clips/s | / reference |", "| --- | --- | --- |",
              f"| plain-PyTorch C3D, channels_last_3d (reference) | {reference:.3f} | 1.00 |",
              f"| lit-video default (chose {chosen}) | {default['infer_clips_per_s']:.3f} | {ratio:.2f} |",
              "", f"Default / reference: {ratio:.2f} (target 0.9)."]
    payload = {"gmacs_per_clip": gmacs, "input": list(SHAPE), "rows": rows, "skipped": skipped, "best": best,
               "matmul_peaks_gflops_per_s": peaks,
               "default_vs_plain_reference": {"reference_clips_per_s": reference, "ratio": ratio, "chosen": chosen}}
    write_result("c3d_mfu", payload, table)


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


def plain_clips_per_s(model: nn.Module, batch: int, repeats: int) -> float:
    """Inference clips/s of ``model`` in channels_last_3d, timed the plain way: median of ``repeats`` after one."""
    model = model.eval().to(memory_format=torch.channels_last_3d)
    x = torch.randn(batch, *SHAPE[1:]).contiguous(memory_format=torch.channels_last_3d)
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
