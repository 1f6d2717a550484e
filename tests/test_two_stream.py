"""Two-stream networks end to end: flow batches from the DataModule, the model's named outputs (each stream and
their fusion), training one stream or both, the fusion weight chosen on validation, per-stream and fused metrics,
the CLI and the sweep's rows, and (slow) the temporal stream beating the spatial one on motion classes of the built-in
data."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import lightning as L
import pytest
import torch

from lit_video.cli import main
from lit_video.data import VideoDataModule, write_synthetic_dataset
from lit_video.data.flow import flow_cache_file, flow_gaps
from lit_video.models import create_model
from lit_video.results.leaderboard import leaderboard, to_markdown
from lit_video.results.schema import make_row, metric_fields
from lit_video.tasks import VideoClassifier
from lit_video.tasks.fusion import WEIGHTS, FusionWeightSearch

TINY = {"backbone": "cifar_resnet8_s2"}


def flow_data(root: Path, **overrides) -> VideoDataModule:
    options = dict(root=str(root), frames=4, fps=8.0, size=32, batch_size=4, num_workers=0, test_clips=2,
                   modalities=["rgb", "flow"])
    return VideoDataModule(**{**options, **overrides})


def test_a_flow_model_gets_rgb_and_the_flow_between_its_frames(tiny_dataset):
    data = flow_data(tiny_dataset)
    data.prepare_data()
    for path, probe in data._probe().items():  # every video's flow is in the cache, for the gaps of 8 fps clips
        assert all(flow_cache_file(path, data.flow_settings, gap=g).is_file() for g in flow_gaps(probe.fps, 8.0))
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert batch["video"]["rgb"].shape == (4, 3, 4, 32, 32)
    assert batch["video"]["flow"].shape == (4, 2, 3, 32, 32)  # T - 1 fields (dx, dy) between the 4 frames
    # direction's plus sign moves left or right: the flow's horizontal part dominates its vertical part.
    names = data.class_names
    moving = [i for i, label in enumerate(batch["label"].tolist()) if names[label].startswith("move_")]
    flow = batch["video"]["flow"]
    for i in moving:
        assert flow[i, 0].abs().amax() > flow[i, 1].abs().amax()


def test_flow_options_fail_at_construction(tiny_dataset):
    with pytest.raises(ValueError, match="data.flow_method 'lucas' is not one of dis, farneback, tvl1"):
        flow_data(tiny_dataset, flow_method="lucas")
    with pytest.raises(ValueError, match="data.frames must be >= 2 for optical flow"):
        flow_data(tiny_dataset, frames=1)
    with pytest.raises(ValueError, match="data.modalities \\['depth'\\]: choose from rgb, flow"):
        flow_data(tiny_dataset, modalities=["depth"])


def test_the_streams_see_one_frame_and_the_flow_stack_and_fusion_averages_probabilities():
    torch.manual_seed(0)
    model = create_model("two_stream", 5, frames=4, **TINY).eval()
    x = {"rgb": torch.randn(2, 3, 4, 32, 32), "flow": torch.randn(2, 2, 3, 32, 32)}
    with torch.no_grad():
        logits = model(x)
        assert set(logits) == {"rgb", "flow", "fused"}  # the registry's outputs for two_stream
        centre = x["rgb"][:, :, 2:3]  # the spatial stream sees the centre frame only
        torch.testing.assert_close(logits["rgb"], model.streams["rgb"](centre))
        other = {**x, "rgb": x["rgb"].clone()}
        other["rgb"][:, :, [0, 1, 3]] = 0  # the other frames do not matter
        torch.testing.assert_close(model(other)["rgb"], logits["rgb"])
        p_rgb, p_flow = logits["rgb"].softmax(-1), logits["flow"].softmax(-1)
        torch.testing.assert_close(logits["fused"].softmax(-1), (p_rgb + p_flow) / 2)  # what the task scores
        streams = {"rgb": logits["rgb"], "flow": logits["flow"]}
        torch.testing.assert_close(model.fuse(streams, 0.8).exp(), 0.8 * p_rgb + 0.2 * p_flow)
        torch.testing.assert_close(model.fuse(streams, 1.0).exp(), p_rgb)
    with pytest.raises(ValueError, match="temporal stream was built for stacks of 3 frames.*frames=4"):
        model({"rgb": x["rgb"], "flow": torch.randn(2, 2, 4, 32, 32)})


def test_the_temporal_stream_can_start_from_rgb_weights_averaged_over_colour(tmp_path):
    """Cross-modality initialisation (TSN): a flow stack of identical fields through the fused first conv gives the
    RGB conv's response to a grey image of that value."""
    spatial = create_model("single_frame", 5, **TINY)
    weights = tmp_path / "trunk.pth"
    torch.save(spatial.backbone.trunk.state_dict(), weights)
    model = create_model("two_stream", 5, frames=4, backbone="cifar_resnet8_s2", pretrained=str(weights))
    rgb_conv, flow_conv = spatial.backbone.trunk[0], model.streams["flow"].backbone.trunk[0]
    assert flow_conv.in_channels == 2 * 3
    field = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        grey = rgb_conv(field.expand(1, 3, 16, 16)) * 2 / 3  # 2 channels where RGB has 3, weights averaged
        torch.testing.assert_close(flow_conv(field.expand(1, 6, 16, 16)), grey, rtol=1e-4, atol=1e-5)


