"""Late fusion (Karpathy et al. 2014): a 2D CNN on every frame; the frames meet only at the classifier.

``late_fusion_fc`` concatenates the frame feature maps (the lecture's "clip features T x D x H' x W'") and
feeds an MLP, so its first layer is built for one clip shape (``frames``, ``size``). ``late_fusion_pool``
averages them over space and time (clip features D) and feeds a linear layer, so it takes any clip.
"""

from __future__ import annotations

from .layers.backbone import FrameBackbone, Pretrained
from .layers.frame_classifier import ConcatMLP, FrameClassifier, MeanOverTime
from .registry import register_model


@register_model(family="late_fusion", frames=8, size=112)
def late_fusion_fc(num_classes: int, frames: int, size: int, backbone: str = "resnet18",
                   pretrained: Pretrained = None, hidden: int = 512, dropout: float = 0.5) -> FrameClassifier:
    """2D CNN on every frame, frame feature maps concatenated (T x D x H' x W'), then an MLP."""
    net = FrameBackbone(backbone, pretrained, spatial=True)
    hint = f"late_fusion_fc was built for clips of frames={frames}, size={size}; pass frames=/size="
    mlp = ConcatMLP(frames, net.feature_map_shape(size), hidden, hint)
    return FrameClassifier(net, num_classes, temporal=mlp, dropout=dropout)


@register_model(family="late_fusion", frames=8, size=112)
def late_fusion_pool(num_classes: int, backbone: str = "resnet18", pretrained: Pretrained = None,
                     dropout: float = 0.0) -> FrameClassifier:
    """2D CNN on every frame, features averaged over space and time, then a linear layer."""
    net = FrameBackbone(backbone, pretrained)  # pools each frame over space: (N, D)
    return FrameClassifier(net, num_classes, temporal=MeanOverTime(net.out_channels), dropout=dropout)
