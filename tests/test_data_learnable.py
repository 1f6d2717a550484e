"""The synthetic data does what it is for: motion classes need time. A tiny 3D CNN learns them; the same network
with a time kernel of 1 (frames seen independently, then pooled) stays at chance on them, while both learn the
appearance classes."""

import lightning as L
import pytest
import torch
from torch import nn

from lit_video.data import VideoDataModule, write_synthetic_dataset


class TinyVideoNet(L.LightningModule):
    def __init__(self, num_classes: int, time_kernel: int):
        super().__init__()
        pad = time_kernel // 2
        self.net = nn.Sequential(
            nn.Conv3d(3, 16, (time_kernel, 3, 3), padding=(pad, 1, 1)), nn.ReLU(),
            nn.Conv3d(16, 32, (time_kernel, 3, 3), stride=(1, 2, 2), padding=(pad, 1, 1)), nn.ReLU(),
            nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(32, num_classes))
        self.correct: list[torch.Tensor] = []

    def training_step(self, batch, _):
        return nn.functional.cross_entropy(self.net(batch["video"]), batch["label"])

    def test_step(self, batch, _):
        self.correct.append(torch.stack([batch["label"], self.net(batch["video"]).argmax(-1)], dim=1))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


@pytest.mark.slow
def test_motion_classes_need_a_temporal_model(tmp_path):
    root = write_synthetic_dataset(tmp_path / "data", classes=4, videos_per_class=32, eval_videos_per_class=12,
                                   frames=40, size=32, seed=0)
    accuracy = {}
    for time_kernel in (3, 1):
        L.seed_everything(0, workers=True)
        dm = VideoDataModule(root=str(root), frames=8, fps=8.0, size=32, resize=32, batch_size=16, num_workers=0,
                             test_clips=1)
        model = TinyVideoNet(dm.num_classes, time_kernel)
        trainer = L.Trainer(max_epochs=12, accelerator="cpu", logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
        trainer.fit(model, datamodule=dm)
        trainer.test(model, datamodule=dm, verbose=False)
        label, predicted = torch.cat(model.correct).T
        accuracy[time_kernel] = {group: (predicted == label)[torch.isin(label, torch.tensor(members))].float().mean()
                                 for group, members in dm.groups.items()}
    print(accuracy)
    assert accuracy[3]["appearance"] > 0.9 and accuracy[1]["appearance"] > 0.9
    assert accuracy[3]["motion"] > 0.85  # two motion classes: chance is 0.5
    assert accuracy[1]["motion"] < 0.7
