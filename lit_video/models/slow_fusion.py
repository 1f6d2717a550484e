"""Slow fusion (Karpathy et al. 2014): a 3D CNN whose 3D convolutions and 3D pools fuse time a little at every
layer, so that the top layers see the whole clip. Four conv stages (width 32-64-128-256 by default), pool1
1x2x2 as in C3D, then global average pooling and a linear classifier. Pools round up, so any clip length
works."""

from __future__ import annotations

from .layers.classifier import SequentialClassifier
from .layers.common import conv_stages, global_pool, linear_head
from .registry import register_model


@register_model(family="slow_fusion", frames=8, size=112)
def slow_fusion(num_classes: int, width: int = 32, dropout: float = 0.0) -> SequentialClassifier:
    """3D CNN fusing time slowly: 3x3x3 conv + BN + ReLU stages, 3D pools (pool1 1x2x2), global pool."""
    stages = [(width, 1, (1, 2, 2)), (2 * width, 1, 2), (4 * width, 1, 2), (8 * width, 1, None)]
    features = conv_stages(3, stages, batch_norm=True, ceil_mode=True) | global_pool()
    return SequentialClassifier(features, linear_head(8 * width, num_classes, dropout))
