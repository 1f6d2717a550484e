"""The `lit-video` command end to end: real Trainers, real videos, real (offline) wandb runs."""

import csv
import json
from pathlib import Path

import pytest

from lit_video.cli import main
from lit_video.train import build_run, fit_and_test

TINY_MODEL = ["--model.name", "single_frame", "--model.model_args", '{"backbone": "shufflenet_v2_x0_5"}']


def tiny_data(root: Path) -> list[str]:
    return ["--data.root", str(root), "--data.frames", "4", "--data.size", "32", "--data.batch_size", "4",
            "--data.num_workers", "0", "--data.test_clips", "2"]


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
def test_fit_then_test_through_the_cli(tiny_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    fit = ["fit", *TINY_MODEL, *tiny_data(tiny_dataset), "--trainer.max_epochs", "1",
           "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "2"]
    assert main(fit) == 0
    ckpts = list(Path("logs/lit_video/version_0/checkpoints").glob("*.ckpt"))
    assert len(ckpts) == 1 and f"--ckpt_path {ckpts[0]}" in capsys.readouterr().out
    assert list(Path("logs/wandb").glob("offline-run-*")), "the default wandb logger writes an offline run"

    assert main(["test", *TINY_MODEL, *tiny_data(tiny_dataset), "--ckpt_path", str(ckpts[0])]) == 0
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
])
def test_bad_options_fail_before_training_with_a_message(tiny_dataset, tmp_path, monkeypatch, capsys, option,
                                                         message):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *TINY_MODEL, *tiny_data(tiny_dataset), *option]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not Path("logs").exists(), "nothing may start before the configuration is valid"


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
