"""Is reading video the bottleneck? Each decoding backend against raw decord on one plan of clips, the loaders'
clips/s, and evaluation (each video decoded once for all its views) against the per-view path it replaced.

"Raw" decodes exactly a plan's frame indices with the decoding library and nothing else, in this process: no
workers, transforms, collation or fallback. The per-view path reads and transforms every view (clip x crop) of a
video by itself, as ``ClipDataset`` did before it decoded each video once, and as PyTorchVideo's and MMAction2's
evaluation loaders do.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from lit_video.data import VideoDataModule, read_frames
from lit_video.data.dataset import ClipDataset

Plan = list[tuple[Path, list[int]]]


def clip_plan(datamodule: VideoDataModule, split: str = "test") -> Plan:
    """(video path, frame indices) of every clip the ``split``'s evaluation decodes, in order (a clip's crops share
    its frames)."""
    dataset = datamodule.dataset(split)
    return [(Path(record.path), indices) for v, (record, _) in enumerate(dataset.videos)
            for indices in dataset.clip_indices(v)]


def _decode_decord(path: Path, indices: list[int]) -> np.ndarray:
    import decord

    reader = decord.VideoReader(str(path), num_threads=1)
    return reader.get_batch([min(i, len(reader) - 1) for i in indices]).asnumpy()  # (T, H, W, C)


def _decode_pyav(path: Path, indices: list[int]) -> np.ndarray:
    wanted, frames = set(indices), {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                frames[i] = frame.to_ndarray(format="rgb24")  # (H, W, C)
            if i >= max(indices):
                break
    last = max(frames)
    return np.stack([frames[min(i, last)] for i in indices])  # (T, H, W, C)


RAW_DECODERS = {"decord": _decode_decord, "pyav": _decode_pyav}


def _rate(clips: int, seconds: float, videos: int | None = None) -> dict[str, Any]:
    rate = {"clips": clips, "seconds": seconds, "clips_per_s": clips / seconds}
    if videos is not None:
        rate |= {"videos": videos, "videos_per_s": videos / seconds}
    return rate


def raw_decode_throughput(plan: Plan, backend: str = "decord") -> dict[str, Any]:
    """Clips/s of decoding ``plan`` with the ``backend`` library alone, in this process."""
    if backend not in RAW_DECODERS:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(RAW_DECODERS)}")
    decode = RAW_DECODERS[backend]
    start = time.perf_counter()
    for path, indices in plan:
        decode(path, indices)
    return _rate(len(plan), time.perf_counter() - start)


def read_throughput(plan: Plan, backend: str) -> dict[str, Any]:
    """Clips/s of lit-video's ``read_frames`` with ``backend`` on ``plan``, in this process: a single-clip read."""
    start = time.perf_counter()
    for path, indices in plan:
        read_frames(path, indices, backend)
    return _rate(len(plan), time.perf_counter() - start)


def loader_throughput(loader: DataLoader, epochs: int = 2) -> dict[str, Any]:
    """Clips/s and videos/s of ``loader`` over the last of ``epochs`` passes (the first starts its workers)."""
    for _ in range(epochs):
        clips, videos, start = 0, set(), time.perf_counter()
        for batch in loader:
            clips += len(batch["label"])
            videos.update(batch["video_index"].tolist())
        seconds = time.perf_counter() - start
    return _rate(clips, seconds, len(videos))


class PerViewClips(Dataset):
    """The per-view path over a ``ClipDataset``'s videos: an item per view, each read and transformed alone."""

    def __init__(self, dataset: ClipDataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset) * self.dataset.views

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        data = self.dataset
        video_index, view = divmod(i, data.views)
        clip, crop = divmod(view, data.crops)
        frames = data.read(video_index, data.clip_indices(video_index)[clip])  # (T, H, W, C)
        return {"video": data.transform(frames, crop, data.crops)[None],  # (1, C, T, H, W)
                "label": data.label(data.videos[video_index][0])[None],
                "video_index": torch.tensor([video_index])}


def per_view_loader(datamodule: VideoDataModule, split: str = "test") -> DataLoader:
    """The ``split`` loader of the per-view path, with the DataModule's batch size (in clips) and workers."""
    dataset = datamodule.dataset(split)
    return DataLoader(PerViewClips(dataset), batch_size=datamodule.batch_size, num_workers=datamodule.num_workers,
                      persistent_workers=datamodule.num_workers > 0, collate_fn=dataset.collate)


def eval_speedup(datamodule: VideoDataModule, split: str = "test", epochs: int = 2) -> dict[str, Any]:
    """The ``split`` evaluation loader (each video decoded once) against the per-view path: videos/s of each, on the
    same videos, views, batch size and workers, and their ratio."""
    loader = loader_throughput(getattr(datamodule, f"{split}_dataloader")(), epochs)
    per_view = loader_throughput(per_view_loader(datamodule, split), epochs)
    return {"views": datamodule.dataset(split).views, "loader": loader, "per_view": per_view,
            "speedup": loader["videos_per_s"] / per_view["videos_per_s"]}
