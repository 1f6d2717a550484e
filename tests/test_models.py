"""Every registered model on a tiny clip: output shape, finite values, gradients reach every trainable weight.

Parametrised over ``list_models()``, so families added later are covered without editing this file.
"""

from __future__ import annotations

import pytest
import torch

from lit_video.models import builder_arguments, create_model, list_models, model_info

NUM_CLASSES = 5
TINY_FRAMES, TINY_SIZE = 4, 32
TINY_BACKBONE = "shufflenet_v2_x0_5"  # frame-based models take any torchvision 2D net; this one is cheap
# Models whose architecture fixes the clip (position embeddings, fixed pooling windows): seconds on a CPU.
FIXED_SHAPE_SLOW = {"mvit_v1_b", "mvit_v2_s", "s3d"}
# Heavy on a 2-core CPU even on a tiny clip; their shared code is covered by a cheaper sibling (r3d_18 for the
# torchvision wrappers, i3d_inception for inflation) and by the constant-video and non-local tests.
SLOW = FIXED_SHAPE_SLOW | {"mc3_18", "r2plus1d_18", "swin3d_t", "i3d_r50", "i3d_r50_nl"}


def tiny_case(name: str) -> tuple[dict, dict[str, tuple[int, ...]]]:
    """Builder overrides and per-modality clip shapes for a cheap forward pass the model accepts."""
    info, args = model_info(name), builder_arguments(name)
    if name in FIXED_SHAPE_SLOW:
        frames, size, overrides = info.frames, info.size, {}
    else:
        # A model that needs a minimum clip says so through its defaults (C3D: 16 frames); space is kept tiny.
        frames = TINY_FRAMES if "frames" in args else info.frames
        size = TINY_SIZE if "size" in args else min(info.size, 64)
        overrides = {k: v for k, v in (("frames", frames), ("size", size)) if k in args}
        if name == "c3d":
            frames, overrides["frames"] = 16, 16
    if "backbone" in args:
        overrides["backbone"] = TINY_BACKBONE
    channels = {"rgb": 3, "flow": 2}
    return overrides, {m: (2, channels.get(m, 3), frames, size, size) for m in info.modalities}


def make_input(shapes: dict[str, tuple[int, ...]]) -> torch.Tensor | dict[str, torch.Tensor]:
    clips = {m: torch.randn(shape) for m, shape in shapes.items()}
    return clips["rgb"] if list(clips) == ["rgb"] else clips


def _registry_params():
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in list_models()]


@pytest.mark.parametrize("name", _registry_params())
def test_forward_backward_on_tiny_clip(name):
    torch.manual_seed(0)
    overrides, shapes = tiny_case(name)
    model = create_model(name, NUM_CLASSES, **overrides).train()
    logits = model(make_input(shapes))
    assert logits.shape == (2, NUM_CLASSES)
    assert torch.isfinite(logits).all()
    logits.logsumexp(-1).sum().backward()
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable, f"{name} has no trainable parameters"
    no_grad = [n for n, p in trainable.items() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not no_grad, f"{name}: no (finite) gradient reaches {no_grad[:5]}"


@pytest.mark.parametrize("name", list_models())
def test_model_info_is_complete(name):
    info = model_info(name)
    assert info.family and info.frames > 0 and info.size > 0 and info.fps > 0
    assert info.modalities
    if info.published:
        assert info.published.get("source"), f"{name}: published figures must name their source"


@pytest.mark.parametrize("name", list_models("lecture_"))
def test_lecture_examples_match_the_lecture_table(name):
    """Layer output sizes of the three lecture nets equal the table's (input 3 x 20 x 64 x 64)."""
    model = create_model(name, NUM_CLASSES).eval()
    x, shapes = torch.randn(1, 3, 20, 64, 64), {}
    for layer, module in model.named_children():
        x = module(x)
        shapes[layer] = [d for d in x.shape[1:] if d != 1]  # the slide drops size-1 axes after global pooling
    table = model_info(name).published["layers"]
    assert list(table) == ["conv1", "pool1", "conv2", "pool"]
    for layer, row in table.items():
        assert shapes[layer] == [d for d in row["output_shape"] if d != 1], layer


def test_c3d_pool5_is_the_lecture_shape_and_other_clips_fit_by_arguments():
    model = create_model("c3d", NUM_CLASSES).eval()
    assert model.fc6.in_features == 512 * 1 * 3 * 3  # pool5: 512 x 1 x 3 x 3 at 16 x 112 x 112
    assert model_info("c3d").published["pool5_shape"] == [512, 1, 3, 3]
    small = create_model("c3d", NUM_CLASSES, frames=16, size=64).eval()
    with torch.no_grad():
        assert small(torch.randn(1, 3, 16, 64, 64)).shape == (1, NUM_CLASSES)
        with pytest.raises(ValueError, match="frames=16, size=64"):
            small(torch.randn(1, 3, 16, 96, 96))
    with pytest.raises(ValueError, match="frames >= 16"):
        create_model("c3d", NUM_CLASSES, frames=8)


def test_early_fusion_lecture_net_rejects_other_frame_counts():
    model = create_model("lecture_early_fusion", NUM_CLASSES, frames=4)
    with pytest.raises(ValueError, match="4 frames"):
        model(torch.randn(1, 3, 5, 32, 32))


def test_registry_errors():
    from torch import nn

    from lit_video.models import register_model

    with pytest.raises(ValueError, match="already registered"):
        register_model("c3d", family="c3d")(lambda num_classes: nn.Identity())
    with pytest.raises(KeyError, match="c3d"):
        create_model("c3dd", NUM_CLASSES)
    with pytest.raises(KeyError, match="lecture_late_fusion"):
        model_info("lecture_late_fusio")
    with pytest.raises(TypeError, match="accepts: batch_norm, dropout, frames, size"):
        create_model("c3d", NUM_CLASSES, depth=3)
