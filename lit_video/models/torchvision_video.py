"""torchvision's video classifiers behind the registry: random init, a local checkpoint or torchvision's own
Kinetics-400 weights, head sized to the data.

The published figures come from each weights enum's metadata (``Weights.KINETICS400_V1.meta``), which is part
of torchvision itself: reading it downloads nothing. ``_ops`` is torchvision's GMACs for one clip of 16 frames
(112 px for the ResNets, 224 px for the others); the accuracies were measured on other clips for some (S3D: one
clip of 128 frames; Swin3D: 12 clips of 32), which the metadata's ``_docs`` states and ``EvalProtocol`` keeps.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torchvision
from torch import nn

from .layers.backbone import Pretrained, load_local_checkpoint, resolve_pretrained
from .layers.classifier import TorchvisionClassifier
from .layers.common import CheckShape
from .published import EvalProtocol, Published
from .registry import register_model


@dataclass(frozen=True)
class Architecture:
    family: str
    frames: int  # the clip of the published figures
    size: int
    fps: float  # the frame rate of the weights' evaluation (their meta "_docs")
    head: str  # torchvision's classifier attribute, lifted out by name (S3D's is a 1x1 conv)
    fixed_shape: bool = False  # fixed position embeddings / tables: takes exactly frames x size x size
    heavy: bool = False  # seconds per tiny clip on a 2-core CPU


ARCHITECTURES = {
    "r3d_18": Architecture("r3d", 16, 112, 15.0, head="fc"),
    "mc3_18": Architecture("mc3", 16, 112, 15.0, head="fc", heavy=True),
    "r2plus1d_18": Architecture("r2plus1d", 16, 112, 15.0, head="fc", heavy=True),
    "s3d": Architecture("s3d", 16, 224, 15.0, head="classifier", heavy=True),
    "mvit_v1_b": Architecture("mvit", 16, 224, 7.5, head="head", fixed_shape=True, heavy=True),
    "mvit_v2_s": Architecture("mvit", 16, 224, 7.5, head="head", fixed_shape=True, heavy=True),
    "swin3d_t": Architecture("swin3d", 16, 224, 15.0, head="head", heavy=True),
    "swin3d_s": Architecture("swin3d", 16, 224, 15.0, head="head", heavy=True),
    "swin3d_b": Architecture("swin3d", 16, 224, 15.0, head="head", heavy=True),
}


def kinetics_weights(name: str) -> torchvision.models.WeightsEnum:
    return torchvision.models.get_model_weights(name).KINETICS400_V1


def evaluation_protocol(weights: torchvision.models.WeightsEnum) -> EvalProtocol:
    """How the weights' accuracy was measured, from their card: ``_docs`` names ``frame_rate``,
    ``clips_per_video`` and ``clip_len``; the preset transform takes one centre crop of ``crop_size``."""
    docs = weights.meta["_docs"]
    found = {k: re.search(rf"`{k}=([0-9.]+)`", docs) for k in ("frame_rate", "clips_per_video", "clip_len")}
    missing = [k for k, m in found.items() if m is None]
    if missing:
        raise ValueError(f"{weights}: its meta _docs no longer state {', '.join(missing)}: {docs!r}")
    crop = weights.transforms.keywords["crop_size"]
    return EvalProtocol(frames=int(found["clip_len"][1]), clips=int(found["clips_per_video"][1]), crops=1,
                        size=crop[0], fps=float(found["frame_rate"][1]))


def published_figures(name: str) -> Published:
    """The Kinetics-400 card of torchvision's weights for ``name``: GMACs and parameters of the network at
    400 classes for its 16-frame clip, and the accuracy with its own protocol."""
    weights = kinetics_weights(name)
    meta, arch = weights.meta, ARCHITECTURES[name]
    module = type(weights).__module__.replace(".", "/")
    return Published(
        source=f"{module}.py (pytorch/vision): {type(weights).__name__}.KINETICS400_V1.meta",
        input=f"3x{arch.frames}x{arch.size}x{arch.size}", gmacs=meta["_ops"], params=meta["num_params"],
        dataset="Kinetics-400", top1=meta["_metrics"]["Kinetics-400"]["acc@1"],
        top5=meta["_metrics"]["Kinetics-400"]["acc@5"], protocol=evaluation_protocol(weights))


def torchvision_video(name: str, num_classes: int, pretrained: Pretrained = None) -> TorchvisionClassifier:
    """torchvision's ``name`` for ``num_classes``: random, a local Kinetics-400 checkpoint (torchvision key names)
    or (``pretrained=True``) torchvision's ``KINETICS400_V1`` weights, loaded whole, its classifier kept when the
    class counts agree."""
    arch = ARCHITECTURES[name]
    source = resolve_pretrained(pretrained, f"model {name!r}", kinetics_weights(name))
    if source is None:
        net = torchvision.models.get_model(name, weights=None, num_classes=num_classes)
    elif isinstance(source, torchvision.models.WeightsEnum):
        # Exactly torchvision's loading: torch hub's cache (TORCH_HOME), a download only where the file is missing.
        net = torchvision.models.get_model(name, weights=source)
    else:
        net = load_local_checkpoint(torchvision.models.get_model(name, weights=None), source)
    check = None
    if arch.fixed_shape:
        t, s = arch.frames, arch.size
        hint = f"{name} takes clips of exactly {t} frames of {s}x{s} (its position embeddings are fixed)"
        check = CheckShape((t, s, s), "clip (frames, height, width)", hint)
    return TorchvisionClassifier(net, arch.head, num_classes, check=check)


def _builder(name: str) -> Callable[..., nn.Module]:
    def build(num_classes: int, pretrained: Pretrained = None) -> TorchvisionClassifier:
        return torchvision_video(name, num_classes, pretrained)

    arch = ARCHITECTURES[name]
    shape = f"; takes exactly {arch.frames}x{arch.size}x{arch.size} clips" if arch.fixed_shape else ""
    build.__name__ = name
    build.__doc__ = f"torchvision's {name} (random init, a local checkpoint or its Kinetics-400 weights){shape}."
    return build


for _name, _arch in ARCHITECTURES.items():
    _meta = kinetics_weights(_name).meta  # the smallest clip the weights card states
    register_model(_name, family=_arch.family, frames=_arch.frames, size=_arch.size, fps=_arch.fps,
                   fixed_shape=_arch.fixed_shape, heavy=_arch.heavy,
                   min_frames=_meta.get("min_temporal_size", 1), min_size=max(_meta["min_size"]),
                   published=[published_figures(_name)])(_builder(_name))
