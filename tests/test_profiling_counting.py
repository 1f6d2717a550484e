"""count_flops against hand arithmetic, the lecture's C3D total and fvcore (every published figure, torchvision's
and the lecture's included, is checked in tests/test_fidelity.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lit_video.models import create_model, model_info
from lit_video.profiling import count_flops, gflops
from lit_video.profiling.counting import stream_gmacs


@pytest.fixture(scope="module")
def c3d_report():
    with torch.device("meta"):  # no weights needed to count: builds in milliseconds
        model = create_model("c3d", num_classes=487)  # Sports-1M's 487 classes, the slide's "C"
    return count_flops(model, (1, 3, 16, 112, 112))


def test_c3d_total_and_why_the_slide_says_39_5(c3d_report):
    """The slide's FC rows are 27x too big (the 3x3x3 kernel volume carried over); see docs/flops.md."""
    layers = {layer.name: layer for layer in c3d_report.layers}
    convs = sum(layer.gmacs for layer in c3d_report.layers if layer.type == "Conv3d")
    fcs = {name: layers[name].gmacs for name in ("fc6", "fc7", "fc8")}
    assert c3d_report.gmacs == pytest.approx(convs + sum(fcs.values()), rel=1e-9)
    assert c3d_report.gmacs == pytest.approx(38.53, abs=0.01)  # not 39.5
    slide = model_info("c3d").published[0].layers  # the lecture's table
    for name, gmacs in fcs.items():
        assert round(27 * gmacs, 2) == slide[name]["gmacs"], name
    assert round(convs + 27 * sum(fcs.values()), 1) == 39.5


class TinyAttention(nn.Module):
    """Self-attention through F.scaled_dot_product_attention, which fvcore and torch's counter miss on CPU."""

    def __init__(self, dim: int = 32, heads: int = 4):
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, d // self.heads)  # (B, N, 3, heads, d/heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, heads, N, d/heads)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))  # (B, N, heads, d/heads) -> (B, N, D)


def test_attention_counts_qk_and_av():
    b, n, d = 2, 50, 32
    report = count_flops(TinyAttention(d), (b, n, d), cross_check=True)
    linear = b * n * d * 3 * d + b * n * d * d
    attention = 2 * b * n * n * d  # QK^T and AV, over all heads
    assert report.gmacs * 1e9 == pytest.approx(linear + attention)
    own = {layer.name: layer.gmacs for layer in report.layers}["(model)"]  # sdpa runs in the module itself
    assert own * 1e9 == pytest.approx(attention)
    assert report.cross_check["gmacs"] * 1e9 == pytest.approx(linear + attention)  # fvcore + the added handle


def test_einsum_and_multihead_attention_are_counted():
    class Mixer(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(16, 2, batch_first=True)

        def forward(self, x):
            mixed = torch.einsum("bnd,bmd->bnm", x, x)  # (B, N, N)
            return self.mha(x, x, x)[0], mixed

    b, n, d = 1, 10, 16
    report = count_flops(Mixer(), (b, n, d))
    mha = 4 * n * d * d + 2 * n * n * d  # q, k, v, out projections; QK^T and AV
    assert report.gmacs * 1e9 == pytest.approx(n * n * d + mha)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_recurrent_layers_count_every_weight_once_per_step(device):
    """CPU runs nn.LSTM as one fused oneDNN op that torch's counter skips; the added formula counts it."""
    with torch.device(device):
        lstm = nn.LSTM(16, 32, num_layers=2, bidirectional=True, batch_first=True)
    b, t = 3, 5
    per_step = 4 * 32 * (16 + 32) * 2 + 4 * 32 * (64 + 32) * 2  # 4 gates; layer 2 reads both directions
    assert count_flops(lstm, (b, t, 16)).gmacs * 1e9 == pytest.approx(b * t * per_step)


def test_per_layer_table_params_activations_and_conv_arithmetic():
    net = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.BatchNorm3d(8), nn.ReLU(), nn.AdaptiveAvgPool3d(1),
                        nn.Flatten(), nn.Linear(8, 5))
    net[5].weight.requires_grad_(False)
    report = count_flops(net, (1, 3, 4, 16, 16))
    conv = 8 * 3 * 27 * 4 * 16 * 16
    assert [layer.type for layer in report.layers] == ["Conv3d", "BatchNorm3d", "ReLU", "AdaptiveAvgPool3d",
                                                       "Flatten", "Linear"]
    assert report.layers[0].gmacs * 1e9 == conv and report.layers[5].gmacs * 1e9 == 40
    assert report.layers[0].output_shape == [1, 8, 4, 16, 16]
    assert report.params == sum(p.numel() for p in net.parameters())
    assert report.params == sum(layer.params for layer in report.layers)
    assert report.trainable_params == report.params - 40
    assert report.activations == 8 * 4 * 16 * 16 + 5  # outputs of the layers that multiply
    assert report.gflops == 2 * report.gmacs
    assert report.to_dict()["gflops"] == report.gflops
    assert "flop_counter" in report.counter


