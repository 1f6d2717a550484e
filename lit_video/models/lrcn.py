"""LRCN (Donahue et al., CVPR 2015): a 2D CNN on every frame feeding an LSTM.

``mode="many_to_one"`` predicts from the last step; ``"many_to_many"`` predicts at every frame and averages
the predictions. ``freeze_backbone=True`` makes the CNN a fixed feature extractor ("sometimes don't backprop
to the CNN to save memory; pretrain and use it as a feature extractor", as the lecture puts it).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers.backbone import FrameBackbone
from .layers.common import average_predictions, per_frame
from .registry import register_model

MODES = ("many_to_one", "many_to_many")


class LRCN(nn.Module):
    def __init__(self, num_classes: int, backbone: str = "resnet18", pretrained: str | None = None,
                 hidden: int = 256, layers: int = 1, mode: str = "many_to_one", freeze_backbone: bool = False,
                 dropout: float = 0.0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"lrcn: mode={mode!r} is not one of {', '.join(MODES)}")
        self.mode, self.freeze_backbone = mode, freeze_backbone
        self.backbone = FrameBackbone(backbone, pretrained)
        self.backbone.requires_grad_(not freeze_backbone)
        self.lstm = nn.LSTM(self.backbone.out_channels, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_classes))
        self.train()

    def train(self, mode: bool = True) -> LRCN:
        super().train(mode)
        if self.freeze_backbone:  # a fixed feature extractor: its BatchNorm statistics must not move either
            self.backbone.eval()
        return self

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        # A frozen backbone keeps no autograd graph (the memory the lecture's advice saves).
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_backbone):
            feats = per_frame(self.backbone, clip)  # (B, T, D)
        steps, _ = self.lstm(feats)  # (B, T, hidden)
        if self.mode == "many_to_one":
            return self.head(steps[:, -1])  # (B, hidden) -> (B, classes)
        return average_predictions(self.head(steps), dim=1)  # (B, T, classes) -> (B, classes)


@register_model(family="lrcn", frames=8, size=112)
def lrcn(num_classes: int, backbone: str = "resnet18", pretrained: str | None = None, hidden: int = 256,
         layers: int = 1, mode: str = "many_to_one", freeze_backbone: bool = False,
         dropout: float = 0.0) -> nn.Module:
    """2D CNN on every frame feeding an LSTM; prediction from the last step or averaged over all steps."""
    return LRCN(num_classes, backbone, pretrained, hidden, layers, mode, freeze_backbone, dropout)
