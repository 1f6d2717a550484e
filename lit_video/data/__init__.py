"""Video data: annotation readers, clip sampling, decoding, transforms, the DataModule, the synthetic dataset."""

from .annotations import (
    Annotations,
    VideoRecord,
    detect_format,
    read_annotations,
    read_folder,
    read_kinetics,
    read_sports1m,
)
from .datamodule import CLIP_SETTINGS, VideoDataModule, dataset_label, eval_views
from .decode import VideoProbe, VideoReadError, check_video, probe_video, probe_videos, read_frames
from .skipped import SkippedVideos
from .synthetic import builtin_dataset, synthetic_classes, write_synthetic_dataset, write_video
from .transforms import ClipTransform

__all__ = [
    "CLIP_SETTINGS", "Annotations", "ClipTransform", "SkippedVideos", "VideoDataModule", "VideoProbe", "VideoReadError",
    "VideoRecord", "builtin_dataset", "check_video", "dataset_label", "detect_format", "eval_views",
    "probe_video", "probe_videos", "read_annotations", "read_folder", "read_frames", "read_kinetics",
    "read_sports1m", "synthetic_classes", "write_synthetic_dataset", "write_video",
]
