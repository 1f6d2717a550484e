"""Single-frame CNN: a 2D CNN classifies every frame on its own; the clip's prediction averages them.

The lecture calls it "often a very strong baseline": it sees appearance only, never motion.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers.backbone import FrameBackbone
from .layers.common import average_predictions, per_frame
from .registry import register_model


class SingleFrameCNN(nn.Module):
    def __init__(self, num_classes: int, backbone: str = "resnet18", pretrained: str | None = None,
                 dropout: float = 0.0):
        super().__init__()
        self.backbone = FrameBackbone(backbone, pretrained)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.backbone.out_channels, num_classes))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        logits = self.head(per_frame(self.backbone, clip))  # (B, T, classes)
        return average_predictions(logits, dim=1)  # (B, classes): probabilities averaged over frames


@register_model(family="single_frame", frames=8, size=112)
def single_frame(num_classes: int, backbone: str = "resnet18", pretrained: str | None = None,
                 dropout: float = 0.0) -> nn.Module:
    """2D CNN on every frame, class probabilities averaged over frames (Karpathy et al. 2014)."""
    return SingleFrameCNN(num_classes, backbone, pretrained, dropout)
