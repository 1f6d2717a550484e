"""`lit-video visualize`: class-model inputs and saliency from real checkpoints, written as files a person can
watch. The checks of what the pictures show, on models trained on the built-in data, are in
test_visualize_trained.py (slow)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from lit_video.cli import main
from lit_video.data.decode import read_frames
from lit_video.visualize import load_trained_model
from lit_video.visualize.class_model import ClassModelSettings, class_model, motion_energy
from lit_video.visualize.saliency import saliency

pytestmark = pytest.mark.integration  # every test visualises a checkpoint lit-video fit wrote


def fit_checkpoint(root: Path, folder: Path, *model: str) -> Path:
    """A checkpoint of a model trained for a few batches on the tiny dataset (lit-video fit)."""
    args = ["fit", *model, "--data.root", str(root), "--data.frames", "4", "--data.fps", "8", "--data.size", "32",
            "--data.batch_size", "4", "--data.num_workers", "0", "--trainer.max_epochs", "1",
            "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1", "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(folder)]
    assert main(args) == 0
    return next(folder.rglob("*.ckpt"))


@pytest.fixture(scope="module")
def checkpoint(tiny_dataset, tmp_path_factory) -> Path:
    return fit_checkpoint(tiny_dataset, tmp_path_factory.mktemp("fit"), "--model.name", "lecture_3d_cnn")


def test_class_model_through_the_cli_writes_clips_strips_and_the_appearance_and_motion(checkpoint, tmp_path):
    assert main(["visualize", "class-model", "--ckpt", str(checkpoint), "--class", "move_right",
                 "--temporal-penalty", "0", "10", "--steps", "4", "--out", str(tmp_path), "--wandb", "offline"]) == 0
    assert list((tmp_path / "wandb").glob("offline-run-*/files/media/videos/**/*.gif"))  # the clips, as wandb.Video
    for weight in ("0", "10"):
        folder = tmp_path / "move_right" / f"temporal-{weight}"
        gif = Image.open(folder / "clip.gif")
        assert gif.n_frames == 4 and gif.size == (256, 256)  # 4 frames of 32 px, drawn 8x larger
        assert read_frames(folder / "clip.mp4", [0, 3], "pyav").shape == (2, 256, 256, 3)
        assert Image.open(folder / "strip.png").size == (4 * 256 + 3 * 4, 2 * 256 + 4)  # clip over its motion
        assert Image.open(folder / "appearance.png").size == (256, 256)
        assert Image.open(folder / "motion.gif").n_frames == 4
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["settings"]["temporal"] == float(weight) and 0 <= summary["probability"] <= 1


def test_an_unknown_class_fails_with_the_model_s_classes(checkpoint, tmp_path, capsys):
    assert main(["visualize", "class-model", "--ckpt", str(checkpoint), "--class", "move_sideways",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "move_sideways" in err and "move_right" in err
    assert main(["visualize", "saliency", "--ckpt", str(tmp_path / "none.ckpt"), "x.mp4"]) == 2


def test_class_models_are_seeded_and_a_higher_temporal_penalty_moves_less(checkpoint):
    model = load_trained_model(checkpoint)
    target = model.class_index("move_right")
    clips = {w: class_model(model, target, ClassModelSettings(steps=30, temporal=w))["rgb"] for w in (0, 1, 10, 100)}
    energies = [motion_energy(clip) for clip in clips.values()]
    assert energies == sorted(energies, reverse=True) and energies[0] > 2 * energies[-1]
    again = class_model(model, target, ClassModelSettings(steps=30, temporal=0))["rgb"]
    assert again.equal(clips[0])


def test_saliency_through_the_cli_for_the_predicted_and_a_chosen_class(checkpoint, tiny_dataset, tmp_path):
    video = sorted((tiny_dataset / "test").rglob("*.mp4"))[0]
    assert main(["visualize", "saliency", "--ckpt", str(checkpoint), str(video), "--class", "move_left",
                 "--out", str(tmp_path)]) == 0
    folders = sorted(p.parent for p in (tmp_path / video.stem).rglob("saliency.json"))
    roles = {json.loads((f / "saliency.json").read_text())["role"] for f in folders}
    assert roles <= {"predicted", "chosen"} and "predicted" in roles
    for folder in folders:
        result = json.loads((folder / "saliency.json").read_text())
        assert len(result["per_frame"]) == len(result["frame_indices"]) == 4
        assert sum(result["per_frame"]) == pytest.approx(1, abs=1e-3)
        assert result["peak_frame"] in result["frame_indices"]
        assert Image.open(folder / "heat.gif").n_frames == 4
        assert (folder / "per_frame.png").is_file() and (folder / "strip.png").is_file()


def test_a_two_stream_model_shows_its_optical_flow_on_the_colour_wheel(tiny_dataset, tmp_path):
    ckpt = fit_checkpoint(tiny_dataset, tmp_path / "fit", "--model.name", "two_stream", "--model.model_args",
                          '{"backbone": "cifar_resnet8_s2"}')
    assert main(["visualize", "class-model", "--ckpt", str(ckpt), "--class", "move_left", "--temporal-penalty", "1",
                 "--steps", "3", "--out", str(tmp_path / "out")]) == 0
    folder = tmp_path / "out" / "move_left" / "temporal-1"
    assert Image.open(folder / "flow.gif").n_frames == 3  # flow between 4 frames
    assert Image.open(folder / "strip.png").size[1] == 3 * 256 + 2 * 4  # clip, motion, flow
    # Saliency takes the video's flow as training did (computed into the cache on demand).
    video = sorted((tiny_dataset / "test").rglob("*.mp4"))[0]
    result = saliency(load_trained_model(ckpt), video)
    assert result.heat.shape == (4, 32, 32) and result.flow_heat.shape == (3, 32, 32)
    assert result.flow_heat.sum() > 0


def damaged_checkpoint(kind: str, checkpoint: Path, folder: Path) -> Path:
    """A file given as a checkpoint that is not a usable lit-video one."""
    path = folder / f"{kind}.ckpt"
    if kind == "missing":
        return path
    if kind == "a folder":
        path.mkdir()
    elif kind == "truncated":
        data = checkpoint.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "text":
        path.write_text("epoch: 3\n")
    elif kind == "bare weights":  # a state dict without the settings that built it (torchvision's .pth files)
        torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    elif kind == "another model's weights":  # the settings of one model, the weights of another
        saved = torch.load(checkpoint, weights_only=True)
        saved["hyper_parameters"]["name"] = "lecture_late_fusion"
        torch.save(saved, path)
    return path


@pytest.mark.parametrize("kind", ["missing", "a folder", "truncated", "text", "bare weights",
                                  "another model's weights"])
def test_a_checkpoint_that_cannot_be_used_is_one_line(checkpoint, tmp_path, capfd, kind):
    path = damaged_checkpoint(kind, checkpoint, tmp_path)
    out = tmp_path / "out"
    assert main(["visualize", "class-model", "--ckpt", str(path), "--class", "move_right", "--steps", "1",
                 "--out", str(out)]) == 2
    err = capfd.readouterr().err
    assert err.startswith(f"lit-video visualize: checkpoint {str(path)!r}") and err.count("\n") == 1, err
    assert not out.exists()


def unreadable_video(kind: str, folder: Path) -> Path:
    """A file given as a video that no decoder can read."""
    path = folder / ("audio.m4a" if kind == "audio only" else f"{kind}.mp4")
    if kind == "empty":
        path.touch()
    elif kind == "text":
        path.write_text("not a video\n")
    elif kind == "a FIFO":
        os.mkfifo(path)
    elif kind == "a folder":
        path.mkdir()
    elif kind == "audio only":
        with av.open(str(path), "w") as container:
            stream = container.add_stream("aac", rate=16000, layout="mono")
            for i in range(4):
                frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 16000, i * 1024
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("kind", ["empty", "text", "audio only", "a FIFO", "a folder"])
def test_saliency_of_a_video_that_cannot_be_read_is_one_line(checkpoint, tmp_path, capfd, kind):
    video = unreadable_video(kind, tmp_path)
    out = tmp_path / "out"
    assert main(["visualize", "saliency", "--ckpt", str(checkpoint), str(video), "--out", str(out),
                 "--wandb", "offline"]) == 2
    err = capfd.readouterr().err
    # decord's own C++ log may come first (an "ERROR opening" line, outside Python); ours is the one line after it.
    assert err.splitlines()[-1].startswith(f"lit-video visualize: cannot read video {str(video)!r}"), err
    assert "Traceback" not in err and err.count("lit-video visualize:") == 1, err
    assert not out.exists(), "nothing is written, no wandb run started"
