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
from .published import Published
from .registry import register_model

# (out_channels, convs, pool): the lecture's table, stage by stage.
C3D_STAGES = [(64, 1, (1, 2, 2)), (128, 1, 2), (256, 2, 2), (512, 2, 2), (512, 2, 2)]
# Four time-pools of 2 and five space-pools of 2 (no padding, floor): pool5 keeps a cell from 16 x 32 x 32 on
# (registered as its smallest clip: create_model refuses a smaller one).
MIN_FRAMES, MIN_SIZE = 16, 32


# The lecture's table: every layer's output (C x T x H x W) and, for the convs and FCs, its "MFLOPs" (in fact
# GMACs: 64 x 16 x 112 x 112 outputs x 81 MACs = 1.04 G for conv1). Its FC rows are 27x their cost.
_SLIDE_FC = ("27 x the layer's cost: the 3x3x3 kernel volume carried over from the conv rows "
             "(docs/flops.md, 'C3D: why the slide says 39.5')")
LECTURE_TABLE = Published(
    source="CS231n lecture 10 slides, 'C3D: The VGG of 3D CNNs' table (slide credit Justin Johnson)",
    input="3x16x112x112", num_classes=487, gmacs=39.5,  # Sports-1M's 487 classes: the slide's "C"
    differs=f"the total sums the slide's FC rows, each {_SLIDE_FC}: 38.497 + 27 x 0.0377 = 39.5",
    layers={
        "conv1": {"output_shape": [64, 16, 112, 112], "gmacs": 1.04},
        "pool1": {"output_shape": [64, 16, 56, 56]},
        "conv2": {"output_shape": [128, 16, 56, 56], "gmacs": 11.10},
        "pool2": {"output_shape": [128, 8, 28, 28]},
        "conv3a": {"output_shape": [256, 8, 28, 28], "gmacs": 5.55},
        "conv3b": {"output_shape": [256, 8, 28, 28], "gmacs": 11.10},
        "pool3": {"output_shape": [256, 4, 14, 14]},
        "conv4a": {"output_shape": [512, 4, 14, 14], "gmacs": 2.77},
        "conv4b": {"output_shape": [512, 4, 14, 14], "gmacs": 5.55},
        "pool4": {"output_shape": [512, 2, 7, 7]},
        "conv5a": {"output_shape": [512, 2, 7, 7], "gmacs": 0.69},
        "conv5b": {"output_shape": [512, 2, 7, 7], "gmacs": 0.69},
        "pool5": {"output_shape": [512, 1, 3, 3]},
        "fc6": {"output_shape": [4096], "gmacs": 0.51, "differs": _SLIDE_FC},
        "fc7": {"output_shape": [4096], "gmacs": 0.45, "differs": _SLIDE_FC},
        "fc8": {"output_shape": [487], "gmacs": 0.05, "differs": _SLIDE_FC},
    })
# MMAction2's C3D (its "FLOPs" are multiply-accumulates: mmcv's counter counts a MAC as one, and also counts
# activations and pools). Its 8192-wide FC6 takes exactly the 16 x 112 x 112 clip.
MMACTION2_C3D = Published(
    source="open-mmlab/mmaction2 configs/recognition/c3d/metafile.yml @ 0785c53 "
           "(c3d_sports1m-pretrained_8xb30-16x1x1-45e_ucf101-rgb: FLOPs 38615475200, Parameters 78409573)",
    input="3x16x112x112", num_classes=101, model_args={"pool5_padding": True},
    gmacs=38_615_475_200 / 1e9, params=78_409_573,
    input_note="the metafile names no input; the padded pool5 and 8192-wide FC6 take only 16 x 112 x 112 clips")


@register_model(family="c3d", frames=16, size=112, fps=25.0, min_frames=MIN_FRAMES, min_size=MIN_SIZE,
                published=[LECTURE_TABLE, MMACTION2_C3D])
def c3d(num_classes: int, frames: int, size: int, dropout: float = 0.5, batch_norm: bool = False,
        pool5_padding: bool = False) -> SequentialClassifier:
    """C3D as in the lecture: eight 3x3x3 convs, 2x2x2 pools (pool1 1x2x2), FC6/FC7 of 4096, dropout.

    ``frames`` / ``size`` fit FC6 to other clip shapes; ``pool5_padding``: pool5 padded as in the original C3D.
    """
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
