"""Sweep configs: a YAML file expands into entries (model variant x dataset x seed), each one configuration of the
CLI, validated by the CLI's own parser before anything runs.

```yaml
name: lecture                   # results go to <out>/lecture/
task: classification            # what the models are trained and scored on (lit_video.tasks; the default)
seeds: [0, 1, 2]
timeout_s: 900                  # per entry
parallel: 2                     # models trained at once on a CPU (default 1; auto: from the cores); Sweep.parallel
slurm: {partition: gpu, gpus_per_node: 1, cpus_per_task: 8, mem_gb: 64}  # each job's share (--launcher slurm)
profile: {batch_sizes: [1, 8]}  # ThroughputOptions of the cost measurement
model: {lr: 1.0e-3}             # the CLI's sections, for every entry: model (VideoClassifier),
data: {size: 64}                #   data (VideoDataModule; a list of them sweeps several datasets)
trainer: {max_epochs: 3}        #   and trainer (Trainer)
models:
  - c3d
  - {name: single_frame, model_args: {backbone: resnet18}}
  - {name: single_frame, model_args: {backbone: resnet34}, lr: 3.0e-4, data: {frames: 4}, trainer: {max_epochs: 5}}
```
An item of ``models`` is a model name, or a mapping of the CLI's model keys (``name``, ``model_args``, ``lr``...)
with its own ``data``, ``trainer`` and ``label`` if it likes. Several items of one model are variants of it: each
gets a label, given or derived from what the item sets (``single_frame[backbone=resnet34]``), which the rows,
tables, plots and wandb runs carry. A data clip setting left out (frames, size, fps) is the model's default.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from ..data import dataset_label, eval_views
from ..machine import accelerator_device, default_precision, usable_cores
from ..profiling import ThroughputOptions
from ..results.folder import entry_id
from ..results.schema import FIELD
from ..tasks import DEFAULT_TASK, TASKS
from ..train import ConfigError, preflight

SWEEP_KEYS = ("name", "task", "models", "model", "data", "trainer", "profile", "seeds", "timeout_s", "parallel",
              "slurm")
ITEM_KEYS = ("label", "data", "trainer", "profile_only")  # besides the CLI's model keys
# Trainer settings each entry gets from the sweep: its own folder and loggers.
SWEEP_TRAINER_KEYS = ("default_root_dir", "logger")
DEFAULT_TIMEOUT_S = 3600.0
# What may name a folder: no separators, no "..", nothing hidden.
FOLDER_SAFE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


class SweepConfigError(ValueError):
    """A sweep config that cannot run; the message names the file, the key and the reason."""


@dataclass(frozen=True)
class Entry:
    """One unit of work: fit, test and profile one model variant on one dataset with one seed."""

    sweep: str
    variant: str  # the label of this model variant (the model's name where the sweep has one variant of it)
    dataset: str
    seed: int
    config: dict[str, Any]  # the CLI config: seed_everything, model, data (the model's clip filled in), trainer
    eval_views: int  # test views per video: clips x crops
    accelerator: str  # the Trainer's, resolved (a failed entry's row still names its device)
    precision: str | int | None
    profile: dict[str, Any]
    timeout_s: float = DEFAULT_TIMEOUT_S
    train: bool = True  # False: a profile-only entry (cost measured, no training; its row says `profiled`)
    task: str = DEFAULT_TASK  # what it is trained and scored on (lit_video.tasks)

    @property
    def name(self) -> str:
        return self.config["model"]["name"]

    @property
    def config_hash(self) -> str:
        """Identifies what decides the result (resume skips entries whose hash has an ``ok`` row)."""
        # (The default task and a trained entry add nothing, so that results folders of earlier versions resume.)
        decides = {"dataset": self.dataset, "config": self.config, "profile": self.profile,
                   **({} if self.train else {"profile_only": True}),
                   **({} if self.task == DEFAULT_TASK else {"task": self.task})}
        return hashlib.sha256(json.dumps(decides, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @property
    def entry_id(self) -> str:
        return entry_id(self.variant, self.dataset, self.seed, self.config_hash)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_seed(self, seed: int) -> Entry:
        """This entry at another seed, seeded as the sweep seeds its entries (``seeded``)."""
        data = dict(self.config["data"])
        if data.get("seed") == self.seed:  # the entry's seed drove the data; a data seed the config fixed stays
            del data["seed"]
        return replace(self, seed=seed, config=seeded({**self.config, "data": data}, seed))

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Entry:
        return cls(**{f.name: spec[f.name] for f in fields(cls) if f.name in spec})


def seeded(config: dict[str, Any], seed: int) -> dict[str, Any]:
    """An entry's CLI config at ``seed``: it seeds Lightning and, unless the config fixes them (``data.seed``),
    the data's shuffle and clip sampling."""
    return {**config, "seed_everything": seed, "data": {**config["data"], "seed": config["data"].get("seed", seed)}}