def test_multi_label_fusion_averages_the_sigmoids():
    torch.manual_seed(0)
    model = create_model("two_stream", 5, frames=4, multi_label=True, **TINY).eval()
    x = {"rgb": torch.randn(2, 3, 4, 32, 32), "flow": torch.randn(2, 2, 3, 32, 32)}
    with torch.no_grad():
        out = model(x)
    torch.testing.assert_close(out["fused"].sigmoid(), (out["rgb"].sigmoid() + out["flow"].sigmoid()) / 2)


def test_stream_options_are_checked_before_training():
    for name, streams, error, match in (
            ("two_stream", ["motion"], ValueError, r"train_streams \['motion'\]: choose one or both of rgb, flow"),
            ("single_frame", ["rgb"], TypeError, "model 'single_frame' does not take train_streams")):
        with pytest.raises(error, match=match):
            VideoClassifier(name, num_classes=4, frames=4, size=32, model_args={**TINY, "train_streams": streams})


def test_training_one_stream_leaves_the_other_as_it_was():
    """The task trains the outputs a model returns in training but the fused one: here the flow stream's alone."""
    torch.manual_seed(0)
    module = VideoClassifier("two_stream", num_classes=4, frames=4, size=32,
                             model_args={**TINY, "train_streams": ["flow"]})
    batch = {"video": {"rgb": torch.randn(4, 3, 4, 32, 32), "flow": torch.randn(4, 2, 3, 32, 32)},
             "label": torch.tensor([0, 1, 2, 3]), "video_index": torch.arange(4)}
    assert module.model.eval().running_streams == ("rgb", "flow")  # nothing trained yet: both evaluated
    module.log = module.log_dict = lambda *args, **kwargs: None  # no Trainer to log to
    module.train().training_step(batch, 0).backward()
    assert all(p.grad is None for p in module.model.streams["rgb"].parameters())
    assert all(p.grad is not None for p in module.model.streams["flow"].parameters())
    assert module.model.eval().running_streams == ("flow",)  # the model remembers what it has trained
    assert set(module.named_outputs(batch["video"])) == {"flow", "fused"}


class _Validated:
    """What FusionWeightSearch reads of a module: its model's fusion weight and each output's video-level
    probabilities of the validation epoch."""

    def __init__(self, model, probs, labels):
        from lit_video.tasks.classification import VideoProbs

        self.model, self.hparams, self.logged = model, type("H", (), {"multi_label": False, "name": "two_stream"}), {}
        self._probs = {name: VideoProbs(torch.arange(len(labels)), p, labels) for name, p in probs.items()}

    def video_probs(self, stage):
        return self._probs

    def log(self, name, value, **kwargs):
        self.logged[name] = value


