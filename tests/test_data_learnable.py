"""The synthetic data does what it is for, and the leakage guard of its time groups: a tiny 3D CNN (time kernel 3)
learns `direction` and `order`; the same network with a time kernel of 1 (frames seen independently, then averaged:
a frame-independent model) stays at chance on them, while both learn `appearance` (texture)."""

import time

import lightning as L
import pytest
import torch
from torch import nn

from lit_video.data import VideoDataModule, write_synthetic_dataset


class TinyVideoNet(L.LightningModule):
    """Three conv layers (batch norm, ReLU), the strongest response anywhere in each frame, averaged over frames.
    With ``time_kernel=1`` every frame is seen on its own and the frames are only averaged: frame-independent."""

    def __init__(self, num_classes: int, time_kernel: int):
        super().__init__()
        pad = time_kernel // 2
        layers, channels = [], 3
        for i, width in enumerate((16, 32, 32)):
            stride = (1, 1, 1) if i == 0 else (1, 2, 2)
            layers += [nn.Conv3d(channels, width, (time_kernel, 3, 3), stride, (pad, 1, 1)), nn.BatchNorm3d(width),
                       nn.ReLU()]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, num_classes)
        self.correct: list[torch.Tensor] = []

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(video).amax(dim=(3, 4)).mean(dim=2))  # (B, C, T, H, W) -> (B, C) -> classes

    def training_step(self, batch, _):
        return nn.functional.cross_entropy(self(batch["video"]), batch["label"])

    def test_step(self, batch, _):
        self.correct.append(torch.stack([batch["label"], self(batch["video"]).argmax(-1)], dim=1))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


@pytest.mark.slow
@pytest.mark.integration
def test_time_groups_need_a_temporal_model_and_appearance_does_not(tmp_path):
    start = time.perf_counter()
    root = write_synthetic_dataset(tmp_path / "data", groups=("appearance", "direction", "order"),
                                   videos_per_class=24, eval_videos_per_class=12, frames=60, size=32, seed=0)
    accuracy = {}
    for time_kernel in (3, 1):
        L.seed_everything(0, workers=True)
        dm = VideoDataModule(root=str(root), frames=8, fps=8.0, size=32, resize=32, batch_size=16, num_workers=0,
                             test_clips=1)
        model = TinyVideoNet(dm.num_classes, time_kernel)
        trainer = L.Trainer(max_epochs=8, accelerator="cpu", logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
        trainer.fit(model, datamodule=dm)
        trainer.test(model, datamodule=dm, verbose=False)
        label, predicted = torch.cat(model.correct).T
        accuracy[time_kernel] = {group: (predicted == label)[torch.isin(label, torch.tensor(members))].float().mean()
                                 for group, members in dm.groups.items()}
    print(accuracy, f"{time.perf_counter() - start:.0f} s")
    assert accuracy[3]["appearance"] > 0.9 and accuracy[1]["appearance"] > 0.9
    # 48 direction and 24 order test videos: chance (0.25, 0.5) plus three binomial standard deviations.
    assert accuracy[1]["direction"] < 0.45 and accuracy[1]["order"] < 0.8
    assert accuracy[3]["direction"] > 0.9 and accuracy[3]["order"] > 0.9
    assert min(accuracy[3][g] - accuracy[1][g] for g in ("direction", "order")) > 0.3
