"""The clip dataset: a random clip per video for training, every view (clip x crop) of every video for evaluation."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch.utils.data import Dataset, default_collate

from .annotations import VideoRecord
from .decode import VideoProbe, VideoReadError, read_frames
from .sampling import eval_clip_indices, train_clip_indices
from .transforms import ClipTransform


def append_skipped(file: Path | None, path: str, reason: str) -> None:
    """One line ``<path>\\t<reason>``; a single small append is atomic, so workers can share the file."""
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        with open(file, "a") as f:
            f.write(f"{path}\t{reason}\n")


class ClipDataset(Dataset):
    """Items are dicts ``video`` float ``(C, T, H, W)``, ``label``, ``video_index`` (the video's place in its split).

    Training (``transform.train``): one item per video, a clip at a random time. Evaluation: ``clips x crops``
    items per video, in video order. A video that fails to decode here (it probed fine at setup) is tried again
    with PyAV; if that fails too the item is ``None`` and ``collate`` drops it from the batch.
    """

    def __init__(self, videos: list[tuple[VideoRecord, VideoProbe]], num_classes: int, multi_label: bool,
                 frames: int, fps: float, transform: ClipTransform, clips: int = 1, crops: int = 1,
                 backend: str = "decord", strict: bool = False, skip_file: Path | None = None,
                 skipped: list[tuple[str, str]] | None = None):
        self.videos = videos
        self.num_classes, self.multi_label = num_classes, multi_label
        self.frames, self.fps = frames, fps
        self.transform = transform
        self.clips, self.crops = (1, 1) if transform.train else (clips, crops)
        self.backend, self.strict = backend, strict
        self.skip_file = skip_file
        self.skipped = skipped if skipped is not None else []  # shared with the DataModule in the main process
        self._warned: set[str] = set()

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
            frames = read_frames(record.path, indices, self.backend)  # (T, H, W, C) uint8
        except VideoReadError as err:
            if self.strict:
                raise
            self._skip(err)
            return None
        return {"video": self.transform(frames, crop, self.crops), "label": self.label(record),
                "video_index": torch.tensor(video_index)}

    def _skip(self, err: VideoReadError) -> None:
        if err.path in self._warned:  # once per file and process, not once per epoch
            return
        self._warned.add(err.path)
        self.skipped.append((err.path, err.reason))
        append_skipped(self.skip_file, err.path, err.reason)
        warnings.warn(f"skipping video {err.path!r} (pid {os.getpid()}): {err.reason}", stacklevel=2)

    def collate(self, items: list[dict[str, torch.Tensor] | None]) -> dict[str, torch.Tensor]:
        """Stack the items, leaving out the videos that failed to decode (a batch may end up empty)."""
        kept = [item for item in items if item is not None]
        if kept:
            return default_collate(kept)
        size = self.transform.size
        label_shape = (0, self.num_classes) if self.multi_label else (0,)
        return {"video": torch.empty(0, 3, self.frames, size, size),
                "label": torch.empty(label_shape, dtype=torch.float32 if self.multi_label else torch.long),
                "video_index": torch.empty(0, dtype=torch.long)}
