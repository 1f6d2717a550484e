"""Single-frame CNN: a 2D CNN classifies every frame on its own; the clip's prediction averages them.

The lecture calls it "often a very strong baseline": it sees appearance only, never motion.
"""

from __future__ import annotations

from .layers.backbone import FrameBackbone, Pretrained
from .layers.frame_classifier import FrameClassifier
from .registry import register_model


@register_model(family="single_frame", frames=8, size=112)
def single_frame(num_classes: int, backbone: str = "resnet18", pretrained: Pretrained = None,
                 dropout: float = 0.0) -> FrameClassifier:
    """2D CNN on every frame, class probabilities averaged over frames (Karpathy et al. 2014)."""
    # No temporal aggregator: time is kept, every frame is classified and the probabilities averaged.
    return FrameClassifier(FrameBackbone(backbone, pretrained), num_classes, dropout=dropout)
