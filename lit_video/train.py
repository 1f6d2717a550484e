"""One configured training run, shared by ``lit-video fit|validate|test`` and by every sweep entry.

A config is the CLI's: its ``task`` (default ``classification``: ``lit_video.tasks``), which decides the
LightningModule of section ``model`` (``VideoClassifier``) and the DataModule of section ``data``
(``VideoDataModule``), then ``trainer`` (Trainer) and ``seed_everything``, as in a YAML file given with
``--config``. ``VideoCLI`` is the LightningCLI behind the command line; ``resolve_config`` validates a config with the
same parser, without building anything; ``build_run`` builds the DataModule, the model and the Trainer once
(LightningCLI with ``run=False``) and ``fit_and_test`` trains and tests what it built.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch.callbacks import LearningRateMonitor, ProgressBar, RichProgressBar
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, WandbLogger

from .machine import default_precision
from .models import DATA_ARGUMENTS, builder_arguments, model_info
from .tasks import DEFAULT_TASK, get_task

LOG_DIR = "logs"
TRAINER_DEFAULTS: dict[str, Any] = {
    "trainer.max_epochs": 5,
    "trainer.default_root_dir": LOG_DIR,
    # Lightning's summary prints a bare, here always zero, "Total FLOPs"; VideoClassifier prints parameters instead
    # and `lit-video profile` measures GMACs.
    "trainer.enable_model_summary": False,
}


class ConfigError(Exception):
    """A configuration that cannot train; raised before training starts, printed without a traceback."""


def default_loggers(save_dir: str) -> list[Any]:
    """A CSV log (first, so it names the run folder and holds the checkpoints) and wandb, offline: no account or
    network needed (``wandb sync`` uploads later). Both under ``save_dir`` (the Trainer's default_root_dir)."""
    return [CSVLogger(save_dir, name="lit_video"), WandbLogger(save_dir=save_dir, project="lit-video", offline=True)]


def complete_config(section: Namespace) -> None:
    """Resolve the clip and check the model's own arguments (in place), before anything is built.

    A data clip setting left out (``frames``, ``size``, ``fps``: None) takes the model's default clip, so
    ``--model.name c3d`` trains on C3D's 16 x 112 x 112 clips unless the data says otherwise; so do the
    modalities (``two_stream`` gets RGB and optical flow). The resolved clip is then the data's, and the model
    receives it from the data (``VideoCLI``'s links): a clip the model does not take fails here.
    """
    name = section.model.name
    try:
        info = model_info(name)
        accepted = builder_arguments(name)
    except KeyError as err:
        raise ConfigError(err.args[0]) from err
    if info.task != section.task:
        raise ConfigError(f"model {name!r} is a {info.task} model; this config's task is {section.task} "
                          f"(`task: {info.task}`, or a {section.task} model: `lit-video models`)")
    data = section.data
    for key in ("frames", "size", "fps"):
        if data[key] is None:
            data[key] = getattr(info.clip, key)
    if data.modalities is None:
        data.modalities = list(info.modalities)
    missing = [m for m in info.modalities if m not in data.modalities]
    if missing:
        raise ConfigError(f"model {name!r} takes {' and '.join(info.modalities)}, but data.modalities "
                          f"{data.modalities} leaves out {', '.join(missing)}")
    model_args = set(section.model.model_args or {})
    from_data = sorted(model_args & set(DATA_ARGUMENTS))
    if from_data:
        raise ConfigError(f"model.model_args: {', '.join(from_data)} come from the data (data.frames, data.size, "
                          "the annotations' labels); set them there")
    unknown = sorted(model_args - set(accepted))
    if unknown:
        raise ConfigError(f"model {name!r} does not take {', '.join(unknown)} (model.model_args); it accepts: "
                          f"{', '.join(sorted(accepted)) or 'none'}")
    try:
        info.accepts(data.frames, data.size)
    except ValueError as err:
        raise ConfigError(f"{err}: change data.frames / data.size") from err


def task_of(argv: list[str]) -> str:
    """The task a command line names: ``--task NAME``, else the last ``--config`` file's ``task:``, else the
    default. (The task decides the classes LightningCLI builds its parser from, so it is read before parsing.)"""
    import yaml

    task = None
    for i, arg in enumerate(argv):
        option, _, value = arg.partition("=")
        value = value or (argv[i + 1] if i + 1 < len(argv) else "")
        if option == "--task":
            return value
        if option == "--config" and Path(value).is_file():
            with contextlib.suppress(yaml.YAMLError):
                loaded = yaml.safe_load(Path(value).read_text())
                task = loaded.get("task", task) if isinstance(loaded, dict) else task
    return task or DEFAULT_TASK


class VideoCLI(LightningCLI):
    """LightningCLI for a task's LightningModule and DataModule (``task``: default classification, VideoClassifier
    and VideoDataModule); ``instantiate=False`` stops after the config is parsed and completed (``resolve_config``).
    """

    def __init__(self, *args: Any, task: str | None = None, instantiate: bool = True, **kwargs: Any) -> None:
        try:
            self.task = get_task(task)
        except KeyError as err:
            raise ConfigError(err.args[0]) from err
        self.instantiate = instantiate
        kwargs.setdefault("parser_kwargs", {"prog": "lit-video"})
        # The config is saved beside the logs: in a fresh version folder per run with a logger, and in
        # default_root_dir itself without one, where the next run in the same folder replaces it.
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        super().__init__(self.task.module, self.task.datamodule, *args, **kwargs)

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument("--task", default=self.task.name, choices=[self.task.name],
                            help="what the model is trained and scored on (lit_video.tasks)")
        # Defaults set on the parser (not `trainer_defaults`), so configs and --print_config show and override them.
        parser.set_defaults(TRAINER_DEFAULTS)
        # The data decides the clip shape and the label space; the model follows, so they cannot disagree. Linked
        # at instantiation: the DataModule's clip may come from the model's defaults (complete_config).
        for key in ("frames", "size", "num_classes", "multi_label", "groups"):
            parser.link_arguments(f"data.{key}", f"model.{key}", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        complete_config(self.config[self.subcommand] if self.subcommand else self.config)

    def instantiate_classes(self) -> None:
        if not self.instantiate:
            return
        try:
            super().instantiate_classes()
        except (KeyError, ValueError, TypeError, FileNotFoundError) as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
            raise ConfigError(message) from err

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        # Added here rather than as config defaults, because each depends on a setting a config may choose:
        # lit-video's loggers under default_root_dir where the config leaves the logger at Lightning's default,
        # Lightning's rich progress bar (unless progress bars are off or the config brings its own) and a
        # learning-rate monitor (only where there is a logger to write to).
        config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        if config.get("precision") is None:  # none chosen: the device's fastest (bf16 autocast on a bf16 GPU)
            kwargs["precision"] = default_precision(config.get("accelerator") or "auto")
        if config.get("logger") in (None, True):
            kwargs["logger"] = config["logger"] = default_loggers(config.get("default_root_dir") or LOG_DIR)
        callbacks = list(config.get("callbacks") or [])
        if config.get("enable_progress_bar", True) is not False and not any(
            isinstance(c, ProgressBar) for c in callbacks
        ):
            callbacks.append(RichProgressBar())
        if config.get("logger") not in (False, []) and not any(
            isinstance(c, LearningRateMonitor) for c in callbacks
        ):
            callbacks.append(LearningRateMonitor(logging_interval="step"))
        return super().instantiate_trainer(**{**kwargs, "callbacks": callbacks})

    def after_fit(self) -> None:
        ckpt = self.trainer.checkpoint_callback
        path = ckpt and (ckpt.best_model_path or ckpt.last_model_path)
        if path:
            print(f"\ncheckpoint: {path}\ntest it:    lit-video test --ckpt_path {path} [the same --config ...]")
        finish_wandb(self.trainer)

    def after_validate(self) -> None:
        finish_wandb(self.trainer)

    def after_test(self) -> None:
        finish_wandb(self.trainer)


def finish_wandb(trainer: Any) -> None:
    """Close this run's wandb runs, so the next Trainer in the same process starts its own instead of reusing it."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            logger.experiment.finish()


def _from_python(**kwargs: Any) -> VideoCLI:
    """A VideoCLI given its config in Python (LightningCLI warns about that whenever sys.argv holds anything)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
        return VideoCLI(**kwargs)


@functools.cache
def _config_parser(task: str) -> Any:
    """The CLI's parser for ``task`` (built once: about a second), raising instead of exiting on a bad config."""
    return _from_python(args={}, run=False, instantiate=False, seed_everything_default=False, task=task,
                        parser_kwargs={"prog": "lit-video", "exit_on_error": False}).parser


def resolve_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` validated by the CLI's parser (its task's) and completed (its defaults, the model's clip): the
    whole configuration a run of it would use, as plain data. Raises ConfigError naming the bad key and why."""
    try:
        parser = _config_parser(get_task(config.get("task")).name)
        section = parser.parse_object(config)
    except KeyError as err:  # an unknown task
        raise ConfigError(err.args[0]) from err
    except Exception as err:  # jsonargparse's ArgumentError and its kin: unknown keys, wrong types
        raise ConfigError(str(err).strip()) from err
    complete_config(section)
    return section.as_dict()


def preflight(config: dict[str, Any], datamodules: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check everything a run of ``config`` can check without training, and fail with ConfigError if it cannot
    train: the config (``resolve_config``), the data (annotations read, every split present, the fingerprint
    computed) and the model with its training options (built on the meta device: no weights, no memory; its
    builder checks its arguments against the clip). ``datamodules`` caches DataModules across calls (a sweep's
    entries share their data). Returns the resolved config."""
    import torch

    resolved = resolve_config(config)
    task = get_task(resolved["task"])
    data_args = resolved["data"]
    key = json.dumps([task.name, data_args], sort_keys=True, default=str)
    cache = {} if datamodules is None else datamodules
    try:
        if key not in cache:
            datamodule = task.datamodule(**data_args)
            datamodule.fingerprint  # noqa: B018 (computed here: the rows need it, so it must be computable)
            cache[key] = datamodule
        data = cache[key]
    except Exception as err:  # whatever stops the data from loading: named, before any training
        raise ConfigError(f"data: {err}") from err
    try:  # the model on the meta device: no weights, no memory; its builder checks its arguments against the clip
        with torch.device("meta"):
            task.module(**resolved["model"], num_classes=data.num_classes, multi_label=data.multi_label,
                        frames=data.frames, size=data.size, groups=data.groups)
    except Exception as err:
        raise ConfigError(f"model: {err}") from err
    return resolved


def build_run(config: dict[str, Any]) -> VideoCLI:
    """Build the DataModule, the model and the Trainer of one configuration (the same parsing, checks and links as
    ``lit-video fit``); ``run.model``, ``run.datamodule``, ``run.trainer``. Raises ConfigError."""
    return _from_python(args=config, run=False, task=config.get("task"))


def fit_and_test(run: VideoCLI) -> dict[str, Any]:
    """Fit ``run``, then test it with the multi-clip video-level protocol, in this process.

    Returns ``{"metrics": {"test/video_top1": ...}, "train_time_s", "test_time_s", "config" (the resolved config),
    "log_dir", "checkpoint", "skipped" (number of unreadable videos), "predictions" (``test_predictions``)}``.
    """
    start = time.perf_counter()
    run.trainer.fit(run.model, datamodule=run.datamodule)
    train_time_s = time.perf_counter() - start
    start = time.perf_counter()
    results = run.trainer.test(run.model, datamodule=run.datamodule, verbose=False)
    test_time_s = time.perf_counter() - start
    finish_wandb(run.trainer)
    ckpt = run.trainer.checkpoint_callback
    return {
        "metrics": {k: float(v) for k, v in results[0].items()},
        "train_time_s": train_time_s,
        "test_time_s": test_time_s,
        "config": resolved_config(run),
        "log_dir": run.trainer.log_dir,
        "checkpoint": (ckpt.last_model_path or ckpt.best_model_path) if ckpt else None,
        "skipped": len(run.datamodule.skipped),
        "predictions": test_predictions(run),
    }


def test_predictions(run: VideoCLI, top_k: int = 5) -> dict[str, Any] | None:
    """The last test's video-level predictions, JSON-ready: ``{"classes", "multi_label", "videos": [{"video" (its
    path under the data root), "label" (class index; a list of them for multi-label data), "top" (the ``top_k`` most
    probable classes, best first), "probs" (theirs)}]}``, in the test split's order. None before any test. The top
    classes, not every probability, so that the file stays small on Kinetics (400 classes)."""
    kept = run.model.test_predictions
    if kept is None:
        return None
    data = run.datamodule
    records = data.dataset("test").videos
    probs, top = kept.probs.topk(min(top_k, kept.probs.shape[1]), dim=1)  # (V, k) each
    videos = []
    for index, label, classes, p in zip(kept.videos.tolist(), kept.labels, top.tolist(), probs.tolist(), strict=True):
        record = records[index][0]
        videos.append({"video": os.path.relpath(record.path, data.root),
                       "label": label.nonzero().flatten().tolist() if data.multi_label else int(label),
                       "top": classes, "probs": [round(x, 5) for x in p]})
    return {"classes": data.class_names, "multi_label": data.multi_label, "videos": videos}


def resolved_config(run: VideoCLI) -> dict[str, Any]:
    """The whole configuration as run: the parsed config, with the init arguments the model and data actually
    received (linked values such as ``num_classes`` included)."""
    config = json.loads(run.parser.dump(run.config, format="json", skip_unset=False))
    config["model"] = json.loads(json.dumps(dict(run.model.hparams), default=str))
    config["data"] = json.loads(json.dumps(dict(run.datamodule.hparams), default=str))
    return config
