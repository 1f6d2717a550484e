"""Single-frame CNN: a 2D CNN classifies every frame on its own; the clip's prediction averages them.

The lecture calls it "often a very strong baseline": it sees appearance only, never motion.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers.backbone import FrameBackbone
from .registry import register_model


class SingleFrameCNN(nn.Module):
    def __init__(self, num_classes: int, backbone: str = "resnet18", pretrained: str | None = None,
                 dropout: float = 0.0):
        super().__init__()
        self.backbone = FrameBackbone(backbone, pretrained)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.backbone.out_channels, num_classes))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = clip.shape
        frames = clip.transpose(1, 2).reshape(b * t, c, h, w)  # (B*T, C, H, W)
        logits = self.head(self.backbone(frames)).view(b, t, -1)  # (B, T, classes)
        # Average class probabilities over frames (the lecture's test-time rule), returned as log-probabilities
        # so that softmax / cross-entropy downstream see exactly that average.
        return torch.logsumexp(logits.log_softmax(-1), dim=1) - torch.log(torch.tensor(float(t)))


@register_model(family="single_frame", frames=8, size=112)
def single_frame(num_classes: int, backbone: str = "resnet18", pretrained: str | None = None,
                 dropout: float = 0.0) -> nn.Module:
    """2D CNN on every frame, class probabilities averaged over frames (Karpathy et al. 2014)."""
    return SingleFrameCNN(num_classes, backbone, pretrained, dropout)
