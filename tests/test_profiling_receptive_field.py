"""Receptive fields measured from the network: the lecture's table, per-frame 2D, recurrent, two-stream."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lit_video.models import create_model
from lit_video.profiling import count_flops, receptive_fields

# The lecture's "Early Fusion vs Late Fusion vs 3D CNN" table at 3x20x64x64: layer, output size, RF t x h x w.
LECTURE_TABLE = {
    "lecture_late_fusion": [("conv1", (12, 20, 64, 64), (1, 3, 3)), ("pool1", (12, 20, 16, 16), (1, 6, 6)),
                            ("conv2", (24, 20, 16, 16), (1, 14, 14)), ("pool", (24, 1, 1, 1), (20, 64, 64))],
    "lecture_early_fusion": [("conv1", (12, 64, 64), (20, 3, 3)), ("pool1", (12, 16, 16), (20, 6, 6)),
                             ("conv2", (24, 16, 16), (20, 14, 14)), ("pool", (24, 1, 1), (20, 64, 64))],
    "lecture_3d_cnn": [("conv1", (12, 20, 64, 64), (3, 3, 3)), ("pool1", (12, 5, 16, 16), (6, 6, 6)),
                       ("conv2", (24, 5, 16, 16), (14, 14, 14)), ("pool", (24, 1, 1), (20, 64, 64))],
}


@pytest.mark.parametrize("name", list(LECTURE_TABLE))
def test_lecture_table_sizes_and_receptive_fields(name):
    report = count_flops(create_model(name, num_classes=10), (1, 3, 20, 64, 64), receptive_field=True)
    layers = {layer.name: layer for layer in report.layers}
    for layer, size, rf in LECTURE_TABLE[name]:
        # Compared without singleton dims: the slide writes a pooled 3D output as 24 x 1 x 1.
        assert [s for s in layers[layer].output_shape[1:] if s != 1] == [s for s in size if s != 1], layer
        assert tuple(layers[layer].receptive_field) == rf, layer
    assert tuple(report.layers[-1].receptive_field) == (20, 64, 64)  # the classifier sees the whole clip


class PerFrame(nn.Module):
    """Time folded into the batch, as frame-based models do: its layers output (B*T, C, H, W)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)  # (B*T, C, H, W)
        feats = self.pool(self.conv(frames)).mean(dim=(2, 3)).view(b, t, -1)  # (B, T, 4)
        return self.fc(feats.mean(1))


def test_frame_based_layers_see_one_frame():
    fields = receptive_fields(PerFrame(), torch.zeros(1, 3, 6, 16, 16))
    assert fields["conv"] == [1, 3, 3]
    assert fields["pool"] == [1, 4, 4]  # a 2x2 pool over 3x3 convs
    assert fields["fc"] == [6, 16, 16]


def test_max_pooling_and_zero_weights_do_not_hide_positions():
    net = nn.Sequential(nn.Conv3d(1, 1, 3, padding=1, bias=False), nn.MaxPool3d(2))
    nn.init.zeros_(net[0].weight)  # real weights that reach nothing; the probe replaces them
    assert receptive_fields(net, torch.zeros(1, 1, 8, 8, 8))["1"] == [4, 4, 4]
    assert receptive_fields(net, torch.zeros(1, 1, 8, 8, 8))["0"] == [3, 3, 3]
    assert torch.count_nonzero(net[0].weight) == 0  # the caller's model is untouched


class Recurrent(nn.Module):
    """A per-frame conv followed by a GRU over time: the last step reaches every frame."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.gru = nn.GRU(4, 8, batch_first=True)

    def forward(self, x):
        b, c, t, h, w = x.shape
        feats = self.conv(x.transpose(1, 2).reshape(b * t, c, h, w)).mean(dim=(2, 3))  # (B*T, 4)
        out, _ = self.gru(feats.view(b, t, 4))  # (B, T, 8)
        return out[:, -1]


def test_recurrent_network_reaches_back_in_time():
    fields = receptive_fields(Recurrent(), torch.zeros(1, 3, 5, 8, 8))
    assert fields["conv"] == [1, 3, 3]
    assert fields["gru"][0] == 3  # the middle step of the output sequence: frames 0..2
    assert fields[""] == [5, 8, 8]  # the model's output: the last step


def test_two_stream_inputs_take_the_widest_extent():
    class TwoStream(nn.Module):
        def __init__(self):
            super().__init__()
            self.rgb, self.flow = nn.Conv3d(3, 2, (1, 3, 3), padding=(0, 1, 1)), nn.Conv3d(2, 2, 3, padding=1)

        def forward(self, x):
            return self.rgb(x["rgb"]) + self.flow(x["flow"])

    inputs = {"rgb": torch.zeros(1, 3, 4, 8, 8), "flow": torch.zeros(1, 2, 4, 8, 8)}
    fields = receptive_fields(TwoStream(), inputs)
    assert fields["rgb"] == [1, 3, 3] and fields["flow"] == [3, 3, 3] and fields[""] == [3, 3, 3]


def test_a_flattened_map_reaches_what_all_its_positions_reach():
    net = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.AdaptiveAvgPool3d((1, 2, 2)), nn.Flatten(), nn.Linear(8, 3))
    fields = receptive_fields(net, torch.rand(1, 1, 4, 8, 8))
    assert fields["1"] == [4, 5, 5]  # one of the 2x2 pooled cells: a quadrant, plus the conv's 1-pixel rim
    assert fields["2"] == fields["3"] == [4, 8, 8]  # the flattened vector and the classifier see everything
