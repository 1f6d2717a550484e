"""Family-specific behaviour: LRCN's frozen backbone, ConvGRU's recurrences, early fusion's inflated first
conv, the fixed-shape checks, and torchvision wrappers loading local checkpoints."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from lit_video.models import create_model
from lit_video.models.layers.backbone import torchvision_2d


def test_torchvision_wrapper_loads_a_local_kinetics_checkpoint_and_resizes_the_head(tmp_path):
    torch.manual_seed(0)
    kinetics = torchvision.models.get_model("r3d_18", weights=None).eval()  # torchvision's own key names
    torch.save(kinetics.state_dict(), tmp_path / "r3d_18.pth")
    model = create_model("r3d_18", 7, pretrained=str(tmp_path / "r3d_18.pth"))
    assert model.get_classifier().out_features == 7
    torch.testing.assert_close(model.net.layer4[1].conv2[0].weight, kinetics.layer4[1].conv2[0].weight)
    same_classes = create_model("r3d_18", 400, pretrained=str(tmp_path / "r3d_18.pth")).eval()
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():  # the checkpoint's head kept: the wrapper computes torchvision's logits
        torch.testing.assert_close(same_classes(clip), kinetics(clip))
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        create_model("r3d_18", 7, pretrained=str(tmp_path / "missing.pth"))
    (tmp_path / "cut.pth").write_bytes((tmp_path / "r3d_18.pth").read_bytes()[:4096])  # a copy that stopped
    with pytest.raises(ValueError, match=r"'.*cut.pth' cannot be read \(PytorchStreamReader failed"):
        create_model("r3d_18", 7, pretrained=str(tmp_path / "cut.pth"))


def test_mvit_rejects_other_clip_shapes_with_a_clear_message():
    model = create_model("mvit_v2_s", 3)
    with pytest.raises(ValueError, match="exactly 16 frames of 224x224"):
        model(torch.randn(1, 3, 8, 64, 64))


def test_lrcn_frozen_backbone_trains_only_the_lstm_and_head():
    torch.manual_seed(0)
    model = create_model("lrcn", 3, freeze_backbone=True, hidden=16).train()
    assert not model.backbone.training  # a fixed feature extractor even in train mode (BN statistics frozen)
    backbone_before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    head_before = model.fc.weight.clone()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    clip, labels = torch.randn(2, 3, 3, 32, 32), torch.tensor([0, 2])
    for _ in range(3):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(clip), labels).backward()
        optimizer.step()
    for key, value in model.backbone.state_dict().items():  # weights and BN running statistics alike
        torch.testing.assert_close(value, backbone_before[key], rtol=0, atol=0, msg=key)
    assert not torch.equal(model.fc.weight, head_before)
    assert all(p.grad is None for p in model.backbone.parameters())
    # No autograd graph is built through the backbone, even for an input that requires gradients.
    outputs = []
    model.backbone.register_forward_hook(lambda module, args, out: outputs.append(out))
    model(clip.requires_grad_(True)).sum().backward()
    assert outputs and outputs[0].grad_fn is None and clip.grad is None


def test_lrcn_many_to_many_averages_per_frame_predictions():
    torch.manual_seed(0)
    model = create_model("lrcn", 3, mode="many_to_many", hidden=8).eval()
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        frames = model.backbone(clip[0].transpose(0, 1)).unsqueeze(0)  # (T, C, H, W) -> (1, T, D)
        steps, _ = model.temporal.lstm(frames)  # (1, T, hidden)
        per_frame = model.fc(steps).softmax(-1)  # (1, T, classes)
        torch.testing.assert_close(model(clip).exp(), per_frame.mean(dim=1))
    with pytest.raises(ValueError, match="many_to_one, many_to_many"):
        create_model("lrcn", 3, mode="bidirectional")


def test_conv_gru_states_depend_on_the_previous_step_and_the_previous_layer():
    torch.manual_seed(0)
    model = create_model("conv_gru", 3, channels=(4, 6)).eval()
    clip = torch.randn(1, 3, 4, 16, 16)
    changed = clip.clone()
    changed[:, :, 2] += 1.0  # change frame 2 only
    with torch.no_grad():
        before, after = model.states(clip), model.states(changed)
    assert [s.shape for s in before] == [(1, 4, 4, 16, 16), (1, 4, 6, 8, 8)]
    for layer in (0, 1):
        torch.testing.assert_close(after[layer][:, :2], before[layer][:, :2])  # no dependence on the future
        # Layer 1 changes through layer 0 at the same step.
        assert not torch.allclose(after[layer][:, 2], before[layer][:, 2])
        assert not torch.allclose(after[layer][:, 3], before[layer][:, 3])  # via its own previous step
    # Weights are shared over time: one cell per layer, whatever the clip length.
    assert len(model.cells) == 2 and sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 6


def test_early_fusion_first_conv_from_2d_weights_sees_a_constant_clip_as_the_image(tmp_path):
    torch.manual_seed(0)
    net2d = torchvision_2d("resnet18").eval()
    torch.save(net2d.state_dict(), tmp_path / "resnet18.pth")
    model = create_model("early_fusion", 1000, frames=4, pretrained=str(tmp_path / "resnet18.pth")).eval()
    assert model.backbone.trunk.conv1.in_channels == 12
    model.fc.load_state_dict(net2d.fc.state_dict())
    image = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected = net2d(image)
        torch.testing.assert_close(model(image.unsqueeze(2).expand(-1, -1, 4, -1, -1)), expected,
                                   rtol=1e-4, atol=1e-4 * expected.abs().max().item())
    with pytest.raises(ValueError, match="4 frames"):
        model(torch.randn(1, 3, 8, 32, 32))


def test_late_fusion_fc_is_sized_for_its_clip_and_says_so():
    model = create_model("late_fusion_fc", 3, frames=3, size=64, hidden=8)
    assert model.temporal.hidden.in_features == 3 * 512 * 2 * 2  # T x D x H' x W' of resnet18 at 64 px
    assert model.num_features == 8
    with pytest.raises(ValueError, match="frames=3, size=64"):
        model(torch.randn(1, 3, 4, 64, 64))


def test_slow_fusion_takes_short_clips():
    model = create_model("slow_fusion", 3, width=4).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 1, 32, 32)).shape == (1, 3)
