"""LRCN (Donahue et al., CVPR 2015): a 2D CNN on every frame feeding an LSTM.

``mode="many_to_one"`` predicts from the last step; ``"many_to_many"`` predicts at every frame and averages
the predictions. ``freeze_backbone=True`` makes the CNN a fixed feature extractor ("sometimes don't backprop
to the CNN to save memory; pretrain and use it as a feature extractor", as the lecture puts it).
"""

from __future__ import annotations

from .layers.backbone import FrameBackbone, Pretrained
from .layers.frame_classifier import FrameClassifier, Recurrent
from .registry import register_model


@register_model(family="lrcn", frames=8, size=112)
def lrcn(num_classes: int, backbone: str = "resnet18", pretrained: Pretrained = None, hidden: int = 256,
         layers: int = 1, mode: str = "many_to_one", freeze_backbone: bool = False,
         dropout: float = 0.0) -> FrameClassifier:
    """2D CNN on every frame feeding an LSTM; prediction from the last step or averaged over all steps."""
    net = FrameBackbone(backbone, pretrained)
    lstm = Recurrent(net.out_channels, hidden, layers=layers, mode=mode)
    return FrameClassifier(net, num_classes, temporal=lstm, dropout=dropout, freeze_backbone=freeze_backbone)
