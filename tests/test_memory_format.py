"""Memory layouts: converting a model and its clips, and choosing the faster layout once per model and machine."""

import pytest
import torch
from torch import nn

from lit_video.memory_format import (
    MARGIN,
    check_memory_format,
    fastest_memory_format,
    inputs_to_memory_format,
    to_memory_format,
)


def mixed_net() -> nn.Module:
    """A 3D conv, then frames through a 2D conv: 5D and 4D weights, as in the registry's models."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv3d, self.conv2d, self.fc = nn.Conv3d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3), nn.Linear(4, 2)

        def forward(self, x):
            x = self.conv3d(x)  # (B, 4, T, H, W)
            b, c, t, h, w = x.shape
            x = self.conv2d(x.transpose(1, 2).reshape(b * t, c, h, w))  # (B*T, 4, H-2, W-2)
            return self.fc(x.mean((2, 3)).view(b, t, c).mean(1))  # (B, 2)

    return Net()


def test_channels_last_model_and_clip_compute_the_same():
    torch.manual_seed(0)
    net, x = mixed_net(), torch.randn(2, 3, 4, 8, 8)
    expected = net(x)
    weight = net.conv3d.weight
    to_memory_format(net, "channels_last")
    assert net.conv3d.weight is weight  # the same parameter: an optimiser holding it still works
    assert net.conv3d.weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert net.conv2d.weight.is_contiguous(memory_format=torch.channels_last)
    clip = inputs_to_memory_format(x, "channels_last")
    assert clip.shape == x.shape and clip.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(net(clip), expected)
    to_memory_format(net, "contiguous")
    assert net.conv3d.weight.is_contiguous()
    assert inputs_to_memory_format(x, "contiguous") is x
    with pytest.raises(ValueError, match="data.layout 'nhwc' is not one of"):
        check_memory_format("nhwc", "data.layout")


def test_the_faster_layout_is_measured_once_and_leaves_the_random_state_alone():
    net = mixed_net()
    torch.manual_seed(1)
    first = fastest_memory_format(net, (2, 3, 4, 16, 16))
    drawn = torch.rand(3)
    torch.manual_seed(1)
    assert torch.equal(torch.rand(3), drawn)  # measuring drew nothing from torch's generator
    assert first["memory_format"] in ("contiguous", "channels_last") and not first["cached"]
    assert set(first["seconds"]) == {"contiguous", "channels_last"}
    faster = first["seconds"]["channels_last"] < (1 - MARGIN) * first["seconds"]["contiguous"]
    assert first["memory_format"] == ("channels_last" if faster else "contiguous")
    again = fastest_memory_format(mixed_net(), (2, 3, 4, 16, 16))  # the same architecture: from the cache
    assert again["cached"] and again["memory_format"] == first["memory_format"]
    assert not fastest_memory_format(net, (4, 3, 4, 16, 16))["cached"]  # another batch: measured
    flat = fastest_memory_format(nn.Linear(8, 2), (2, 8))  # nothing to lay out
    assert flat == {"memory_format": "contiguous", "seconds": {}, "cached": False}
