"""The surface every model has (timm's): features, then a head whose classifier is known by name.

* ``num_classes``, ``num_features``: the output width, and the width of the vector the classifier takes.
* ``forward_features(x)``: the clip (or dict of modalities) to that vector ``(B, num_features)``, or
  ``(B, T, num_features)`` for a model that classifies every frame and averages the predictions.
* ``forward_head(features)``: dropout and the classifier, ``(B, num_classes)``.
* ``get_classifier()``, ``reset_classifier(num_classes)``: the classifier layer, and a fresh one for another
  label space.

``forward(x)`` is ``forward_head(forward_features(x))``.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


class ClassifierMixin:
    """``forward``, ``get_classifier`` and ``reset_classifier`` for a model that names its classifier in
    ``classifier_name`` and sets ``num_classes`` / ``num_features``."""

    classifier_name: str
    num_classes: int
    num_features: int

    def forward(self, x):
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Linear:
        return self.get_submodule(self.classifier_name)

    def reset_classifier(self, num_classes: int) -> None:
        """A freshly initialised classifier for ``num_classes`` (the features are kept)."""
        old = self.get_classifier()
        new = nn.Linear(self.num_features, num_classes, device=old.weight.device, dtype=old.weight.dtype)
        self.set_submodule(self.classifier_name, new)
        self.num_classes = num_classes


class SequentialClassifier(ClassifierMixin, nn.Sequential):
    """A flat ``nn.Sequential`` (layer names as in the lecture's tables: ``conv1, pool1, ..., fc``) that knows
    where its head starts: ``features`` give ``(B, num_features)``, ``head`` is dropout and the classifier,
    the classifier being its last layer."""

    def __init__(self, features: OrderedDict[str, nn.Module], head: OrderedDict[str, nn.Module]):
        super().__init__(features | head)
        self.head_start = len(features)
        self.classifier_name = next(reversed(head))
        self.num_features = self.get_classifier().in_features
        self.num_classes = self.get_classifier().out_features

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        for layer in list(self)[: self.head_start]:
            x = layer(x)
        return x

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        for layer in list(self)[self.head_start:]:
            x = layer(x)
        return x


def as_linear(layer: nn.Module) -> nn.Linear:
    """A classifier as an ``nn.Linear`` with the same weights: a 1x1(x1) conv (S3D's) is one."""
    if isinstance(layer, nn.Linear):
        return layer
    if not isinstance(layer, nn.Conv2d | nn.Conv3d) or any(k != 1 for k in layer.kernel_size):
        raise TypeError(f"not a linear classifier: {layer}")
    linear = nn.Linear(layer.in_channels, layer.out_channels, bias=layer.bias is not None,
                       device=layer.weight.device, dtype=layer.weight.dtype)
    with torch.no_grad():
        linear.weight.copy_(layer.weight.flatten(1))  # (O, I, 1, 1, 1) -> (O, I)
        if layer.bias is not None:
            linear.bias.copy_(layer.bias)
    return linear


class TorchvisionClassifier(ClassifierMixin, nn.Module):
    """A torchvision classifier network whose head, named per architecture (``fc``, ``classifier``,
    ``head``), is lifted out: ``net`` keeps its own forward and now returns the feature vector; the head
    becomes dropout (the head's own rate unless ``dropout`` is given) and a linear classifier ``fc``.

    The classifier keeps its weights (a checkpoint's) when it already has ``num_classes`` outputs; otherwise
    it is replaced by a fresh one. ``check`` runs on the input first (e.g. a ``CheckShape`` for a fixed clip).
    """

    def __init__(self, net: nn.Module, head: str, num_classes: int, dropout: float | None = None,
                 check: nn.Module | None = None):
        super().__init__()
        lifted = net.get_submodule(head)
        net.set_submodule(head, nn.Identity())
        layers = list(lifted) if isinstance(lifted, nn.Sequential) else [lifted]
        own_dropout = next((m.p for m in layers if isinstance(m, nn.Dropout)), 0.0)
        self.check = check or nn.Identity()
        self.net = net
        self.head_drop = nn.Dropout(own_dropout if dropout is None else dropout)
        self.fc = as_linear(layers[-1])
        self.classifier_name = "fc"
        self.num_features, self.num_classes = self.fc.in_features, self.fc.out_features
        if self.num_classes != num_classes:
            self.reset_classifier(num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.check(x))  # (B, num_features): torchvision's forward, its head an Identity

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.head_drop(features))