def test_the_fusion_weight_chosen_on_validation_is_the_best_nearest_the_average():
    model = create_model("two_stream", 2, frames=4, **TINY)
    trainer = type("T", (), {"sanity_checking": False})()
    labels = torch.tensor([0, 0, 1, 1])
    # The flow stream is right on every video, unsurely (0.6); the rgb stream surely (0.9), and wrong on two: the
    # fusion is right on all four while w * 0.1 + (1 - w) * 0.6 > 0.5, for w < 0.2; of 0, 0.05, 0.1, 0.15 the
    # nearest to 0.5 wins.
    flow = torch.tensor([[0.6, 0.4], [0.6, 0.4], [0.4, 0.6], [0.4, 0.6]])
    rgb = torch.tensor([[0.9, 0.1], [0.1, 0.9], [0.1, 0.9], [0.9, 0.1]])
    for probs, best in (({"rgb": rgb, "flow": flow}, 0.15), ({"rgb": flow, "flow": rgb}, 0.85)):
        module = _Validated(model, probs, labels)
        FusionWeightSearch().on_validation_epoch_end(trainer, module)
        assert float(model.fusion_weight) == pytest.approx(best) == module.logged["val/fusion_weight"]
    assert len(WEIGHTS) == 21 and math.isclose(float(WEIGHTS[1]), 0.05, abs_tol=1e-6)
    with pytest.raises(ValueError, match="'single_frame' has no fusion_weight"):
        module = _Validated(create_model("single_frame", 2, **TINY), {}, labels)
        module.hparams.name = "single_frame"
        FusionWeightSearch().on_validation_epoch_end(trainer, module)


@pytest.mark.integration
def test_fit_and_test_through_the_cli_one_stream_then_the_other(tiny_dataset, tmp_path, monkeypatch):
    """The paper's schedule: the spatial stream first, then the temporal stream starting from that checkpoint; the
    second run's test reports both streams and their fusion."""
    monkeypatch.chdir(tmp_path)
    common = ["--model.name", "two_stream", "--model.model_args", '{"backbone": "cifar_resnet8_s2"}',
              "--data.root", str(tiny_dataset), "--data.frames", "4", "--data.fps", "8", "--data.size", "32",
              "--data.batch_size", "4", "--data.num_workers", "0", "--data.test_clips", "2",
              "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"]
    rgb = ["--model.model_args", '{"backbone": "cifar_resnet8_s2", "train_streams": ["rgb"]}']
    assert main(["fit", *common, *rgb, "--trainer.default_root_dir", "rgb"]) == 0
    (first,) = Path("rgb/lit_video/version_0/checkpoints").glob("*.ckpt")
    flow = ["--model.model_args", '{"backbone": "cifar_resnet8_s2", "train_streams": ["flow"]}']
    assert main(["fit", *common, *flow, "--model.init_weights", str(first),
                 "--trainer.callbacks+=FusionWeightSearch", "--trainer.default_root_dir", "flow"]) == 0
    (second,) = Path("flow/lit_video/version_0/checkpoints").glob("*.ckpt")
    with open("flow/lit_video/version_0/metrics.csv") as f:  # the callback chose a weight on validation
        assert any(r.get("val/fusion_weight") for r in csv.DictReader(f))
    assert main(["test", *common, "--ckpt_path", str(second), "--trainer.default_root_dir", "test"]) == 0
    with open("test/lit_video/version_0/metrics.csv") as f:
        row = {k: float(v) for r in csv.DictReader(f) for k, v in r.items() if v and k.startswith("test/")}
    for name in ("test/video_top1", "test/video_top1_rgb", "test/video_top1_flow", "test/group_acc_flow/direction",
                 "test/group_acc_rgb/appearance", "test/clip_top1"):
        assert 0.0 <= row[name] <= 1.0, name
    with open("rgb/lit_video/version_0/metrics.csv") as f:  # the first run trained, and so reports, rgb alone
        first_metrics = {k for r in csv.DictReader(f) for k, v in r.items() if v}
    assert "val/video_top1_rgb" in first_metrics and "val/video_top1_flow" not in first_metrics


def test_rows_and_the_leaderboard_carry_each_streams_accuracy():
    metrics = {"test/video_top1": 0.9, "test/video_top1_rgb": 0.5, "test/video_top1_flow": 0.7,
               "test/group_acc_rgb/appearance": 1.0, "test/group_acc_flow/direction": 0.95}
    streams = metric_fields(metrics)["stream_acc"]
    assert streams == {"rgb": {"video_top1": 0.5, "group_acc": {"appearance": 1.0}},
                       "flow": {"video_top1": 0.7, "group_acc": {"direction": 0.95}}}
    assert metric_fields({"test/video_top1": 0.9})["stream_acc"] is None
    rows = [make_row(model="two_stream", family="two_stream", dataset="d", frames=8, fps=8.0, size=32,
                     eval_views=2, seed=seed, video_top1=0.9, status="ok", stream_acc=streams, flow_ms_per_clip=2.0,
                     stream_gmacs_per_clip={"rgb": 0.003, "flow": 0.004}, group_acc={"appearance": 1.0})
            for seed in (0, 1)]
    (line,) = leaderboard(rows)
    assert line["stream_acc"]["flow"]["video_top1"] == pytest.approx(0.7) and line["flow_ms_per_clip"] == 2.0
    table = to_markdown([line], "t")
    assert "## Each stream alone" in table and "| two_stream | flow | 0.0040 | 70.0 | 0.0 |" in table


