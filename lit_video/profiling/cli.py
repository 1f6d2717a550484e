"""``lit-video profile``: GMACs / GFLOPs, parameters, per-layer table with receptive fields, and speed.

    lit-video profile c3d --layers
    lit-video profile i3d_r50 --frames 32 --throughput --batch-size 4 --json
    lit-video profile i3d_r50_nl --model-args inflation=3x3x3 "nonlocal_blocks={layer3: [0, 2]}"
    lit-video profile --all
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from lit_video.data import VideoDataModule, eval_views
from lit_video.data.flow import translated_texture
from lit_video.models import create_model, list_models, model_info
from lit_video.models.published import Published, describe_setup

from ..memory_format import MEMORY_FORMATS, describe_choice, describe_runs
from ..terminal import HelpFormatter
from ..terminal import console as terminal_console
from .counting import FlopReport, count_flops, fvcore_nn, gflops, stream_gmacs
from .flow_cost import flow_cost
from .inputs import model_to_count
from .memory import MemoryNeed, check_fits, forward_need, throughput_need
from .options import DTYPES, ThroughputOptions, check_device, fastest_dtype
from .throughput import measure_throughput

# Eval views of a video when no option says otherwise: the DataModule's own defaults.
_DATA_DEFAULTS = inspect.signature(VideoDataModule).parameters
DEFAULT_CLIPS = _DATA_DEFAULTS["test_clips"].default
DEFAULT_CROPS = _DATA_DEFAULTS["test_crops"].default


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lit-video profile", description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("model", nargs="?", help="a registry name (`lit-video models` lists them)")
    p.add_argument("--all", action="store_true", help="every registry model (counting unless --throughput)")
    p.add_argument("--frames", type=int, help="clip length T (default: the model's)")
    p.add_argument("--size", type=int, help="clip height = width S (default: the model's)")
    p.add_argument("--batch-size", type=int, default=8, help="batch size for --throughput (default 8)")
    p.add_argument("--num-classes", type=int, default=400, help="classifier outputs (default 400)")
    p.add_argument("--model-args", nargs="+", default=[], metavar="KEY=VALUE",
                   help="builder options (a wrong key gets the accepted ones listed), each value read as YAML: "
                        "inflation=3x3x3, channels=[8,16,32], 'nonlocal_blocks={layer3: [0, 2]}'")
    p.add_argument("--clips", type=int, default=DEFAULT_CLIPS, help="eval clips per video (per video)")
    p.add_argument("--crops", type=int, default=DEFAULT_CROPS, help="eval crops per clip (per-video figures)")
    p.add_argument("--layers", action="store_true", help="the per-layer table with measured receptive fields")
    p.add_argument("--cross-check", action="store_true", help="also count with fvcore (real tensors, slower)")
    p.add_argument("--throughput", action="store_true", help="measure speed, latency, memory and MFU")
    p.add_argument("--device", default="cpu", help="device for --throughput (cpu, cuda, cuda:1)")
    p.add_argument("--dtype", default="auto", choices=["auto", *DTYPES],
                   help="autocast dtype for --throughput (auto: bfloat16 on a GPU that has it, else float32)")
    p.add_argument("--memory-format", default="auto", choices=MEMORY_FORMATS,
                   help="memory layout for --throughput (auto: the faster of contiguous and channels_last[_3d] for "
                        "this model on this device, measured once and cached, again once the machine is quiet "
                        "where it was busy; contiguous: the plain figure)")
    p.add_argument("--remeasure-layout", action="store_true",
                   help="measure auto's layout choice again now, whatever the cache holds")
    p.add_argument("--compile", action="store_true", help="torch.compile the model for --throughput")
    p.add_argument("--threads", type=int, help="torch threads for --throughput (default: torch's)")
    p.add_argument("--repeats", type=int, default=10, help="timed iterations per figure (median; default 10)")
    p.add_argument("--max-batch", action="store_true", help="also find the largest batch that fits in memory")
    p.add_argument("--cached-peak", action="store_true",
                   help="MFU against the matmul peak an earlier run cached, instead of measuring it now (~1 s)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return p


def _model_args(items: list[str], parser: argparse.ArgumentParser) -> dict[str, Any]:
    """``--model-args KEY=VALUE ...`` as builder keyword arguments, each value parsed as YAML."""
    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            parser.error(f"--model-args takes KEY=VALUE items, got {item!r}")
        try:
            parsed[key] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            parser.error(f"--model-args {key}: {value!r} is not a YAML value ({err})")
    return parsed


def _check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.all == bool(args.model):
        parser.error("give one MODEL or --all")
    if args.all and args.model_args:
        parser.error("--model-args needs one MODEL: each model's builder takes its own options")
    args.model_args = _model_args(args.model_args, parser)
    for opt in ("frames", "size", "batch_size", "num_classes", "clips", "crops", "threads", "repeats"):
        value = getattr(args, opt)
        if value is not None and value < 1:
            parser.error(f"--{opt.replace('_', '-')} must be >= 1, got {value}")


def profile_model(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Everything ``lit-video profile NAME`` reports, as the JSON object ``--json`` prints (docs/flops.md).

    Nothing real is allocated before it is known to fit: the clip and the device are checked first, the model is
    built and counted on the meta device, and what the real runs (receptive fields, the fvcore cross-check,
    speed) need is estimated from that count against the memory available (``NotEnoughMemory``).
    """
    info = model_info(name)
    shape = info.input_shape(1, args.frames, args.size)  # a clip the model does not take: why
    options = None
    if args.throughput:
        check_device(args.device)
        options = ThroughputOptions(
            batch_sizes=(args.batch_size,), device=args.device, dtype=fastest_dtype(args.device, args.dtype),
            memory_format=args.memory_format, remeasure_layout=args.remeasure_layout, compile=args.compile,
            threads=args.threads,
            repeats=args.repeats, find_max_batch=args.max_batch, cached_peak=args.cached_peak)
    # The clip (None: the model's default) and the builder options of --model-args.
    clip = {"frames": args.frames, "size": args.size, **args.model_args}
    model = model_to_count(name, args.num_classes, **clip)
    start = time.perf_counter()
    report = count_flops(model, shape)
    if args.layers or args.cross_check or args.throughput:
        check_fits(*_real_needs(report, args, options))
        if any(t.is_meta for t in model.parameters()):
            model = create_model(name, args.num_classes, **clip)
        if args.layers or args.cross_check:
            report = count_flops(model, shape, receptive_field=args.layers, cross_check=args.cross_check)
    views = eval_views(args.clips, args.crops)
    out = {
        "model": name,
        "family": info.family,
        "task": info.task,
        "input_shape": report.input_shape,
        "gmacs": report.gmacs,
        "gflops": report.gflops,
        "params": report.params,
        "trainable_params": report.trainable_params,
        "activations": report.activations,
        "eval_views": views,
        "gmacs_per_video": report.gmacs * views,
        "gflops_per_video": gflops(report.gmacs * views),
        "counter": report.counter,
        "count_time_s": time.perf_counter() - start,
        "model_args": args.model_args,
        "stream_gmacs": stream_gmacs(info, report),
        **_published(info.published, args.model_args, report.input_shape, args.num_classes),
        "layers": [vars(layer) for layer in report.layers] if args.layers else [],
    }
    if report.cross_check:
        out["cross_check"] = report.cross_check
    if options is not None:
        out["throughput"] = measure_throughput(model, shape, options, report=report)
        if "flow" in info.modalities:  # computing the flow is part of the method's cost
            frames, size = shape["flow"][2] + 1, shape["flow"][-1]
            out["flow_cost"] = {**flow_cost(translated_texture(2, -1, frames, size)),
                                "note": "on a moving texture at the clip's size; the sweep times a clip of its "
                                        "dataset at the videos' own size, where flow is computed"}
    return out


