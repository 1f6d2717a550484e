"""C3D (Tran et al., ICCV 2015), "the VGG of 3D CNNs", exactly as in the lecture's table.

All convs 3x3x3 with padding 1, all pools 2x2x2 except pool1 (1x2x2), FC6 / FC7 of 4096 with dropout.
At 3x16x112x112 pool5 gives 512x1x3x3 as in the lecture: that is pool5 *without* padding (floor(7/2) = 3).
The original C3D (and MMAction2's, 78.4 M parameters with 101 classes) pads pool5 spatially (0, 1, 1), giving
512x1x4x4 and an 8192-wide FC6: ``pool5_padding=True``. The default follows the lecture (63.7 M with 101 classes).
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from .layers.classifier import SequentialClassifier
from .layers.common import CheckShape, conv_stages
from .registry import register_model

# (out_channels, convs, pool): the lecture's table, stage by stage.
C3D_STAGES = [(64, 1, (1, 2, 2)), (128, 1, 2), (256, 2, 2), (512, 2, 2), (512, 2, 2)]
# Four time-pools of 2 and five space-pools of 2 (no padding, floor): pool5 keeps a cell from 16 x 32 x 32 on.
MIN_FRAMES, MIN_SIZE = 16, 32


@register_model(family="c3d", frames=16, size=112, fps=25.0, min_frames=MIN_FRAMES, min_size=MIN_SIZE,
                published={
    "layer_gmacs": {"conv1": 1.04, "conv2": 11.10, "conv3a": 5.55, "conv3b": 11.10, "conv4a": 2.77,
                    "conv4b": 5.55, "conv5a": 0.69, "conv5b": 0.69},
    "gmacs_slide_total": 39.5,
    "pool5_shape": [512, 1, 3, 3],
    "input": "3x16x112x112",
    "source": "lecture 10 slides, 'C3D: The VGG of 3D CNNs' table (Tran et al., ICCV 2015)",
})
def c3d(num_classes: int, frames: int = 16, size: int = 112, dropout: float = 0.5,
        batch_norm: bool = False, pool5_padding: bool = False) -> SequentialClassifier:
    """C3D as in the lecture: eight 3x3x3 convs, 2x2x2 pools (pool1 1x2x2), FC6/FC7 of 4096, dropout.

    ``frames`` / ``size`` fit FC6 to other clip shapes; ``pool5_padding``: pool5 padded as in the original C3D.
    """
    if frames < MIN_FRAMES or size < MIN_SIZE:
        raise ValueError(f"c3d needs frames >= {MIN_FRAMES} and size >= {MIN_SIZE} (pool5 must keep a cell), "
                         f"got frames={frames}, size={size}")
    # pool5 is (512, T/16, H/32, W/32); padded in space, (512, T/16, H/32 + 1, W/32 + 1) with H/16 rounded down
    t, s = frames // 16, size // 16 // 2 + 1 if pool5_padding else size // 32
    hint = f"c3d was built for clips of frames={frames}, size={size}; pass frames=/size= to fit other clips"
    stages = conv_stages(3, C3D_STAGES, batch_norm=batch_norm)
    if pool5_padding:
        stages["pool5"] = nn.MaxPool3d(2, 2, padding=(0, 1, 1))
    features = stages | OrderedDict(
        check=CheckShape((512, t, s, s), "pool5 output", hint),
        flatten=nn.Flatten(1),  # (B, 512, t, s, s) -> (B, 512*t*s*s)
        fc6=nn.Linear(512 * t * s * s, 4096), relu6=nn.ReLU(inplace=True), drop6=nn.Dropout(dropout),
        fc7=nn.Linear(4096, 4096), relu7=nn.ReLU(inplace=True),
    )
    head = OrderedDict(drop7=nn.Dropout(dropout), fc8=nn.Linear(4096, num_classes))
    return SequentialClassifier(features, head)
