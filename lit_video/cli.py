"""The ``lit-video`` command.

``fit | validate | test`` go through LightningCLI (YAML configs, ``--print_config``); the other subcommands
(``models``, ``data``, ``profile``, ``sweep``, ``compare``) are small argparse programs in their own packages.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import LearningRateMonitor, ProgressBar, RichProgressBar
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import WandbLogger

from .data import VideoDataModule
from .module import VideoClassifier

LOG_DIR = "logs"



def default_loggers(save_dir: str | Path = LOG_DIR) -> list[dict[str, Any]]:
    """A CSV log (first, so it names the run folder and holds the checkpoints) and wandb, offline: no account or
    network needed (`wandb sync` uploads later)."""
    return [
        {"class_path": "lightning.pytorch.loggers.CSVLogger",
         "init_args": {"save_dir": str(save_dir), "name": "lit_video"}},
        {"class_path": "lightning.pytorch.loggers.WandbLogger",
         "init_args": {"save_dir": str(save_dir), "project": "lit-video", "offline": True}},
    ]


TRAINER_DEFAULTS: dict[str, Any] = {
    "trainer.max_epochs": 5,
    "trainer.default_root_dir": LOG_DIR,
    # Lightning's summary prints a bare, here always zero, "Total FLOPs"; VideoClassifier prints parameters instead
    # and `lit-video profile` measures GMACs.
    "trainer.enable_model_summary": False,
    "trainer.logger": default_loggers(),
}

SUBCOMMANDS = {
    "fit": "train a model (LightningCLI; --help for all options)",
    "validate": "evaluate a checkpoint on the validation split",
    "test": "evaluate a checkpoint on the test split (multi-clip, video-level)",
    "models": "list the model registry with its metadata",
    "data": "synth | check: write the built-in synthetic dataset, list unreadable videos",
    "profile": "GMACs / GFLOPs, parameters, receptive fields, throughput, memory and MFU of a model",
    "sweep": "the main job: train, test and profile many models, write leaderboards",
    "compare": "two leaderboards side by side, with regressions flagged",
}


class ConfigError(Exception):
    """A configuration that cannot train; raised before training starts, printed without a traceback."""


class VideoCLI(LightningCLI):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parser_kwargs", {"prog": "lit-video"})
        super().__init__(VideoClassifier, VideoDataModule, *args, **kwargs)

    def add_arguments_to_parser(self, parser: Any) -> None:
        # Defaults set on the parser (not `trainer_defaults`), so configs and --print_config show and override them.
        parser.set_defaults(TRAINER_DEFAULTS)
        # The data decides the clip shape and the label space; the model follows, so they cannot disagree.
        parser.link_arguments("data.frames", "model.frames")
        parser.link_arguments("data.size", "model.size")
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
        parser.link_arguments("data.multi_label", "model.multi_label", apply_on="instantiate")
        parser.link_arguments("data.groups", "model.groups", apply_on="instantiate")

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        # Added here rather than as config defaults, because each conflicts with a setting a config may choose:
        # Lightning's rich progress bar (unless progress bars are off or the config brings its own) and a
        # learning-rate monitor (only where there is a logger to write to).
        config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        callbacks = list(config.get("callbacks") or [])
        if config.get("enable_progress_bar", True) is not False and not any(
            isinstance(c, ProgressBar) for c in callbacks
        ):
            callbacks.append(RichProgressBar())
        if config.get("logger") not in (None, False, []) and not any(
            isinstance(c, LearningRateMonitor) for c in callbacks
        ):
            callbacks.append(LearningRateMonitor(logging_interval="step"))
        return super().instantiate_trainer(**{**kwargs, "callbacks": callbacks})

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except (KeyError, ValueError, TypeError, FileNotFoundError) as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
            raise ConfigError(message) from err

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


def fit_and_test(
    model: dict[str, Any],
    data: dict[str, Any],
    trainer: dict[str, Any],
    seed: int,
    log_dir: str | Path,
    loggers: list[Any] | None = None,
) -> dict[str, Any]:
    """Fit one configuration, then test it with the multi-clip video-level protocol, in this process.

    ``model``, ``data`` and ``trainer`` are the init arguments of VideoClassifier, VideoDataModule and Trainer (as in
    a config file); ``loggers`` replaces the default loggers (``[]`` for none).
    Returns ``{"metrics": {"test/video_top1": ...}, "train_time_s", "config" (the resolved config), "log_dir",
    "checkpoint", "skipped" (number of unreadable videos)}``. Raises ConfigError for a configuration that cannot train.
    """
    trainer_args = {"logger": default_loggers(log_dir), **trainer, "default_root_dir": str(log_dir)}
    if loggers is not None:
        trainer_args["logger"] = False
    cli = VideoCLI(args={"seed_everything": seed, "model": model, "data": data, "trainer": trainer_args}, run=False)
    if loggers:
        cli.trainer.loggers = loggers
        cli.trainer.callbacks.append(LearningRateMonitor(logging_interval="step"))
    start = time.perf_counter()
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    train_time_s = time.perf_counter() - start
    results = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
    finish_wandb(cli.trainer)
    ckpt = cli.trainer.checkpoint_callback
    return {
        "metrics": {k: float(v) for k, v in results[0].items()},
        "train_time_s": train_time_s,
        "config": resolved_config(cli),
        "log_dir": cli.trainer.log_dir,
        "checkpoint": (ckpt.last_model_path or ckpt.best_model_path) if ckpt else None,
        "skipped": len(cli.datamodule.skipped),
    }


def resolved_config(cli: VideoCLI) -> dict[str, Any]:
    """The whole configuration as run: the parsed config, with the init arguments the model and data actually
    received (linked values such as ``num_classes`` included)."""
    config = json.loads(cli.parser.dump(cli.config, format="json", skip_none=False))
    config["model"] = json.loads(json.dumps(dict(cli.model.hparams), default=str))
    config["data"] = json.loads(json.dumps(dict(cli.datamodule.hparams), default=str))
    return config


def models_main(argv: list[str]) -> int:
    """``lit-video models``: the registry as a table, or JSON."""
    from rich.console import Console
    from rich.table import Table

    from .models import list_models, model_info

    parser = argparse.ArgumentParser(prog="lit-video models", description="List the model registry.")
    parser.add_argument("pattern", nargs="?", help="only names containing this text")
    parser.add_argument("--json", action="store_true", help="print model_info of every model as JSON")
    args = parser.parse_args(argv)
    infos = [model_info(name) for name in list_models(args.pattern)]
    if args.json:
        print(json.dumps([info.to_dict() for info in infos], indent=2))
        return 0
    table = Table(title=f"lit-video models ({len(infos)})")
    table.add_column("name", no_wrap=True)
    for column in ("family", "inputs", "frames", "size", "published", "description"):
        table.add_column(column, overflow="fold")
    for info in infos:
        published = info.published
        note = ", ".join(f"{k}={published[k]}" for k in ("gmacs", "kinetics400_top1") if k in published)
        table.add_row(info.name, info.family, "+".join(info.modalities), str(info.frames), str(info.size), note,
                      info.description)
    Console().print(table)
    return 0


def _print_help() -> None:
    print("usage: lit-video <command> [options]\n\nA benchmark suite for video-understanding architectures.\n")
    for name, text in SUBCOMMANDS.items():
        print(f"  {name:<10} {text}")
    print("\n`lit-video <command> --help` for a command's options.")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        _print_help()
        return 0
    command, rest = argv[0], argv[1:]
    if command == "models":
        return models_main(rest)
    if command == "data":
        from .data.cli import main as data_main

        return data_main(rest)
    if command == "profile":
        from .profiling.cli import main as profile_main

        return profile_main(rest)
    if command == "sweep":
        from .sweep.cli import main as sweep_main

        return sweep_main(rest)
    if command == "compare":
        from .sweep.compare import main as compare_main

        return compare_main(rest)
    if command not in ("fit", "validate", "test", "predict"):
        print(f"lit-video: unknown command {command!r}; choose from {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    try:
        # LightningCLI warns when given args while sys.argv holds others; from the console they are the same.
        VideoCLI(args=None if argv == sys.argv[1:] else argv)
    except ConfigError as err:
        print(f"lit-video {command}: configuration error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
