"""The clip dataset: a random clip per video for training, every view (clip x crop) of every video for evaluation."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset, default_collate

from .annotations import VideoRecord
from .decode import DECODED_VIDEOS, VideoProbe, VideoReadError, read_frames
from .flow import ClipFlow
from .sampling import eval_clip_indices, train_clip_indices
from .skipped import SkippedVideos
from .transforms import ClipTransform


class ClipDataset(Dataset):
    """Items are dicts ``video`` float ``(C, T, H, W)``, ``label``, ``video_index`` (the video's place in its split).
    With ``flow`` (a model that takes optical flow), ``video`` is ``{"rgb": (3, T, H, W), "flow": (2, T-1, H, W)}``:
    the flow between consecutive frames of the clip (the lecture's stack of ``2*(T-1)`` flow images).

    Training (``transform.train``): one item per video, a clip at a random time. Evaluation: ``clips x crops``
    items per video, in video order. A video that fails to decode here (it probed fine at setup) is tried again
    with PyAV; if that fails too the item is ``None`` and ``collate`` drops it from the batch, and the video is
    recorded in ``skipped`` (in strict mode the read error is raised instead). ``cache_frames``: decode each
    video once per process and keep its frames in memory (``DECODED_VIDEOS``), for small datasets.
    """

    def __init__(self, videos: list[tuple[VideoRecord, VideoProbe]], num_classes: int, multi_label: bool,
                 frames: int, fps: float, transform: ClipTransform, clips: int = 1, crops: int = 1,
                 backend: str = "decord", skipped: SkippedVideos | None = None, cache_frames: bool = False,
                 flow: ClipFlow | None = None):
        self.videos = videos
        self.num_classes, self.multi_label = num_classes, multi_label
        self.frames, self.fps = frames, fps
        self.transform = transform
        self.clips, self.crops = (1, 1) if transform.train else (clips, crops)
        self.backend, self.cache_frames, self.flow = backend, cache_frames, flow
        self.skipped = skipped if skipped is not None else SkippedVideos()

    def __len__(self) -> int:
        return len(self.videos) * self.clips * self.crops

    def label(self, record: VideoRecord) -> torch.Tensor:
        if self.multi_label:
            target = torch.zeros(self.num_classes)
            target[list(record.labels)] = 1.0
            return target
        return torch.tensor(record.labels[0])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor] | None:
        video_index, view = divmod(i, self.clips * self.crops)
        clip, crop = divmod(view, self.crops)
        record, probe = self.videos[video_index]
        if self.transform.train:
            indices = train_clip_indices(probe.num_frames, probe.fps, self.frames, self.fps,
                                         float(torch.rand(())), record.segment)
        else:
            indices = eval_clip_indices(probe.num_frames, probe.fps, self.frames, self.fps, self.clips,
                                        record.segment)[clip]
        try:
            if self.cache_frames:
                frames = DECODED_VIDEOS.read(record.path, indices, probe.num_frames, self.backend)
            else:
                frames = read_frames(record.path, indices, self.backend)  # (T, H, W, C) uint8
            flow = None
            if self.flow is not None:
                flow = torch.from_numpy(self.flow(record.path, indices, frames.shape[1:3]))  # (T-1, 2, H, W)
        except VideoReadError as err:
            if self.skipped.strict:
                raise
            self.skipped.add(err.path, err.reason)
            return None
        return {"video": self.transform(frames, crop, self.crops, flow), "label": self.label(record),
                "video_index": torch.tensor(video_index)}

    def collate(self, items: list[dict[str, torch.Tensor] | None]) -> dict[str, torch.Tensor]:
        """Stack the items, leaving out the videos that failed to decode (a batch may end up empty)."""
        kept = [item for item in items if item is not None]
        if kept:
            return default_collate(kept)
        size = self.transform.size
        label_shape = (0, self.num_classes) if self.multi_label else (0,)
        video = torch.empty(0, 3, self.frames, size, size)
        if self.flow is not None:
            video = {"rgb": video, "flow": torch.empty(0, 2, self.frames - 1, size, size)}
        return {"video": video,
                "label": torch.empty(label_shape, dtype=torch.float32 if self.multi_label else torch.long),
                "video_index": torch.empty(0, dtype=torch.long)}
