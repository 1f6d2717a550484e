"""A short fit of every model family (and of every attention scheme of the video transformers) on tiny synthetic
videos: a real Trainer, real H.264 files, updates."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from lit_video.data.datamodule import VideoDataModule
from lit_video.models import builder_arguments, list_models, model_info
from lit_video.tasks.classification import VideoClassifier

pytestmark = pytest.mark.integration  # a Trainer fit each


def family_representatives() -> dict[str, str]:
    """One model per family: the lecture's small example where the family has one, else the first light one by
    name (``ModelInfo.heavy``: slow on a 2-core CPU), else the first by name."""
    families: dict[str, list[str]] = {}
    for name in list_models():
        families.setdefault(model_info(name).family, []).append(name)
    return {family: min(names, key=lambda n: (not n.startswith("lecture_"), model_info(n).heavy, n))
            for family, names in families.items()}


# Families whose variants differ in what they compute, not only in size: every light variant is fitted.
EVERY_VARIANT = ("timesformer", "vivit")


def _cases():
    names = set(family_representatives().values())
    names |= {n for n in list_models() if model_info(n).family in EVERY_VARIANT and not model_info(n).heavy}
    return [pytest.param(name, id=name, marks=[pytest.mark.slow] if model_info(name).heavy else [])
            for name in sorted(names)]


@pytest.mark.parametrize("name", _cases())
def test_short_fit_updates_the_model(name, tiny_dataset, tmp_path):
    info = model_info(name)
    L.seed_everything(0)
    # A tiny clip, or the smallest the model takes (C3D: 16 frames; S3D: 14 x 224), or its own if fixed (MViT).
    frames, size = info.fit_clip(4, 32)
    data = VideoDataModule(root=str(tiny_dataset), frames=frames, size=size, batch_size=2, num_workers=0,
                           test_clips=1, modalities=list(info.modalities))  # two_stream's: RGB and optical flow
    # Frame-based models take a cheap torchvision 2D net.
    args = {"backbone": "shufflenet_v2_x0_5"} if "backbone" in builder_arguments(name) else {}
    module = VideoClassifier(name, num_classes=data.num_classes, model_args=args, frames=frames, size=size)
    before = {k: v.clone() for k, v in module.model.state_dict().items()}
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=tmp_path, accelerator="cpu")
    trainer.fit(module, datamodule=data)
    assert trainer.state.finished
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    changed = [k for k, v in module.model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, f"{name}: two optimizer steps changed no weight"