def _published(published: tuple[Published, ...], model_args: dict[str, Any], input_shape: list[int],
               num_classes: int) -> dict[str, Any]:
    """The published figures of this very network (``model_args``) at this very input and class count, else
    None and a ``published_note`` saying for which setups figures were published: a count of another clip,
    variant or head is not comparable with them."""
    if isinstance(input_shape, dict):  # no figures are published for a multi-stream input
        return {"published_gmacs": None, "published_params": None, "published_input": None,
                "published_source": None, "published_accuracy": None, "published_note": None}
    measured = "x".join(str(d) for d in input_shape[1:])  # (1, C, T, H, W) -> "CxTxHxW"
    costs = [p for p in published if p.gmacs is not None or p.params is not None]
    same = next((p for p in costs if p.applies_to(model_args, measured, num_classes)), None)
    note = None
    if costs and same is None:
        setups = "; ".join(p.setup() for p in costs)
        note = f"published for {setups}; not comparable with {describe_setup(measured, num_classes, model_args)}"
    return {"published_gmacs": same and same.gmacs, "published_params": same and same.params,
            "published_input": same and same.input, "published_source": same and same.source,
            "published_accuracy": same and same.accuracy() or None, "published_note": note}


def _real_needs(report: FlopReport, args: argparse.Namespace,
                options: ThroughputOptions | None) -> list[MemoryNeed]:
    """What each real run of ``profile`` needs at least, the real model's weights (float32) included."""
    build = MemoryNeed("building the model", "cpu", {"weights": 4 * report.params})
    needs = []
    if args.layers:  # a float64 copy, one forward keeping its activations, a backward per layer
        needs.append(build + forward_need(report, "receptive fields (--layers, float64)", "cpu", 1, train=True,
                                          weight_bytes=8 * report.params, act_bytes=8))
    if args.cross_check:
        needs.append(build + forward_need(report, "the fvcore cross-check", "cpu", 1, train=False,
                                          weight_bytes=0))
    if options is not None:
        speed = throughput_need(report, options)
        needs.append(build + speed if speed.device == "cpu" else speed)
    return needs