@pytest.mark.parametrize("name", ["single_frame", "two_stream", "late_fusion_pool"])
def test_the_layers_add_up_to_the_total_when_a_graph_calls_leaves_past_their_containers(name):
    """torchvision's feature extractors (fx graphs, the frame backbones) call conv1 of layer1.0 directly, never
    layer1; a ModuleDict (two_stream's streams) is never called at all. Each layer's own MACs must still count once."""
    model = create_model(name, num_classes=5, frames=4, size=32)
    report = count_flops(model, model_info(name).input_shape(1, 4, 32))
    assert sum(layer.gmacs for layer in report.layers) == pytest.approx(report.gmacs, rel=1e-9)
    # The graph itself multiplies nothing: its convolutions are its leaves' own (it used to count them again).
    assert not [layer for layer in report.layers if layer.name.endswith("backbone.trunk") and layer.gmacs > 0]
    streams = stream_gmacs(model_info(name), report)
    if streams is not None:
        assert sum(streams.values()) == pytest.approx(report.gmacs, rel=1e-9)


def test_counting_leaves_the_model_untouched_and_matches_real_tensors():
    net = create_model("lecture_3d_cnn", num_classes=5).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fake = count_flops(net, (1, 3, 20, 64, 64))
    assert net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    real = count_flops(net, torch.randn(1, 3, 20, 64, 64), cross_check=True)
    assert fake.gmacs == real.gmacs
    assert real.cross_check["conv_matmul_gmacs"] == pytest.approx(real.gmacs)  # fvcore agrees on conv/matmul


def test_data_dependent_models_fall_back_to_real_tensors():
    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(x) if x.sum().item() >= 0 else x  # .item() cannot run on fake tensors

    report = count_flops(Gate(), (2, 4))
    assert report.gmacs * 1e9 == 32 and "real tensors" in report.counter


def test_two_stream_dict_inputs_and_gflops():
    class TwoStream(nn.Module):
        def __init__(self):
            super().__init__()
            self.rgb, self.flow = nn.Conv3d(3, 4, 1), nn.Conv3d(2, 4, 1)

        def forward(self, x):
            return self.rgb(x["rgb"]).mean() + self.flow(x["flow"]).mean()

    report = count_flops(TwoStream(), {"rgb": (1, 3, 2, 8, 8), "flow": (1, 2, 2, 8, 8)})
    assert report.gmacs * 1e9 == 4 * 3 * 128 + 4 * 2 * 128
    assert report.gflops * 1e9 == pytest.approx(5120)  # a multiply and an add per multiply-accumulate
    assert report.input_shape == {"rgb": [1, 3, 2, 8, 8], "flow": [1, 2, 2, 8, 8]}
    assert gflops(2.5) == 5.0 and gflops(None) is None


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(TypeError, match="model inputs must be"):
        count_flops(nn.Linear(2, 2), "3x16x112x112")
    with pytest.raises(ValueError, match="non-positive"):
        count_flops(nn.Linear(2, 2), (1, 0))
    with torch.device("meta"):
        net = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="meta"):
        count_flops(net, (1, 2), receptive_field=True)
    assert count_flops(net, (1, 2)).gmacs * 1e9 == 4  # the defaults count on meta: receptive fields are opt-in