@dataclass(frozen=True)
class ClusterOptions:
    """What each cluster job asks for: the sweep config's ``slurm`` section, overridden by the command's flags.
    ``timeout_min`` None: the longest job's entries' timeouts summed, plus 10 minutes."""

    partition: str | None = None
    gpus_per_node: int | None = None
    cpus_per_task: int | None = None
    mem_gb: int | None = None
    timeout_min: int | None = None
    array_parallelism: int | None = None  # jobs of the array running at once (None: SLURM's limit)

    @classmethod
    def from_config(cls, section: Any, source: str = "<config>") -> ClusterOptions:
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise SweepConfigError(f"{source}: slurm must be a mapping of {', '.join(f.name for f in fields(cls))}")
        unknown = sorted(set(section) - {f.name for f in fields(cls)})
        if unknown:
            raise SweepConfigError(f"{source}: slurm: unknown key(s) {', '.join(unknown)}; accepted: "
                                   f"{', '.join(f.name for f in fields(cls))}")
        for key, value in section.items():
            wanted = str if key == "partition" else int
            if value is not None and (not isinstance(value, wanted) or isinstance(value, bool)
                                      or (wanted is int and value < (0 if key == "gpus_per_node" else 1))):
                raise SweepConfigError(f"{source}: slurm.{key} must be {'a name' if wanted is str else 'a count'}, "
                                       f"got {value!r}")
        return cls(**section)

    def overridden(self, **flags: Any) -> ClusterOptions:
        """These options with the flags that were given (not None)."""
        return ClusterOptions(**{**asdict(self), **{k: v for k, v in flags.items() if v is not None}})


@dataclass(frozen=True)
class Sweep:
    name: str
    entries: list[Entry]
    # Jobs (models) trained at once, each with usable cores // parallel torch threads (``parallel: auto``:
    # ``auto_parallel`` chooses, and ``auto`` says how): a small model gains little from a second thread, so two
    # one-thread fits on two cores take about the time of one. Every model is profiled first, one at a time, so
    # that no speed figure is measured beside a neighbour's training. CPU only.
    parallel: int = 1
    cluster: ClusterOptions = ClusterOptions()  # the ``slurm`` section: what each job asks a cluster for
    auto: str | None = None  # ``parallel: auto``: what it chose and why, for the command to say
    # Each dataset's ``dataset_fingerprint`` as its data is now (dataset label -> fingerprint): what the rows of a
    # results folder must have been measured on to share its leaderboard (``merge.check_same_data``).
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)


def dataset_fingerprint(data: Any) -> dict[str, Any]:
    """What a results row records of a DataModule's data (``dataset_fingerprint``): its number of videos and its
    hash of the classes, splits and labels."""
    return {"videos": len(data.info.videos()), "hash": data.fingerprint}


def auto_parallel(entries: list[Entry]) -> tuple[int, str]:
    """``parallel: auto``: a job per usable core, so that each fit has a torch thread of its own as with ``parallel:
    2`` on 2 cores (the main job's committed rows: fits on one thread each), and no more jobs than there are models
    to train; one where any entry runs on an accelerator. Returns the number and what it was chosen from."""
    if gpu := sorted({e.variant for e in entries if accelerator_device(e.accelerator).type != "cpu"}):
        return 1, f"1 job at a time ({gpu[0]}{' and others' if len(gpu) > 1 else ''} on an accelerator)"
    cores, models = usable_cores(), len({(e.variant, e.dataset) for e in entries if e.train})
    parallel = max(1, min(cores, models))
    count = lambda n, what: f"{n} {what}{'s' * (n != 1)}"  # noqa: E731
    return parallel, (f"{count(parallel, 'job')} at once, {count(max(1, cores // parallel), 'thread')} each "
                      f"({count(cores, 'core')}, {count(models, 'model')} to train)")


def _mapping(where: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SweepConfigError(f"{where} must be a mapping, got {type(value).__name__} {value!r}")
    return dict(value)


def _unknown(where: str, section: dict[str, Any], accepted: tuple[str, ...]) -> None:
    unknown = sorted(set(section) - set(accepted))
    if unknown:
        raise SweepConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}")


