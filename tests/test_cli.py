"""The `lit-video` command end to end: real Trainers, real videos, real (offline) wandb runs."""

import contextlib
import csv
import errno
import inspect
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from helpers import LECTURE

from lit_video.cli import disk_error, main
from lit_video.data import VideoDataModule
from lit_video.train import build_run, fit_and_test

TINY_MODEL = ["--model.name", "single_frame", "--model.model_args", '{"backbone": "shufflenet_v2_x0_5"}']
# What fit and test printed on every run before they were quieted (Lightning's tips, wandb's warnings and run
# summary, Lightning's use of a deprecated torch class, its seed warning); none may come back.
SILENCED = ("Tip:", "litlogger", "litmodels", "anonymous setting", "git root", "LeafSpec", "No seed found",
            "Run history", "Run summary")


def tiny_data(root: Path) -> list[str]:
    return ["--data.root", str(root), "--data.frames", "4", "--data.size", "32", "--data.batch_size", "4",
            "--data.num_workers", "0", "--data.test_clips", "2"]


def lit_video(*args: str, cwd: Path, **popen: object) -> subprocess.Popen:
    """``lit-video ARGS`` in a process of its own, its output piped (not a terminal), as a user runs it."""
    return subprocess.Popen([sys.executable, "-m", "lit_video.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **popen)


def pasted(lines: list[str]) -> list[str]:
    """The words of a command printed over lines continued with a backslash, as a shell reads it pasted."""
    return shlex.split(" ".join(line.removesuffix("\\") for line in lines))


def test_models_command_lists_registry(capsys):
    assert main(["models", "--json"]) == 0
    infos = {info["name"]: info for info in json.loads(capsys.readouterr().out)}
    assert infos["single_frame"]["family"] == "single_frame"
    assert main(["models"]) == 0
    assert "single_frame" in capsys.readouterr().out
    for pattern in ("vivit", "vivit*"):  # a word any name contains, or a glob over whole names
        assert main(["models", "--json", pattern]) == 0
        names = [info["name"] for info in json.loads(capsys.readouterr().out)]
        assert names and all(n.startswith("vivit_") for n in names), pattern


@pytest.mark.integration
def test_fit_then_test_through_the_cli(tiny_dataset, tmp_path, monkeypatch):
    """fit, run as a user runs it, prints none of the messages it used to bury its result under and no ANSI codes
    into a pipe, and ends with the checkpoint and the command that tests it, which runs as printed."""
    monkeypatch.chdir(tmp_path)
    fit = ["fit", *TINY_MODEL, *tiny_data(tiny_dataset), "--trainer.max_epochs", "1",
           "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "2"]
    printed = lit_video(*fit, cwd=tmp_path).communicate(timeout=600)[0]
    ckpts = list(Path("logs/lit_video/version_0/checkpoints").glob("*.ckpt"))
    assert len(ckpts) == 1, printed[-3000:]
    assert "\x1b[" not in printed
    assert not [message for message in SILENCED if message in printed], printed
    assert list(Path("logs/wandb").glob("offline-run-*")), "the default wandb logger writes an offline run"
    lines = printed.rstrip().splitlines()
    # Progress, piped: a line per epoch, not a bar's last state with its metrics wrapped a word a line.
    assert [line for line in lines if line.startswith("epoch ")] == [
        line for line in lines if re.fullmatch(r"epoch 1/1  train/loss [\d.]+  val/loss [\d.]+  val/video_top1 [\d.]+  "
                                                r"0:00:\d\d", line)], printed
    assert sum(line.startswith("epoch ") for line in lines) == 1 and "━" not in printed, printed
    start = next(i for i, line in enumerate(lines) if line.startswith("test it:"))
    assert lines[start - 1] == f"checkpoint: {ckpts[0]}"
    command = pasted([lines[start].removeprefix("test it:"), *lines[start + 1:]])  # the last lines
    assert command == ["lit-video", "test", *fit[1:], "--ckpt_path", str(ckpts[0])]
    assert max(map(len, lines[start:-1])) <= 80  # all but the checkpoint's path, longer alone

    with warnings.catch_warnings(record=True) as caught:  # testing a checkpoint: nothing about fit's callbacks
        warnings.simplefilter("always")
        assert main(command[1:]) == 0
    noise = ("dirpath has changed", "callbacks used to create the checkpoint")
    assert not [str(w.message) for w in caught if any(text in str(w.message) for text in noise)]
    with open("logs/lit_video/version_1/metrics.csv") as f:
        row = {k: v for r in csv.DictReader(f) for k, v in r.items() if v}
    for name in ("test/clip_top1", "test/video_top1", "test/video_top5", "test/mean_class_acc",
                 "test/group_acc/direction", "test/group_acc/appearance"):
        assert 0.0 <= float(row[name]) <= 1.0, name


@pytest.mark.parametrize("option, message", [
    (["--model.name", "single_fram"], "Did you mean: single_frame"),
    (["--data.frames", "0"], "frames"),
    (["--model.name", "c3d", "--model.model_args", "{}"], "'c3d' takes clips of at least 16 frames"),
    (["--model.name", "lecture_3d_cnn", "--model.model_args", "{}", "--data.frames", "2"],
     "not 2 frames at 32x32 px: change data.frames / data.size"),
    (["--model.model_args", '{"frames": 4}'], "model.model_args: frames come from the data"),
    (["--model.model_args", '{"no_such_option": 1}'], "does not take no_such_option"),
    (["--model.lr", "-0.1"], "model.lr must be > 0 (got -0.1)"),
    (["--model.label_smoothing", "1.5"], "model.label_smoothing must be in [0, 1)"),
    # Until stopped: the warm-up and cosine decay have no length to spread over.
    (["--trainer.max_epochs", "-1"], "trainer.max_epochs -1 trains until stopped"),
])
def test_bad_options_fail_before_training_with_a_message(tiny_dataset, tmp_path, monkeypatch, capsys, option,
                                                         message):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *TINY_MODEL, *tiny_data(tiny_dataset), *option]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not Path("logs").exists(), "nothing may start before the configuration is valid"


@pytest.mark.integration
@pytest.mark.parametrize("option, message", [
    (["--model.nme", "c3d"], "unrecognized option --model.nme; did you mean --model.name?"),
    # An abbreviation is refused, not taken for the option it abbreviates: a typo would pass unseen.
    (["--trainer.max_epoch", "1"], "unrecognized option --trainer.max_epoch; did you mean --trainer.max_epochs?"),
    (["--data.frames", "four"], "data.frames: 'four' is not a valid value; `lit-video fit --help` shows its type"),
])
def test_a_mistyped_option_is_one_line_with_the_fix(tiny_dataset, tmp_path, monkeypatch, capfd, option, message):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *TINY_MODEL, *tiny_data(tiny_dataset), *option]) == 2
    out, err = capfd.readouterr()
    assert err == f"lit-video fit: {message}\n" and not out
    assert not Path("logs").exists()


