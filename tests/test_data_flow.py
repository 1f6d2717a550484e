"""Optical flow with known motion: a textured image translated by (dx, dy) a frame, for every method OpenCV offers;
the paper's mean-flow subtraction; the uint8 storage of flow; the flow cache of real H.264 videos."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from lit_video.data.decode import VideoReadError
from lit_video.data.flow import (
    FLOW_BOUND,
    FLOW_FORMAT,
    METHODS,
    ClipFlow,
    FlowSettings,
    cache_flow,
    compute_flow,
    dequantize_flow,
    flow_cache_file,
    flow_gaps,
    quantize_flow,
    translated_texture,
    video_flow,
)
from lit_video.data.synthetic import write_video

AVAILABLE = [m for m in METHODS if m != "tvl1" or hasattr(cv2, "optflow")]


@pytest.mark.parametrize("method", AVAILABLE)
@pytest.mark.parametrize(("dx", "dy"), [(2, -1), (-3, 2)])
def test_flow_of_a_translation_is_the_translation(method, dx, dy):
    flow = compute_flow(translated_texture(dx, dy), method)
    assert flow.shape == (3, 2, 64, 64) and flow.dtype == np.float32
    inner = flow[:, :, 8:-8, 8:-8]  # away from the borders, where content enters the frame
    assert abs(np.median(inner[:, 0]) - dx) < 0.5 and abs(np.median(inner[:, 1]) - dy) < 0.5


def test_mean_flow_subtraction_removes_a_global_motion():
    flow = compute_flow(translated_texture(2, -1), subtract_mean=True)
    assert np.abs(flow.mean(axis=(2, 3))).max() < 1e-4
    assert abs(np.median(flow[:, 0, 8:-8, 8:-8])) < 0.5


def test_stored_flow_is_within_half_a_step_and_clipped_at_the_bound():
    flow = np.linspace(-30, 30, 2 * 7 * 9, dtype=np.float32).reshape(1, 2, 7, 9)
    stored = quantize_flow(flow)
    assert stored.dtype == np.uint8 and stored.min() == 0 and stored.max() == 255
    back = dequantize_flow(stored)
    inside = np.abs(flow) <= FLOW_BOUND
    assert np.abs(back - flow)[inside].max() <= FLOW_BOUND / 255 + 1e-5
    assert np.allclose(back[~inside], np.sign(flow[~inside]) * FLOW_BOUND, atol=1e-5)


@pytest.mark.parametrize(("frames", "method", "message"), [
    (np.zeros((4, 8, 8), np.uint8), "dis", r"uint8 \(T, H, W, 3\) RGB, got uint8 \(4, 8, 8\)"),
    (np.zeros((4, 8, 8, 3), np.float32), "dis", "got float32"),
    (np.zeros((1, 8, 8, 3), np.uint8), "dis", "needs at least 2 frames, got 1"),
    (np.zeros((2, 8, 8, 3), np.uint8), "lucas", "unknown flow method 'lucas'; choose one of dis, farneback, tvl1"),
])
def test_bad_input_is_refused_with_the_reason(frames, method, message):
    with pytest.raises(ValueError, match=message):
        compute_flow(frames, method)


@pytest.mark.skipif(hasattr(cv2, "optflow"), reason="this OpenCV has TV-L1")
def test_tvl1_without_opencv_contrib_says_what_is_missing():
    with pytest.raises(ValueError, match="needs OpenCV's contrib module"):
        compute_flow(np.zeros((2, 8, 8, 3), np.uint8), "tvl1")


@pytest.fixture
def moving_video(tmp_path) -> Path:
    """A real H.264 video (near-lossless) of a texture moving 2 px right and 1 px up a frame."""
    return write_video(tmp_path / "moving.mp4", translated_texture(2, -1, frames=6), fps=10, crf=4)


def test_a_videos_flow_is_computed_once_and_read_back_from_the_cache(moving_video, tmp_path):
    root = tmp_path / "flow"
    flow = video_flow(moving_video, root=root)
    assert flow.shape == (5, 2, 64, 64)
    assert abs(np.median(flow[:, 0, 8:-8, 8:-8]) - 2) < 0.5 and abs(np.median(flow[:, 1, 8:-8, 8:-8]) + 1) < 0.5
    (stored,) = root.glob("*.npy")
    assert stored == flow_cache_file(moving_video, root=root) and np.load(stored).dtype == np.uint8
    stamp = json.loads(stored.with_suffix(".json").read_text())  # what the file must be, checked on each read
    assert stamp["format"] == FLOW_FORMAT and (stamp["dtype"], stamp["shape"]) == ("uint8", [5, 2, 64, 64])
    written = stored.stat().st_mtime_ns
    np.testing.assert_array_equal(video_flow(moving_video, root=root), flow)  # read back, not recomputed
    assert stored.stat().st_mtime_ns == written


def test_a_changed_video_or_setting_is_never_served_stale(moving_video, tmp_path):
    root = tmp_path / "flow"
    first = flow_cache_file(moving_video, root=root)
    video_flow(moving_video, root=root)
    assert flow_cache_file(moving_video, FlowSettings(method="farneback"), root=root) != first
    assert flow_cache_file(moving_video, FlowSettings(subtract_mean=True), root=root) != first
    write_video(moving_video, translated_texture(-3, 2, frames=6), fps=10, crf=4)  # rewritten in place
    assert flow_cache_file(moving_video, root=root) != first
    assert abs(np.median(video_flow(moving_video, root=root)[:, 0, 8:-8, 8:-8]) + 3) < 0.5


def test_a_damaged_cache_file_is_computed_again(moving_video, tmp_path):
    root = tmp_path / "flow"
    flow = video_flow(moving_video, root=root)
    flow_cache_file(moving_video, root=root).write_bytes(b"not a numpy file")
    np.testing.assert_array_equal(video_flow(moving_video, root=root), flow)


@pytest.mark.parametrize(("damage", "why"), [
    (lambda file: np.save(file, np.full((5, 2, 32, 32), 255, np.uint8)), "wrong shape"),  # a valid .npy: +20 px
    (lambda file: np.save(file, np.zeros((5, 2, 64, 64), np.float16)), "wrong dtype"),
    (lambda file: file.with_suffix(".json").unlink(), "older format"),  # no stamp: written before stamps were
])
def test_a_cache_file_of_the_wrong_shape_dtype_or_format_is_computed_again(moving_video, tmp_path, damage, why):
    root = tmp_path / "flow"
    flow = video_flow(moving_video, root=root)
    file = flow_cache_file(moving_video, root=root)
    damage(file)
    np.testing.assert_array_equal(video_flow(moving_video, root=root), flow)  # read: computed again, not used
    assert cache_flow(moving_video, root=root) is None  # and stored as it should be
    damage(file)
    assert cache_flow(moving_video, root=root) == why  # filled: computed again, saying why
    np.testing.assert_array_equal(video_flow(moving_video, root=root), flow)


def test_flow_settings_and_unreadable_videos_fail_with_the_reason(tmp_path):
    with pytest.raises(ValueError, match="unknown flow method 'lucas'"):
        FlowSettings(method="lucas")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    with pytest.raises(VideoReadError, match="broken.mp4"):
        video_flow(broken, root=tmp_path / "flow")


def test_flow_frames_apart_is_the_motion_over_the_gap():
    flow = compute_flow(translated_texture(1, -1, frames=5), gap=2)
    assert flow.shape == (3, 2, 64, 64)
    inner = flow[:, :, 8:-8, 8:-8]
    assert abs(np.median(inner[:, 0]) - 2) < 0.5 and abs(np.median(inner[:, 1]) + 2) < 0.5


@pytest.mark.parametrize(("video_fps", "fps", "gaps"), [
    (30, 8, (3, 4)), (25, 8, (3, 4)), (12, 8, (1, 2)), (24, 8, (3,)), (25, 25, (1,)), (10, 20, (1,)), (30, None, (1,)),
])
def test_the_gaps_of_clips_sampled_at_a_frame_rate(video_fps, fps, gaps):
    assert flow_gaps(video_fps, fps) == gaps


def test_a_clips_flow_is_read_from_the_cache_for_its_own_frame_gaps(moving_video, tmp_path):
    """Frames 0, 2, 3, 3 of a texture moving (2, -1) a frame: flow (4, -2), then (2, -1), then none (a clip padded
    past the video's end repeats its last frame)."""
    reader = ClipFlow(root=tmp_path / "flow")
    flow = reader(moving_video, [0, 2, 3, 3], (64, 64))
    assert flow.shape == (3, 2, 64, 64) and flow.dtype == np.float32
    inner = np.median(flow[:, :, 8:-8, 8:-8], axis=(2, 3))  # (3, 2): each field's median (dx, dy)
    np.testing.assert_allclose(inner, [[4, -2], [2, -1], [0, 0]], atol=0.5)
    assert len(list((tmp_path / "flow").glob("*.npy"))) == 2  # gaps 2 and 1, stored once each
    np.testing.assert_array_equal(flow[1], video_flow(moving_video, root=tmp_path / "flow")[2])


def test_flow_at_the_size_of_resized_frames_is_resized_and_scaled_the_same_kept_or_not(moving_video, tmp_path,
                                                                                       monkeypatch):
    """At 32 x 32 (frames resized from 64), the (2, -1) px motion is (1, -0.5) px; kept in memory or read from the
    cache each time, and with the memory full, the numbers are the same."""
    from lit_video.data import flow as flow_module

    reader = ClipFlow(root=tmp_path / "flow")
    read = reader(moving_video, [0, 2, 3, 3], (32, 32))
    kept = reader(moving_video, [0, 2, 3, 3], (32, 32), keep=True)
    assert read.shape == kept.shape == (3, 2, 32, 32)
    np.testing.assert_array_equal(read, kept)
    np.testing.assert_allclose(np.median(kept[1, :, 4:-4, 4:-4], axis=(1, 2)), [1, -0.5], atol=0.25)
    assert sum(1 for key in flow_module.KEPT_FLOW.fields if key[0] == str(moving_video)) == 2  # gaps 2 and 1
    monkeypatch.setattr(flow_module, "KEPT_FLOW", flow_module.KeptFlow(max_bytes=0))
    np.testing.assert_array_equal(reader(moving_video, [0, 2, 3, 3], (32, 32), keep=True), read)


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid`` and their command lines, from /proc (psutil may not be installed)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])  # the name before ")" may hold spaces
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
        if parent == pid:
            found[int(stat.parent.name)] = command
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by whoever adopted it, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.integration  # a CLI in a process of its own, killed once its workers start
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a parent's death reaches its children on Linux")
def test_flow_workers_die_with_a_killed_command(tiny_dataset, tmp_path):
    """`kill -9` of `lit-video data flow --workers 2` takes its workers with it: none is left waiting for ever."""
    command = [sys.executable, "-m", "lit_video.cli", "data", "flow", str(tiny_dataset), "--workers", "2"]
    env = {**os.environ, "LIT_VIDEO_CACHE": str(tmp_path / "cache")}
    parent = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2:
            assert parent.poll() is None and time.monotonic() < deadline, "the workers never started"
            workers = [pid for pid, line in _children(parent.pid).items() if "spawn_main" in line]
            time.sleep(0.05)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30  # a worker still importing torch ends once it has
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)], "workers outlived their parent"
    finally:
        parent.kill()
        for pid in workers:  # these very workers, should the test fail
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
