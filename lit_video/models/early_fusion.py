"""Early fusion (Karpathy et al. 2014): the clip is stacked into one 3T x H x W image; the first 2D
convolution collapses all temporal information, and a normal 2D CNN follows."""

from __future__ import annotations

import torch
from torch import nn

from .layers.backbone import FrameBackbone, Pretrained
from .layers.common import StackFrames
from .layers.frame_classifier import FrameClassifier
from .registry import register_model


def fuse_first_conv(net: FrameBackbone, frames: int, from_weights: bool, channels: int | None = None
                    ) -> FrameBackbone:
    """Give ``net``'s first conv ``C*T`` input channels: ``channels`` (default: its own, 3) for each of ``frames``
    frames. ``from_weights``: start from its (pretrained) 2D weights, so that on a clip of identical frames the
    fused conv gives the 2D conv's output; for another channel count (optical flow's 2), from their mean over the
    RGB channels, the cross-modality initialisation of Wang et al. (TSN, 2016)."""
    name, conv = next((n, m) for n, m in net.trunk.named_modules() if isinstance(m, nn.Conv2d))
    channels = channels or conv.in_channels
    fused = nn.Conv2d(channels * frames, conv.out_channels, conv.kernel_size, conv.stride,
                      conv.padding, conv.dilation, conv.groups, conv.bias is not None)
    if from_weights:
        with torch.no_grad():
            weight = conv.weight  # (O, C, k, k)
            if channels != conv.in_channels:
                weight = weight.mean(1, keepdim=True).expand(-1, channels, -1, -1)  # (O, 1, k, k) -> (O, C', k, k)
            # (O, C, k, k) -> (O, C, T, k, k) / T -> (O, C*T, k, k), matching StackFrames' channel c*T + t.
            per_frame = weight.unsqueeze(2).repeat(1, 1, frames, 1, 1) / frames  # (O, C, T, k, k)
            fused.weight.copy_(per_frame.flatten(1, 2))  # (O, C*T, k, k)
            if conv.bias is not None:
                fused.bias.copy_(conv.bias)
    net.trunk.set_submodule(name, fused)
    return net


@register_model(family="early_fusion", frames=8, size=112)
def early_fusion(num_classes: int, frames: int, backbone: str = "resnet18", pretrained: Pretrained = None,
                 dropout: float = 0.0) -> FrameClassifier:
    """Clip reshaped to 3T x H x W; the backbone's first conv takes 3T channels and collapses time."""
    net = fuse_first_conv(FrameBackbone(backbone, pretrained), frames, from_weights=bool(pretrained))
    return FrameClassifier(net, num_classes, dropout=dropout, stack=StackFrames(frames))
