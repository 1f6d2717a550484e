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
import difflib
import functools
import json
import logging
import os
import re
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from jsonargparse import ArgumentError, Namespace
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, ProgressBar, RichProgressBar
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_info

from . import terminal
from .machine import default_precision
from .models import DATA_ARGUMENTS, builder_arguments, model_info
from .models.layers.backbone import load_weights
from .tasks import DEFAULT_TASK, get_task
from .tasks.checkpoint import Checkpoint, init_arguments, read_checkpoint
from .terminal import duration

LOG_DIR = "logs"
TRAINER_DEFAULTS: dict[str, Any] = {
    "trainer.max_epochs": 5,
    "trainer.default_root_dir": LOG_DIR,
    # Lightning's summary prints a bare, here always zero, "Total FLOPs"; VideoClassifier prints parameters instead
    # and `lit-video profile` measures GMACs.
    "trainer.enable_model_summary": False,
}


# Checkpoint names Lightning resolves itself, rather than paths (Trainer.fit's ``ckpt_path``).
LIGHTNING_CKPT_NAMES = ("best", "last", "hpc", "registry")
# The model's settings that the data decides: linked into the model, so that they cannot disagree.
DATA_LINKS = ("frames", "size", "num_classes", "multi_label", "groups")
# What a subcommand does with a checkpoint, as its lines say.
CKPT_VERBS = {"fit": "resuming", "validate": "validating", "test": "testing", "predict": "predicting with"}
# Exit status of a run stopped with Ctrl-C (128 + SIGINT), as a shell reports it.
INTERRUPTED = 130
# The help's titles of the option groups LightningCLI adds for replacing the model's optimiser.
GROUP_TITLES = {"optimizer": "Optimizer, replacing the model's AdamW (model.lr, model.weight_decay)",
                "lr_scheduler": "LR scheduler, with --optimizer (without: warm-up and cosine decay)"}


class ConfigError(Exception):
    """A configuration that cannot train; raised before training starts, printed without a traceback."""


class _LightningTips(logging.Filter):
    """Drops Lightning's advertisements for its cloud packages (litlogger, litmodels), printed on every run."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("\N{ELECTRIC LIGHT BULB} Tip:")
                    and ("litlogger" in message or "litmodels" in message))


def quiet_third_party() -> None:
    """Silence, by name, what other packages print on every run that we cannot fix at its cause: Lightning's tips
    and its use of torch's deprecated ``LeafSpec`` (lightning.pytorch.utilities._pytree)."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):  # rank_zero_info's
        logging.getLogger(name).addFilter(_LIGHTNING_TIPS)  # once: a logger holds a filter once
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                            module=r"lightning\.pytorch\.utilities\._pytree")


_LIGHTNING_TIPS = _LightningTips()


def default_loggers(save_dir: str) -> list[Any]:
    """A CSV log (first, so it names the run folder and holds the checkpoints) and wandb, offline: no account or
    network needed (``wandb sync`` uploads later). Both under ``save_dir`` (the Trainer's default_root_dir).
    wandb is quiet: its run summary at the end would bury the run's own last lines (the checkpoint to test)."""
    import wandb

    # wandb looks for a git repository from its folder and warns where that folder does not exist yet.
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    tracker = WandbLogger(save_dir=save_dir, project="lit-video", offline=True, settings=wandb.Settings(quiet=True))
    # Lightning passes wandb.init `anonymous=None`, which wandb warns about on every run (the setting does nothing).
    tracker._wandb_init.pop("anonymous", None)
    return [CSVLogger(save_dir, name="lit_video"), tracker]