def _trainer(where: str, value: Any) -> dict[str, Any]:
    trainer = _mapping(where, value)
    own = sorted(set(trainer) & set(SWEEP_TRAINER_KEYS))
    if own:
        raise SweepConfigError(f"{where}: {', '.join(own)} cannot be set in a sweep: every entry writes its "
                               "logs, checkpoints and wandb run under <out>/<name>/runs/")
    return trainer


def _derived_label(name: str, item: dict[str, Any]) -> str:
    """``name[key=value, ...]`` from what an item sets besides its name: model_args first, then the rest."""
    settings = {**item.get("model_args", {}),
                **{k: v for k, v in item.items() if k not in ("name", "model_args", "label")}}
    text = ", ".join(f"{k}={json.dumps(v, separators=(',', ':')) if isinstance(v, dict | list) else v}"
                     for k, v in settings.items())
    return f"{name}[{text}]" if text else name


def _variants(source: str, items: list[dict[str, Any]]) -> list[str]:
    """The label of each item: given, or the model's name where the sweep has one item of that model, or
    derived from the item's settings. Two items with one label are an error."""
    counts = Counter(item["name"] for item in items)
    labels = [str(item["label"]) if item.get("label") is not None
              else item["name"] if counts[item["name"]] == 1 else _derived_label(item["name"], item)
              for item in items]
    for i, label in enumerate(labels):
        if labels.index(label) != i:
            raise SweepConfigError(f"{source}: models[{labels.index(label)}] and models[{i}] are both labelled "
                                   f"{label!r}; give each a distinct `label`")
    return labels


