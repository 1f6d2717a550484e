"""Memory layouts: converting a model and its clips, and choosing the faster layout once per model and machine."""

import json

import pytest
import torch
from torch import nn

from lit_video.memory_format import (
    BUSY,
    MARGIN,
    REPEATS,
    check_memory_format,
    decide_layout,
    describe_choice,
    fastest_memory_format,
    inputs_to_memory_format,
    measure_again,
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


def test_the_faster_layout_is_measured_once_and_leaves_the_random_state_alone(monkeypatch, tmp_path):
    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path))
    net = mixed_net()
    torch.manual_seed(1)
    first = fastest_memory_format(net, (2, 3, 4, 16, 16))
    drawn = torch.rand(3)
    torch.manual_seed(1)
    assert torch.equal(torch.rand(3), drawn)  # measuring drew nothing from torch's generator
    assert first["memory_format"] in ("contiguous", "channels_last") and not first["cached"]
    assert {fmt: len(runs) for fmt, runs in first["seconds"].items()} == {"contiguous": REPEATS,
                                                                           "channels_last": REPEATS}
    assert first == {**decide_layout(first["seconds"], first["load"]), "measured_at": first["measured_at"],
                     "cached": False}  # the decision of the runs it timed, at the load it recorded
    again = fastest_memory_format(mixed_net(), (2, 3, 4, 16, 16))  # the same architecture: from the cache
    assert again == {**first, "cached": True} or first["provisional"]  # (a busy machine may measure it again)
    assert not fastest_memory_format(net, (4, 3, 4, 16, 16))["cached"]  # another batch: measured
    assert not fastest_memory_format(net, (2, 3, 4, 16, 16), remeasure=True)["cached"]  # asked to measure again
    flat = fastest_memory_format(nn.Linear(8, 2), (2, 8))  # nothing to lay out
    assert flat["memory_format"] == "contiguous" and flat["seconds"] == {} and not flat["provisional"]
    assert describe_choice(flat) == "auto: nothing to lay out"


def test_the_choice_is_each_layouts_fastest_run_and_one_timed_under_load_is_provisional():
    """Runs are alternated (A B A B ...), and a layout's speed is its fastest run: another process can only slow a
    run down. A choice is provisional where the machine was busy (load per core above BUSY) or the runs of a
    layout spread wider than the margin the choice needs."""
    # The C3D: a busy moment timed contiguous 11.1 s, channels_last 12.2 s; on a quiet machine channels_last
    # is 1.39x faster. Each layout's fastest run decides; a slow run of channels_last does not.
    quiet = decide_layout({"contiguous": [6.10, 6.02, 6.05], "channels_last": [4.40, 6.90, 4.35]}, load=0.1)
    assert quiet["memory_format"] == "channels_last" and not quiet["provisional"]
    busy = decide_layout({"contiguous": [11.1, 11.2, 11.1], "channels_last": [12.2, 12.3, 12.2]}, load=2 * BUSY + 1)
    assert busy["memory_format"] == "contiguous" and busy["provisional"]
    unsteady = decide_layout({"contiguous": [6.0, 8.0, 7.5], "channels_last": [4.4, 4.4, 4.5]}, load=0.1)
    assert unsteady["memory_format"] == "channels_last" and unsteady["provisional"]  # contiguous's runs 25% apart
    assert unsteady["spread"] == pytest.approx(0.25)
    tie = decide_layout({"contiguous": [1.0, 1.0, 1.01], "channels_last": [1 - MARGIN / 2] * 3}, load=None)
    assert tie["memory_format"] == "contiguous" and not tie["provisional"]  # within the margin; load unknown


def test_a_choice_measured_under_load_is_measured_again_once_the_machine_is_quiet():
    busy = {**decide_layout({"contiguous": [11.1, 11.2], "channels_last": [12.2, 12.2]}, load=3.0),
            "measured_at": "2025-01-01 10:00"}
    assert not measure_again(busy, load=3.0)  # still busy: measuring now would be no better
    assert measure_again(busy, load=BUSY / 2)
    settled = {**decide_layout({"contiguous": [6.1, 6.1], "channels_last": [4.4, 4.4]}, load=0.1),
               "measured_at": "2025-01-01 10:00"}
    assert not measure_again(settled, load=3.0) and not measure_again(settled, load=0.1)
    # What lit-video cached before loads were recorded: the date and the load unknown, so measured again
    assert measure_again({"memory_format": "contiguous", "seconds": {"contiguous": 11.1, "channels_last": 12.2}},
                         load=3.0)
    assert measure_again(None, load=3.0)


def test_the_choice_says_whether_it_was_measured_now_or_cached_and_when(monkeypatch, tmp_path):
    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path))
    choice = fastest_memory_format(mixed_net(), (2, 3, 4, 16, 16))
    assert describe_choice(choice).startswith("auto: measured now")
    cached = {**choice, "cached": True}
    assert describe_choice(cached).startswith(f"auto: cached {choice['measured_at']}")
    busy = {**decide_layout({"contiguous": [11.1, 11.2], "channels_last": [12.2, 12.2]}, load=3.04),
            "measured_at": "2025-01-01 10:00", "cached": True}
    assert describe_choice(busy) == ("auto: cached 2025-01-01 10:00 at a load of 3.0 a core; measured again once "
                                     "the machine is quiet")
    unsteady = {**decide_layout({"contiguous": [6.0, 7.5], "channels_last": [4.4, 4.4]}, load=0.1),
                "measured_at": "2025-01-01 10:00", "cached": False}
    assert describe_choice(unsteady) == ("auto: measured now, its runs 25% apart; measured again once the machine "
                                         "is quiet")


def test_a_choice_lit_video_cached_before_loads_were_recorded_is_measured_again(monkeypatch, tmp_path):
    """The issue's layouts.json held `contiguous` for C3D, timed on a busy machine, and every run trusted it."""
    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path))
    net = mixed_net()
    fastest_memory_format(net, (2, 3, 4, 16, 16))
    cache = tmp_path / "layouts.json"
    (key, _), = json.loads(cache.read_text()).items()
    cache.write_text(json.dumps({key: {"memory_format": "contiguous",
                                       "seconds": {"contiguous": 11.1, "channels_last": 12.2}}}))
    again = fastest_memory_format(net, (2, 3, 4, 16, 16))
    assert not again["cached"] and again["measured_at"] and len(again["seconds"]["contiguous"]) == REPEATS
    assert json.loads(cache.read_text())[key] == {k: v for k, v in again.items() if k != "cached"}
