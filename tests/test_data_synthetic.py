"""The synthetic dataset: deterministic for a seed (whatever the number of workers), mixed frame rates, the five
groups (declared in classes.json, single frames alike within the non-appearance groups), bad options, and the
built-in cached copy."""

import hashlib
import inspect
import json
import os
import stat

import numpy as np
import pytest

from lit_video.data.decode import probe_video, read_frames
from lit_video.data.synthetic import CLASSES, GROUPS, VERSION, render_video, synthetic_classes, write_synthetic_dataset


def _digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_whatever_the_workers_other_seed_other_videos(tmp_path):
    kwargs = {"groups": ["order"], "videos_per_class": 2, "eval_videos_per_class": 1, "frames": 8, "size": 16}
    a = _digest(write_synthetic_dataset(tmp_path / "a", seed=3, workers=1, **kwargs))
    b = _digest(write_synthetic_dataset(tmp_path / "b", seed=3, workers=2, **kwargs))
    c = _digest(write_synthetic_dataset(tmp_path / "c", seed=4, workers=2, **kwargs))
    assert a == b and len(a) == 2 * (2 + 1 + 1) + 4  # videos + 3 CSVs + classes.json
    assert {k: v for k, v in a.items() if k.endswith(".mp4")} != {k: v for k, v in c.items() if k.endswith(".mp4")}


def test_tiny_dataset_is_real_h264_at_mixed_frame_rates(tiny_dataset):
    meta = json.loads((tiny_dataset / "annotations" / "classes.json").read_text())
    assert meta == {"classes": ["solid", "horizontal_stripes", "move_left", "move_right"], "horizontal_flip": False,
                    "groups": {"appearance": ["solid", "horizontal_stripes"], "direction": ["move_left", "move_right"]}}
    probes = [probe_video(p) for p in sorted(tiny_dataset.rglob("*.mp4"))]
    assert len(probes) == 36
    assert {p.fps for p in probes} == {12.0, 25.0, 30.0}
    assert all(10 <= p.num_frames <= 20 for p in probes)
    assert all(read_frames(p, [0]).shape == (1, 32, 32, 3) for p in sorted(tiny_dataset.rglob("*.mp4")))
    import av

    with av.open(str(next(tiny_dataset.rglob("*.mp4")))) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"


def _shift_and_area(label: str, seed: int) -> tuple[tuple[int, int], float]:
    """The (dy, dx) roll that best maps the white plus sign of frame 0 onto frame 10, and its area in a frame."""
    video = render_video(label, 11, 25.0, 32, np.random.default_rng(seed))
    plus = video.min(axis=3) > 190  # (T, H, W) pixels of the plus sign
    shifts = [(dy, dx) for dy in range(-8, 9) for dx in range(-8, 9)]
    best = min(shifts, key=lambda s: np.sum(np.roll(plus[0], s, axis=(0, 1)) != plus[10]))
    return best, plus.mean()


def test_direction_classes_look_alike_in_single_frames_but_move_differently():
    found = {label: [_shift_and_area(label, seed) for seed in range(6)] for label in GROUPS["direction"]}
    # 10 frames at 25 fps = 0.4 s at 0.3-0.45 frame sizes per second: 4 to 6 px the named way,
    # none across (up to a pixel of rasterisation).
    assert all(abs(dy) <= 1 and -6 <= dx <= -3 for (dy, dx), _ in found["move_left"])
    assert all(abs(dy) <= 1 and 3 <= dx <= 6 for (dy, dx), _ in found["move_right"])
    assert all(abs(dx) <= 1 and -6 <= dy <= -3 for (dy, dx), _ in found["move_up"])
    assert all(abs(dx) <= 1 and 3 <= dy <= 6 for (dy, dx), _ in found["move_down"])
    areas = [area for runs in found.values() for _, area in runs]
    assert max(areas) < 1.3 * min(areas)  # the same plus sign in every direction class


def _frame_features(video: np.ndarray) -> np.ndarray:
    """Per-frame statistics averaged over a video: a 16-bin grey-level histogram, mean RGB, mean |d/dx| and
    |d/dy|, the fractions of bright, dark and colourful pixels and the length of the colourful pixels' outline
    (so also shape)."""
    grey = video.astype(np.float64).mean(axis=3)  # (T, H, W)
    hist = np.stack([np.histogram(frame, 16, (0, 256))[0] for frame in grey]) / grey[0].size  # (T, 16)
    rgb = video.reshape(len(video), -1, 3).mean(axis=1) / 255  # (T, 3)
    colourful = video.max(axis=3).astype(int) - video.min(axis=3) > 60  # (T, H, W)
    outline = (np.diff(colourful, axis=1) != 0).mean(axis=(1, 2)) + (np.diff(colourful, axis=2) != 0).mean(axis=(1, 2))
    other = np.stack([np.abs(np.diff(grey, axis=2)).mean(axis=(1, 2)) / 255,
                      np.abs(np.diff(grey, axis=1)).mean(axis=(1, 2)) / 255, (grey > 180).mean(axis=(1, 2)),
                      (grey < 50).mean(axis=(1, 2)), colourful.mean(axis=(1, 2)), outline], axis=1)  # (T, 6)
    return np.concatenate([hist, rgb, other], axis=1).mean(axis=0)


