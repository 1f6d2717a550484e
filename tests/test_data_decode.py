"""Decoding: frame order with every backend and every container, probing, the probe cache, bad files, ``auto``."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import VFR_TIMES, decoders, frame_index, index_frames

from lit_video.data.decode import (
    PROBE_VERSION,
    VideoProbe,
    VideoReadError,
    check_video,
    probe_video,
    probe_videos,
    pyav_frames,
    read_frames,
)
from lit_video.data.sampling import eval_clip_indices, train_clip_indices
from lit_video.data.synthetic import write_video


@pytest.mark.parametrize("backend", decoders())
@pytest.mark.parametrize("ext", ["mp4", "mkv", "webm", "avi"])
def test_frames_come_back_in_the_order_asked(indexed_videos, backend, ext):
    wanted = [0, 7, 3, 29, 15, 15, 1]
    frames = read_frames(indexed_videos[ext], wanted, backend)
    assert frames.shape == (len(wanted), 48, 48, 3)
    assert [frame_index(f.float().mean()) for f in frames] == wanted


@pytest.mark.parametrize("backend", decoders())
@pytest.mark.parametrize("ext", ["mp4", "mkv", "webm", "avi"])
def test_probe(indexed_videos, backend, ext):
    """A constant rate is the header's, exactly (in Matroska and WebM, 29 frame intervals over the millisecond
    timestamps' 0.967 s would make it 29.99)."""
    probe = probe_video(indexed_videos[ext], backend)
    assert (probe.num_frames, probe.fps) == (30, 30.0)


@pytest.mark.parametrize("backend", decoders())
@pytest.mark.parametrize("ext", ["mp4", "mkv", "webm"])
def test_a_variable_rate_file_has_one_frame_rate_and_the_same_clips_with_every_backend(vfr_videos, backend, ext):
    """The frame rate is (frames - 1) / (last pts - first pts), whatever the header or container duration say
    (before: 12.8 or 25 fps from decord and PyAV, 12.2 or 11.9 from torchcodec); so one config samples the same
    frames with every decoder, and frame i is the i-th by presentation time."""
    rate = (len(VFR_TIMES) - 1) / (VFR_TIMES[-1] - VFR_TIMES[0])  # 11.59 fps
    probe = probe_video(vfr_videos[ext], backend)
    assert probe.num_frames == len(VFR_TIMES) and probe.fps == pytest.approx(rate, rel=1e-9)
    clips = [*eval_clip_indices(probe.num_frames, probe.fps, 8, 5.0, 2),
             train_clip_indices(probe.num_frames, probe.fps, 8, 5.0, 0.5)]
    assert clips == [[0, 3, 5, 7, 9, 12, 14, 16], [2, 4, 6, 9, 11, 13, 15, 18], [1, 4, 6, 8, 11, 13, 15, 18]]
    for clip in clips:
        assert [frame_index(f.float().mean()) for f in read_frames(vfr_videos[ext], clip, backend)] == clip


def test_check_video_accepts_a_variable_rate_file(vfr_videos):
    """Its header frame count (duration x frame rate, Matroska has no count) agrees with the frames that decode
    (before: the header rate of 25 fps made it 42 frames, and the file "truncated")."""
    for video in vfr_videos.values():
        assert check_video(video).num_frames == len(VFR_TIMES)


@pytest.fixture(scope="session")
def keyframed_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """60 frames of noise texture panning under the camera with a keyframe at least every 8 frames, in each
    container: the frames between keyframes carry real motion, so one decoded from the wrong reference differs."""
    folder = tmp_path_factory.mktemp("keyframed")
    texture = np.random.default_rng(0).integers(0, 256, (48, 48 + 60, 3), dtype=np.uint8)
    frames = np.stack([texture[:, t:t + 48] for t in range(60)])  # (60, 48, 48, 3)
    return {ext: write_video(folder / f"keyframed.{ext}", frames, fps=30, crf=10, keyint=8)
            for ext in ("mp4", "mkv", "webm", "avi")}


@pytest.mark.parametrize("ext", ["mp4", "mkv", "webm", "avi"])
def test_pyav_seeks_to_the_keyframe_before_the_frames_and_gets_decords_frames(keyframed_videos, ext):
    video = keyframed_videos[ext]
    for wanted in ([55], [40, 41, 42, 50, 59], [12, 58, 70], [0, 7, 3, 29, 15, 15, 1]):
        assert torch.equal(read_frames(video, wanted, "pyav"), read_frames(video, wanted, "decord")), wanted
    # Frame 55 is decoded from the keyframe before it (at most 8 frames back), not from the first frame.
    assert pyav_frames(video, [55])[1] <= 8
    # Two runs of frames a keyframe apart: the frames between them are skipped, not decoded.
    assert pyav_frames(video, [2, 3, 50, 51])[1] <= 2 * 8


def test_pyav_decodes_from_the_start_where_packets_carry_no_timestamps(tmp_path):
    """A raw H.264 stream has no timestamps (nor can it seek): frame i is the i-th decoded."""
    frames, decoded = pyav_frames(write_video(tmp_path / "raw.h264", index_frames(30), fps=30, keyint=8), [20, 3])
    assert decoded == 21
    assert {i: frame_index(frame.mean()) for i, frame in frames.items()} == {3: 3, 20: 20}


