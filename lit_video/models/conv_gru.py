"""Recurrent convolutional network (Ballas et al., ICLR 2016): every layer a convolutional GRU.

Each layer's state at step t depends on the same layer at step t-1 and on the previous layer at step t;
weights differ between layers and are shared over time. Layers after the first see their input max-pooled 2x
in space. The clip is classified from the last layer's state after the last frame (an unbounded temporal
extent).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers.classifier import ClassifierMixin
from .layers.conv_gru_cell import ConvGRUCell
from .registry import register_model


class ConvGRUNet(ClassifierMixin, nn.Module):
    def __init__(self, num_classes: int, channels: tuple[int, ...] = (16, 32, 64), kernel_size: int = 3,
                 dropout: float = 0.0):
        super().__init__()
        inputs = (3, *channels[:-1])
        pairs = zip(inputs, channels, strict=True)
        self.cells = nn.ModuleList(ConvGRUCell(i, o, kernel_size) for i, o in pairs)
        self.pool = nn.MaxPool2d(2)
        self.head_drop = nn.Dropout(dropout)
        self.fc = nn.Linear(channels[-1], num_classes)
        self.classifier_name, self.num_features, self.num_classes = "fc", channels[-1], num_classes

    def states(self, clip: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's state at every step: one ``(B, T, C_l, H_l, W_l)`` tensor per layer."""
        h: list[torch.Tensor | None] = [None] * len(self.cells)
        steps: list[list[torch.Tensor]] = [[] for _ in self.cells]
        for t in range(clip.shape[2]):
            x = clip[:, :, t]  # (B, C, H, W): frame t
            for layer, cell in enumerate(self.cells):
                # Inputs: previous layer at this step (x) and this layer at the previous step (h[layer]).
                h[layer] = cell(self.pool(x) if layer else x, h[layer])
                x = h[layer]
                steps[layer].append(x)
        return [torch.stack(s, dim=1) for s in steps]  # T x (B, C, H, W) -> (B, T, C, H, W)

    def forward_features(self, clip: torch.Tensor) -> torch.Tensor:
        last = self.states(clip)[-1][:, -1]  # the last layer after the last frame: (B, C, H', W')
        return last.mean(dim=(2, 3))  # (B, C): pooled over space

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.head_drop(features))


# Layers 2 and 3 (of the default 3) see their input max-pooled 2x, so a frame needs 4 pixels.
@register_model(family="recurrent_cnn", frames=8, size=112, min_size=4)
def conv_gru(num_classes: int, channels: tuple[int, ...] = (16, 32, 64), kernel_size: int = 3,
             dropout: float = 0.0) -> ConvGRUNet:
    """Stack of convolutional GRUs over the frames (Ballas et al. 2016), classified from the last state."""
    return ConvGRUNet(num_classes, tuple(channels), kernel_size, dropout)
