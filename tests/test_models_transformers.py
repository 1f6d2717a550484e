"""Video transformers (TimeSformer, ViViT): clips of odd shapes, the attention schemes' equivalences, and the Base
configurations counted without running them (their published figures: tests/test_fidelity.py)."""

from __future__ import annotations

import pytest
import torch

from lit_video.models import create_model, list_models, model_info
from lit_video.profiling import count_flops
from lit_video.profiling.inputs import model_to_count

SMALL = [n for n in list_models() if n.startswith(("timesformer_", "vivit_")) and not n.endswith("_base")]


def test_seven_small_and_seven_base_variants_are_registered():
    assert len(SMALL) == 7
    assert all(f"{name}_base" in list_models() for name in SMALL)


@pytest.mark.parametrize(("name", "frames", "size"), [
    ("timesformer_divided", 5, 24), ("timesformer_joint", 3, 40), ("timesformer_space", 1, 16),
    ("vivit_spatiotemporal", 6, 24), ("vivit_factorised_encoder", 2, 40),
    ("vivit_factorised_self_attention", 6, 16), ("vivit_factorised_dot_product", 10, 24)])
def test_odd_frame_counts_and_sizes(name, frames, size):
    torch.manual_seed(0)
    model = create_model(name, 3, frames=frames, size=size)
    logits = model(torch.randn(2, 3, frames, size, size))
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()


@pytest.mark.parametrize(("name", "frames", "size", "message"), [
    ("vivit_spatiotemporal", 5, 32, "tubelets of 2 frames x 8 x 8 pixels must tile the clip, but 5 frames"),
    ("timesformer_divided", 8, 30, "x 30 x 30 pixels leave a remainder; choose frames divisible by 1 and a size "
                                   "divisible by 8"),
])
def test_a_patch_that_does_not_tile_the_clip_is_refused_with_the_reason(name, frames, size, message):
    with pytest.raises(ValueError, match=message):
        create_model(name, 3, frames=frames, size=size)


def test_a_clip_other_than_the_one_built_for_names_both():
    model = create_model("vivit_factorised_encoder", 3)  # built for 8 x 32 x 32
    with pytest.raises(ValueError, match=r"is \(8, 16, 16\), expected \(8, 32, 32\).*frames=8, size=32"):
        model(torch.randn(1, 3, 8, 16, 16))


def test_divided_attention_over_one_frame_is_space_only_attention():
    """With one frame, temporal attention has one token to attend to; with its projection (temporal_fc) and the
    time embedding at zero, a divided block is a space-only block with the same weights."""
    torch.manual_seed(0)
    space = create_model("timesformer_space", 4, frames=1).eval()
    divided = create_model("timesformer_divided", 4, frames=1).eval()
    weights = {}
    for key, value in space.state_dict().items():
        parts = key.split(".")  # "blocks.{i}.attn.qkv.weight" -> "blocks.{i}.space.attn.qkv.weight"
        weights[".".join(parts[:2] + ["space"] + parts[2:]) if parts[0] == "blocks" else key] = value
    missing, unexpected = divided.load_state_dict(weights, strict=False)
    assert not unexpected and all(k == "time_embed" or ".temporal_fc." in k or "_time" in k for k in missing)
    with torch.no_grad():
        divided.time_embed.zero_()
        for block in divided.blocks:
            block.temporal_fc.weight.zero_()
            block.temporal_fc.bias.zero_()
        clip = torch.randn(2, 3, 1, 32, 32)
        torch.testing.assert_close(divided(clip), space(clip))
        block = divided.blocks[0]
        torch.nn.init.normal_(block.temporal_fc.weight)  # the temporal branch switched back on: no longer equal
        assert not torch.allclose(divided(clip), space(clip))


def test_factorised_self_attention_and_dot_product_differ_with_the_same_weights():
    """Model 3 attends over space, then over time, with two attention layers; model 4 splits one layer's heads
    between space and time. Given model 3's spatial attention weights, model 4 computes something else."""
    torch.manual_seed(0)
    three = create_model("vivit_factorised_self_attention", 4).eval()
    four = create_model("vivit_factorised_dot_product", 4).eval()
    renamed = {".norm_space.": ".norm1.", ".attn_space.": ".attn.", ".norm_mlp.": ".norm2."}
    weights = {}
    for key, value in three.state_dict().items():
        for old, new in renamed.items():
            key = key.replace(old, new)
        weights[key] = value
    missing, unexpected = four.load_state_dict(weights, strict=False)
    assert not missing and all("_time." in k for k in unexpected)
    clip = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        out3, out4 = three(clip), four(clip)
    assert torch.isfinite(out3).all() and torch.isfinite(out4).all()
    assert not torch.allclose(out3, out4, atol=1e-4)


def test_dot_product_heads_see_only_their_own_frame_or_their_own_position():
    """Model 4's first half of heads attends within a time step, the second half over time at one position: a
    change at step 0, position 0 reaches step 1 only at position 0 (through the temporal heads)."""
    torch.manual_seed(0)
    attn = create_model("vivit_factorised_dot_product", 4).blocks[0].attn.eval()
    x = torch.randn(1, 4, 16, 64)  # (B, T', N, D)
    y = x.clone()
    y[0, 0, 0] += 1.0
    with torch.no_grad():
        changed = (attn(x) - attn(y)).abs().sum(-1)[0] > 1e-6  # (T', N)
    assert changed[0].all()  # step 0: every position, through the spatial heads
    assert changed[1:, 0].all() and not changed[1:, 1:].any()  # other steps: only position 0


def _attention(groups: int, tokens: int, dim: int, layers: int) -> float:
    """GMACs of QK^T and AV: ``groups`` sequences of ``tokens`` attending over ``dim`` channels, ``layers`` times."""
    return 2 * groups * tokens**2 * dim * layers / 1e9


# The attention products of each Base model (ViT-B: dim 768, 12 layers; TimeSformer 8 frames of 196 patches plus a
# class token, ViViT 16 steps of 196 tubelets): what the meta count must include beside the projections.
BASE_ATTENTION = {
    "timesformer_space_base": _attention(8, 197, 768, 12),
    "timesformer_joint_base": _attention(1, 1 + 8 * 196, 768, 12),
    "timesformer_divided_base": _attention(196, 8, 768, 12) + _attention(8, 197, 768, 12),
    "vivit_spatiotemporal_base": _attention(1, 1 + 16 * 196, 768, 12),
    "vivit_factorised_encoder_base": _attention(16, 197, 768, 12) + _attention(1, 17, 768, 4),
    "vivit_factorised_self_attention_base": _attention(16, 196, 768, 12) + _attention(196, 16, 768, 12),
    "vivit_factorised_dot_product_base": _attention(16, 196, 384, 12) + _attention(196, 16, 384, 12),
}


@pytest.mark.parametrize("name", list(BASE_ATTENTION))
def test_base_configurations_are_counted_on_the_meta_device_attention_included(name):
    model = model_to_count(name, 400)
    assert all(p.is_meta for p in model.parameters())  # no weight memory, no initialisation
    report = count_flops(model, model_info(name).input_shape())
    assert report.counter.endswith("on meta tensors")
    # On meta tensors scaled_dot_product_attention runs its math path: QK^T and AV are batched matmuls.
    assert report.by_operator["aten.bmm"] == pytest.approx(BASE_ATTENTION[name], rel=1e-9)
