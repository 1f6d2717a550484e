"""Decoded videos kept in memory (``data.cache_frames``), at the transform's resolution: the same clips as decoding
each time, decoded once."""

import torch

from lit_video.data import VideoDataModule
from lit_video.data.decode import DecodedVideos, probe_video, read_frames
from lit_video.data.transforms import resize_frames


def test_cached_reads_match_direct_reads_and_decode_once(indexed_videos):
    path = indexed_videos["mp4"]
    cache = DecodedVideos()
    num_frames = probe_video(path).num_frames
    for indices in ([0, 5, 29], [3, 3, 2], [29, 40]):  # 40: past the end, clamped like read_frames
        assert torch.equal(cache.read(path, indices, num_frames), read_frames(path, indices))
    assert len(cache.videos) == 1 and cache.bytes == num_frames * 48 * 48 * 3


def test_frames_are_kept_at_the_short_side_asked_for_each_under_its_own_key(indexed_videos):
    path = indexed_videos["mp4"]
    cache = DecodedVideos()
    small = cache.read(path, [2, 9], 30, short_side=24)
    assert small.shape == (2, 24, 24, 3) and small.dtype == torch.uint8
    assert torch.equal(small, resize_frames(read_frames(path, [2, 9]), 24))
    assert torch.equal(cache.read(path, [2, 9], 30), read_frames(path, [2, 9]))  # as decoded: another entry
    assert len(cache.videos) == 2 and cache.bytes == 30 * (24 * 24 + 48 * 48) * 3


def test_cache_is_bounded(indexed_videos):
    cache = DecodedVideos(max_mb=0)
    path = indexed_videos["mp4"]
    assert torch.equal(cache.read(path, [1, 2], 30), read_frames(path, [1, 2]))
    assert cache.videos == {}


def test_datamodule_with_cached_frames_gives_the_same_batches(tiny_dataset):
    batches = []
    for cache_frames in (False, True):
        dm = VideoDataModule(root=str(tiny_dataset), frames=4, fps=8.0, size=32, batch_size=4, num_workers=0,
                             test_clips=2, cache_frames=cache_frames)
        dm.setup("test")
        batches.append(next(iter(dm.test_dataloader())))
    assert torch.equal(batches[0]["video"], batches[1]["video"])
    assert torch.equal(batches[0]["label"], batches[1]["label"])


def test_two_stream_batches_are_the_same_with_cached_frames(tiny_dataset):
    """The flow is read at the video's own size whatever size the cached frames have."""
    batches = []
    for cache_frames in (False, True):
        dm = VideoDataModule(root=str(tiny_dataset), frames=4, fps=8.0, size=24, batch_size=4, num_workers=0,
                             test_clips=2, cache_frames=cache_frames, modalities=["rgb", "flow"])
        dm.prepare_data()
        dm.setup("test")
        batches.append(next(iter(dm.test_dataloader())))
    for modality in ("rgb", "flow"):
        assert torch.equal(batches[0]["video"][modality], batches[1]["video"][modality])
