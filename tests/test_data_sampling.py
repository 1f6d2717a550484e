"""Clip index arithmetic: time-based strides, evenly spread evaluation clips, padding, segments."""

import itertools

import pytest

from lit_video.data.sampling import eval_clip_indices, segment_frames, train_clip_indices


@pytest.mark.parametrize("video_fps", [30.0, 25.0, 12.0])
def test_clip_lasts_frames_over_fps_seconds_at_any_native_rate(video_fps):
    frames, fps = 8, 5.0
    clip = train_clip_indices(600, video_fps, frames, fps, u=0.0)
    assert len(clip) == frames
    # Consecutive clip frames are 1/fps seconds apart in the source, up to one source frame of rounding.
    span_s = (clip[-1] - clip[0]) / video_fps
    assert span_s == pytest.approx((frames - 1) / fps, abs=1 / video_fps)
    steps = {b - a for a, b in itertools.pairwise(clip)}
    assert steps <= {int(video_fps / fps), int(video_fps / fps) + 1}


def test_exact_strides():
    assert train_clip_indices(100, 30.0, 4, 5.0, u=0.0) == [0, 6, 12, 18]
    assert train_clip_indices(100, 25.0, 4, 5.0, u=0.0) == [0, 5, 10, 15]
    assert train_clip_indices(100, 12.0, 4, 5.0, u=0.0) == [0, 2, 4, 7]  # stride 2.4 frames


def test_train_offset_spans_the_whole_video():
    first = train_clip_indices(100, 25.0, 4, 5.0, u=0.0)
    last = train_clip_indices(100, 25.0, 4, 5.0, u=0.999999)
    assert first[0] == 0
    assert last[-1] == 99 and last == [84, 89, 94, 99]
    assert all(0 <= i < 100 for u in (0.1, 0.5, 0.9) for i in train_clip_indices(100, 25.0, 4, 5.0, u))


def test_eval_clips_are_spread_evenly():
    clips = eval_clip_indices(301, 30.0, 8, 5.0, clips=4)
    starts = [c[0] for c in clips]
    # free room = 301 - (7 * 6 + 1) = 258 frames; clip k starts at 258 * (k + 0.5) / 4
    assert starts == [32, 96, 161, 225]
    assert all(len(c) == 8 and c == sorted(c) for c in clips)
    gaps = {b - a for a, b in itertools.pairwise(starts)}
    assert max(gaps) - min(gaps) <= 1
    assert eval_clip_indices(301, 30.0, 8, 5.0, clips=1)[0][0] == 129  # one clip: the centre


def test_short_video_is_padded_with_its_last_frame():
    clip = train_clip_indices(10, 30.0, 8, 5.0, u=0.7)  # 10 frames, a clip needs 43
    assert clip == [0, 6, 9, 9, 9, 9, 9, 9]
    for evaluated in eval_clip_indices(10, 30.0, 8, 5.0, clips=3):
        assert evaluated == clip
    assert train_clip_indices(1, 30.0, 4, 5.0, u=0.5) == [0, 0, 0, 0]


def test_fps_above_native_repeats_frames():
    assert train_clip_indices(100, 5.0, 6, 10.0, u=0.0) == [0, 0, 1, 1, 2, 2]


def test_segment_of_an_untrimmed_video():
    assert segment_frames(3000, 30.0, 10.0, 20.0) == (300, 600)
    for u in (0.0, 0.5, 0.999):
        clip = train_clip_indices(3000, 30.0, 16, 5.0, u, segment=(10.0, 20.0))
        assert 300 <= clip[0] and clip[-1] < 600
    clips = eval_clip_indices(3000, 30.0, 16, 5.0, clips=10, segment=(10.0, 20.0))
    assert all(300 <= c[0] and c[-1] < 600 for c in clips)
    # A segment beyond the end of the file is clamped and keeps one frame.
    assert segment_frames(100, 25.0, 50.0, 60.0) == (99, 100)
