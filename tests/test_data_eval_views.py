"""Evaluation decodes each video once: the views cut from one read are the per-view path's, to the bit."""

import pytest
import torch
from helpers import decoders

from lit_video.data import VideoDataModule
from lit_video.data import dataset as dataset_module
from lit_video.data.decode import read_frames
from lit_video.data.flow import ClipFlow
from lit_video.data.sampling import eval_clip_indices


def per_view(dataset, video_index, backend, flow=None):
    """Today's per-view path: each view of the video read by itself and transformed by itself."""
    record, probe = dataset.videos[video_index]
    views = []
    for clip in eval_clip_indices(probe.num_frames, probe.fps, dataset.frames, dataset.fps, dataset.clips,
                                  record.segment):
        frames = read_frames(record.path, clip, backend)  # (T, H, W, C)
        clip_flow = None if flow is None else torch.from_numpy(flow(record.path, clip, frames.shape[1:3]))
        views += [dataset.transform(frames, crop, dataset.crops, clip_flow) for crop in range(dataset.crops)]
    return views


@pytest.fixture
def counted_reads(monkeypatch):
    """The dataset's decoding calls, counted (each still decodes for real)."""
    calls = []

    def read(path, indices, backend="decord"):
        calls.append((path, list(indices)))
        return read_frames(path, indices, backend)

    monkeypatch.setattr(dataset_module, "read_frames", read)
    return calls


@pytest.mark.parametrize("backend", decoders())
def test_ten_by_three_views_come_from_one_read_and_equal_the_per_view_path(tiny_dataset, backend, counted_reads):
    dm = VideoDataModule(root=str(tiny_dataset), frames=4, fps=8.0, size=24, num_workers=0, test_clips=10,
                         test_crops=3, backend=backend)
    test = dm.dataset("test")
    for v in (0, 5):
        item = test[v]
        expected = torch.stack(per_view(test, v, backend))  # (30, 3, 4, 24, 24)
        assert item["video"].shape == expected.shape == (30, 3, 4, 24, 24)
        assert torch.equal(item["video"], expected)
        assert item["video_index"].tolist() == [v] * 30 and len(item["label"]) == 30
    # One read per video, of the union of its clips' frames, sorted: one pass through the file.
    assert [path for path, _ in counted_reads] == [test.videos[0][0].path, test.videos[5][0].path]
    for _, indices in counted_reads:
        assert indices == sorted(set(indices))


def test_flow_views_equal_the_per_view_path(tiny_dataset):
    dm = VideoDataModule(root=str(tiny_dataset), frames=4, fps=8.0, size=24, num_workers=0, test_clips=3,
                         test_crops=3, modalities=["rgb", "flow"])
    dm.prepare_data()
    test = dm.dataset("test")
    item = test[2]
    expected = per_view(test, 2, dm.backend, ClipFlow(dm.flow_settings, dm.backend))
    for modality in ("rgb", "flow"):
        assert torch.equal(item["video"][modality], torch.stack([view[modality] for view in expected]))


def test_test_batches_hold_whole_videos_and_the_same_clips_as_before(tiny_dataset):
    """The loader's batches are the per-view path's clips in the same order; a batch holds at most batch_size clips
    of whole videos, or one video whose views are more."""
    dm = VideoDataModule(root=str(tiny_dataset), frames=4, fps=8.0, size=24, batch_size=8, num_workers=0,
                         test_clips=2, test_crops=1)
    batches = list(dm.test_dataloader())
    assert [len(b["label"]) for b in batches] == [8, 8, 8]  # 4 videos x 2 views a batch
    test = dm.dataset("test")
    expected = torch.stack([view for v in range(len(test)) for view in per_view(test, v, dm.backend)])
    assert torch.equal(torch.cat([b["video"] for b in batches]), expected)
    many = VideoDataModule(root=str(tiny_dataset), frames=4, fps=8.0, size=24, batch_size=8, num_workers=0,
                           test_clips=4, test_crops=3)
    assert {len(b["label"]) for b in many.test_dataloader()} == {12}
