"""The lecture's three small example networks ("Early Fusion vs Late Fusion vs 3D CNN"), layer for layer.

Input 3 x 20 x 64 x 64. Each is a flat ``nn.Sequential`` (a ``SequentialClassifier``) named ``conv1, pool1,
conv2, pool, fc`` (plus ``relu*`` and ``flatten``), so a per-layer profile reads like the lecture's table:

=============  ==================  ==================  ==================
layer          late fusion         early fusion        3D CNN
=============  ==================  ==================  ==================
conv1          12 x 20 x 64 x 64   12 x 64 x 64        12 x 20 x 64 x 64
pool1          12 x 20 x 16 x 16   12 x 16 x 16        12 x 5 x 16 x 16
conv2          24 x 20 x 16 x 16   24 x 16 x 16        24 x 5 x 16 x 16
pool (global)  24 x 1 x 1 x 1      24 x 1 x 1          24 x 1 x 1 x 1
=============  ==================  ==================  ==================
"""

from __future__ import annotations

from collections import OrderedDict

from .layers.classifier import SequentialClassifier
from .layers.common import StackFrames, conv_stages, global_pool, linear_head
from .published import Published
from .registry import register_model


def _table(*rows: tuple[str, tuple[int, ...], tuple[int, int, int]]) -> list[Published]:
    """The lecture's rows: output size (C x T x H x W, or C x H x W) and receptive field (T x H x W)."""
    return [Published(
        source="CS231n lecture 10 slides, 'Early Fusion vs Late Fusion vs 3D CNN' table (slide credit Justin "
               "Johnson)",
        input="3x20x64x64",
        layers={name: {"output_shape": list(shape), "receptive_field": list(rf)} for name, shape, rf in rows},
    )]


@register_model(family="late_fusion", frames=20, size=64, min_size=4, published=_table(
    ("conv1", (12, 20, 64, 64), (1, 3, 3)), ("pool1", (12, 20, 16, 16), (1, 6, 6)),
    ("conv2", (24, 20, 16, 16), (1, 14, 14)), ("pool", (24, 1, 1, 1), (20, 64, 64))))
def lecture_late_fusion(num_classes: int) -> SequentialClassifier:
    """Lecture example: 2D convs per frame (3->12, pool 4x4, 12->24), pooled over space and time last."""
    # A (1, 3, 3) 3D conv is exactly a 2D 3x3 conv applied to every frame with shared weights; writing it so
    # keeps the table's C x T x H x W shapes and lets receptive fields be read in frames.
    stages = conv_stages(3, [(12, 1, (1, 4, 4)), (24, 1, None)], kernel=(1, 3, 3))
    return SequentialClassifier(stages | global_pool(), linear_head(24, num_classes))


@register_model(family="early_fusion", frames=20, size=64, min_size=4, published=_table(
    ("conv1", (12, 64, 64), (20, 3, 3)), ("pool1", (12, 16, 16), (20, 6, 6)),
    ("conv2", (24, 16, 16), (20, 14, 14)), ("pool", (24, 1, 1), (20, 64, 64))))
def lecture_early_fusion(num_classes: int, frames: int) -> SequentialClassifier:
    """Lecture example: clip stacked to 3T x H x W, 2D conv 3T->12 collapses time, pool 4x4, conv 12->24."""
    stages = conv_stages(3 * frames, [(12, 1, 4), (24, 1, None)], dims=2)
    features = OrderedDict(fuse=StackFrames(frames)) | stages | global_pool(dims=2)
    return SequentialClassifier(features, linear_head(24, num_classes))


@register_model(family="slow_fusion", frames=20, size=64, min_frames=4, min_size=4, published=_table(
    ("conv1", (12, 20, 64, 64), (3, 3, 3)), ("pool1", (12, 5, 16, 16), (6, 6, 6)),
    ("conv2", (24, 5, 16, 16), (14, 14, 14)), ("pool", (24, 1, 1), (20, 64, 64))))
def lecture_3d_cnn(num_classes: int) -> SequentialClassifier:
    """Lecture example: 3x3x3 convs 3->12, pool 4x4x4, 3x3x3 conv 12->24: builds slowly in space and time."""
    # pool1 takes 4 x 4 x 4 to one cell (no padding): smaller clips leave nothing to pool (min_frames=4).
    features = conv_stages(3, [(12, 1, 4), (24, 1, None)]) | global_pool()
    return SequentialClassifier(features, linear_head(24, num_classes))
