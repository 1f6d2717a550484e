"""Two-stream networks (Simonyan & Zisserman, NeurIPS 2014), the lecture's "separating motion and appearance".

    clip {"rgb": (B, 3, T, H, W), "flow": (B, 2, T-1, H, W)}
      spatial stream:  the clip's centre frame (B, 3, H, W) -> 2D CNN -> class scores   (appearance)
      temporal stream: the stack of T-1 flow fields (B, 2(T-1), H, W) -> 2D CNN -> class scores   (motion)
      fusion:          class probabilities averaged, the spatial stream's weighted by ``fusion_weight`` (0.5)
    -> {"rgb": logits, "flow": logits, "fused": scores whose softmax (sigmoid, multi-label) is the fused probabilities}

The temporal stream is early fusion over optical flow: its first convolution takes all ``2L`` flow channels
(``L = T - 1`` fields between the clip's ``T`` frames; the paper's L = 10, so 11 frames by default). Averaging
probabilities is the paper's simpler fusion (its other, an SVM on the stacked scores, needs a second training
stage). The streams train together (their losses summed) or, as the paper trained them, one at a time:
``train_streams`` says which this model trains, and the model remembers which it has trained (``trained``, saved
with the weights), so that evaluation fuses only those (a run training the flow stream from a checkpoint whose RGB
stream is trained fuses both). ``lit_video.tasks.fusion.FusionWeightSearch`` chooses ``fusion_weight`` on validation.

Deliberate differences from the paper: the streams' CNN is any torchvision 2D network or small-image ResNet
(resnet18 by default) where the paper used CNN-M-2048 (with 0.9 / 0.5 dropout); the flow is OpenCV's DIS by default
(TV-L1 where OpenCV's contrib module is installed; the paper used Brox et al.'s), between frames sampled at the
data's frame rate (the paper's consecutive frames when that is the video's own), and the spatial stream sees the
clip's centre frame where the paper drew any frame of the video: the test protocol's clips spread it over the video.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
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

    ``forward`` returns each stream's logits and ``fused``, the fused probabilities as scores: their log for
    single-label data (softmax gives them back), their logit for multi-label data (sigmoid does). Training runs the
    streams of ``train_streams``; evaluation those trained so far (every stream of a model never trained).
    ``fusion_weight`` (a buffer, saved with the weights) is the spatial stream's share of the average.
    """

    def __init__(self, spatial: FrameClassifier, temporal: FrameClassifier, train_streams: tuple[str, ...] = STREAMS,
                 multi_label: bool = False):
        super().__init__()
        unknown = [s for s in train_streams if s not in STREAMS]
        if unknown or not train_streams:
            raise ValueError(f"two_stream: train_streams {list(train_streams)!r}: choose one or both of "
                             f"{', '.join(STREAMS)}")
        self.streams = nn.ModuleDict({"rgb": spatial, "flow": temporal})
        self.train_streams, self.multi_label = tuple(train_streams), multi_label
        self.num_classes = spatial.num_classes
        self.num_features = spatial.num_features + temporal.num_features
        self.register_buffer("fusion_weight", torch.tensor(0.5))
        self.register_buffer("trained", torch.zeros(len(STREAMS), dtype=torch.bool))  # by STREAMS' order

    @property
    def running_streams(self) -> tuple[str, ...]:
        """The streams a forward pass runs: in training ``train_streams``, in evaluation those trained so far (in
        this run or before it, by ``init_weights`` or a resumed checkpoint), or every stream of a model never
        trained."""
        if self.training:
            return self.train_streams
        if self.trained.is_meta:  # built on the meta device to be counted: no weights, never trained
            return STREAMS
        return tuple(s for s, done in zip(STREAMS, self.trained.tolist(), strict=True) if done) or STREAMS

    def _stream(self, name: str, x: dict[str, torch.Tensor]) -> torch.Tensor:
        if name == "rgb":
            centre = x["rgb"].shape[2] // 2
            return self.streams["rgb"](x["rgb"][:, :, centre:centre + 1])  # (B, 3, 1, H, W) -> (B, K)
        return self.streams["flow"](x["flow"])  # (B, 2, T-1, H, W) -> (B, K)

    def forward(self, x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        streams = self.running_streams
        if self.training:
            self.trained |= torch.tensor([s in streams for s in STREAMS], device=self.trained.device)
        logits = {name: self._stream(name, x) for name in streams}
        return {**logits, "fused": self.fuse(logits)}

    def fuse(self, logits: dict[str, torch.Tensor], weight: torch.Tensor | float | None = None) -> torch.Tensor:
        """Scores ``(B, K)`` of the average ``weight * p_rgb + (1 - weight) * p_flow`` of the streams' class
        probabilities (default weight: ``fusion_weight``): its log (single-label: softmax gives it back) or its
        logit (multi-label: sigmoid does); the one stream's own where ``logits`` holds one."""
        if len(logits) == 1:
            (only,) = logits.values()
            return only if self.multi_label else only.log_softmax(-1)
        w = torch.as_tensor(self.fusion_weight if weight is None else weight, dtype=logits["rgb"].dtype)
        # log(w p + (1 - w) q) in log space; a weight of 0 or 1 gives -inf + ..., which logaddexp drops.
        def log_mix(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
            return torch.logaddexp(p + w.log(), q + (1 - w).log())

        if not self.multi_label:
            return log_mix(logits["rgb"].log_softmax(-1), logits["flow"].log_softmax(-1))
        # logit(m) = log m - log(1 - m), m the mixture of the sigmoids; log(1 - sigmoid(a)) = logsigmoid(-a).
        rgb, flow = logits["rgb"], logits["flow"]
        return log_mix(F.logsigmoid(rgb), F.logsigmoid(flow)) - log_mix(F.logsigmoid(-rgb), F.logsigmoid(-flow))

    # timm's surface, over both streams: features side by side, each stream's head on its own part.
    def forward_features(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        centre = x["rgb"].shape[2] // 2
        spatial = self.streams["rgb"].forward_features(x["rgb"][:, :, centre:centre + 1])  # (B, D_rgb)
        temporal = self.streams["flow"].forward_features(x["flow"])  # (B, D_flow)
        return torch.cat([spatial, temporal], dim=1)  # (B, D_rgb + D_flow)

    def forward_head(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        split = self.streams["rgb"].num_features
        logits = {"rgb": self.streams["rgb"].forward_head(features[:, :split]),
                  "flow": self.streams["flow"].forward_head(features[:, split:])}
        logits = {name: logits[name] for name in self.running_streams}
        return {**logits, "fused": self.fuse(logits)}

    def get_classifier(self) -> nn.ModuleDict:
        """Each stream's classifier, by stream."""
        return nn.ModuleDict({name: stream.get_classifier() for name, stream in self.streams.items()})

    def reset_classifier(self, num_classes: int) -> None:
        """Fresh classifiers for ``num_classes`` in both streams (the features are kept)."""
        for stream in self.streams.values():
            stream.reset_classifier(num_classes)
        self.num_classes = num_classes


@register_model(family="two_stream", modalities=("rgb", "flow"), frames=11, size=112, fps=25.0, min_frames=2,
                outputs=(*STREAMS, "fused"))
def two_stream(num_classes: int, frames: int, multi_label: bool, backbone: str = "resnet18",
               pretrained: Pretrained = None, dropout: float = 0.0, train_streams: tuple[str, ...] = STREAMS
               ) -> TwoStream:
    """Spatial stream on one RGB frame, temporal stream on the stacked flow of the clip; probabilities averaged.

    ``train_streams``: the streams this model trains (both, or one at a time as the paper did)."""
    flow_fields = frames - 1  # L: the flow between the clip's consecutive frames (min_frames=2: at least one)
    spatial = FrameBackbone(backbone, pretrained)
    spatial_stream = FrameClassifier(spatial, num_classes, temporal=MeanOverTime(spatial.out_channels),
                                     dropout=dropout)
    temporal = fuse_first_conv(FrameBackbone(backbone, pretrained), flow_fields, from_weights=bool(pretrained),
                               channels=2)
    stack = StackFrames(flow_fields, what="two_stream's temporal stream",
                        hint=f"a clip of T frames has T-1 flow fields; it was built for frames={frames}")
    return TwoStream(spatial_stream, FrameClassifier(temporal, num_classes, dropout=dropout, stack=stack),
                     tuple(train_streams), multi_label)

