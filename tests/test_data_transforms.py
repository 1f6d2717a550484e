"""Transforms: layout (C, T, H, W), crops, flip, normalisation, and frame order kept through all of them."""

import pytest
import torch
from helpers import decoders, frame_index, index_frames

from lit_video.data.decode import read_frames
from lit_video.data.transforms import MEAN, STD, ClipTransform, three_crop_boxes


def unnormalise(clip: torch.Tensor) -> torch.Tensor:
    """(C, T, H, W) normalised float -> 0..255 grey levels per frame ``(T,)``."""
    mean, std = torch.tensor(MEAN).view(3, 1, 1, 1), torch.tensor(STD).view(3, 1, 1, 1)
    return ((clip * std + mean) * 255).mean(dim=(0, 2, 3))


@pytest.mark.parametrize("backend", decoders())
@pytest.mark.parametrize("train,crops", [(True, 1), (False, 1), (False, 3)])
def test_frame_order_survives_decode_and_transforms(indexed_videos, backend, train, crops):
    wanted = [2, 9, 4, 27, 0, 13]
    frames = read_frames(indexed_videos["mp4"], wanted, backend)  # (T, H, W, C) uint8
    transform = ClipTransform(size=32, resize=40, train=train)
    torch.manual_seed(0)
    for crop in range(crops):
        clip = transform(frames, crop, crops)
        assert clip.shape == (3, len(wanted), 32, 32) and clip.dtype == torch.float32
        assert [frame_index(level) for level in unnormalise(clip)] == wanted


def test_short_side_resize_and_three_crops_along_the_long_side():
    frames = torch.zeros(2, 60, 120, 3, dtype=torch.uint8)  # (T, H, W, C), landscape
    frames[:, :, :40] = 255  # left third white
    transform = ClipTransform(size=30, resize=30)  # short side 60 -> 30, long side 120 -> 60
    left, centre, right = (transform(frames, k, 3) for k in range(3))
    white, black = (1 - MEAN[0]) / STD[0], -MEAN[0] / STD[0]
    assert left.shape == centre.shape == right.shape == (3, 2, 30, 30)
    # After resizing, columns 0..19 of 60 are white; the crops start at x = 0, 15 and 30.
    assert left[0, :, :, :18].min() > white - 0.1 and left[0, :, :, 22:].max() < black + 0.1
    assert centre[0, :, :, :3].min() > white - 0.1 and centre[0, :, :, 7:].max() < black + 0.1
    assert right[0].max() < black + 0.1
    assert three_crop_boxes(60, 30, 30) == [(0, 0), (15, 0), (30, 0)]  # portrait: along the height


def test_train_transform_flips_and_crops_at_random():
    frames = torch.from_numpy(index_frames(4, 48).copy())
    frames[:, :, :24] = 0  # left half black
    transform = ClipTransform(size=32, resize=48, train=True)
    torch.manual_seed(0)
    left_means = {round(float(transform(frames)[:, :, :, :8].mean()), 3) for _ in range(20)}
    assert len(left_means) > 1  # the left edge is sometimes black, sometimes not: crops / flips vary
    assert transform(frames).shape == (3, 4, 32, 32)


def test_no_flip_where_the_labels_are_not_mirror_symmetric():
    frames = torch.zeros(1, 32, 32, 3, dtype=torch.uint8)
    frames[:, :, :16] = 255  # left half white
    transform = ClipTransform(size=32, resize=32, train=True, flip=False)
    torch.manual_seed(0)
    assert all(transform(frames)[0, 0, :, 0].min() > 0 for _ in range(20))  # the left edge stays white


@pytest.mark.parametrize("train,crops", [(True, 1), (False, 1), (False, 3)])
def test_flow_gets_the_frames_crop_and_flip_and_is_scaled_to_clip_pixels(train, crops):
    """The flow of 48 x 96 frames given at half their size, its dx field a copy of the red channel's ramp and its dy
    a constant 1: after the transform dx follows the red ramp of the crop (mirrored and negated where the clip was
    flipped) and dy is 1 px at the flow's size scaled to the clip's (x 2 to the frame, x 40/48 to the resize)."""
    ramp = torch.linspace(0, 255, 96).expand(48, 96)  # (H, W), brightest on the right
    frames = torch.zeros(3, 48, 96, 3, dtype=torch.uint8)
    frames[..., 0] = ramp.round().to(torch.uint8)
    flow = torch.ones(2, 2, 24, 48)  # (T-1, 2, h, w) at half the frames' size
    flow[:, 0] = ramp[::2, ::2] / 255  # dx: 0..1 px, the ramp
    transform = ClipTransform(size=32, resize=40, train=train)
    scale = 2 * 40 / 48
    flipped = 0
    for seed in range(8):
        torch.manual_seed(seed)
        out = transform(frames, seed % crops, crops, flow)
        rgb, moved = out["rgb"], out["flow"]
        assert rgb.shape == (3, 3, 32, 32) and moved.shape == (2, 2, 32, 32)
        torch.testing.assert_close(moved[1], torch.full_like(moved[1], scale), atol=1e-4, rtol=0)
        red = rgb[0, 0] * STD[0] + MEAN[0]  # (H, W) in 0..1: the ramp where the clip was cut from
        is_flipped = bool(red[:, 0].mean() > red[:, -1].mean())
        flipped += is_flipped
        dx = moved[0, 0] / scale  # back to the ramp's 0..1
        expected = -red if is_flipped else red
        torch.testing.assert_close(dx[4:-4, 4:-4], expected[4:-4, 4:-4], atol=0.03, rtol=0)
    assert (0 < flipped < 8) if train else flipped == 0  # training flips about half of the clips