@pytest.mark.slow
@pytest.mark.integration
def test_on_motion_classes_the_temporal_stream_beats_the_spatial_stream(tmp_path, monkeypatch):
    """direction and speed differ only in motion, appearance only in texture: after a short joint fit on the
    built-in data's three groups, each stream is best on its own kind of class."""
    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path / "cache"))
    root = write_synthetic_dataset(tmp_path / "data", groups=("appearance", "direction", "speed"),
                                   videos_per_class=24, eval_videos_per_class=12, frames=48, size=32, seed=0)
    L.seed_everything(0, workers=True)
    data = flow_data(root, frames=8, resize=32, batch_size=16)
    module = VideoClassifier("two_stream", num_classes=data.num_classes, frames=8, size=32, model_args=TINY,
                             groups=data.groups)
    trainer = L.Trainer(max_epochs=8, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(module, datamodule=data)
    (metrics,) = trainer.test(module, datamodule=data, verbose=False)
    print({k: round(v, 3) for k, v in metrics.items() if "group_acc" in k or "video_top1" in k})
    # 48 direction test videos, chance 1/4 within the group: the spatial stream stays near it (its frames do not
    # say which way the sign moves), the temporal stream far above.
    assert metrics["test/group_acc_flow/direction"] > 0.9 > 0.5 > metrics["test/group_acc_rgb/direction"]
    # speed: the flow stream alone also confuses the group with direction (both are objects moving), which the
    # spatial stream tells apart by look; fused, the speed the spatial stream cannot see comes from the flow.
    assert metrics["test/group_acc/speed"] > metrics["test/group_acc_rgb/speed"] + 0.2
    assert metrics["test/group_acc_rgb/appearance"] > metrics["test/group_acc_flow/appearance"] + 0.2
    assert metrics["test/video_top1"] >= max(metrics["test/video_top1_rgb"], metrics["test/video_top1_flow"]) - 0.05


@pytest.mark.integration
def test_a_sweep_entry_rows_each_stream_and_the_flow_cost_and_logs_them_to_wandb(tiny_dataset, tmp_path):
    """The entry measures its cost first, then fills the flow cache (which once hung: the cache's worker processes
    were forked from a process that had run torch and OpenCV)."""
    import wandb

    from lit_video.sweep import tracking
    from lit_video.sweep.config import parse_sweep
    from lit_video.sweep.entry import run_entry

    raw = {"name": "tiny", "seeds": [0],
           "data": {"root": str(tiny_dataset), "frames": 4, "fps": 8.0, "size": 32, "batch_size": 4, "num_workers": 0,
                    "test_clips": 2},
           "trainer": {"accelerator": "cpu", "max_epochs": 1, "limit_train_batches": 2, "enable_checkpointing": False},
           "profile": {"batch_sizes": [2], "warmup": 1, "repeats": 2},
           "models": [{"name": "two_stream", "model_args": TINY}]}
    (entry,) = parse_sweep(raw).entries
    row, cost = run_entry(entry, tmp_path / "runs" / entry.entry_id, wandb_mode=None)
    assert row["status"] == "ok" and set(row["stream_acc"]) == {"rgb", "flow"}
    assert sum(row["stream_gmacs_per_clip"].values()) == pytest.approx(row["gmacs_per_clip"])
    flow = cost.speed["flow"]  # timed on a real clip of the data, at its videos' own size (32 px), 3 pairs
    assert flow["frame_size"] == [32, 32] and flow["ms_per_pair"] > 0
    assert row["flow_ms_per_clip"] == pytest.approx(3 * flow["ms_per_pair"])
    run = wandb.init(mode="offline", dir=tmp_path, project="test")
    try:
        tracking.log_cost(run, cost.report, cost.speed, cost.fields, 2)
        assert run.summary["flow_ms_per_clip"] == pytest.approx(row["flow_ms_per_clip"])
        assert run.summary["flow_frame_size"] == [32, 32]
    finally:
        run.finish()
