"""The clip dataset: a random clip per video for training, every view (clip x crop) of each video for evaluation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from ..clip import Clip
from .annotations import VideoRecord
from .decode import DECODED_VIDEOS, VideoProbe, VideoReadError, read_frames
from .flow import ClipFlow
from .sampling import eval_clip_indices, train_clip_indices
from .skipped import SkippedVideos
from .transforms import ClipTransform


class ClipDataset(Dataset):
    """One item per video: a dict of ``video`` float ``(V, C, T, H, W)``, ``label`` and ``video_index`` (the video's
    place in its split), each with the leading ``V`` views of the video. With ``flow`` (a model that takes optical
    flow), ``video`` is ``{"rgb": (V, 3, T, H, W), "flow": (V, 2, T-1, H, W)}``: the flow between consecutive frames
    of each clip (the lecture's stack of ``2*(T-1)`` flow images). ``collate`` joins the items' views into a batch of
    clips, so a model sees ``(N, C, T, H, W)`` as ever.

    Training (``transform.train``): one view, a clip at a random time. Evaluation: ``clips x crops`` views, clip-major,
    decoded in one read of the union of the clips' frames, then each clip cut from it and resized once for all its
    crops: a video is opened, sought and decoded once, not once per view. A video that fails to decode here (it
    probed fine at setup) is tried again with PyAV; if that fails too the item is ``None`` and ``collate`` drops it
    from the batch, and the video is recorded in ``skipped`` (in strict mode the read error is raised instead).
    ``cache_frames``: decode each video once per process and keep its frames in memory (``DECODED_VIDEOS``), resized to
    the transform's short side, for small datasets.
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

    @property
    def views(self) -> int:
        """Views per item (per video): ``clips x crops``, 1 for training."""
        return self.clips * self.crops

    def __len__(self) -> int:
        return len(self.videos)

    def label(self, record: VideoRecord) -> torch.Tensor:
        if self.multi_label:
            target = torch.zeros(self.num_classes)
            target[list(record.labels)] = 1.0
            return target
        return torch.tensor(record.labels[0])

    def clip_indices(self, video_index: int) -> list[list[int]]:
        """The source frames of each clip of video ``video_index``: one random clip for training (drawing from
        torch's generator), the evaluation clips otherwise."""
        record, probe = self.videos[video_index]
        if self.transform.train:
            return [train_clip_indices(probe.num_frames, probe.fps, self.frames, self.fps, float(torch.rand(())),
                                       record.segment)]
        return eval_clip_indices(probe.num_frames, probe.fps, self.frames, self.fps, self.clips, record.segment)

    def read(self, video_index: int, indices: Sequence[int]) -> torch.Tensor:
        """Frames ``indices`` of video ``video_index``, uint8 ``(T, H, W, C)``, from the in-memory cache or decoded."""
        record, probe = self.videos[video_index]
        if self.cache_frames:  # kept at the resolution the transform crops from
            return DECODED_VIDEOS.read(record.path, indices, probe.num_frames, self.backend, self.transform.resize)
        return read_frames(record.path, indices, self.backend)

    def __getitem__(self, video_index: int) -> dict[str, torch.Tensor] | None:
        record, _ = self.videos[video_index]
        clips = self.clip_indices(video_index)
        # One read of every frame any clip needs, sorted (one pass through the file); the clips are cut from it.
        union = sorted({i for clip in clips for i in clip})
        where = {frame: k for k, frame in enumerate(union)}
        try:
            frames = self.read(video_index, union)  # (U, H, W, C) uint8
            flows = None
            if self.flow is not None:
                # At the frames' size; frames kept resized in memory keep their flow so too.
                flows = [torch.from_numpy(self.flow(record.path, clip, frames.shape[1:3], keep=self.cache_frames))
                         for clip in clips]
            video = self.transform.views(frames, [[where[i] for i in clip] for clip in clips], self.crops, flows)
        except VideoReadError as err:
            if self.skipped.strict:
                raise
            self.skipped.add(err.path, err.reason)
            return None
        n = self.views
        label = self.label(record)
        return {"video": video, "label": label.expand(n, *label.shape).clone(),
                "video_index": torch.full((n,), video_index)}

    def collate(self, items: list[dict[str, torch.Tensor] | None]) -> dict[str, torch.Tensor]:
        """The items' views joined into one batch of clips, leaving out the videos that failed to decode (a batch
        may end up empty)."""
        kept = [item for item in items if item is not None]
        if len(kept) == 1:  # one video's views (a 10 x 3 test batch): already a batch, no copy
            return kept[0]
        if kept:
            video = kept[0]["video"]
            return {
                "video": ({m: torch.cat([item["video"][m] for item in kept]) for m in video}
                          if isinstance(video, dict) else torch.cat([item["video"] for item in kept])),
                "label": torch.cat([item["label"] for item in kept]),
                "video_index": torch.cat([item["video_index"] for item in kept])}
        label_shape = (0, self.num_classes) if self.multi_label else (0,)
        modalities = ("rgb", "flow") if self.flow is not None else ("rgb",)
        shapes = Clip(self.frames, self.transform.size, self.fps).shapes(modalities, 0)
        video = {m: torch.empty(shape) for m, shape in shapes.items()}
        return {"video": video if self.flow is not None else video["rgb"],
                "label": torch.empty(label_shape, dtype=torch.float32 if self.multi_label else torch.long),
                "video_index": torch.empty(0, dtype=torch.long)}
