"""Every registered model on a tiny clip: output shape, finite values, gradients reach every trainable weight.

Parametrised over ``list_models()``, so families added later are covered without editing this file.
"""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from lit_video.models import PREDICTION, ModelInfo, builder_arguments, create_model, list_models, model_info

NUM_CLASSES = 5
TINY_FRAMES, TINY_SIZE = 4, 32
TINY_BACKBONE = "shufflenet_v2_x0_5"  # frame-based models take any torchvision 2D net; this one is cheap


def tiny_case(name: str) -> tuple[dict, dict[str, tuple[int, ...]]]:
    """Builder arguments and per-modality clip shapes for a cheap forward pass the model accepts."""
    info = model_info(name)
    frames, size = info.fit_clip(TINY_FRAMES, TINY_SIZE)  # at least its minimum; its own if its shape is fixed
    args = {"frames": frames, "size": size}  # create_model passes them to the builders built for one clip
    if "backbone" in builder_arguments(name):
        args["backbone"] = TINY_BACKBONE
    return args, clip_shapes(info, 2, frames, size)


def clip_shapes(info: ModelInfo, batch: int, frames: int, size: int) -> dict[str, tuple[int, ...]]:
    """Per modality, the shape the model takes (the profiler's: optical flow has a field fewer than the frames)."""
    shapes = info.input_shape(batch, frames, size)
    return shapes if isinstance(shapes, dict) else {"rgb": shapes}


def make_input(shapes: dict[str, tuple[int, ...]], device: str = "cpu") -> torch.Tensor | dict[str, torch.Tensor]:
    clips = {m: torch.randn(shape, device=device) for m, shape in shapes.items()}
    return clips["rgb"] if list(clips) == ["rgb"] else clips


