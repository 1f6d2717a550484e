"""Sweep configs: a YAML file expands into entries (model x dataset x seed), validated before anything runs.

```yaml
name: lecture                 # results go to <out>/lecture/
seeds: [0, 1]
data: {frames: 8, size: 64}   # VideoDataModule arguments; a list of such dicts sweeps several datasets
trainer: {max_epochs: 3}      # Trainer arguments
optimizer: {lr: 1e-3}         # VideoClassifier's optimiser / loss arguments
profile: {batch_sizes: [1, 8]} # measure_throughput options
timeout_s: 900                # per entry
models:
  - single_frame
  - {name: c3d, model_args: {width: 16}, data: {frames: 16}, trainer: {max_epochs: 5}, optimizer: {lr: 3e-4}}
```
A key left out falls back to the model's own defaults (``model_info``: frames, size, fps), then to the
library's.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..models import builder_arguments, model_info

SWEEP_KEYS = ("name", "models", "data", "trainer", "optimizer", "profile", "seeds", "timeout_s")
MODEL_KEYS = ("name", "model_args", "data", "trainer", "optimizer")
# VideoClassifier arguments the data decides (linked by the CLI), so a sweep never sets them.
LINKED_MODEL_ARGS = ("name", "num_classes", "multi_label", "model_args", "frames", "size", "groups")
DEFAULT_TIMEOUT_S = 3600.0


class SweepConfigError(ValueError):
    """A sweep config that cannot run; the message names the file, the key and the reason."""


def _accepted(fn: Any, skip: tuple[str, ...] = ()) -> set[str]:
    params = inspect.signature(fn).parameters
    return {k for k, p in params.items() if k not in ("self", *skip) and p.kind is not p.VAR_KEYWORD}


def accepted_keys() -> dict[str, set[str]]:
    """Keys each config section accepts, read from the signatures of the classes they configure."""
    import lightning as L

    from ..data import VideoDataModule
    from ..module import VideoClassifier
    from ..profiling import measure_throughput

    return {
        "data": _accepted(VideoDataModule.__init__) | {"name"},  # `name` labels the dataset in the results
        "trainer": _accepted(L.Trainer.__init__, skip=("default_root_dir", "logger")),
        "optimizer": _accepted(VideoClassifier.__init__, skip=LINKED_MODEL_ARGS),
        "profile": _accepted(measure_throughput, skip=("model", "inputs_or_shape", "gmacs")),
    }


def data_default(key: str) -> Any:
    """VideoDataModule's default for ``key`` (what an entry gets when its config leaves the key out)."""
    from ..data import VideoDataModule

    return inspect.signature(VideoDataModule.__init__).parameters[key].default