def _fmt_shape(shape: Any) -> str:
    if isinstance(shape, dict):
        return ", ".join(f"{k} {_fmt_shape(v)}" for k, v in shape.items())
    return "x".join(map(str, shape)) if shape else "-"


def _share(fraction: float) -> str:
    """A share in percent, one decimal; a share too small for it is "<0.1%", not a 0 that reads as free."""
    return "" if not fraction else f"{100 * fraction:.1f}%" if fraction >= 0.0005 else "<0.1%"


def layer_table(row: dict[str, Any], width: int = 80) -> str:
    """``row``'s layers in fvcore's compact form (``fvcore.nn.flop_count_table``, with its own helpers): the
    model's total first, then its modules nested by name with their parameters, MACs (K / M / G) and share of
    the MACs, and each layer's output shape and receptive field (t x h x w).

    A layer without parameters or MACs has no row (a ReLU, a dropout), unless it pools. The modules go as deep
    as fits ``width`` (the JSON has every layer).
    """
    fvcore = fvcore_nn().print_model_statistics
    layers = {("" if layer["name"] == "(model)" else layer["name"]): layer for layer in row["layers"]}
    params, macs = {"": 0}, {"": 0}
    for name, layer in layers.items():
        parts = name.split(".") if name else []
        for depth in range(len(parts) + 1):  # a module's figures are its own and its submodules'
            prefix = ".".join(parts[:depth])
            params[prefix] = params.get(prefix, 0) + layer["params"]
            macs[prefix] = macs.get(prefix, 0) + round(layer["gmacs"] * 1e9)
    params[""] = row["params"]  # the whole model's, with the parameters of modules forward never calls
    # Pooling costs nothing counted, but the lecture's tables list its output size and reach.
    pools = {name for name, layer in layers.items() if "Pool" in layer["type"]}
    numbers = fvcore._remove_zero_statistics({m: {"params": params[m], "macs": macs[m]} for m in params},
                                             force_keep=pools | {""}, require_trivial_children=True)
    numbers = {m: numbers[m] for m in params if m in numbers}  # the model's order, not the removal's
    total = macs[""] or 1
    stats = {}
    for module, n in numbers.items():
        layer = layers.get(module, {})
        stats[module] = {
            "#params": fvcore._format_size(n["params"], hide_zero=True),
            "#MACs": fvcore._format_size(n["macs"], hide_zero=True),
            "%": _share(n["macs"] / total),
            "output shape": _fmt_shape(layer["output_shape"]) if layer else "",
            "RF": _fmt_shape(layer["receptive_field"]) if layer.get("receptive_field") else "",
        }
    stats[""]["total"] = ""  # a key of its own: fvcore would merge the total into an only child and name it so
    deepest = max(m.count(".") + 1 for m in stats if m) if len(stats) > 1 else 1
    for depth in range(deepest, 0, -1):  # the deepest table that fits
        # fvcore's table merges a module with its only child in place: each try gets its own copy
        table = fvcore._model_stats_table({m: dict(s) for m, s in stats.items()}, max_depth=depth,
                                          stat_columns=["#params", "#MACs", "%", "output shape", "RF"])
        if max(map(len, table.splitlines())) <= width:
            break
    return table


