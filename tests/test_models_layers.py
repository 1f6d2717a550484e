"""The shared blocks' defining properties: I3D inflation, the non-local block, the ConvGRU cell."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lit_video.models import create_model, inflate
from lit_video.models.i3d import insert_nonlocal
from lit_video.models.layers.backbone import torchvision_2d
from lit_video.models.layers.classifier import as_linear
from lit_video.models.layers.nonlocal_block import NonLocalBlock


def _lively_2d_net(name: str) -> nn.Module:
    """A random torchvision net in eval mode whose activations do not vanish (GoogLeNet's init: std 0.01)."""
    torch.manual_seed(0)
    net = torchvision_2d(name)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, nn.BatchNorm2d):  # non-trivial statistics, so BN is part of what is checked
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net.eval()


@pytest.mark.parametrize(("model", "backbone"), [("i3d_r50", "resnet50"), ("i3d_inception", "googlenet")])
def test_inflated_net_on_a_constant_video_gives_the_2d_logits(model, backbone, tmp_path):
    """The lecture's property: 2D weights copied Kt times / Kt give the 2D result on a constant video."""
    net2d = _lively_2d_net(backbone)
    checkpoint = tmp_path / f"{backbone}.pth"
    torch.save(net2d.state_dict(), checkpoint)
    image = torch.randn(2, 3, 32, 32)
    clip = image.unsqueeze(2).expand(-1, -1, 3, -1, -1)  # (B, C, H, W) -> (B, C, T=3, H, W), frames equal
    with torch.no_grad():
        expected = net2d(image)
        video_net = create_model(model, 1000, pretrained=str(checkpoint)).eval()  # 1000 classes: 2D head kept
        scale = expected.abs().max().item()
        torch.testing.assert_close(video_net(clip), expected, rtol=1e-4, atol=1e-4 * scale)


def test_zero_time_padding_breaks_the_constant_video_property():
    """Why replicate padding is the default: with zeros the end frames see (Kt - 1) / Kt of an input."""
    net2d = _lively_2d_net("resnet18")
    image = torch.randn(2, 3, 32, 32)
    clip = image.unsqueeze(2).expand(-1, -1, 3, -1, -1)  # (B, C, H, W) -> (B, C, T=3, H, W)
    with torch.no_grad():
        expected, scale = net2d(image), net2d(image).abs().max().item()
        torch.testing.assert_close(inflate(net2d).eval()(clip), expected, rtol=1e-4, atol=1e-4 * scale)
        zeros = inflate(net2d, time_padding="zeros").eval()(clip)
        assert not torch.allclose(zeros, expected, rtol=1e-3, atol=1e-3 * scale)


