"""Receptive fields measured from the network: per-frame 2D, recurrent, two-stream (the lecture's tables are
checked with every published figure in tests/test_fidelity.py)."""

from __future__ import annotations

import torch
from torch import nn

from lit_video.profiling import receptive_fields


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