def outputs(name: str, out: torch.Tensor | dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A model's outputs by name, checked against the registry's contract: a model with several outputs returns
    exactly those it declares (``ModelInfo.outputs``), a one-output model one tensor, its prediction."""
    declared = model_info(name).outputs
    if not declared:
        assert isinstance(out, torch.Tensor), f"{name} declares one output but returned {type(out).__name__}"
        return {PREDICTION: out}
    assert isinstance(out, dict) and set(out) == set(declared), (name, declared)
    return out


def _registry_params():
    """Every model; those slow to build or run on a 2-core CPU (``ModelInfo.heavy``) marked slow. Their shared
    code is covered by cheaper siblings (r3d_18 for the torchvision wrappers, i3d_inception for inflation)."""
    return [pytest.param(n, marks=pytest.mark.slow) if model_info(n).heavy else n for n in list_models()]


@pytest.mark.parametrize("name", _registry_params())
def test_forward_backward_on_tiny_clip(name):
    torch.manual_seed(0)
    args, shapes = tiny_case(name)
    model = create_model(name, NUM_CLASSES, **args).train()
    named = outputs(name, model(make_input(shapes)))
    for logits in named.values():
        assert logits.shape == (2, NUM_CLASSES)
        assert torch.isfinite(logits).all()
    sum(logits.logsumexp(-1).sum() for logits in named.values()).backward()
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable, f"{name} has no trainable parameters"
    no_grad = [n for n, p in trainable.items() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not no_grad, f"{name}: no (finite) gradient reaches {no_grad[:5]}"


@pytest.mark.parametrize("name", list_models())
def test_every_model_takes_its_registered_default_and_minimum_clips(name):
    """The builder's own defaults fit the clip its registration declares (``frames`` x ``size``); built for
    its smallest declared clip, it takes that one too. On the meta device: shapes only, no compute."""
    info = model_info(name)
    t, s = info.fit_clip(1, 1)  # its smallest declared clip
    for clip_args, (frames, size) in (({}, (info.clip.frames, info.clip.size)), ({"frames": t, "size": s}, (t, s))):
        with torch.device("meta"), torch.no_grad():
            model = create_model(name, NUM_CLASSES, **clip_args).eval()
            named = outputs(name, model(make_input(clip_shapes(info, 1, frames, size), device="meta")))
        assert named[PREDICTION].shape == (1, NUM_CLASSES), (frames, size)


@pytest.mark.parametrize(("name", "frames", "size"), [("c3d", 15, 112), ("c3d", 16, 31),
                                                      ("lecture_3d_cnn", 3, 64), ("lecture_3d_cnn", 20, 3)])
def test_a_clip_below_the_declared_minimum_fails(name, frames, size):
    """create_model refuses it (``ModelInfo.accepts``), and the minimum is the architecture's own: built past that
    check, straight from its builder, the network fails on the smaller clip."""
    from lit_video.models import registry

    info = model_info(name)
    assert frames < info.min_frames or size < info.min_size
    with pytest.raises(ValueError, match=f"'{name}' takes clips of at least {info.min_frames} frames"):
        create_model(name, NUM_CLASSES, frames=frames, size=size)
    builder = registry._BUILDERS[name]
    clip = {k: v for k, v in (("frames", frames), ("size", size)) if k in inspect.signature(builder).parameters}
    with pytest.raises((ValueError, RuntimeError)), torch.device("meta"):
        builder(num_classes=NUM_CLASSES, **clip).eval()(torch.empty(1, 3, frames, size, size))


@pytest.mark.parametrize("name", _registry_params())
def test_every_model_has_the_timm_surface(name):
    """Features, then a head whose classifier is known and replaceable (what fine-tuning and probes rely on)."""
    torch.manual_seed(0)
    args, shapes = tiny_case(name)
    model = create_model(name, NUM_CLASSES, **args).eval()
    x = make_input(shapes)
    assert model.num_classes == NUM_CLASSES
    classifier = model.get_classifier()
    # A two-stream model has a classifier per stream, each on its part of the features.
    heads = list(classifier.values()) if isinstance(classifier, nn.ModuleDict) else [classifier]
    assert all(isinstance(head, nn.Linear) and head.out_features == NUM_CLASSES for head in heads)
    assert model.num_features == sum(head.in_features for head in heads)
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape[0] == 2 and features.shape[-1] == model.num_features
        torch.testing.assert_close(model.forward_head(features), model(x), rtol=0, atol=0)
        model.reset_classifier(7)
        assert model.num_classes == 7 and model.get_classifier() is not classifier
        assert outputs(name, model(x))[PREDICTION].shape == (2, 7)
        torch.testing.assert_close(model.forward_features(x), features)  # the features are kept


def test_create_model_passes_the_clip_only_to_builders_built_for_one():
    c3d = create_model("c3d", NUM_CLASSES, frames=32, size=64)
    assert c3d.fc6.in_features == 512 * 2 * 2 * 2  # pool5 of a 32 x 64 x 64 clip: 512 x 2 x 2 x 2
    slow = create_model("slow_fusion", NUM_CLASSES, frames=32, size=64, width=4).eval()  # takes any clip
    with torch.no_grad():
        assert slow(torch.randn(1, 3, 3, 40, 40)).shape == (1, NUM_CLASSES)
    with pytest.raises(TypeError, match="does not take depth"):
        create_model("slow_fusion", NUM_CLASSES, frames=8, depth=2)


def test_c3d_pool5_is_the_lecture_shape_and_other_clips_fit_by_arguments():
    model = create_model("c3d", NUM_CLASSES).eval()
    assert model.fc6.in_features == 512 * 1 * 3 * 3  # pool5: 512 x 1 x 3 x 3 at 16 x 112 x 112 (the lecture's)
    small = create_model("c3d", NUM_CLASSES, frames=16, size=64).eval()
    with torch.no_grad():
        assert small(torch.randn(1, 3, 16, 64, 64)).shape == (1, NUM_CLASSES)
        with pytest.raises(ValueError, match="frames=16, size=64"):
            small(torch.randn(1, 3, 16, 96, 96))
    with pytest.raises(ValueError, match="takes clips of at least 16 frames at 32x32 px, not 8 frames"):
        create_model("c3d", NUM_CLASSES, frames=8)


def test_c3d_with_the_original_padded_pool5_fits_other_clips_too():
    """The padded pool5 (MMAction2's C3D, checked in docs/fidelity.md): 512 x 1 x 4 x 4 at 16 x 112 x 112."""
    with torch.device("meta"):
        assert create_model("c3d", 101, pool5_padding=True).fc6.in_features == 512 * 1 * 4 * 4
    padded = create_model("c3d", NUM_CLASSES, size=64, pool5_padding=True).eval()  # pool5: 512 x 1 x 3 x 3
    with torch.no_grad():
        assert padded(torch.randn(1, 3, 16, 64, 64)).shape == (1, NUM_CLASSES)


def test_early_fusion_lecture_net_rejects_other_frame_counts():
    model = create_model("lecture_early_fusion", NUM_CLASSES, frames=4)
    with pytest.raises(ValueError, match="4 frames"):
        model(torch.randn(1, 3, 5, 32, 32))


def test_registry_errors():
    from lit_video.models import register_model

    with pytest.raises(ValueError, match="already registered"):
        register_model("c3d", family="c3d")(lambda num_classes: nn.Identity())
    with pytest.raises(KeyError, match="c3d"):
        create_model("c3dd", NUM_CLASSES)
    with pytest.raises(KeyError, match="lecture_late_fusion"):
        model_info("lecture_late_fusio")
    with pytest.raises(TypeError, match="accepts: batch_norm, dropout, pool5_padding$"):
        create_model("c3d", NUM_CLASSES, depth=3)  # the clip (frames, size) is not an option: it is the data's


def test_list_models_takes_globs_as_timm_and_plain_words_as_substrings():
    assert list_models("vivit*") == [n for n in list_models() if n.startswith("vivit")]
    assert "vivit_spatiotemporal" in list_models("vivit*") and "timesformer_joint" not in list_models("vivit*")
    assert list_models("*_base") == [n for n in list_models() if n.endswith("_base")] != []
    assert list_models("i3d_r50?nl") == ["i3d_r50_nl"]
    assert list_models("[rm]c3_18") == ["mc3_18"]
    assert list_models("vivit") == list_models("vivit*")  # a plain word: any name containing it
    assert list_models("fusion") == [n for n in list_models() if "fusion" in n]
    assert "lecture_early_fusion" in list_models("fusion")
    assert list_models("fusion*") == []  # a glob matches whole names: none starts with "fusion"
    assert list_models("*early_fusion") == ["early_fusion", "lecture_early_fusion"] == list_models("early_fusion")
    assert list_models("nothing*") == [] == list_models("nothing")
