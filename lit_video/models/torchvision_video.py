"""torchvision's video classifiers behind the registry: random init or a local checkpoint, head sized to the
data.

The published figures come from each weights enum's metadata (``Weights.KINETICS400_V1.meta``), which is part
of torchvision itself: reading it downloads nothing. ``_ops`` is torchvision's GMACs for one clip of 16 frames
(112 px for the ResNets, 224 px for the others).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torchvision
from torch import nn

from .layers.backbone import load_local_checkpoint
from .layers.common import replace_classifier
from .registry import register_model

# name: (family, frames, size, fps, whether the architecture accepts only that clip shape).
# Frame rates are those of the weights' evaluation (their meta "_docs").
ARCHITECTURES: dict[str, tuple[str, int, int, float, bool]] = {
    "r3d_18": ("r3d", 16, 112, 15.0, False),
    "mc3_18": ("mc3", 16, 112, 15.0, False),
    "r2plus1d_18": ("r2plus1d", 16, 112, 15.0, False),
    "s3d": ("s3d", 16, 224, 15.0, False),
    "mvit_v1_b": ("mvit", 16, 224, 7.5, True),  # fixed positional embeddings: exactly 16 x 224 x 224
    "mvit_v2_s": ("mvit", 16, 224, 7.5, True),  # fixed relative-position tables: exactly 16 x 224 x 224
    "swin3d_t": ("swin3d", 16, 224, 15.0, False),
}
KINETICS_CLASSES = 400


def published_figures(name: str) -> dict[str, Any]:
    """Kinetics-400 figures of torchvision's weights for ``name``, with their source."""
    weights = torchvision.models.get_model_weights(name).KINETICS400_V1
    meta, (_, frames, size, _, _) = weights.meta, ARCHITECTURES[name]
    return {
        "gmacs": meta["_ops"],
        "gflops": round(2 * meta["_ops"], 3),
        "params": meta["num_params"],
        "kinetics400_top1": meta["_metrics"]["Kinetics-400"]["acc@1"],
        "kinetics400_top5": meta["_metrics"]["Kinetics-400"]["acc@5"],
        "input": f"3x{frames}x{size}x{size}",
        "min_size": list(meta["min_size"]),
        "min_temporal_size": meta.get("min_temporal_size", 1),
        "evaluation": meta["_docs"],
        "recipe": meta["recipe"],
        "source": f"torchvision {type(weights).__name__}.KINETICS400_V1.meta",
    }


class TorchvisionVideo(nn.Module):
    """A torchvision video network; checks the clip shape where the architecture fixes it."""

    def __init__(self, name: str, num_classes: int, pretrained: str | None = None):
        super().__init__()
        _, frames, size, _, fixed = ARCHITECTURES[name]
        self.name, self.fixed_shape = name, (frames, size, size) if fixed else None
        if pretrained is None:
            self.net = torchvision.models.get_model(name, weights=None, num_classes=num_classes)
        else:  # a Kinetics-400 checkpoint: load it whole, then size the head to the data
            net = load_local_checkpoint(torchvision.models.get_model(name, weights=None), pretrained)
            self.net = replace_classifier(net, num_classes)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        if self.fixed_shape and tuple(clip.shape[2:]) != self.fixed_shape:
            t, h, w = self.fixed_shape
            raise ValueError(f"{self.name} takes clips of exactly {t} frames of {h}x{w} (its position "
                             f"embeddings are fixed), got a clip of shape {tuple(clip.shape)}")
        return self.net(clip)


def _builder(name: str) -> Callable[..., nn.Module]:
    def build(num_classes: int, pretrained: str | None = None) -> nn.Module:
        return TorchvisionVideo(name, num_classes, pretrained)

    _, frames, size, _, fixed = ARCHITECTURES[name]
    shape = f"; takes exactly {frames}x{size}x{size} clips" if fixed else ""
    build.__name__ = name
    build.__doc__ = f"torchvision's {name} (random init or a local Kinetics-400 checkpoint){shape}."
    return build


for _name, (_family, _frames, _size, _fps, _) in ARCHITECTURES.items():
    register_model(_name, family=_family, frames=_frames, size=_size, fps=_fps,
                   published=published_figures(_name))(_builder(_name))
