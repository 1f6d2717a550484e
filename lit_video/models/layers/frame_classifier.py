"""One classifier for the frame-based families, composed the way torchvision composes its VideoResNet:

    clip (B, C, T, H, W) -> 2D backbone on each frame (B, T, D[, h, w]) -> temporal aggregator -> dropout, fc

The aggregator decides where the frames meet:

* none (``temporal=None``): time is kept, so the classifier predicts every frame and the clip's prediction
  averages the frames' probabilities (single frame);
* ``MeanOverTime``: frame features averaged (late fusion, pooled);
* ``ConcatMLP``: frame feature maps concatenated into a hidden layer (late fusion, FC);
* ``Recurrent``: an LSTM over the frames, its last step or every step (LRCN; every step keeps time, as above).

Early fusion folds time into channels instead (``stack``): one 3T-channel image per clip, no time axis left.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .backbone import FrameBackbone
from .classifier import ClassifierMixin
from .common import CheckShape, StackFrames, average_predictions, per_frame

RECURRENT_MODES = ("many_to_one", "many_to_many")


class MeanOverTime(nn.Module):
    """Frame features averaged over time: clip features ``D``."""

    def __init__(self, features: int):
        super().__init__()
        self.out_features = features

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return feats.mean(dim=1)  # (B, T, D) -> (B, D)


class ConcatMLP(nn.Module):
    """Frame feature maps concatenated (the lecture's clip features ``T x D x h x w``) into a hidden layer, so
    it is built for one clip shape: ``frames`` frames whose maps are ``frame_map`` = ``(D, h, w)``."""

    def __init__(self, frames: int, frame_map: tuple[int, ...], hidden: int, hint: str):
        super().__init__()
        self.check = CheckShape((frames, *frame_map), "frame features", hint)
        self.hidden = nn.Linear(frames * math.prod(frame_map), hidden)
        self.relu = nn.ReLU(inplace=True)
        self.out_features = hidden

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        x = self.check(feats).flatten(1)  # (B, T, D, h, w) -> (B, T*D*h*w)
        return self.relu(self.hidden(x))  # (B, hidden)


class Recurrent(nn.Module):
    """An LSTM over the frame features: its last step (``many_to_one``, ``(B, hidden)``) or every step
    (``many_to_many``, ``(B, T, hidden)``: the classifier then predicts every step)."""

    def __init__(self, features: int, hidden: int, layers: int = 1, mode: str = "many_to_one"):
        super().__init__()
        if mode not in RECURRENT_MODES:
            raise ValueError(f"mode={mode!r} is not one of {', '.join(RECURRENT_MODES)}")
        self.lstm = nn.LSTM(features, hidden, num_layers=layers, batch_first=True)
        self.every_step = mode == "many_to_many"
        self.out_features = hidden

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        steps, _ = self.lstm(feats)  # (B, T, D) -> (B, T, hidden)
        return steps if self.every_step else steps[:, -1]  # (B, T, hidden) or the last step (B, hidden)


class FrameClassifier(ClassifierMixin, nn.Module):
    """``backbone`` on every frame, then ``temporal`` (or nothing), dropout and a linear classifier ``fc``.

    ``stack``: early fusion's reshape, feeding the backbone one ``3T``-channel image per clip instead.
    ``freeze_backbone``: the backbone is a fixed feature extractor: no gradients, no autograd graph kept for
    it, and it stays in eval mode (BatchNorm statistics frozen) even when the model is put in train mode.
    """

    def __init__(self, backbone: FrameBackbone, num_classes: int, temporal: nn.Module | None = None,
                 dropout: float = 0.0, stack: StackFrames | None = None, freeze_backbone: bool = False):
        super().__init__()
        self.stack = stack
        self.backbone = backbone
        self.temporal = temporal if temporal is not None else nn.Identity()
        self.head_drop = nn.Dropout(dropout)
        self.num_features = temporal.out_features if temporal is not None else backbone.out_channels
        self.fc = nn.Linear(self.num_features, num_classes)
        self.classifier_name, self.num_classes = "fc", num_classes
        self.freeze_backbone = freeze_backbone
        self.backbone.requires_grad_(not freeze_backbone)
        self.train()

    def train(self, mode: bool = True) -> FrameClassifier:
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def forward_features(self, clip: torch.Tensor) -> torch.Tensor:
        # A frozen backbone keeps no autograd graph (the memory the lecture's advice saves).
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_backbone):
            if self.stack is not None:
                feats = self.backbone(self.stack(clip))  # (B, C*T, H, W) -> (B, D)
            else:
                feats = per_frame(self.backbone, clip)  # (B, T, D), or (B, T, D, h, w) for spatial maps
        return self.temporal(feats)  # (B, num_features), or (B, T, num_features) where time is kept

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        logits = self.fc(self.head_drop(features))  # (B, classes), or (B, T, classes): one per frame
        return logits if logits.dim() == 2 else average_predictions(logits, dim=1)  # -> (B, classes)