def speed_title(row: dict[str, Any]) -> str:
    """What the speed table measured, in words: the model, its clip, the batch sizes, the device, the dtype, the
    memory layout, the runs."""
    tp = row["throughput"]
    opts, machine = tp["options"], tp["machine"]
    shape = row["input_shape"]
    clip = {k: v[1:] for k, v in shape.items()} if isinstance(shape, dict) else shape[1:]
    where = (f"{machine['device']}" if opts["device"].startswith("cuda") else
             f"{machine['cpu']}, {opts['threads']} threads")
    choice = opts["memory_format_choice"]
    layout = opts["memory_format"] + (f" ({describe_choice(choice)})" if choice else "")
    compiled = ", torch.compile" if opts["compile"] else ""
    batches = " and ".join(str(b["batch_size"]) for b in tp["per_batch"])
    return (f"speed of {row['model']}: clip {_fmt_shape(clip)}, batch {batches}; {opts['device']} ({where}), "
            f"{opts['dtype']}, {layout}{compiled}; median of {opts['repeats']} runs ({opts['warmup']} warm-up)")


def _print_model(console: Console, row: dict[str, Any]) -> None:
    summary = Table(title=f"{row['model']}  (input {_fmt_shape(row['input_shape'])})", show_header=False)
    summary.add_row("GMACs / clip", f"{row['gmacs']:.3f}")
    summary.add_row("GFLOPs / clip (2 x GMACs)", f"{row['gflops']:.3f}")
    summary.add_row(f"GMACs / video ({row['eval_views']} views)", f"{row['gmacs_per_video']:.3f}")
    for stream, gmacs in (row["stream_gmacs"] or {}).items():
        summary.add_row(f"GMACs / clip, {stream} stream", f"{gmacs:.4f}")
    if row["published_source"] is not None:
        gmacs, params = row["published_gmacs"], row["published_params"]
        figures = [f"{gmacs:.3f} GMACs / clip" if gmacs is not None else "",
                   f"{params / 1e6:.3f} M params" if params is not None else ""]
        summary.add_row("published", f"{', '.join(f for f in figures if f)} at {row['published_input']} "
                                     f"({row['published_source']})")
        if row["published_accuracy"]:
            summary.add_row("published accuracy", row["published_accuracy"])
    elif row["published_note"]:
        summary.add_row("published", row["published_note"])
    summary.add_row("params (trainable)",
                    f"{row['params'] / 1e6:.3f} M ({row['trainable_params'] / 1e6:.3f} M)")
    summary.add_row("activations / clip", f"{row['activations'] / 1e6:.3f} M")
    summary.add_row("counter", row["counter"])
    if "cross_check" in row:
        check = row["cross_check"]
        summary.add_row("fvcore GMACs (conv+matmul / norms+pools)",
                        f"{check['gmacs']:.3f} ({check['conv_matmul_gmacs']:.3f} / "
                        f"{check['norm_pool_gmacs']:.3f})")
    if "flow_cost" in row:
        flow = row["flow_cost"]
        summary.add_row(f"optical flow ({flow['method']}, {_fmt_shape(flow['frame_size'])} px)",
                        f"{flow['ms_per_pair']:.2f} ms per frame pair, {flow['ms_per_clip']:.2f} ms per clip "
                        f"({flow['note']})")
    console.print(summary)
    if row["layers"]:
        console.print("\nlayers: a module's #params, #MACs and % of the MACs are its own and its submodules'; "
                      "RF: the receptive field (t x h x w) of one central output unit, in input frames x pixels")
        console.print(layer_table(row, console.width), soft_wrap=True)
    if "throughput" in row:
        tp = row["throughput"]
        speed = Table(title=speed_title(row), title_justify="left", caption_justify="left")
        for col in ("batch", "infer clips/s", "train clips/s", "p50 ms (b=1)", "p95 ms (b=1)", "peak mem MB",
                    "MFU", "peak GFLOP/s (matmul)"):
            speed.add_column(col, justify="right")
        train = f"{tp['train_clips_per_s']:.2f}" if tp["train_clips_per_s"] else "-"
        mfu = "error (below)" if tp["mfu_error"] else f"{100 * tp['mfu']:.1f}%"
        speed.add_row(str(tp["batch_size"]), f"{tp['infer_clips_per_s']:.2f}", train,
                      f"{tp['latency_ms_p50']:.1f}", f"{tp['latency_ms_p95']:.1f}",
                      "-" if tp["peak_mem_mb"] is None else f"{tp['peak_mem_mb']:.0f}", mfu,
                      f"{tp['peak_gflops_per_s']:.1f}")
        # What peak memory is on each device: docs/flops.md, "Speed, memory, MFU".
        how = ("CUDA's max allocated" if tp["options"]["device"].startswith("cuda") else
               "growth of the peak resident set; '-': not Linux")
        speed.caption = (f"matmul peak {tp['peak_source']}\n"
                         f"peak mem: what inference adds to the weights and input ({how})")
        choice = tp["options"]["memory_format_choice"]
        if choice and choice["seconds"]:  # why auto chose the layout
            batch = max(b["batch_size"] for b in tp["per_batch"])
            speed.caption += f"\nlayout auto at batch {batch}: {describe_runs(choice)}"
        console.print(speed)
        for error in (tp["mfu_error"], tp["train_mfu_error"]):
            if error:
                console.print(error)


