"""I3D: 2D image networks inflated to 3D (Carreira & Zisserman, CVPR 2017), optionally with non-local blocks.

``pretrained`` is a local torchvision 2D checkpoint or True (torchvision's ImageNet weights of the 2D network); it is
loaded into the 2D network, which is then inflated, so a video model starts from ImageNet weights exactly as the
lecture describes. The 2D classifier (``fc`` in both networks) is lifted out of the inflated network, kept when the
class counts agree, otherwise replaced.
See ``layers/inflate.py`` for the time-padding and global-pooling choices.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from .layers.backbone import Pretrained, torchvision_2d
from .layers.classifier import TorchvisionClassifier
from .layers.inflate import TimeKernel, TimeStride, inflate, time_padded
from .layers.nonlocal_block import NonLocalBlock
from .published import EvalProtocol, Published
from .registry import register_model

# Non-local blocks after every other residual block of res3 and res4 (torchvision's layer2 / layer3):
# the 5-block setting of Wang et al. 2018.
NONLOCAL_RES3_RES4 = {"layer2": [1, 3], "layer3": [1, 3, 5]}


# I3D ResNet-50 as the Non-local paper (Wang et al. 2018, Table 1) and MMAction2 build it: which bottleneck blocks
# inflate their first 1x1 conv to 3x1x1, per stage (res2..res5 = torchvision's layer1..layer4); their 3x3 convs
# stay 1x3x3. MMAction2: configs/recognition/i3d, ResNet3d(inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0),
# (0, 1, 0)), inflate_style="3x1x1", conv1_kernel=(5, 7, 7), conv1_stride_t=2, pool1_stride_t=2, with_pool2).
R50_INFLATED_BLOCKS = ((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0))
R50_INFLATIONS = ("3x1x1", "3x3x3")

# MMAction2's I3D model zoo, its v0.x metafile (exact integers; its "FLOPs" are multiply-accumulates counted by
# mmcv, which also counts norms, activations and pools but not torch.matmul). The metafile names no input for
# the count; the models' test clip is 32 frames cropped to 256 x 256 (SampleFrames clip_len=32, ThreeCrop
# crop_size=256 in i3d_r50_32x2x1_100e_kinetics400_rgb.py), and the counts agree there (at 224 x 224 ours are
# 24 % lower).
_MMACTION2_I3D = "open-mmlab/mmaction2 configs/recognition/i3d/metafile.yml @ fa707f9"
_MMACTION2_INPUT = ("the metafile names no input for its count: 32 x 256 x 256 is its configs' test clip "
                    "(clip_len=32, ThreeCrop crop_size=256), inferred, not stated")
MMACTION2_I3D_R50 = Published(
    source=f"{_MMACTION2_I3D} (i3d_r50_32x2x1_100e_kinetics400_rgb: FLOPs 43564040192, Parameters 28043472)",
    input="3x32x256x256", gmacs=43_564_040_192 / 1e9, params=28_043_472, input_note=_MMACTION2_INPUT,
    dataset="Kinetics-400", top1=72.68, top5=90.78, protocol=EvalProtocol(frames=32, clips=10, crops=3, size=256))
MMACTION2_I3D_R50_NL = Published(
    source=f"{_MMACTION2_I3D} (i3d_nl_embedded_gaussian_r50_32x2x1_100e_kinetics400_rgb: FLOPs 54334488576, "
           "Parameters 35397840)",
    input="3x32x256x256", gmacs=54_334_488_576 / 1e9, params=35_397_840, input_note=_MMACTION2_INPUT,
    differs="two differences that nearly cancel: MMAction2's non-local blocks project phi and g before pooling "
            "(the reference code, and lit-video, pool first), which costs 4.03 GMACs more here; mmcv's counter "
            "leaves out the affinity matmuls (5.10 GMACs here) and counts norms, activations and pools (0.3)")
# DeepMind's reference I3D strides 2 in time at Conv3d_1a_7x7, MaxPool3d_4a_3x3 and MaxPool3d_5a_2x2 ("SAME"
# padding): 64 frames leave 8 steps for Mixed_5c (torchvision GoogLeNet's inception5b), 224 pixels 7.
DEEPMIND_I3D = Published(
    source="deepmind/kinetics-i3d tf_v2/i3d.py @ 50c8f19: stride 2 in time, height and width at Conv3d_1a_7x7, "
           "MaxPool3d_4a_3x3 and MaxPool3d_5a_2x2, 1 in time elsewhere ('SAME' padding)",
    input="3x64x224x224", layers={"net.inception5b": {"output_shape": [1024, 8, 7, 7]}})


def r50_time_kernel(name: str, layer: nn.Module) -> int:
    """The 3x1x1 rule: conv1 5x7x7, the first 1x1 conv of the blocks in ``R50_INFLATED_BLOCKS`` 3x1x1, all else 1."""
    if name == "conv1":
        return 5
    parts = name.split(".")  # "layer{s}.{b}.conv1"
    if len(parts) == 3 and parts[0].startswith("layer") and parts[2] == "conv1":
        return 3 if R50_INFLATED_BLOCKS[int(parts[0][5:]) - 1][int(parts[1])] else 1
    return 1


def r50_time_stride(name: str, layer: nn.Module) -> int:
    """Temporal stride 2 at conv1 and at the max pool after it (the third, pool2, is added after res2)."""
    return 2 if name in ("conv1", "maxpool") else 1


def inception_time_kernel(name: str, layer: nn.Module) -> int:
    """I3D's rule for Inception-v1: kernels become cubic (7x7 -> 7x7x7, 1x1 -> 1x1x1), except the first two
    max-pools, which stay 1x3x3 (no pooling over time early on, which Carreira & Zisserman found helpful)."""
    if name in ("maxpool1", "maxpool2"):
        return 1
    return max(layer.kernel_size) if isinstance(layer.kernel_size, tuple) else layer.kernel_size


# Where DeepMind's reference Inception-v1 I3D strides 2 in time (Conv3d_1a_7x7, MaxPool3d_4a_3x3,
# MaxPool3d_5a_2x2), by torchvision GoogLeNet's names: 64 frames leave 8 steps for the last blocks.
INCEPTION_TIME_STRIDES = {"conv1.conv": 2, "maxpool3": 2, "maxpool4": 2}


def inception_time_stride(name: str, layer: nn.Module) -> int:
    return INCEPTION_TIME_STRIDES.get(name, 1)


def insert_nonlocal(net: nn.Module, blocks: dict[str, list[int]], scaled: bool = True) -> nn.Module:
    """Put a ``NonLocalBlock`` (``scaled``: its affinities by ``1 / sqrt(inner channels)``) after block ``i`` of
    stage ``name``, for each ``{name: [i, ...]}``."""
    for stage_name, indices in blocks.items():
        stage = getattr(net, stage_name, None)
        if not isinstance(stage, nn.Sequential):
            stages = ", ".join(n for n, m in net.named_children() if isinstance(m, nn.Sequential))
            raise ValueError(f"nonlocal_blocks: {type(net).__name__} has no stage {stage_name!r} "
                             f"(stages: {stages})")
        for i in indices:
            if not 0 <= i < len(stage):
                raise ValueError(f"nonlocal_blocks: {stage_name} has blocks 0..{len(stage) - 1}, got {i}")
            channels = [m for m in stage[i].modules() if isinstance(m, nn.BatchNorm3d)][-1].num_features
            block = NonLocalBlock(channels, scaled=scaled)
            stage[i] = nn.Sequential(OrderedDict(block=stage[i], nonlocal_block=block))
    return net


def i3d(backbone: str, num_classes: int, pretrained: Pretrained, time_kernel: TimeKernel, time_padding: str,
        dropout: float, time_stride: TimeStride = 1) -> TorchvisionClassifier:
    """Torchvision 2D network ``backbone`` (from ``pretrained`` if given), inflated; its classifier ``fc``
    behind ``dropout``, sized for ``num_classes``."""
    net = inflate(torchvision_2d(backbone, pretrained), time_kernel, time_padding, time_stride)
    return TorchvisionClassifier(net, "fc", num_classes, dropout=dropout)


def i3d_resnet50(num_classes: int, pretrained: Pretrained, inflation: str, time_kernel: int, time_padding: str,
                 dropout: float) -> TorchvisionClassifier:
    """ResNet-50 inflated by ``inflation``: ``"3x1x1"`` (the published I3D, see ``R50_INFLATED_BLOCKS``: 5x7x7
    conv1, 3x1x1 in some blocks, stride 2 in time at conv1, the max pool and a pool2 after res2, so 32 frames leave
    4 steps for res3-res5) or ``"3x3x3"`` (every 7x7 / 3x3 conv and the max pool get ``time_kernel`` frames, 1x1
    convs stay 1x1x1, time never strided: the lecture's inflation)."""
    if inflation not in R50_INFLATIONS:
        raise ValueError(f"inflation={inflation!r} is not one of {', '.join(R50_INFLATIONS)}")
    if inflation == "3x3x3":
        return i3d("resnet50", num_classes, pretrained, time_kernel, time_padding, dropout)
    model = i3d("resnet50", num_classes, pretrained, r50_time_kernel, time_padding, dropout, r50_time_stride)
    # pool2: 2x1x1, stride 2 in time, padded in time as inflate pads its own layers.
    model.net.layer1.add_module("pool2", time_padded(nn.MaxPool3d((2, 1, 1), (2, 1, 1)), 2, 2, time_padding))
    return model


@register_model(family="i3d", frames=8, size=112, fps=10.0, heavy=True, published=[MMACTION2_I3D_R50])
def i3d_r50(num_classes: int, pretrained: Pretrained = None, inflation: str = "3x1x1", time_kernel: int = 3,
            time_padding: str = "replicate", dropout: float = 0.5) -> TorchvisionClassifier:
    """I3D ResNet-50 as published (``inflation="3x1x1"``), or with every 3x3 inflated to ``time_kernel``
    frames and no temporal stride (``"3x3x3"``); see ``i3d_resnet50``."""
    return i3d_resnet50(num_classes, pretrained, inflation, time_kernel, time_padding, dropout)


# GoogLeNet's unpadded 3x3 max pools (ceil mode) leave nothing below frames of 15 pixels (measured on meta).
@register_model(family="i3d", frames=8, size=112, fps=10.0, min_size=15, published=[DEEPMIND_I3D])
def i3d_inception(num_classes: int, pretrained: Pretrained = None, time_padding: str = "replicate",
                  dropout: float = 0.5, time_strides: bool = True) -> TorchvisionClassifier:
    """Inception-v1 (torchvision GoogLeNet) inflated as in the I3D paper: cubic kernels, pools 1/2 1x3x3, and
    the reference code's strides of 2 in time at conv1, maxpool3 and maxpool4 (``time_strides=False``: none)."""
    return i3d("googlenet", num_classes, pretrained, inception_time_kernel, time_padding, dropout,
               inception_time_stride if time_strides else 1)


# The non-local blocks pool keys and values 2x in space, so res4 needs 2x2 maps: frames of 17 pixels.
@register_model(family="i3d", frames=8, size=112, fps=10.0, heavy=True, min_size=17,
                published=[MMACTION2_I3D_R50_NL])
def i3d_r50_nl(num_classes: int, pretrained: Pretrained = None, inflation: str = "3x1x1", time_kernel: int = 3,
               time_padding: str = "replicate", dropout: float = 0.5,
               nonlocal_blocks: dict[str, list[int]] | None = None,
               nonlocal_scaled: bool = True) -> TorchvisionClassifier:
    """I3D ResNet-50 with non-local blocks (default: 5, after every other block of res3 and res4), their
    affinities scaled as the reference code scales them (``nonlocal_scaled=False``: unscaled)."""
    model = i3d_resnet50(num_classes, pretrained, inflation, time_kernel, time_padding, dropout)
    insert_nonlocal(model.net, NONLOCAL_RES3_RES4 if nonlocal_blocks is None else nonlocal_blocks, nonlocal_scaled)
    return model
