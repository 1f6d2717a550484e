"""Late fusion (Karpathy et al. 2014): a 2D CNN on every frame; the frames meet only at the classifier.

``late_fusion_fc`` concatenates the frame feature maps (the lecture's "clip features T x D x H' x W'") and
feeds an MLP, so its first layer is built for one clip shape (``frames``, ``size``). ``late_fusion_pool``
averages them over space and time (clip features D) and feeds a linear layer, so it takes any clip.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers.backbone import FrameBackbone
from .layers.common import CheckShape, per_frame
from .registry import register_model


class LateFusionFC(nn.Module):
    def __init__(self, num_classes: int, backbone: str = "resnet18", pretrained: str | None = None,
                 frames: int = 8, size: int = 112, hidden: int = 512, dropout: float = 0.5):
        super().__init__()
        self.backbone = FrameBackbone(backbone, pretrained, spatial=True)
        with torch.no_grad():  # the feature map of one frame of the configured size, (D, H', W')
            fmap = self.backbone.eval()(torch.zeros(1, 3, size, size)).shape[1:]
        self.backbone.train()
        hint = f"late_fusion_fc was built for clips of frames={frames}, size={size}; pass frames=/size="
        self.check = CheckShape((frames, *fmap), "frame features", hint)
        self.mlp = nn.Sequential(
            nn.Linear(frames * fmap.numel(), hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        feats = self.check(per_frame(self.backbone, clip))  # (B, T, D, H', W')
        return self.mlp(feats.flatten(1))  # (B, T*D*H'*W')


class LateFusionPool(nn.Module):
    def __init__(self, num_classes: int, backbone: str = "resnet18", pretrained: str | None = None,
                 dropout: float = 0.0):
        super().__init__()
        self.backbone = FrameBackbone(backbone, pretrained)  # pools each frame over space: (N, D)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.backbone.out_channels, num_classes))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        pooled = per_frame(self.backbone, clip).mean(dim=1)  # (B, T, D) -> (B, D): pooled over time too
        return self.head(pooled)


@register_model(family="late_fusion", frames=8, size=112)
def late_fusion_fc(num_classes: int, backbone: str = "resnet18", pretrained: str | None = None,
                   frames: int = 8, size: int = 112, hidden: int = 512, dropout: float = 0.5) -> nn.Module:
    """2D CNN on every frame, frame feature maps concatenated (T x D x H' x W'), then an MLP."""
    return LateFusionFC(num_classes, backbone, pretrained, frames, size, hidden, dropout)


@register_model(family="late_fusion", frames=8, size=112)
def late_fusion_pool(num_classes: int, backbone: str = "resnet18", pretrained: str | None = None,
                     dropout: float = 0.0) -> nn.Module:
    """2D CNN on every frame, features averaged over space and time, then a linear layer."""
    return LateFusionPool(num_classes, backbone, pretrained, dropout)