def test_probe_cache_is_used_and_refreshed_when_the_file_changes(indexed_videos, tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(indexed_videos["mp4"].read_bytes())
    cache = tmp_path / "cache" / "probes.json"
    assert probe_videos([video], cache_file=cache)[video].num_frames == 30
    entries = json.loads(cache.read_text())
    assert len(entries) == 1
    # Plant a different value: a second call must read it from the cache instead of probing again.
    key = next(iter(entries))
    entries[key]["num_frames"] = 999
    cache.write_text(json.dumps(entries))
    assert probe_videos([video], cache_file=cache)[video].num_frames == 999
    # A changed file (new mtime) is probed again.
    stat = video.stat()
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert probe_videos([video], cache_file=cache)[video].num_frames == 30


def test_probe_cache_of_another_version_is_probed_again(indexed_videos, tmp_path):
    """An entry without this ``PROBE_VERSION`` (before version 2, a frame rate was each backend's own) is probed
    again and rewritten; an entry of this version that lacks a field too."""
    videos = [tmp_path / "a.mp4", tmp_path / "b.mp4"]
    for video in videos:
        video.write_bytes(indexed_videos["mp4"].read_bytes())
    cache = tmp_path / "probes.json"
    probe_videos(videos, cache_file=cache)
    entries = json.loads(cache.read_text())
    key_a, key_b = (next(k for k in entries if k.startswith(f"{v.resolve()}|")) for v in videos)
    entries[key_a] = {"num_frames": 999, "fps": 25.0}  # version 1 wrote no version
    entries[key_b] = {"frames": 30, "version": PROBE_VERSION}  # no field this version needs
    cache.write_text(json.dumps(entries))
    probes = probe_videos(videos, cache_file=cache)
    assert probes[videos[0]] == probes[videos[1]] == VideoProbe(30, 30.0)
    assert json.loads(cache.read_text())[key_a] == {"num_frames": 30, "fps": 30.0, "version": PROBE_VERSION}


@pytest.fixture(scope="module")
def bad_videos(indexed_videos, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    data = indexed_videos["mp4"].read_bytes()
    mdat, moov = data.find(b"mdat"), data.find(b"moov")
    files = {
        "zero": (folder / "zero.mp4", b""),
        "text": (folder / "notes.mp4", b"this is not a video\n" * 50),
        "truncated": (folder / "truncated.mp4", data[: len(data) // 2]),
        # Header and index intact, every coded frame replaced by zeros.
        "corrupt": (folder / "corrupt.mp4", data[: mdat + 4] + bytes(moov - 4 - (mdat + 4)) + data[moov - 4:]),
    }
    for path, content in files.values():
        path.write_bytes(content)
    paths = {name: path for name, (path, _) in files.items()}
    paths["missing"] = folder / "missing.mp4"
    return paths


@pytest.mark.parametrize("backend", decoders())
@pytest.mark.parametrize("kind,reason", [("zero", "empty file"), ("text", "Invalid data"),
                                         ("truncated", "Invalid data"), ("corrupt", "pyav:"),
                                         ("missing", "file not found")])
def test_bad_files_raise_with_path_and_reason(bad_videos, backend, kind, reason):
    with pytest.raises(VideoReadError) as err:
        probe_video(bad_videos[kind], backend)
    assert str(bad_videos[kind]) in str(err.value) and reason in err.value.reason
    with pytest.raises(VideoReadError):
        read_frames(bad_videos[kind], [0], backend)


def test_probe_videos_maps_bad_files_to_errors(bad_videos, indexed_videos, tmp_path):
    paths = [indexed_videos["mp4"], *bad_videos.values()]
    results = probe_videos(paths, cache_file=tmp_path / "probes.json")
    assert results[indexed_videos["mp4"]].num_frames == 30
    assert all(isinstance(results[p], VideoReadError) for p in bad_videos.values())


def test_check_video_finds_a_truncated_stream(indexed_videos, tmp_path):
    # Matroska is streamable: cut in half it still opens and probes, but frames are missing.
    whole = write_video(tmp_path / "long.mkv", index_frames(60, 64), fps=25)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    assert check_video(whole).num_frames == 60
    with pytest.raises(VideoReadError, match="truncated|decod"):
        check_video(cut)


@pytest.mark.parametrize("backend", decoders())
def test_every_backend_decodes_the_same_frames(tiny_dataset, backend):
    """The same pixels for the same indices as decord (H.264 decoding is exact: the same FFmpeg decoder)."""
    video = sorted(tiny_dataset.rglob("*.mp4"))[0]
    wanted = [0, 5, 2, 2, 9]
    torch.testing.assert_close(read_frames(video, wanted, backend), read_frames(video, wanted, "decord"),
                               rtol=0, atol=0)


def test_auto_picks_a_backend_this_machine_runs_and_a_named_one_it_cannot_run_says_why(monkeypatch):
    from lit_video.data import decode

    assert decode.resolve_backend("auto") in decode.AUTO_ORDER
    assert decode.backend_unavailable(decode.resolve_backend("auto")) is None
    monkeypatch.setattr(decode, "backend_unavailable", lambda name: "no FFmpeg" if name == "torchcodec" else None)
    assert decode.resolve_backend("auto") == "decord"
    with pytest.raises(ValueError, match="data.backend 'torchcodec' cannot run here: no FFmpeg"):
        decode.resolve_backend("torchcodec")
    with pytest.raises(ValueError, match="unknown backend 'opencv'"):
        decode.resolve_backend("opencv")
