"""Decoded videos kept in memory (``data.cache_frames``): the same frames as decoding each time, decoded once."""

import torch

from lit_video.data import VideoDataModule
from lit_video.data.decode import DecodedVideos, probe_video, read_frames


def test_cached_reads_match_direct_reads_and_decode_once(indexed_videos):
    path = indexed_videos["mp4"]
    cache = DecodedVideos()
    num_frames = probe_video(path).num_frames
    for indices in ([0, 5, 29], [3, 3, 2], [29, 40]):  # 40: past the end, clamped like read_frames
        assert torch.equal(cache.read(path, indices, num_frames), read_frames(path, indices))
    assert len(cache.videos) == 1 and cache.bytes == num_frames * 48 * 48 * 3


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