@pytest.mark.integration
@pytest.mark.parametrize("subcommand", ["fit", "validate", "test"])
def test_a_missing_checkpoint_is_one_line_before_anything_starts(tiny_dataset, tmp_path, monkeypatch, capfd,
                                                                  subcommand):
    import wandb

    monkeypatch.chdir(tmp_path)
    assert main([subcommand, *TINY_MODEL, *tiny_data(tiny_dataset), "--ckpt_path", "nope.ckpt"]) == 2
    out, err = capfd.readouterr()
    assert err == f"lit-video {subcommand}: ckpt_path 'nope.ckpt' is not a file; fit prints each checkpoint's " \
                  "path when it ends\n" and not out
    assert wandb.run is None and not Path("logs").exists(), "no wandb run, no logs folder"


@pytest.fixture(scope="module")
def clip_checkpoint(tiny_dataset, tmp_path_factory) -> Path:
    """single_frame trained for a batch on 4 frames at 8 fps, 32 px resized to 32: far from its own default clip
    (8 frames at 5 fps, 112 px), which a test that lost the trained clip would take."""
    folder = tmp_path_factory.mktemp("fit")
    assert main(["fit", *TINY_MODEL, "--data.root", str(tiny_dataset), "--data.frames", "4", "--data.fps", "8",
                 "--data.size", "32", "--data.resize", "32", "--data.batch_size", "4", "--data.num_workers", "0",
                 "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "0",
                 "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                 "--trainer.default_root_dir", str(folder)]) == 0
    return next(folder.rglob("*.ckpt"))


def from_checkpoint(subcommand: str, ckpt: Path, root: Path, folder: Path, *options: str) -> list[str]:
    """``lit-video SUBCOMMAND --data.root ROOT --ckpt_path CKPT``, as a user tests a checkpoint (no clip options),
    quick and without loggers; its config is saved in ``folder``."""
    return [subcommand, "--data.root", str(root), "--data.num_workers", "0", "--data.test_clips", "1",
            "--trainer.limit_test_batches", "1", "--trainer.limit_val_batches", "1", "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(folder), "--ckpt_path",
            str(ckpt), *options]


@pytest.mark.integration
def test_a_checkpoint_is_tested_with_the_model_and_clip_it_was_trained_on(clip_checkpoint, tiny_dataset, tmp_path,
                                                                          caplog):
    import yaml

    assert main(from_checkpoint("test", clip_checkpoint, tiny_dataset, tmp_path / "test")) == 0
    config = yaml.safe_load((tmp_path / "test" / "config.yaml").read_text())
    clip = {key: config["data"][key] for key in ("frames", "fps", "size", "resize")}
    assert clip == {"frames": 4, "fps": 8.0, "size": 32, "resize": 32}
    assert config["model"]["model_args"] == {"backbone": "shufflenet_v2_x0_5"}
    said = [message for message in caplog.messages if " trained" in message]  # Lightning's log: its info lines
    assert said == ["testing single_frame, trained on 4 frames at 8 fps, 32 px (resized to 32)"]  # no change
    caplog.clear()

    # A setting given is used, and where it differs from training that is said in one line; the resize follows the
    # size (the same view of the frame, in more pixels).
    assert main(from_checkpoint("validate", clip_checkpoint, tiny_dataset, tmp_path / "val", "--data.size", "48")) == 0
    config = yaml.safe_load((tmp_path / "val" / "config.yaml").read_text())
    assert (config["data"]["size"], config["data"]["resize"], config["data"]["frames"]) == (48, 48, 4)
    said = [message for message in caplog.messages if " trained" in message]
    assert said == ["validating single_frame, trained on 4 frames at 8 fps, 32 px (resized to 32)\n"
                    "validating at data.size 48 (trained at 32), data.resize 48 (trained at 32)"]


def without_a_class(root: Path, folder: Path) -> list[str]:
    """Options for the data at ``root`` less its first class (three of four): annotations of its own in ``folder``."""
    folder.mkdir()
    for split in ("train", "val", "test"):
        rows = (root / "annotations" / f"{split}.csv").read_text().splitlines()
        (folder / f"{split}.csv").write_text("\n".join(row for row in rows if not row.startswith("solid,")) + "\n")
    return ["--data.annotations", str(folder)]


def rebuilt_checkpoint(ckpt: Path, folder: Path, backbone: str) -> Path:
    """``ckpt`` saying its model had another backbone than the one its weights are of."""
    saved = torch.load(ckpt, weights_only=True)
    saved["hyper_parameters"]["model_args"] = {"backbone": backbone}
    torch.save(saved, folder / "rebuilt.ckpt")
    return folder / "rebuilt.ckpt"


@pytest.mark.integration
@pytest.mark.parametrize("case, message", [
    ("--model.name slow_fusion", "model.name slow_fusion: the checkpoint holds single_frame"),
    ("three classes", "the checkpoint's single_frame has 4 classes; the data has 3"),
    ("another backbone", "does not match VideoClassifier: shapes differ, model."),
    ("truncated", "cannot be read (PytorchStreamReader failed"),
    # Lightning's names for a checkpoint of a fit in the same process: a test has none (it tested random weights).
    ("last", "ckpt_path 'last' names the checkpoint of a fit in this process"),
])
def test_a_checkpoint_that_does_not_fit_the_command_is_one_line(clip_checkpoint, tiny_dataset, tmp_path, capfd,
                                                                case, message):
    ckpt, options = clip_checkpoint, []
    if case.startswith("--"):
        options = case.split()
    elif case == "three classes":
        options = without_a_class(tiny_dataset, tmp_path / "annotations")
    elif case == "another backbone":
        ckpt = rebuilt_checkpoint(ckpt, tmp_path, "resnet18")
    elif case == "truncated":
        ckpt = tmp_path / "truncated.ckpt"
        ckpt.write_bytes(clip_checkpoint.read_bytes()[:4096])
    else:
        ckpt = case
    assert main(from_checkpoint("test", ckpt, tiny_dataset, tmp_path / "logs", *options)) == 2
    err = capfd.readouterr().err
    line = next(line for line in err.splitlines() if line.startswith("lit-video test: "))
    assert message in line and "Traceback" not in err, err
    assert not (tmp_path / "logs").exists(), "nothing tested"


@pytest.mark.integration
def test_fit_help_describes_every_option_within_80_columns(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as done:
        main(["fit", "--help"])
    assert done.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= 80
    described: dict[str, list[str]] = {}  # option -> the lines of its help
    current: list[str] = []
    for line in lines:
        if re.match(r"  --(data|model)\.\w+", line):  # the option, then its help on this line or the next ones
            option, *text = re.split(r"\s{2,}", line.strip(), maxsplit=1)
            current = described[option.split()[0]] = text
        elif line.startswith(" " * 10) and line.strip():
            current.append(line.strip())
        else:
            current = []
    data_options = {f"--data.{name}" for name in inspect.signature(VideoDataModule).parameters}
    assert data_options <= described.keys() and "--model.name" in described
    for option, text in described.items():
        assert re.sub(r"\(type: .*\)$", "", " ".join(text)).strip(), f"{option} has no description"
    assert "built-in" in " ".join(described["--data.root"])


@pytest.mark.integration
@pytest.mark.slow  # a process of its own, fitting until its first checkpoint: half a minute on 2 busy cores
def test_ctrl_c_during_fit_says_what_was_kept_and_how_to_resume(tiny_dataset, tmp_path):
    fit = ["fit", *TINY_MODEL, *tiny_data(tiny_dataset), "--trainer.max_epochs", "10000",
           "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1"]
    # Ctrl-C reaches a process as SIGINT, which a child started from a non-interactive shell may ignore: reset it.
    run = lit_video(*fit, cwd=tmp_path, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    checkpoints = tmp_path / "logs" / "lit_video" / "version_0" / "checkpoints"
    deadline = time.monotonic() + 300
    while not list(checkpoints.glob("*.ckpt")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    run.send_signal(signal.SIGINT)
    printed = run.communicate(timeout=120)[0]
    assert run.returncode == 130, printed[-3000:]
    lines = printed.rstrip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("resume:"))
    assert lines[start - 1] == "interrupted: kept the logs in logs/lit_video/version_0 and the last checkpoint"
    command = pasted([lines[start].removeprefix("resume:"), *lines[start + 1:]])
    assert command[:-1] == ["lit-video", *fit, "--ckpt_path"]
    assert (tmp_path / command[-1]).is_file() and Path(command[-1]).parent == checkpoints.relative_to(tmp_path)
    assert "Traceback" not in printed and "\x1b[" not in printed


@pytest.mark.integration
def test_default_root_dir_holds_the_logs_checkpoints_and_wandb_runs(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fit = ["fit", *TINY_MODEL, *tiny_data(tiny_dataset), "--trainer.max_epochs", "1",
           "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1",
           "--trainer.default_root_dir", "elsewhere"]
    assert main(fit) == 0
    assert len(list(Path("elsewhere/lit_video/version_0/checkpoints").glob("*.ckpt"))) == 1
    assert (Path("elsewhere/lit_video/version_0/metrics.csv")).is_file()
    assert list(Path("elsewhere/wandb").glob("offline-run-*"))
    assert not Path("logs").exists()


@pytest.mark.integration
def test_runs_without_a_logger_follow_each_other_in_one_folder(tiny_dataset, tmp_path, monkeypatch):
    """Without a logger the config is saved in default_root_dir itself; the next run there replaces it."""
    monkeypatch.chdir(tmp_path)
    fit = ["fit", *TINY_MODEL, *tiny_data(tiny_dataset), "--trainer.logger", "false", "--trainer.max_epochs", "1",
           "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "0"]
    assert main(fit) == 0
    assert main([*fit, "--model.lr", "0.01"]) == 0
    assert "lr: 0.01" in Path("logs/config.yaml").read_text()


@pytest.mark.integration
def test_the_models_clip_defaults_reach_the_data(tiny_dataset, tmp_path, monkeypatch):
    """C3D's default clip is 16 frames: left out of the data config, that is what the data delivers."""
    monkeypatch.chdir(tmp_path)
    data = {"root": str(tiny_dataset), "size": 32, "batch_size": 2, "num_workers": 0, "test_clips": 1}
    run = build_run({"model": {"name": "c3d"}, "data": data, "trainer": {"logger": False}})
    assert run.datamodule.frames == run.model.hparams.frames == 16
    assert run.datamodule.fps == 25.0 and run.datamodule.size == 32  # given settings win
    run = build_run({"model": {"name": "c3d"}, "data": {**data, "frames": 20}, "trainer": {"logger": False}})
    assert run.datamodule.frames == run.model.hparams.frames == 20
    fit = ["fit", "--model.name", "c3d", "--data.root", str(tiny_dataset), "--data.size", "32",
           "--data.batch_size", "2", "--data.num_workers", "0", "--trainer.fast_dev_run", "true"]
    assert main(fit) == 0


@pytest.mark.integration
def test_fit_and_test_is_deterministic_for_a_seed(tiny_dataset, tmp_path):
    config = {
        "seed_everything": 3, "model": {"name": "lecture_late_fusion"},
        "data": {"root": str(tiny_dataset), "frames": 4, "size": 32, "batch_size": 4, "num_workers": 0,
                 "test_clips": 2},
        "trainer": {"max_epochs": 1, "limit_train_batches": 3, "limit_val_batches": 0,
                    "enable_progress_bar": False, "logger": False},
    }
    first, second = (fit_and_test(build_run({**config, "trainer": {**config["trainer"], "default_root_dir": str(d)}}))
                     for d in (tmp_path / "a", tmp_path / "b"))
    assert first["metrics"] == second["metrics"]
    assert first["config"]["model"]["num_classes"] == 4
    assert first["train_time_s"] > 0 and first["skipped"] == 0


@pytest.mark.integration
def test_multi_label_data_reports_hit_at_k(tiny_dataset, tmp_path):
    """Sports-1M-style partition files with several labels per video train with a sigmoid loss and hit@k."""
    videos = sorted((tiny_dataset / "train").rglob("*.mp4"))[:8]
    (tmp_path / "labels.txt").write_text("a\nb\nc\n")
    lines = [f"{video} {i % 3},{(i + 1) % 3}" for i, video in enumerate(videos)]
    for split in ("train", "val", "test"):
        (tmp_path / f"{split}_partition.txt").write_text("\n".join(lines) + "\n")
    data = {"root": str(tiny_dataset), "annotations": str(tmp_path), "format": "sports1m", "frames": 2,
            "size": 32, "batch_size": 4, "num_workers": 0, "test_clips": 1}
    trainer = {"max_epochs": 1, "limit_train_batches": 1, "limit_val_batches": 0, "enable_progress_bar": False,
               "logger": False, "default_root_dir": str(tmp_path / "logs")}
    result = fit_and_test(build_run({"model": {"name": "lecture_late_fusion"}, "data": data, "trainer": trainer}))
    assert 0.0 <= result["metrics"]["test/video_hit1"] <= result["metrics"]["test/video_hit5"] <= 1.0
    assert "test/video_top1" not in result["metrics"]


CONFIGS = Path(__file__).parents[1] / "configs"


def assert_within(given, resolved, where: str) -> None:
    """Every setting of ``given`` (a config file's) is in ``resolved`` with the same value; ``resolved`` may add
    defaults (a logger's init_args, say)."""
    if isinstance(given, dict):
        assert isinstance(resolved, dict), where
        for key, value in given.items():
            assert key in resolved, f"{where}.{key} is missing"
            assert_within(value, resolved[key], f"{where}.{key}")
    elif isinstance(given, list):
        assert isinstance(resolved, list) and len(resolved) == len(given), where
        for i, (a, b) in enumerate(zip(given, resolved, strict=True)):
            assert_within(a, b, f"{where}[{i}]")
    else:
        assert resolved == given, f"{where}: {resolved!r}, not the file's {given!r}"


@pytest.mark.parametrize("trainer", sorted(p.name for p in (CONFIGS / "trainer").glob("*.yaml")))
def test_a_trainer_config_composed_with_a_data_config_keeps_both_files_settings(tiny_dataset, trainer, capsys):
    """As README.md composes them (``--config configs/data/kinetics400.yaml --config configs/trainer/ddp.yaml``):
    the run's config holds every setting of both files (the trainer file's data settings, pin_memory, join the data
    file's rather than replace them), and it passes the CLI's parser and checks."""
    import yaml

    from lit_video.train import resolve_config

    files = [CONFIGS / "data" / "kinetics400.yaml", CONFIGS / "trainer" / trainer]
    with pytest.raises(SystemExit) as done:
        main(["fit", "--config", str(files[0]), "--config", str(files[1]), "--data.root", str(tiny_dataset),
              "--print_config"])
    assert done.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    for file in files:
        given = yaml.safe_load(file.read_text())
        given["data"] = {key: value for key, value in given.get("data", {}).items() if key != "root"}  # given here
        assert_within(given, config, file.name)
    run = {key: value for key, value in config.items() if key not in ("ckpt_path", "weights_only")}  # fit's own
    resolve_config(run)  # raises ConfigError for a setting the CLI's checks refuse


@pytest.mark.parametrize(("code", "way"), [(errno.ENOSPC, "free some space there, or write elsewhere"),
                                           (errno.EROFS, "write elsewhere, or mount it writable"),
                                           (errno.EACCES, "write elsewhere, or get permission to write there")])
def test_a_file_system_that_refuses_a_file_is_one_line_naming_it(code, way):
    """What every command ends with where the disk is full, read-only or not the user's: the file, the reason and
    the way out (a full disk's write names no file: ``write_atomic`` names the one it was writing)."""
    refused = OSError(code, os.strerror(code), "my_results/small/.lock")
    assert disk_error("sweep", refused) == f"lit-video sweep: my_results/small/.lock: {os.strerror(code)}: {way}"
    assert disk_error("sweep", FileNotFoundError(errno.ENOENT, "No such file or directory", "x")) is None


@pytest.fixture
def small_disk(tmp_path):
    """A file system of its own of 64 KiB (tmpfs), unmounted after. Mounting needs root: skipped without."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True,
                                 text=True)
        why = mounted.stderr.strip() if mounted.returncode else None
    except FileNotFoundError as err:
        why = str(err)
    if why:
        pytest.skip(f"no tmpfs can be mounted here ({why}); disk_error's test checks the line")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_and_a_read_only_one_end_in_one_line_and_leave_the_file_as_it_was(small_disk, capsys):
    out = small_disk / "claims.md"
    out.write_text("the report as it was\n")
    command = ["report", "lecture-claims", str(LECTURE), "--out", str(out)]
    with (small_disk / "filler").open("wb", buffering=0) as filler, contextlib.suppress(OSError):
        while True:  # until every block of the disk is taken
            filler.write(b"\0" * 4096)
    assert main(command) == 1
    assert capsys.readouterr().err == (f"lit-video report: {out}: No space left on device: free some space there, or "
                                       "write elsewhere\n")
    assert out.read_text() == "the report as it was\n" and sorted(p.name for p in small_disk.iterdir()) == [
        "claims.md", "filler"]  # no temporary file left
    (small_disk / "filler").unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    assert main(command) == 1
    assert capsys.readouterr().err == (f"lit-video report: {out}: Read-only file system: write elsewhere, or mount "
                                       "it writable\n")
    assert out.read_text() == "the report as it was\n"
