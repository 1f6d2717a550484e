"""Two-stream networks (Simonyan & Zisserman, NeurIPS 2014), the lecture's "separating motion and appearance".

    clip {"rgb": (B, 3, T, H, W), "flow": (B, 2, T-1, H, W)}
      spatial stream:  the clip's centre frame (B, 3, H, W) -> 2D CNN -> class scores   (appearance)
      temporal stream: the stack of T-1 flow fields (B, 2(T-1), H, W) -> 2D CNN -> class scores   (motion)
      fusion:          class probabilities averaged, the spatial stream's weighted by ``fusion_weight`` (0.5)

The temporal stream is early fusion over optical flow: its first convolution takes all ``2L`` flow channels
(``L = T - 1`` fields between the clip's ``T`` frames; the paper's L = 10, so 11 frames by default). Averaging
probabilities is the paper's simpler fusion (its other, an SVM on the stacked scores, needs a second training
stage); ``VideoClassifier`` trains the streams with summed losses or one at a time and can choose the weight on
validation.

Deliberate differences from the paper: the streams' CNN is any torchvision 2D network or small-image ResNet
(resnet18 by default) where the paper used CNN-M-2048 (with 0.9 / 0.5 dropout); the flow is OpenCV's DIS by default
(TV-L1 where OpenCV's contrib module is installed; the paper used Brox et al.'s), between frames sampled at the
data's frame rate (the paper's consecutive frames when that is the video's own), and the spatial stream sees the
clip's centre frame where the paper drew any frame of the video: the test protocol's clips spread it over the video.
"""

from __future__ import annotations

import torch
from torch import nn

from .early_fusion import fuse_first_conv
from .layers.backbone import FrameBackbone, Pretrained
from .layers.common import StackFrames
from .layers.frame_classifier import FrameClassifier, MeanOverTime
from .registry import register_model

STREAMS = ("rgb", "flow")  # each stream is named after the modality it takes


class TwoStream(nn.Module):
    """A spatial and a temporal stream, each a ``FrameClassifier`` (``streams["rgb"]``, ``streams["flow"]``),
    and the fusion of their class probabilities.

    ``forward`` returns the log of the fused probabilities, so softmax and cross-entropy downstream see exactly
    the fused probabilities; ``forward_streams`` returns each stream's own logits (training sums their losses).
    ``fusion_weight`` (a buffer, saved with the weights) is the spatial stream's share of the average.
    """

    def __init__(self, spatial: FrameClassifier, temporal: FrameClassifier):
        super().__init__()
        self.streams = nn.ModuleDict({"rgb": spatial, "flow": temporal})
        self.num_classes = spatial.num_classes
        self.num_features = spatial.num_features + temporal.num_features
        self.register_buffer("fusion_weight", torch.tensor(0.5))

    def forward_streams(self, x: dict[str, torch.Tensor], streams: tuple[str, ...] = STREAMS
                        ) -> dict[str, torch.Tensor]:
        """The logits ``(B, classes)`` of each stream of ``streams``, by name."""
        logits = {}
        if "rgb" in streams:
            centre = x["rgb"].shape[2] // 2
            logits["rgb"] = self.streams["rgb"](x["rgb"][:, :, centre:centre + 1])  # (B, 3, 1, H, W) -> (B, K)
        if "flow" in streams:
            logits["flow"] = self.streams["flow"](x["flow"])  # (B, 2, T-1, H, W) -> (B, K)
        return logits

    def fuse(self, logits: dict[str, torch.Tensor], weight: torch.Tensor | float | None = None) -> torch.Tensor:
        """The log of ``weight * p_rgb + (1 - weight) * p_flow`` (default weight: ``fusion_weight``), ``(B, K)``;
        a single stream's log-probabilities where ``logits`` holds one."""
        if len(logits) == 1:
            return next(iter(logits.values())).log_softmax(-1)
        w = torch.as_tensor(self.fusion_weight if weight is None else weight, dtype=logits["rgb"].dtype)
        # log(w p + (1 - w) q) in log space; a weight of 0 or 1 gives -inf + ..., which logaddexp drops.
        return torch.logaddexp(logits["rgb"].log_softmax(-1) + w.log(), logits["flow"].log_softmax(-1) + (1 - w).log())

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.fuse(self.forward_streams(x))

    # timm's surface, over both streams: features side by side, each stream's head on its own part.
    def forward_features(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        centre = x["rgb"].shape[2] // 2
        spatial = self.streams["rgb"].forward_features(x["rgb"][:, :, centre:centre + 1])  # (B, D_rgb)
        temporal = self.streams["flow"].forward_features(x["flow"])  # (B, D_flow)
        return torch.cat([spatial, temporal], dim=1)  # (B, D_rgb + D_flow)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        split = self.streams["rgb"].num_features
        return self.fuse({"rgb": self.streams["rgb"].forward_head(features[:, :split]),
                          "flow": self.streams["flow"].forward_head(features[:, split:])})

    def get_classifier(self) -> nn.ModuleDict:
        """Each stream's classifier, by stream."""
        return nn.ModuleDict({name: stream.get_classifier() for name, stream in self.streams.items()})

    def reset_classifier(self, num_classes: int) -> None:
        """Fresh classifiers for ``num_classes`` in both streams (the features are kept)."""
        for stream in self.streams.values():
            stream.reset_classifier(num_classes)
        self.num_classes = num_classes


@register_model(family="two_stream", modalities=("rgb", "flow"), frames=11, size=112, fps=25.0, min_frames=2)
def two_stream(num_classes: int, backbone: str = "resnet18", pretrained: Pretrained = None, frames: int = 11,
               dropout: float = 0.0) -> TwoStream:
    """Spatial stream on one RGB frame, temporal stream on the stacked flow of the clip; probabilities averaged."""
    flow_fields = frames - 1  # L: the flow between the clip's consecutive frames
    if flow_fields < 1:
        raise ValueError(f"two_stream needs clips of at least 2 frames (their flow is its temporal stream's input), "
                         f"got frames={frames}")
    spatial = FrameBackbone(backbone, pretrained)
    spatial_stream = FrameClassifier(spatial, num_classes, temporal=MeanOverTime(spatial.out_channels),
                                     dropout=dropout)
    temporal = fuse_first_conv(FrameBackbone(backbone, pretrained), flow_fields, from_weights=bool(pretrained),
                               channels=2)
    stack = StackFrames(flow_fields, what="two_stream's temporal stream",
                        hint=f"a clip of T frames has T-1 flow fields; it was built for frames={frames}")
    return TwoStream(spatial_stream, FrameClassifier(temporal, num_classes, dropout=dropout, stack=stack))