@pytest.mark.parametrize(("kt", "st"), [(7, 2), (3, 2), (2, 2), (3, 1), (1, 2)])
def test_a_time_stride_gives_ceil_t_over_s_steps_like_tensorflows_same_padding(kt, st):
    """The reference I3D is TensorFlow: "SAME" padding leaves ceil(T / s) steps, whatever T."""
    net = inflate(nn.Conv2d(2, 2, 3, padding=1), time_kernel=kt, time_stride=st)
    for t in range(1, 10):
        assert net(torch.randn(1, 2, t, 4, 4)).shape[2] == -(-t // st), t
    with pytest.raises(ValueError, match="time_stride must be >= 1"):
        inflate(nn.Conv2d(2, 2, 3), time_stride=0)


@pytest.mark.parametrize(("strides", "steps"), [(True, [32, 16, 8]), (False, [64, 64, 64])])
def test_i3d_inception_strides_in_time_where_the_reference_code_does(strides, steps):
    """DeepMind's I3D: stride 2 in time at Conv3d_1a_7x7, MaxPool3d_4a_3x3 and MaxPool3d_5a_2x2: 64 -> 8."""
    with torch.device("meta"):
        net = create_model("i3d_inception", 4, time_strides=strides).net
        seen = {}
        for name in ("conv1", "maxpool3", "maxpool4"):
            getattr(net, name).register_forward_hook(lambda m, i, out, name=name: seen.__setitem__(name, out.shape[2]))
        net(torch.empty(1, 3, 64, 64, 64))
    assert [seen[n] for n in ("conv1", "maxpool3", "maxpool4")] == steps


def test_i3d_r50_is_the_published_network_and_the_lecture_inflation_a_named_option():
    """MMAction2's I3D R50 (its parameters and GMACs are checked in docs/fidelity.md): 5x7x7 conv1, 3x1x1 in the
    listed blocks, and 32 frames strided to 4 steps before res3; the lecture's inflation a named option."""
    def params(name: str, **args) -> int:
        return sum(p.numel() for p in create_model(name, 400, **args).parameters())

    with torch.device("meta"):
        assert params("i3d_r50", inflation="3x3x3") == 46_980_944  # every 3x3 to 3x3x3, as the lecture inflates
        net = create_model("i3d_r50", 400).net
        assert net.conv1.layer.kernel_size == (5, 7, 7) and net.conv1.layer.stride == (2, 2, 2)
        assert net.layer1[0].conv1.layer.kernel_size == (3, 1, 1) and net.layer1[0].conv2.kernel_size == (1, 3, 3)
        assert net.layer2[1].conv1.kernel_size == (1, 1, 1) and net.layer4[1].conv1.layer.kernel_size == (3, 1, 1)
        seen = {}
        for name in ("layer1", "layer2", "layer4"):
            getattr(net, name).register_forward_hook(lambda m, i, out, name=name: seen.__setitem__(name, out.shape[2]))
        net(torch.empty(1, 3, 32, 64, 64))
    assert seen == {"layer1": 4, "layer2": 4, "layer4": 4}  # conv1, pool1 and pool2 (in layer1) each halve time
    with pytest.raises(ValueError, match="inflation='2x2'"):
        create_model("i3d_r50", 4, inflation="2x2")


def test_inflate_turns_every_2d_layer_into_3d_and_keeps_the_2d_net():
    net2d = torchvision_2d("resnet18")
    net3d = inflate(net2d, time_kernel=lambda name, layer: 5 if name == "conv1" else 1)
    assert not any(isinstance(m, nn.Conv2d | nn.BatchNorm2d | nn.MaxPool2d) for m in net3d.modules())
    assert net3d.conv1.layer.kernel_size == (5, 7, 7) and net3d.layer1[0].conv1.kernel_size == (1, 3, 3)
    assert isinstance(net2d.conv1, nn.Conv2d)  # the 2D network is left untouched
    assert net3d(torch.randn(1, 3, 3, 32, 32)).shape == (1, 1000)
    with pytest.raises(ValueError, match="time_padding"):
        inflate(net2d, time_padding="reflect")


def test_nonlocal_block_is_identity_at_init_and_attends_over_space_and_time():
    torch.manual_seed(0)
    block = NonLocalBlock(8).train()
    x = torch.randn(2, 8, 3, 6, 6)
    torch.testing.assert_close(block(x), x, rtol=0, atol=0)
    # Once its output BN is non-zero, one position's response depends on features far away in time and space.
    nn.init.ones_(block.bn.weight)
    block.eval()
    x.requires_grad_(True)
    block(x)[0, :, 0, 0, 0].sum().backward()
    assert x.grad[0, :, 2, 5, 5].abs().sum() > 0  # last frame, opposite corner
    assert x.grad[1].abs().sum() == 0  # never across the batch


@pytest.mark.parametrize("scaled", [True, False])
def test_nonlocal_block_computes_the_reference_codes_scaled_embedded_gaussian(scaled):
    """The reference code (and PySlowFast, PyTorchVideo, MMAction2) divides the affinities by sqrt(C') before
    the softmax; ``scaled=False`` is the paper's equation as printed. Checked against attention written out."""
    torch.manual_seed(0)
    block = NonLocalBlock(8, scaled=scaled).eval()
    nn.init.ones_(block.bn.weight)
    x = torch.randn(2, 8, 3, 4, 4)
    q = block.theta(x).flatten(2).transpose(1, 2)  # (B, THW, 4)
    k = block.phi(block.pool(x)).flatten(2).transpose(1, 2)  # (B, N, 4)
    v = block.g(block.pool(x)).flatten(2).transpose(1, 2)  # (B, N, 4)
    y = nn.functional.scaled_dot_product_attention(q, k, v, scale=None if scaled else 1.0)  # None: 1/sqrt(4)
    expected = x + block.bn(block.out(y.transpose(1, 2).reshape(2, 4, 3, 4, 4)))  # (B, THW, C') -> (B, C', T, H, W)
    torch.testing.assert_close(block(x), expected)


def test_nonlocal_blocks_go_after_the_chosen_residual_blocks():
    net = insert_nonlocal(inflate(torchvision_2d("resnet18")), {"layer2": [1], "layer3": [0]})
    blocks = [n for n, m in net.named_modules() if isinstance(m, NonLocalBlock)]
    assert blocks == ["layer2.1.nonlocal_block", "layer3.0.nonlocal_block"]
    assert net.layer3[0].nonlocal_block.scale == 128**-0.5  # resnet18's res4: 256 channels, 128 inner
    unscaled = insert_nonlocal(inflate(torchvision_2d("resnet18")), {"layer2": [1]}, scaled=False)
    assert unscaled.layer2[1].nonlocal_block.scale == 1.0
    assert net(torch.randn(1, 3, 2, 32, 32)).shape == (1, 1000)
    with pytest.raises(ValueError, match="layer9"):
        insert_nonlocal(net, {"layer9": [0]})
    with pytest.raises(ValueError, match="blocks 0..1"):
        insert_nonlocal(net, {"layer2": [7]})


def test_a_1x1x1_conv_classifier_becomes_the_same_linear_layer():
    """S3D classifies every position with a 1x1x1 conv and averages; the lifted head pools, then classifies."""
    torch.manual_seed(0)
    conv = nn.Conv3d(16, 5, kernel_size=1)
    features = torch.randn(2, 16, 2, 3, 3)
    expected = conv(features).mean(dim=(2, 3, 4))  # torchvision's S3D: classify, then average
    torch.testing.assert_close(as_linear(conv)(features.mean(dim=(2, 3, 4))), expected)
    with pytest.raises(TypeError, match="not a linear classifier"):
        as_linear(nn.Conv3d(16, 5, kernel_size=3))


def test_small_image_resnets_keep_a_feature_map_at_32_px_and_have_he_et_al_s_size():
    from lit_video.models.layers.backbone import FrameBackbone

    net = FrameBackbone("cifar_resnet20", spatial=True)
    assert net.feature_map_shape(32) == (64, 8, 8) and net.out_channels == 64
    # He et al. 2016, table 6: ResNet-20 has 0.27 M parameters: 269,722 with its 10-way classifier (650) and
    # zero-padded identity shortcuts (option A); the projection shortcuts used here (option B) add 2,752.
    assert sum(p.numel() for p in net.parameters()) + 650 == 269_722 + 2_752
    assert FrameBackbone("cifar_resnet8_s2").feature_map_shape(32) == (64, 4, 4)
    model = create_model("early_fusion", num_classes=3, frames=4, size=32, backbone="cifar_resnet8")
    assert model(torch.randn(2, 3, 4, 32, 32)).shape == (2, 3)