def _print_all(console: Console, rows: list[dict[str, Any]]) -> None:
    table = Table(title="model registry: cost of one clip (counter: torch.utils.flop_counter, conv + matmul)")
    for col in ("model", "input", "GMACs", "GFLOPs", "GMACs / video", "published GMACs", "params (M)",
                "status"):
        table.add_column(col, justify="left" if col in ("model", "input", "status") else "right")
    for row in rows:
        if "error" in row:
            table.add_row(row["model"], "-", "-", "-", "-", "-", "-", f"failed: {row['error']}")
            continue
        pub = row["published_gmacs"]
        table.add_row(row["model"], _fmt_shape(row["input_shape"]), f"{row['gmacs']:.3f}",
                      f"{row['gflops']:.3f}", f"{row['gmacs_per_video']:.3f}",
                      "-" if pub is None else f"{pub}", f"{row['params'] / 1e6:.2f}", "ok")
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    _check(args, parser)
    console = terminal_console()
    if not args.all:
        try:
            row = profile_model(args.model, args)
        except (KeyError, ValueError, TypeError) as err:
            print(f"lit-video profile: {err}", file=sys.stderr)
            return 2
        print(json.dumps(row, indent=1)) if args.json else _print_model(console, row)
        return 0
    rows = []
    for name in list_models():
        try:
            rows.append(profile_model(name, args))
        except Exception as err:  # one broken model must not hide the others; reported, and the run fails
            rows.append({"model": name, "error": f"{type(err).__name__}: {err}"})
    print(json.dumps(rows, indent=1)) if args.json else _print_all(console, rows)
    return 1 if any("error" in row for row in rows) else 0
