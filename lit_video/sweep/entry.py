"""A sweep job in its own process: the seeds of one model, each built, fitted and tested in turn, the model
profiled once; each entry reported as a results row.

``python -m lit_video.sweep.entry SPEC.json`` reads the job spec the sweep wrote (its entries and their folders)
and writes ``result.json`` into each entry's folder as that entry finishes: ``{"status": "ok", "row": {...}}``
or ``{"status": "failed", "error", "oom", "traceback"}``, with the seconds it took (``wall_s``). The parent alone
appends rows to ``results.jsonl``; a crash here costs this job's unfinished entries only. One process per model
rather than per seed saves the start-up (torch and Lightning imports), the profiling and, with
``data.cache_frames``, the decoding of every seed after the first.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import write_atomic
from ..machine import accelerator_device, device_name, die_with_parent, git_sha, versions
from ..models import model_info
from ..results.folder import DETAILS_FILE, PREDICTIONS_FILE
from ..results.schema import make_row, metric_fields
from . import tracking
from .config import Entry, dataset_fingerprint

SPEC_FILE, RESULT_FILE = "spec.json", "result.json"
# A parallel sweep's profile phase (``profile_job``): its spec, its outcome and timings, and the cost it measured.
PROFILE_SPEC_FILE, PROFILE_FILE, COST_FILE = "profile_spec.json", "profile.json", "cost.pickle"


def base_row(entry: Entry, device: Any = None, **fields: Any) -> dict[str, Any]:
    """A row with what is known before running: the entry, the machine and software stamp. ``device``: what the
    entry ran on (default: what its Trainer's accelerator picks on this machine)."""
    data = entry.config["data"]
    return make_row(
        task=entry.task, model=entry.name, variant=entry.variant, family=model_info(entry.name).family,
        dataset=entry.dataset,
        frames=data["frames"], fps=data["fps"], size=data["size"], eval_views=entry.eval_views, seed=entry.seed,
        device=device_name(device or accelerator_device(entry.accelerator)),
        dtype=precision_dtype(entry.precision), versions=versions(), git_sha=git_sha(),
        config_hash=entry.config_hash, **fields,
    )


def precision_dtype(precision: Any) -> str:
    """The compute dtype a Trainer ``precision`` setting means (``"bf16-mixed"`` -> ``bfloat16-mixed``): a row's
    ``dtype``."""
    text = str(precision if precision is not None else "32-true")
    names = {"64": "float64", "32": "float32", "16": "float16", "bf16": "bfloat16",
             "transformer-engine": "fp8"}
    base, _, mode = text.partition("-")
    dtype = names.get(base, base)
    return f"{dtype}-mixed" if mode == "mixed" else dtype


def entry_config(entry: Entry, entry_dir: Path, wandb_mode: str | None) -> dict[str, Any]:
    """The entry's CLI config, with its folder and loggers: a CSV log and the list of the videos it skips
    (``skipped_videos.txt``) in ``entry_dir`` and, unless wandb is off, a wandb run in the sweep's ``wandb/``
    folder."""
    loggers = [{"class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(entry_dir), "name": "logs"}}]
    if wandb_mode:
        loggers.append(tracking.entry_logger(entry, wandb_mode, entry_dir.parents[1]))
    # No progress bar (unless the config asks for one): the sweep shows its own progress, the entry's output is a log.
    trainer = {"enable_progress_bar": False, **entry.config["trainer"], "default_root_dir": str(entry_dir),
               "logger": loggers}
    # The data's log folder named: the videos are read before the fit gives the data its trainer's, and without
    # either the list would go to the working directory, each entry's over the last's.
    data = {**entry.config["data"], "log_dir": str(entry_dir)}
    return {**entry.config, "task": entry.task, "data": data, "trainer": trainer}


def profile_options(entry: Entry, device: Any) -> Any:
    """ThroughputOptions: the sweep's ``profile`` section, on the device and in the dtype the entry trains with."""
    from ..profiling import ThroughputOptions

    dtype = precision_dtype(entry.precision).removesuffix("-mixed")
    return ThroughputOptions(**{"device": str(device),
                                "dtype": dtype if dtype in ("bfloat16", "float16") else "float32",
                                **entry.profile})


@dataclass
class Cost:
    """What an entry's model costs: its FLOP report and measured speed, and the row fields they give. The same
    for every seed of one model on one machine, so a job measures it once (``run_job``)."""

    report: Any
    speed: dict[str, Any]
    fields: dict[str, Any]
    profile_s: float


def measure_cost(entry: Entry, run: Any) -> Cost:
    """Count and time one clip of the very model ``run`` trains, on its device and in its dtype."""
    import torch

    from ..profiling import count_flops, measure_throughput
    from ..profiling.counting import stream_gmacs
    from ..profiling.flow_cost import dataset_clip, flow_cost

    started = time.perf_counter()
    data, device = run.datamodule, run.trainer.strategy.root_device
    clip = model_info(entry.name).input_shape(1, data.frames, data.size)
    # Profiling draws random inputs; the fork keeps the training after it what the same config trains in
    # `lit-video fit`.
    with torch.random.fork_rng(devices=[]):
        report = count_flops(run.model.model, clip)  # receptive fields: `profile --layers`
        speed = measure_throughput(run.model.model, clip, profile_options(entry, device), report=report)
    if data.flow_settings is not None:  # the flow of a real clip of the data, at its videos' own size
        speed["flow"] = flow_cost(dataset_clip(data), data.flow_settings.method)
    fields = {"params": report.params, "gmacs_per_clip": report.gmacs,
              "gmacs_per_video": report.gmacs * data.eval_views,
              "stream_gmacs_per_clip": stream_gmacs(model_info(entry.name), report),
              "flow_ms_per_clip": speed["flow"]["ms_per_clip"] if "flow" in speed else None,
              **{k: speed[k] for k in ("infer_clips_per_s", "latency_ms_p50", "latency_ms_p95", "train_clips_per_s",
                                       "peak_mem_mb", "mfu")}}
    return Cost(report, speed, fields, time.perf_counter() - started)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Torch's intra-op threads set to ``threads`` (None: as they are) inside; yields the number in use."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def run_entry(entry: Entry, entry_dir: Path, wandb_mode: str | None, cost: Cost | None = None,
              threads: int | None = None) -> tuple[dict[str, Any], Cost]:
    """Build, profile (unless ``cost`` is given: another seed of the same model, or a parallel sweep's profile
    phase, measured it), fit and test ``entry`` (with ``threads`` torch threads: None, the process's); returns
    its results row and its cost. Raises whatever training raises."""
    from lightning.pytorch.loggers import WandbLogger

    from ..train import build_run, finish_wandb, fit_and_test, resolved_config

    started = time.perf_counter()
    run = build_run(entry_config(entry, entry_dir, wandb_mode))
    timings = {"build_s": time.perf_counter() - started}
    data, device = run.datamodule, run.trainer.strategy.root_device
    fingerprint = dataset_fingerprint(data)  # before training: cheap, may fail
    # Cost first (weights do not change it).
    timings["profile_s"] = 0.0 if cost else (cost := measure_cost(entry, run)).profile_s
    wandb_run = None
    for logger in run.trainer.loggers:
        if isinstance(logger, WandbLogger):
            wandb_run = tracking.record_run(logger.experiment, entry_dir)  # first: the run has started
            tracking.log_cost(logger.experiment, cost.report, cost.speed, cost.fields, data.eval_views)
    common = {"dataset_fingerprint": fingerprint,
              "group_classes": {group: len(classes) for group, classes in data.groups.items()} or None}
    # Where the entry's time goes (benchmarks/bench_sweep_time.py adds up a sweep's).
    details = {"flops": cost.report.to_dict(), "throughput": cost.speed, "timings": timings, "wandb": wandb_run}
    if not entry.train:  # profile-only: what the model costs, and no accuracy from a run too short to mean one
        finish_wandb(run.trainer)
        details = {"resolved_config": resolved_config(run), **details}
        write_atomic(entry_dir / DETAILS_FILE, json.dumps(details, indent=1, default=str))
        return base_row(entry, device, **common, **cost.fields, status="profiled", error=None), cost

    started = time.perf_counter()
    run.datamodule.prepare_data()  # the flow cache, where the model takes flow: filled before the fit is timed
    timings["prepare_s"] = time.perf_counter() - started
    with torch_threads(threads) as train_threads:
        if cost.fields.get("data_clips_per_s") is None:  # once per model: the seeds share its loader's speed
            started = time.perf_counter()
            cost.fields["data_clips_per_s"] = loader_clips_per_s(data)
            timings["loader_s"] = time.perf_counter() - started
        result = fit_and_test(run)
    metrics = result["metrics"]
    row = base_row(entry, device, **common, **cost.fields, **metric_fields(metrics, entry.task),
                   memory_format=run.model.memory_format, train_time_s=result["train_time_s"],
                   train_threads=train_threads, skipped_videos=result["skipped"], status="ok", error=None)
    # What the row summarises, in full, beside the entry's logs.
    timings.update(fit_s=result["train_time_s"], test_s=result["test_time_s"])
    # The checkpoint (where the config keeps one): what `lit-video visualize` reads.
    checkpoint = result["checkpoint"] and str(Path(result["checkpoint"]).resolve())
    details = {"resolved_config": result["config"], "metrics": metrics, "checkpoint": checkpoint, **details}
    write_atomic(entry_dir / DETAILS_FILE, json.dumps(details, indent=1, default=str))
    if result["predictions"] is not None:  # each test video's label and top classes: the report's confusion matrix
        write_atomic(entry_dir / PREDICTIONS_FILE, json.dumps(result["predictions"]))
    return row, cost


def loader_clips_per_s(data: Any) -> float:
    """The training loader's clips/s in this process, as the fit will see it from its second epoch on: a first pass
    starts it (and, with ``data.cache_frames``, decodes every video into memory for the fit), the second is timed.
    Torch's random state is left as it was, so the fit draws the clips it would have drawn."""
    import torch

    from ..profiling.data_speed import loader_throughput

    with torch.random.fork_rng(devices=[]):
        return loader_throughput(data.train_dataloader(), epochs=2)["clips_per_s"]


def run_job(entries: list[Entry], entry_dirs: list[Path], wandb_mode: str | None, cost: Cost | None = None,
            threads: int | None = None) -> bool:
    """Run the entries of one job (the seeds of one model) one after another in this process, writing each
    one's ``result.json`` as it finishes; the model is profiled once (not at all when ``cost`` is given).
    Returns whether all succeeded."""
    all_ok = True
    for entry, entry_dir in zip(entries, entry_dirs, strict=True):
        started = time.perf_counter()
        try:
            row, cost = run_entry(entry, entry_dir, wandb_mode, cost, threads)
            outcome: dict[str, Any] = {"status": "ok", "row": row}
        except Exception as err:  # report every failure to the parent, which records it and goes on
            outcome = _failure(err)
            all_ok = False
        outcome["wall_s"] = time.perf_counter() - started  # the sweep's line for the entry says how long it took
        write_atomic(entry_dir / RESULT_FILE, json.dumps(outcome, indent=2, default=str))
    return all_ok


def profile_job(entry: Entry, entry_dir: Path) -> bool:
    """A parallel sweep's profile phase for one trained job: measure its model's cost (``measure_cost``) while
    nothing else runs, and keep it in ``COST_FILE`` for the job's training phase; ``PROFILE_FILE`` says how it
    went. Returns whether it worked."""
    started = time.perf_counter()
    try:
        from ..train import build_run

        config = entry_config(entry, entry_dir, None)
        run = build_run({**config, "trainer": {**config["trainer"], "logger": False}})  # logs: the fit's
        build_s = time.perf_counter() - started
        cost = measure_cost(entry, run)
        started = time.perf_counter()
        run.datamodule.prepare_data()  # the flow cache, where the model takes flow: while nothing else runs
        prepare_s = time.perf_counter() - started
        write_atomic(entry_dir / COST_FILE, pickle.dumps(cost))
        outcome: dict[str, Any] = {"status": "ok", "timings": {"build_s": build_s, "profile_s": cost.profile_s,
                                                               "prepare_s": prepare_s},
                                   "train_clips_per_s": cost.fields["train_clips_per_s"]}
    except Exception as err:
        outcome = _failure(err)
    write_atomic(entry_dir / PROFILE_FILE, json.dumps(outcome, indent=2, default=str))
    return outcome["status"] == "ok"


def load_cost(entry_dir: Path) -> Cost:
    """The cost ``profile_job`` measured for the job whose first entry's folder is ``entry_dir``."""
    return pickle.loads((entry_dir / COST_FILE).read_bytes())


def _failure(err: Exception) -> dict[str, Any]:
    import torch

    oom = isinstance(err, torch.OutOfMemoryError)  # a GPU's; the sweep retries it at half the batch size
    outcome = {"status": "failed", "error": f"{type(err).__name__}: {err}".strip(), "oom": oom,
               "traceback": traceback.format_exc()}
    traceback.print_exc()
    with contextlib.suppress(Exception):  # wandb trouble must not hide the real error
        import wandb

        if wandb.run is not None:
            wandb.run.summary.update({"status": "failed", "error": outcome["error"]})
            wandb.finish(exit_code=1)
    return outcome


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text())
    die_with_parent(spec["parent_pid"])  # a killed sweep leaves no entry running
    entries, dirs = [Entry.from_dict(e) for e in spec["entries"]], [Path(d) for d in spec["entry_dirs"]]
    phase = spec.get("phase")  # a parallel sweep's profile or training phase; None: both, here
    if phase == "profile":
        return 0 if profile_job(entries[0], dirs[0]) else 1
    cost = load_cost(dirs[0]) if phase == "train" else None
    return 0 if run_job(entries, dirs, spec.get("wandb"), cost, spec.get("threads")) else 1


if __name__ == "__main__":
    sys.exit(main())
