"""The synthetic dataset: deterministic for a seed, mixed frame rates, groups, and the built-in cached copy."""

import hashlib
import json
import os
import stat

import numpy as np
import pytest

from lit_video.data.decode import probe_video, read_frames
from lit_video.data.synthetic import VERSION, render_video, synthetic_classes, write_synthetic_dataset


def _digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_videos(tmp_path):
    kwargs = {"classes": 2, "videos_per_class": 2, "eval_videos_per_class": 1, "frames": 8, "size": 16}
    a = _digest(write_synthetic_dataset(tmp_path / "a", seed=3, **kwargs))
    b = _digest(write_synthetic_dataset(tmp_path / "b", seed=3, **kwargs))
    c = _digest(write_synthetic_dataset(tmp_path / "c", seed=4, **kwargs))
    assert a == b and len(a) == 2 * (2 + 1 + 1) + 4  # videos + 3 CSVs + classes.json
    assert {k: v for k, v in a.items() if k.endswith(".mp4")} != {k: v for k, v in c.items() if k.endswith(".mp4")}


def test_tiny_dataset_is_real_h264_at_mixed_frame_rates(tiny_dataset):
    meta = json.loads((tiny_dataset / "annotations" / "classes.json").read_text())
    assert meta["groups"] == {"appearance": ["red_disc", "green_disc"], "motion": ["move_left", "move_right"]}
    probes = [probe_video(p) for p in sorted(tiny_dataset.rglob("*.mp4"))]
    assert len(probes) == 36
    assert {p.fps for p in probes} == {12.0, 25.0, 30.0}
    assert all(10 <= p.num_frames <= 20 for p in probes)
    assert all(read_frames(p, [0]).shape == (1, 32, 32, 3) for p in sorted(tiny_dataset.rglob("*.mp4")))
    import av

    with av.open(str(next(tiny_dataset.rglob("*.mp4")))) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"


def _bar_shift_and_area(label: str, seed: int) -> tuple[tuple[int, int], float]:
    """The (dy, dx) roll that best maps the bar of frame 0 onto frame 10, and the bar's area in a frame."""
    video = render_video(label, 11, 25.0, 32, np.random.default_rng(seed))
    bar = video.mean(axis=3) > 200  # (T, H, W) bar pixels
    shifts = [(dy, dx) for dy in range(-8, 9) for dx in range(-8, 9)]
    best = min(shifts, key=lambda s: np.sum(np.roll(bar[0], s, axis=(0, 1)) != bar[10]))
    return best, bar.mean()


def test_motion_classes_look_alike_in_single_frames_but_move_differently():
    found = {label: [_bar_shift_and_area(label, seed) for seed in range(6)]
             for label in ("move_left", "move_right", "move_up", "move_down")}
    # 10 frames at 25 fps = 0.4 s at 0.25-0.4 frame sizes per second: 3 to 6 px the named way,
    # none across (up to a pixel of rasterisation).
    assert all(abs(dy) <= 1 and -6 <= dx <= -3 for (dy, dx), _ in found["move_left"])
    assert all(abs(dy) <= 1 and 3 <= dx <= 6 for (dy, dx), _ in found["move_right"])
    assert all(abs(dx) <= 1 and -6 <= dy <= -3 for (dy, dx), _ in found["move_up"])
    assert all(abs(dx) <= 1 and 3 <= dy <= 6 for (dy, dx), _ in found["move_down"])
    areas = [area for runs in found.values() for _, area in runs]
    assert max(areas) < 1.3 * min(areas)  # the same bar in every motion class


def test_class_split_and_bounds():
    names, groups = synthetic_classes(5)
    assert names == ["red_disc", "green_disc", "move_left", "move_right", "move_up"]
    assert groups["motion"] == ["move_left", "move_right", "move_up"]
    with pytest.raises(ValueError, match="--classes"):
        synthetic_classes(99)


def test_frames_of_written_videos_match_the_render(tmp_path):
    root = write_synthetic_dataset(tmp_path, classes=2, videos_per_class=1, eval_videos_per_class=1, frames=6,
                                   size=16, fps=(10,), seed=0)
    video = next((root / "train" / "red_disc").glob("*.mp4"))
    rng = np.random.default_rng([0, 0, 0, 0])
    rng.integers(1), rng.integers(3, 7)  # the writer draws the fps choice and the length first
    expected = render_video("red_disc", probe_video(video).num_frames, 10.0, 16, rng)
    decoded = read_frames(video, list(range(len(expected)))).numpy()
    assert np.abs(decoded.astype(float) - expected).mean() < 12  # lossy H.264, same picture


@pytest.mark.slow
def test_builtin_dataset_is_generated_once_into_the_cache(tmp_path, monkeypatch):
    from lit_video.data import VideoDataModule

    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path))
    old_mask = os.umask(0o022)
    try:
        dm = VideoDataModule(num_workers=0)
    finally:
        os.umask(old_mask)
    # As readable as any folder the umask makes (it once came out 0700, like the temporary folder it was).
    assert stat.S_IMODE((tmp_path / f"synthetic-v{VERSION}").stat().st_mode) == 0o755
    assert dm.num_classes == 8 and dm.dataset_name == "synthetic"
    assert [len(dm.info.splits[s]) for s in ("train", "val", "test")] == [320, 80, 80]
    folders = [p.name for p in tmp_path.iterdir()]
    assert folders == [f"synthetic-v{VERSION}"]  # no temporary folder left behind
    mtime = (tmp_path / f"synthetic-v{VERSION}" / "annotations" / "train.csv").stat().st_mtime_ns
    VideoDataModule(num_workers=0)
    assert (tmp_path / f"synthetic-v{VERSION}" / "annotations" / "train.csv").stat().st_mtime_ns == mtime


def test_encoding_gives_the_same_bytes_every_time(tmp_path):
    """The built-in videos' size and length, encoded three times each: x264's macroblock-tree rate control made
    a few of every 64 differ from run to run (decoded pixels included), so two caches trained differently."""
    from lit_video.data.synthetic import write_video

    names, _ = synthetic_classes(8)
    for c, label in enumerate(names):
        for v in range(8):
            frames = render_video(label, 40, 25.0, 64, np.random.default_rng([0, 0, c, v]))
            encoded = {write_video(tmp_path / f"{label}{v}-{i}.mp4", frames, 25.0).read_bytes() for i in range(3)}
            assert len(encoded) == 1, f"{label} video {v} encodes differently from run to run"