@dataclass(frozen=True)
class Entry:
    """One unit of work: fit, test and profile one model on one dataset with one seed."""

    sweep: str
    dataset: str
    model: dict[str, Any]  # VideoClassifier arguments: name, model_args, lr, ...
    data: dict[str, Any]  # VideoDataModule arguments
    trainer: dict[str, Any]
    seed: int
    profile: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def name(self) -> str:
        return self.model["name"]

    def config(self) -> dict[str, Any]:
        """Everything that decides the result; its hash identifies the entry for --resume."""
        return {"dataset": self.dataset, "model": self.model, "data": self.data, "trainer": self.trainer,
                "seed": self.seed, "profile": self.profile}

    @property
    def config_hash(self) -> str:
        text = json.dumps(self.config(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def entry_id(self) -> str:
        return f"{self.name}-{self.dataset}-seed{self.seed}-{self.config_hash[:8]}"

    def to_dict(self) -> dict[str, Any]:
        return {"sweep": self.sweep, **self.config(), "timeout_s": self.timeout_s}

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Entry:
        return cls(**{k: spec[k] for k in ("sweep", "dataset", "model", "data", "trainer", "seed", "profile",
                                           "timeout_s")})


@dataclass(frozen=True)
class Sweep:
    name: str
    entries: list[Entry]
    source: str


def _section(where: str, value: Any, accepted: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SweepConfigError(f"{where} must be a mapping, got {type(value).__name__} {value!r}")
    unknown = sorted(set(value) - accepted)
    if unknown:
        raise SweepConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; accepted: {', '.join(sorted(accepted))}")
    return dict(value)


def _dataset_label(data: dict[str, Any]) -> str:
    root = data.get("root")
    return str(data.get("name") or (Path(root).name if root else "synthetic"))


def parse_sweep(raw: Any, source: str = "<config>") -> Sweep:
    """Validate a loaded sweep config and expand it into entries; SweepConfigError names any problem."""
    if not isinstance(raw, dict):
        raise SweepConfigError(f"{source}: a sweep config is a mapping with keys {', '.join(SWEEP_KEYS)}")
    top = _section(source, raw, set(SWEEP_KEYS))
    keys = accepted_keys()

    name = top.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise SweepConfigError(
            f"{source}: `name` must be a folder-safe string (letters, digits, _ . -), got {name!r}")

    seeds = top.get("seeds", [0])
    seeds = [seeds] if isinstance(seeds, int) else seeds
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool)
                                                            for s in seeds):
        raise SweepConfigError(
            f"{source}: `seeds` must be an integer or a non-empty list of integers, got {seeds!r}")

    timeout_s = top.get("timeout_s", DEFAULT_TIMEOUT_S)
    if not isinstance(timeout_s, int | float) or timeout_s <= 0:
        raise SweepConfigError(
            f"{source}: `timeout_s` must be a positive number of seconds, got {timeout_s!r}")

    datasets = top.get("data") or {}
    datasets = datasets if isinstance(datasets, list) else [datasets]
    datasets = [_section(f"{source}: data[{i}]", d, keys["data"]) for i, d in enumerate(datasets)]
    trainer = _section(f"{source}: trainer", top.get("trainer"), keys["trainer"])
    optimizer = _section(f"{source}: optimizer", top.get("optimizer"), keys["optimizer"])
    profile = _section(f"{source}: profile", top.get("profile"), keys["profile"])

    models = top.get("models")
    if not isinstance(models, list) or not models:
        raise SweepConfigError(
            f"{source}: `models` must be a non-empty list of model names or {{name: ...}} mappings")
    entries: list[Entry] = []
    for i, item in enumerate(models):
        where = f"{source}: models[{i}]"
        item = {"name": item} if isinstance(item, str) else item
        spec = _section(where, item, set(MODEL_KEYS))
        model_name = spec.get("name")
        if not isinstance(model_name, str):
            raise SweepConfigError(f"{where}: needs a `name` (a registry model name), got {item!r}")
        try:
            info = model_info(model_name)
            model_args = _section(f"{where} ({model_name}): model_args", spec.get("model_args"),
                                  set(builder_arguments(model_name)))
        except KeyError as err:
            raise SweepConfigError(f"{where}: {err.args[0]}") from err
        own_data = _section(f"{where} ({model_name}): data", spec.get("data"), keys["data"])
        own_trainer = _section(f"{where} ({model_name}): trainer", spec.get("trainer"), keys["trainer"])
        own_optimizer = _section(f"{where} ({model_name}): optimizer", spec.get("optimizer"),
                                 keys["optimizer"])
        for dataset in datasets:
            # The model's own clip shape unless the sweep or the entry says otherwise.
            data = {"frames": info.frames, "size": info.size, "fps": info.fps, **dataset, **own_data}
            label = _dataset_label(data)
            data.pop("name", None)
            for seed in seeds:
                model = {"name": model_name, **({"model_args": model_args} if model_args else {}),
                         **optimizer, **own_optimizer}
                # The seed also drives the data's shuffle and clip sampling, unless the config fixes them.
                seeded = {**data, "seed": data.get("seed", seed)}
                entries.append(Entry(name, label, model, seeded, {**trainer, **own_trainer}, seed, profile,
                                     float(timeout_s)))

    seen: set[tuple[Any, ...]] = set()
    for entry in entries:
        key = (entry.name, entry.dataset, entry.seed, *(entry.data[k] for k in ("frames", "size", "fps")))
        if key in seen:
            raise SweepConfigError(
                f"{source}: model {entry.name!r} appears twice on dataset {entry.dataset!r} with seed "
                f"{entry.seed} at the same frames/size/fps; the leaderboard could not tell them apart "
                "(use another sweep file)")
        seen.add(key)
    return Sweep(name, entries, source)


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