def complete_config(section: Namespace, fitting: bool = True) -> None:
    """Resolve the clip and check the model's own arguments (in place), before anything is built.

    A data clip setting left out (``frames``, ``size``, ``fps``: None) takes the model's default clip, so
    ``--model.name c3d`` trains on C3D's 16 x 112 x 112 clips unless the data says otherwise; so do the
    modalities (``two_stream`` gets RGB and optical flow). The resolved clip is then the data's, and the model
    receives it from the data (``VideoCLI``'s links): a clip the model does not take fails here. ``fitting``: the
    run trains, so its length must be one the model's learning-rate schedule can spread over.
    """
    trainer = section.get("trainer") or {}
    if fitting and trainer.get("max_epochs") == -1 and trainer.get("max_steps") in (None, -1) \
            and not section.get("optimizer"):  # LightningCLI's optimiser replaces the model's schedule
        raise ConfigError("trainer.max_epochs -1 trains until stopped, but the model's warm-up and cosine decay "
                          "need the run's length: give trainer.max_epochs or trainer.max_steps (or --optimizer)")
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
        given = kwargs.get("args")
        # The command line, for the commands printed to test or resume this run (None: a config from Python).
        self.argv = None if isinstance(given, dict) else list(sys.argv[1:] if given is None else given)
        quiet_third_party()
        kwargs.setdefault("parser_kwargs", parser_kwargs())
        kwargs.setdefault("seed_everything_default", 0)  # what Lightning picks for True, without its warning
        # The config is saved beside the logs: in a fresh version folder per run with a logger, and in
        # default_root_dir itself without one, where the next run in the same folder replaces it.
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        super().__init__(self.task.module, self.task.datamodule, *args, **kwargs)

    def setup_parser(self, *args: Any, **kwargs: Any) -> None:
        super().setup_parser(*args, **kwargs)
        # Help titles, which argparse does not wrap, within 80 columns: Lightning's are the first line of a
        # docstring (Trainer.test's is cut mid-sentence) or a tuple of classes (the LR scheduler's), and neither of
        # its optimiser titles says that the model has an optimiser and a schedule of its own.
        for parser in (self.parser, *getattr(self, "_subcommand_parsers", {}).values()):
            for group in parser._action_groups:
                if group.title and len(group.title) >= 80:
                    group.title = group.title.split(". ")[0]
            for name, title in GROUP_TITLES.items():
                if name in parser.groups:
                    parser.groups[name].title = title

    def parse_arguments(self, parser: Any, args: Any) -> None:
        """Parse, and fail with one line (ConfigError) where jsonargparse would print pages of usage, or where
        Lightning would find out after the data, the model and the loggers are set up (a checkpoint that is missing
        or is not one). A run from a checkpoint is parsed again over what the checkpoint was trained with: its
        model, and its clip (``CLIP_SETTINGS``), unless the command line or a config says otherwise
        (``complete_from_checkpoint``)."""
        self._parse(parser, args)
        subcommand = self.config.get("subcommand")
        path = (self.config[subcommand] if subcommand else self.config).get("ckpt_path")
        check_ckpt_path(path, subcommand)
        self.checkpoint: Checkpoint | None = None
        self.changes: dict[str, Any] = {}  # the clip settings given that differ from the checkpoint's
        if not (subcommand and path and Path(path).is_file()):  # none, or one Lightning resolves (a name, a URL)
            return
        try:
            self.checkpoint = read_checkpoint(path)
        except (FileNotFoundError, ValueError) as err:
            raise ConfigError(str(err)) from err
        self._subcommand_parsers[subcommand].set_defaults(self.trained_defaults(self.checkpoint))
        self._parse(parser, args)
        self.changes = complete_from_checkpoint(self.config[subcommand], self.checkpoint)

    def _parse(self, parser: Any, args: Any) -> None:
        try:
            super().parse_arguments(parser, args)
        except ArgumentError as err:
            raise ConfigError(one_line_error(str(err), self._command_parser(parser))) from err

    def trained_defaults(self, checkpoint: Checkpoint) -> dict[str, Any]:
        """The checkpoint's settings as the parser's defaults: its model's (but what the data decides, and
        ``init_weights``, which the checkpoint's weights replace) and its clip's (but the resize, which follows the
        size: ``complete_from_checkpoint``)."""
        model = {f"model.{key}": value for key, value in init_arguments(self.task.module, checkpoint.model).items()
                 if key not in (*DATA_LINKS, "init_weights")}
        return {**model, **{f"data.{key}": value for key, value in checkpoint.clip().items() if key != "resize"}}

    def _parse_ckpt_path(self) -> None:
        """Nothing: Lightning's lays the checkpoint's model settings over the command line, dropping a
        ``--model.name`` that differs without a word, and leaves the data at its defaults; ``parse_arguments`` takes
        the checkpoint's model and clip where the command line leaves them out, and refuses another model."""

    def _command_parser(self, parser: Any) -> Any:
        """The parser of the subcommand on the command line (``fit``: its options), else ``parser``."""
        subparsers = getattr(self, "_subcommand_parsers", {})
        return next((subparsers[arg] for arg in self.argv or () if arg in subparsers), parser)

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument("--task", default=self.task.name, choices=[self.task.name],
                            help="what the model is trained and scored on (lit_video.tasks)")
        # Defaults set on the parser (not `trainer_defaults`), so configs and --print_config show and override them.
        parser.set_defaults(TRAINER_DEFAULTS)
        # The data decides the clip shape and the label space; the model follows, so they cannot disagree. Linked
        # at instantiation: the DataModule's clip may come from the model's defaults (complete_config).
        for key in DATA_LINKS:
            parser.link_arguments(f"data.{key}", f"model.{key}", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        complete_config(self.config[self.subcommand] if self.subcommand else self.config,
                        fitting=self.subcommand in (None, "fit"))  # None: build_run, which fits

    def instantiate_classes(self) -> None:
        if not self.instantiate:
            return
        try:
            super().instantiate_classes()
            if self.subcommand and self.checkpoint is not None:
                self._check_checkpoint_fits()
        except (KeyError, ValueError, TypeError, FileNotFoundError) as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
            raise ConfigError(message) from err

    def _check_checkpoint_fits(self) -> None:
        """The model built and the data fit the checkpoint's weights (else a ValueError in one line, rather than
        Lightning's pages of key names once the data is set up); then say what is run, and what differs from
        training."""
        checkpoint, model = self.checkpoint, self.model

        def labels(hparams: Any) -> str:
            return f"{hparams['num_classes']} classes" + (", multi-label" if hparams["multi_label"] else "")

        if labels(checkpoint.model) != labels(model.hparams):
            raise ValueError(f"the checkpoint's {checkpoint.name} has {labels(checkpoint.model)}; the data has "
                             f"{labels(model.hparams)}: give the data it was trained on "
                             f"(data.root {checkpoint.data.get('root') or 'left out: the built-in data'})")
        load_weights(model, checkpoint.state_dict, f"checkpoint {str(checkpoint.path)!r}")
        verb = CKPT_VERBS[self.subcommand]
        lines = [f"{verb} {checkpoint.name}, trained on {checkpoint.clip_words()}"]
        if self.changes:
            lines.append(f"{verb} at " + ", ".join(f"data.{key} {value} (trained at {checkpoint.data[key]})"
                                                   for key, value in self.changes.items()))
        self.checkpoint = None  # its weights: Lightning reads the file again as the run starts
        rank_zero_info("\n".join(line for text in lines for line in terminal.wrap(text, terminal.width())))

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
        # Evaluating writes no checkpoint; Lightning's default ModelCheckpoint would only warn that the loaded
        # checkpoint's folder is not this run's ("The dirpath has changed ..."), and without it Lightning asks for
        # the callbacks that wrote the checkpoint, whose state only resuming a fit would use.
        if self.subcommand in ("validate", "test", "predict") and config.get("enable_checkpointing") is None \
                and not any(isinstance(c, ModelCheckpoint) for c in callbacks):
            kwargs["enable_checkpointing"] = False
            warnings.filterwarnings("ignore", message=r"Be aware that when using `ckpt_path`, callbacks used to create",
                                    module=r"lightning\.pytorch\.trainer\.call")
        if config.get("enable_progress_bar", True) is not False and not any(
            isinstance(c, ProgressBar) for c in callbacks
        ):
            callbacks.append(RichProgressBar() if terminal.console().is_terminal else EpochLines())
        if config.get("logger") not in (False, []) and not any(
            isinstance(c, LearningRateMonitor) for c in callbacks
        ):
            callbacks.append(LearningRateMonitor(logging_interval="step"))
        return super().instantiate_trainer(**{**kwargs, "callbacks": callbacks})

    def fit(self, **kwargs: Any) -> None:
        """``Trainer.fit``; stopped with Ctrl-C (Lightning shuts down, then exits with 1), it says what was kept and
        how to resume, and exits with 130."""
        try:
            self.trainer.fit(**kwargs)
        except SystemExit:
            if not self.trainer.interrupted:
                raise
            finish_wandb(self.trainer, exit_code=INTERRUPTED)
            if self.trainer.is_global_zero:
                ckpt = self.trainer.checkpoint_callback
                path = ckpt and (ckpt.last_model_path or ckpt.best_model_path)
                logs = self.trainer.log_dir or self.trainer.default_root_dir
                if path:
                    print(f"interrupted: kept the logs in {logs} and the last checkpoint\n"
                          + shell_lines("resume:      ", self.command("fit", path)))
                else:
                    print(f"interrupted before the first checkpoint: kept the logs in {logs}\n"
                          + shell_lines("start again: ", self.command("fit")))
            raise SystemExit(INTERRUPTED) from None

    def after_fit(self) -> None:
        finish_wandb(self.trainer)  # first: what wandb prints on finishing comes before the lines that matter
        ckpt = self.trainer.checkpoint_callback
        path = ckpt and (ckpt.best_model_path or ckpt.last_model_path)
        if path:
            print(f"\ncheckpoint: {path}\n" + shell_lines("test it:    ", self.command("test", path)))

    def command(self, subcommand: str, ckpt_path: str | None = None) -> list[str]:
        """``lit-video SUBCOMMAND`` with this run's options and ``--ckpt_path CKPT_PATH``: the command that tests
        or resumes this run."""
        options, skip_value = ["..."] if self.argv is None else [], False  # from Python: no command line to repeat
        for arg in (self.argv or [])[1:]:  # argv[0] is the subcommand run
            if skip_value or arg.startswith("--ckpt_path="):
                skip_value = False
            elif arg == "--ckpt_path":
                skip_value = True
            else:
                options.append(arg)
        return ["lit-video", subcommand, *options, *(["--ckpt_path", ckpt_path] if ckpt_path else [])]

    def after_validate(self) -> None:
        finish_wandb(self.trainer)

    def after_test(self) -> None:
        finish_wandb(self.trainer)


class EpochLines(ProgressBar):
    """Progress, piped (a log, CI): a line per epoch, where a bar cannot redraw and Lightning's rich bar prints its
    last state once, its metrics wrapped a word a line."""

    SHOWN = ("train/loss", "val/loss", "val/video_top1")  # the rest are in metrics.csv and wandb

    def __init__(self) -> None:
        super().__init__()
        self._enabled, self._start = True, time.monotonic()

    def enable(self) -> None:
        self._enabled = True

    def disable(self) -> None:
        self._enabled = False

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._start = time.monotonic()

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:  # after the epoch's validation
        if not (self._enabled and trainer.is_global_zero):
            return
        metrics = trainer.callback_metrics
        shown = "  ".join(f"{name} {float(metrics[name]):.3f}" for name in self.SHOWN if name in metrics)
        epochs = "" if trainer.max_epochs in (None, -1) else f"/{trainer.max_epochs}"
        print(f"epoch {trainer.current_epoch + 1}{epochs}  {shown}  {duration(time.monotonic() - self._start)}",
              flush=True)


def shell_lines(label: str, command: list[str], width: int = 80) -> str:
    """``command`` after ``label``, quoted for the shell and continued over lines (`` \\``) to fit ``width``
    columns where its words allow, each option on the line of its value: pasted, it runs as one command."""
    parts: list[list[str]] = []
    for word in command:  # an option with the words after it, up to the next option
        if word.startswith("-") or not parts:
            parts.append([word])
        else:
            parts[-1].append(word)
    lines = [label + shlex.join(parts[0])]
    for part in map(shlex.join, parts[1:]):
        if len(lines[-1]) + len(part) + 3 > width:  # room for " " + part + " \\"
            lines[-1] += " \\"
            lines.append(" " * len(label) + "  " + part)
        else:
            lines[-1] += " " + part
    return "\n".join(lines)


def finish_wandb(trainer: Any, exit_code: int | None = None) -> None:
    """Close this run's wandb runs, so the next Trainer in the same process starts its own instead of reusing it;
    a nonzero ``exit_code`` marks them failed."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            logger.experiment.finish(exit_code=exit_code)


def parser_kwargs() -> dict[str, Any]:
    """The CLI's parser settings. Parse errors raise (``VideoCLI.parse_arguments`` makes them one line) and options
    are never abbreviated: ``--trainer.max_epoch`` would pass as ``max_epochs``, hiding a typo in others. LightningCLI
    gives a subcommand's parser only the settings under its name."""
    shared = {"exit_on_error": False, "allow_abbrev": False}
    return {"prog": "lit-video", **shared, **{  # a usage line of its own: the default lists every option
        name: {**shared, "usage": f"lit-video {name} [-h] [-c CONFIG] [--print_config] [--KEY VALUE ...]"}
        for name in LightningCLI.subcommands()}}


def one_line_error(message: str, parser: Any) -> str:
    """jsonargparse's parse error as one line naming the option and the fix (its own lists every subtype a value
    did not match). An unknown option gets the closest of ``parser``'s, the likely typo."""
    command = parser.prog.replace(" [options]", "")  # jsonargparse's prog of a subcommand: lit-video [options] fit
    known = [name for action in parser._actions for name in action.option_strings]

    def closest(option: str) -> str:  # to a command line's --key or a config file's key, written as it was
        dashes = "--" if option.startswith("-") else ""
        close = difflib.get_close_matches("--" + option.lstrip("-"), known, n=1)
        return f"did you mean {dashes}{close[0][2:]}?" if close else f"`{command} --help` lists them"

    unrecognized = message.removeprefix("unrecognized arguments: ")
    if unrecognized != message:
        given = unrecognized.split()
        option = next((arg.split("=", 1)[0] for arg in given if arg.startswith("-")), None)
        if option is None:
            return f"unexpected argument {given[0]!r}: options are --KEY VALUE (`{command} --help`)"
        return f"unrecognized option {option}; {closest(option)}"
    in_config = re.search(r"does not accept option '([^']+)'", message)  # a key of a config file
    if in_config:
        return f"{' '.join(message.split())}; {closest(in_config[1])}"
    keyed = re.match(r'Parser key "([^"]+)":\s*(.*)', message, re.DOTALL)
    if keyed:
        key, detail = keyed[1], keyed[2].strip()
        value = re.search(r"(?:Given|Got) value: (.*)", detail)
        if value:
            return f"{key}: {value[1].strip()!r} is not a valid value; `{command} --help` shows its type"
        return f"{key}: {' '.join(detail.split())}"
    return " ".join(message.split())


def check_ckpt_path(path: str | None, subcommand: str | None) -> None:
    """A checkpoint that is not there fails before anything is built (Lightning finds out after the data, the model
    and the loggers are set up). Lightning's own names (``last``, ``registry:...``) and URLs are left to it, but
    ``best`` and ``last`` outside ``fit``: they name the checkpoints of a fit in the same process, and validate or
    test, run alone, would take the untrained model (Lightning only warns)."""
    if not path or "://" in path or Path(path).is_file():
        return
    name = path.split(":")[0]
    if name not in LIGHTNING_CKPT_NAMES:
        raise ConfigError(f"ckpt_path {path!r} is not a file; fit prints each checkpoint's path when it ends")
    if name in ("best", "last") and subcommand not in (None, "fit"):
        raise ConfigError(f"ckpt_path {path!r} names the checkpoint of a fit in this process, and {subcommand} runs "
                          "alone: give a checkpoint's path (fit prints it when it ends)")


def complete_from_checkpoint(section: Namespace, checkpoint: Checkpoint) -> dict[str, Any]:
    """Complete ``section``, a run from ``checkpoint`` parsed over its settings (``VideoCLI.trained_defaults``), in
    place, and return the clip settings in it that differ from training, by name. Its model must be the
    checkpoint's (ConfigError: the weights fit no other). A resize left out follows the size, scaling the trained
    one: testing at a higher resolution takes the same view of each frame, in more pixels."""
    if section.model.name != checkpoint.name:
        raise ConfigError(f"model.name {section.model.name}: the checkpoint holds {checkpoint.name}, whose weights "
                          f"fit no other model; leave model.name out")
    data, trained = section.data, checkpoint.clip()
    if data.resize is None and trained.get("resize") is not None:
        data.resize = round(trained["resize"] * data.size / trained["size"])
    return {key: data[key] for key, value in trained.items() if data[key] != value}


def _from_python(**kwargs: Any) -> VideoCLI:
    """A VideoCLI given its config in Python (LightningCLI warns about that whenever sys.argv holds anything)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
        return VideoCLI(**kwargs)


@functools.cache
def _config_parser(task: str) -> Any:
    """The CLI's parser for ``task`` (built once: about a second), raising instead of exiting on a bad config."""
    return _from_python(args={}, run=False, instantiate=False, seed_everything_default=False, task=task).parser


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


def preflight(config: dict[str, Any], datamodules: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
    """Check everything a run of ``config`` can check without training, and fail with ConfigError if it cannot
    train: the config (``resolve_config``), the data (annotations read, every split present, the fingerprint
    computed) and the model with its training options (built on the meta device: no weights, no memory; its
    builder checks its arguments against the clip). ``datamodules`` caches DataModules across calls (a sweep's
    entries share their data). Returns the resolved config and the DataModule."""
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
    return resolved, data


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