def parse_sweep(raw: Any, source: str = "<config>") -> Sweep:
    """Validate a loaded sweep config and expand it into entries; SweepConfigError names any problem."""
    if not isinstance(raw, dict):
        raise SweepConfigError(f"{source}: a sweep config is a mapping with keys {', '.join(SWEEP_KEYS)}")
    _unknown(source, raw, SWEEP_KEYS)

    name = raw.get("name")
    if not isinstance(name, str) or not FOLDER_SAFE.fullmatch(name):
        raise SweepConfigError(
            f"{source}: `name` must be a folder-safe string (letters, digits, _ . -, not starting with a dot), "
            f"got {name!r}")
    task = raw.get("task", DEFAULT_TASK)
    if task not in TASKS:
        raise SweepConfigError(f"{source}: `task` must be one of {', '.join(TASKS)}, got {task!r}")
    seeds = raw.get("seeds", [0])
    seeds = [seeds] if isinstance(seeds, int) else seeds
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool)
                                                            for s in seeds):
        raise SweepConfigError(
            f"{source}: `seeds` must be an integer or a non-empty list of integers, got {seeds!r}")
    timeout_s = raw.get("timeout_s", DEFAULT_TIMEOUT_S)
    if not isinstance(timeout_s, int | float) or timeout_s <= 0:
        raise SweepConfigError(f"{source}: `timeout_s` must be a positive number of seconds, got {timeout_s!r}")
    parallel = raw.get("parallel", 1)
    if parallel != "auto" and (not isinstance(parallel, int) or isinstance(parallel, bool) or parallel < 1):
        raise SweepConfigError(f"{source}: `parallel` must be auto or a whole number of jobs >= 1, got {parallel!r}")
    cluster = ClusterOptions.from_config(raw.get("slurm"), source)
    profile = _mapping(f"{source}: profile", raw.get("profile"))
    try:
        ThroughputOptions(**profile)
    except (TypeError, ValueError) as err:
        raise SweepConfigError(f"{source}: profile: {err}") from err

    model = _mapping(f"{source}: model", raw.get("model"))
    trainer = _trainer(f"{source}: trainer", raw.get("trainer"))
    datasets = raw.get("data") or {}
    datasets = [_mapping(f"{source}: data[{i}]", d)
                for i, d in enumerate(datasets if isinstance(datasets, list) else [datasets])]
    items = raw.get("models")
    if not isinstance(items, list) or not items:
        raise SweepConfigError(f"{source}: `models` must be a non-empty list of model names or {{name: ...}} "
                               "mappings")
    items = [{"name": item} if isinstance(item, str) else _mapping(f"{source}: models[{i}]", item)
             for i, item in enumerate(items)]
    for i, item in enumerate(items):
        if not isinstance(item.get("name"), str):
            raise SweepConfigError(f"{source}: models[{i}] needs a `name` (a registry model name), got {item!r}")

    entries: list[Entry] = []
    datamodules: dict[str, Any] = {}  # the entries' data, read once per distinct data section
    fingerprints: dict[str, tuple[dict[str, Any], str]] = {}  # dataset label -> its fingerprint, the item first on it
    for i, (item, variant) in enumerate(zip(items, _variants(source, items), strict=True)):
        where = f"{source}: models[{i}] ({variant})"
        own_data = _mapping(f"{where}: data", item.get("data"))
        own_trainer = _trainer(f"{where}: trainer", item.get("trainer"))
        own_model = {k: v for k, v in item.items() if k not in ITEM_KEYS}
        profile_only = item.get("profile_only", False)
        if not isinstance(profile_only, bool):
            raise SweepConfigError(f"{where}: profile_only must be true or false, got {profile_only!r}")
        for dataset in datasets:
            config = {"seed_everything": seeds[0], "model": {**model, **own_model},
                      "data": {**dataset, **own_data}, "trainer": {**trainer, **own_trainer}}
            # The CLI's own parser (a typo or a wrong type fails here as it does in `lit-video fit`), then all
            # that can fail without training: the data's annotations and fingerprint, the model on its clip.
            try:
                resolved, datamodule = preflight({**config, "task": task}, datamodules)
            except ConfigError as err:
                raise SweepConfigError(f"{where}: {err}") from err
            data = resolved["data"]
            # The model's clip where the config leaves it out, written down so that the hash and the rows carry
            # it, and the batch size, which an out-of-memory retry halves.
            config["data"].update({k: data[k] for k in ("frames", "size", "fps", "batch_size")})
            label = dataset_label(data["name"], data["root"])
            if data["name"] is not None and not FOLDER_SAFE.fullmatch(data["name"]):
                raise SweepConfigError(f"{where}: data.name {data['name']!r} must be folder-safe (letters, digits, "
                                       "_ . -, not starting with a dot): it names the entries' folders")
            # One label, one data: rows of two under one label would train, then fail to share a leaderboard.
            fingerprint = dataset_fingerprint(datamodule)
            first, first_item = fingerprints.setdefault(label, (fingerprint, f"models[{i}]"))
            if fingerprint != first:
                text = FIELD["dataset_fingerprint"].format
                raise SweepConfigError(f"{where}: dataset {label!r} here is {text(fingerprint)}; {first_item}'s is "
                                       f"{text(first)}: give one of them another data.name")
            # A profile-only row measures cost, which no seed changes: one entry, at the first seed.
            for seed in seeds[:1] if profile_only else seeds:
                entries.append(Entry(name, variant, label, seed, seeded(config, seed), eval_views(data["test_clips"],
                                     data["test_crops"]), resolved["trainer"]["accelerator"],
                                     resolved["trainer"]["precision"] or default_precision(
                                         resolved["trainer"]["accelerator"]), profile, float(timeout_s),
                                     train=not profile_only, task=task))

    seen: dict[Any, Entry] = {}
    for entry in entries:
        for key in ((entry.variant, entry.dataset, entry.seed), entry.config_hash):
            if key in seen:
                raise SweepConfigError(
                    f"{source}: {entry.variant!r} and {seen[key].variant!r} on dataset {entry.dataset!r} with "
                    f"seed {entry.seed} are the same entry; the leaderboard could not tell them apart")
            seen[key] = entry
    now = {label: fingerprint for label, (fingerprint, _) in fingerprints.items()}
    if parallel == "auto":
        parallel, auto = auto_parallel(entries)
        return Sweep(name, entries, parallel, cluster, f"parallel: auto -> {auto}", fingerprints=now)
    gpu = sorted({entry.variant for entry in entries if accelerator_device(entry.accelerator).type != "cpu"})
    if parallel > 1 and gpu:
        raise SweepConfigError(f"{source}: `parallel: {parallel}` trains models side by side on CPU cores; "
                               f"{', '.join(gpu)} run(s) on an accelerator, which trains one model at a time "
                               "(leave parallel out, or set trainer.accelerator: cpu)")
    return Sweep(name, entries, parallel, cluster, fingerprints=now)


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep YAML file."""
    path = Path(path)
    if not path.is_file():
        raise SweepConfigError(f"sweep config {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise SweepConfigError(f"sweep config {str(path)!r} is not valid YAML: {err}") from err
    return parse_sweep(raw, str(path))
