"""Training in the faster memory layout: the model's weights and every batch in it, the same training otherwise."""

from __future__ import annotations

import json
import logging

import lightning as L
import pytest
import torch

from lit_video.data.datamodule import VideoDataModule
from lit_video.memory_format import describe_choice
from lit_video.tasks.classification import VideoClassifier


class BatchLayouts(L.Callback):
    """Whether each clip batch the model's forward receives (training and validation) is channels-last."""

    def __init__(self) -> None:
        self.channels_last: list[bool] = []

    def on_fit_start(self, trainer, module) -> None:
        module.model.register_forward_pre_hook(lambda model, args: self.channels_last.append(
            args[0].is_contiguous(memory_format=torch.channels_last_3d)))


def fit(tiny_dataset, tmp_path, memory_format: str):
    L.seed_everything(0)
    data = VideoDataModule(root=str(tiny_dataset), frames=4, size=32, batch_size=4, num_workers=0, test_clips=1)
    module = VideoClassifier("slow_fusion", num_classes=data.num_classes, model_args={"width": 4}, frames=4, size=32,
                             memory_format=memory_format)
    layouts = BatchLayouts()
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1, logger=False, callbacks=[layouts],
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=tmp_path / memory_format, accelerator="cpu")
    trainer.fit(module, datamodule=data)
    return module, layouts.channels_last, float(trainer.callback_metrics["train/loss"])


@pytest.mark.integration
def test_channels_last_training_keeps_weights_and_batches_channels_last_and_trains_the_same(tiny_dataset, tmp_path):
    plain, plain_batches, plain_loss = fit(tiny_dataset, tmp_path, "contiguous")
    fast, fast_batches, fast_loss = fit(tiny_dataset, tmp_path, "channels_last")
    assert (plain.memory_format, fast.memory_format) == ("contiguous", "channels_last")
    assert len(plain_batches) == len(fast_batches) == 5  # sanity check, 3 training steps, validation
    assert not any(plain_batches) and all(fast_batches)
    conv = next(m for m in fast.model.modules() if isinstance(m, torch.nn.Conv3d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last_3d)  # still, after the optimiser's steps
    assert fast_loss == pytest.approx(plain_loss, rel=1e-4)  # the same training, up to rounding


@pytest.mark.integration
def test_auto_takes_the_measured_choice_for_this_model_and_batch_and_says_so(tiny_dataset, tmp_path, monkeypatch,
                                                                          caplog):
    """The log says which layout the fit took and whether it was measured now or cached, as `lit-video profile`
    does (``describe_choice``)."""
    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path / "cache"))
    with caplog.at_level(logging.INFO):
        module, batches, _ = fit(tiny_dataset, tmp_path, "auto")
    (choice,) = json.loads((tmp_path / "cache" / "layouts.json").read_text()).values()  # slow_fusion at batch 4
    assert module.memory_format == choice["memory_format"]
    assert batches == [module.memory_format == "channels_last"] * 5
    said = " ".join(caplog.text.split())  # wrapped at the terminal's width
    assert f"memory format: {module.memory_format} ({describe_choice({**choice, 'cached': False})})" in said
    assert "(auto: measured now" in said


def test_a_bad_memory_format_fails_at_construction():
    with pytest.raises(ValueError, match="model.memory_format 'nhwc' is not one of auto, contiguous, channels_last"):
        VideoClassifier("slow_fusion", num_classes=4, memory_format="nhwc")