def _largest_z(labels: list[str], videos: int = 40) -> float:
    """The largest |mean difference| / standard error over every feature and pair of ``labels``, from ``videos``
    rendered videos per class (24 frames of 32 px at 25 fps, so 1 s). Video ``v`` of every class comes from the
    same seed (same background, start, colour, distractors): the comparison is paired, which removes most of
    the noise between videos and leaves the class."""
    features = {label: np.stack([_frame_features(render_video(label, 24, 25.0, 32, np.random.default_rng([9, v])))
                                 for v in range(videos)]) for label in labels}
    z = 0.0
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            diff = features[a] - features[b]  # (videos, features)
            se = diff.std(axis=0, ddof=1) / np.sqrt(videos)
            z = max(z, float(np.max(np.abs(diff.mean(axis=0)) / (se + 1e-12))))
    return z


@pytest.mark.parametrize("group", ["direction", "order", "speed", "long_range"])
def test_single_frames_carry_no_class_information_outside_appearance(group):
    """Within a group, the statistics of single frames agree between classes within noise: up to 150 comparisons
    (features x pairs of classes), measured: the largest is under 3 standard errors."""
    assert _largest_z(GROUPS[group]) < 4.5


def test_the_frame_statistics_do_see_an_orientation():
    """The check above has power: the same statistics tell horizontal from vertical stripes, which differ only
    in orientation (measured: 37 standard errors)."""
    assert _largest_z(["horizontal_stripes", "vertical_stripes"]) > 10


def test_class_selection_and_bad_options():
    names, groups = synthetic_classes(["direction", "order"], 3)
    assert names == ["move_left", "move_right", "move_up", "sawtooth_up", "sawtooth_down"]
    assert groups == {"direction": ["move_left", "move_right", "move_up"], "order": ["sawtooth_up", "sawtooth_down"]}
    names, groups = synthetic_classes()
    assert names == CLASSES and list(groups) == ["appearance", "direction", "order", "speed", "long_range"]
    assert len(set(CLASSES)) == len(CLASSES) == 15 and all(len(members) >= 2 for members in groups.values())
    with pytest.raises(ValueError, match="--groups: unknown group 'motion'; choose from appearance, direction"):
        synthetic_classes(["appearance", "motion"])
    with pytest.raises(ValueError, match="--groups: choose at least one"):
        synthetic_classes([])
    with pytest.raises(ValueError, match=r"--classes-per-group must be between 2 and 4 .* got 5"):
        synthetic_classes(None, 5)
    with pytest.raises(ValueError, match=r"--classes-per-group must be between 2 and 3 .* got 1"):
        synthetic_classes(["speed", "order"], 1)
    with pytest.raises(ValueError, match="--workers must be >= 1"):
        write_synthetic_dataset("unused", workers=0)
    with pytest.raises(ValueError, match="unknown synthetic class 'red_disc'"):
        render_video("red_disc", 2, 10.0, 16, np.random.default_rng(0))


def test_frames_of_written_videos_match_the_render(tmp_path):
    root = write_synthetic_dataset(tmp_path, groups=["appearance"], classes_per_group=2, videos_per_class=1,
                                   eval_videos_per_class=1, frames=6, size=16, fps=(10,), seed=0)
    video = next((root / "train" / "solid").glob("*.mp4"))
    rng = np.random.default_rng([0, 0, 0, 0])
    rng.integers(1), rng.integers(3, 7)  # the writer draws the fps choice and the length first
    expected = render_video("solid", probe_video(video).num_frames, 10.0, 16, rng)
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
    assert dm.num_classes == 15 and dm.dataset_name == "synthetic"
    assert dm.groups == {group: [CLASSES.index(c) for c in members] for group, members in GROUPS.items()}
    # The generator's defaults (its one owner), evaluation at a quarter of training: 48 and 12 + 12 a class.
    train = inspect.signature(write_synthetic_dataset).parameters["videos_per_class"].default
    assert [len(dm.info.splits[s]) for s in ("train", "val", "test")] == [15 * train, 15 * train // 4, 15 * train // 4]
    folders = [p.name for p in tmp_path.iterdir()]
    assert folders == [f"synthetic-v{VERSION}"]  # no temporary folder left behind
    mtime = (tmp_path / f"synthetic-v{VERSION}" / "annotations" / "train.csv").stat().st_mtime_ns
    VideoDataModule(num_workers=0)
    assert (tmp_path / f"synthetic-v{VERSION}" / "annotations" / "train.csv").stat().st_mtime_ns == mtime


def test_encoding_gives_the_same_bytes_every_time(tmp_path):
    """The built-in videos' size and length, encoded three times each: x264's macroblock-tree rate control made
    a few of every 64 differ from run to run (decoded pixels included), so two caches trained differently."""
    from lit_video.data.synthetic import write_video

    for c, label in enumerate(CLASSES):
        for v in range(4):
            frames = render_video(label, 40, 25.0, 64, np.random.default_rng([0, 0, c, v]))
            encoded = {write_video(tmp_path / f"{label}{v}-{i}.mp4", frames, 25.0).read_bytes() for i in range(3)}
            assert len(encoded) == 1, f"{label} video {v} encodes differently from run to run"
