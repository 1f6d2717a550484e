"""``pretrained=True``: the published weights through torchvision's weights API, read from torch hub's cache.

No test downloads: each puts a random torchvision state dict where torchvision looks for the weights' file
(``torch.hub.get_dir()/checkpoints/<the URL's file name>``, under a temporary ``TORCH_HOME``) and makes a download
attempt fail.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

import pytest
import torch
import torch.hub
import torchvision
from torch import nn

from lit_video.models import create_model
from lit_video.models.layers.backbone import torchvision_2d
from lit_video.models.torchvision_video import kinetics_weights


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """Put ``net``'s state dict in a temporary torch hub cache as the file of ``weights``; no downloads."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_download(url, *args, **kwargs):
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)

    def put(weights: torchvision.models.WeightsEnum, net: nn.Module) -> None:
        folder = os.path.join(torch.hub.get_dir(), "checkpoints")
        os.makedirs(folder, exist_ok=True)
        # torchvision checks the hash in the file name only when it downloads; a file already there is read as is.
        torch.save(net.state_dict(), os.path.join(folder, os.path.basename(urlparse(weights.url).path)))

    return put


def test_torchvision_video_model_loads_its_kinetics_weights_from_the_hub_cache(hub_cache):
    torch.manual_seed(0)
    kinetics = torchvision.models.get_model("r3d_18", weights=None).eval()  # stands in for the published weights
    hub_cache(kinetics_weights("r3d_18"), kinetics)
    model = create_model("r3d_18", 7, pretrained=True)
    for name in ("stem.0.weight", "layer2.0.conv1.0.weight", "layer3.1.conv1.0.weight", "layer4.1.conv2.0.weight"):
        torch.testing.assert_close(model.net.state_dict()[name], kinetics.state_dict()[name], rtol=0, atol=0)
    assert model.get_classifier().out_features == 7  # 400 classes in the weights: a fresh head
    same_classes = create_model("r3d_18", 400, pretrained=True).eval()
    torch.testing.assert_close(same_classes.fc.weight, kinetics.fc.weight, rtol=0, atol=0)  # head kept
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(same_classes(clip), kinetics(clip))


def test_frame_and_inflated_models_start_from_the_backbones_imagenet_weights(hub_cache):
    torch.manual_seed(0)
    imagenet = torchvision_2d("resnet18").eval()
    hub_cache(torchvision.models.get_model_weights("resnet18").DEFAULT, imagenet)
    single = create_model("single_frame", 5, pretrained=True)
    trunk = single.backbone.trunk  # torchvision's feature extractor: the 2D net's own parameter names
    torch.testing.assert_close(trunk.get_parameter("layer3.1.conv2.weight"), imagenet.layer3[1].conv2.weight,
                               rtol=0, atol=0)
    assert single.get_classifier().out_features == 5
    # Early fusion's first conv from the 2D weights, as for a local checkpoint: the 2D kernel / T per frame.
    early = create_model("early_fusion", 5, frames=4, pretrained=True)
    torch.testing.assert_close(early.backbone.trunk.conv1.weight, imagenet.conv1.weight.repeat_interleave(4, 1) / 4)
    # I3D inflates the 2D weights: 3 frames of kernel / 3 where a 3x3 became 3x3x3; 1000 classes keep the 2D head.
    torch.manual_seed(1)
    googlenet = torchvision_2d("googlenet")
    aux = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True)  # published files hold these
    aux.load_state_dict(googlenet.state_dict(), strict=False)
    hub_cache(torchvision.models.get_model_weights("googlenet").DEFAULT, aux)
    i3d = create_model("i3d_inception", 1000, pretrained=True)
    torch.testing.assert_close(i3d.net.inception3a.branch2[1].conv.layer.weight,
                               googlenet.inception3a.branch2[1].conv.weight.unsqueeze(2).repeat(1, 1, 3, 1, 1) / 3)
    torch.testing.assert_close(i3d.fc.weight, googlenet.fc.weight, rtol=0, atol=0)


def test_pretrained_true_without_published_weights_and_wrong_types_are_one_line_errors(hub_cache):
    with pytest.raises(ValueError, match=r"^model 'c3d' has no published weights: pretrained takes only None"):
        create_model("c3d", 5, pretrained=True)
    create_model("c3d", 5, size=32, pretrained=False)  # random initialisation, as with None
    with pytest.raises(ValueError, match=r"^backbone 'cifar_resnet8' has no published weights: pretrained takes a "
                                         r"local checkpoint path \(or None\)$"):
        create_model("single_frame", 5, backbone="cifar_resnet8", pretrained=True)
    message = (r"^model 'r3d_18': pretrained takes a local checkpoint path, True \(torchvision's "
               r"R3D_18_Weights.KINETICS400_V1\) or None, got 1$")
    with pytest.raises(ValueError, match=message):
        create_model("r3d_18", 5, pretrained=1)
    with pytest.raises(ValueError, match=r"^backbone 'resnet18': pretrained takes .* got \['weights.pth'\]$"):
        create_model("lrcn", 5, pretrained=["weights.pth"])


def test_the_cli_parses_pretrained_as_true_or_a_path(capsys, tmp_path):
    from lit_video.cli import main

    for value, parsed in (("true", "pretrained: true"), (str(tmp_path / "r3d.pth"), f"pretrained: {tmp_path}")):
        with pytest.raises(SystemExit) as done:
            main(["fit", "--model.name", "r3d_18", "--model.model_args", f"{{pretrained: {value}}}", "--print_config"])
        assert done.value.code == 0
        assert parsed in capsys.readouterr().out
