"""Is the data loader the bottleneck? Clips/s of the DataModule's loader against raw decoding of the same
clips.

The clip plan is the evaluation plan of a split (deterministic: ``clips x crops`` views per video, each
decoded once, as the loader does). "Raw" decodes exactly those frame indices with the decoding library and
nothing else, in this process: no workers, transforms, collation or fallback.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import av
import numpy as np

from lit_video.data import VideoDataModule
from lit_video.data.sampling import eval_clip_indices

Plan = list[tuple[Path, list[int]]]


def clip_plan(datamodule: VideoDataModule, split: str = "test") -> Plan:
    """(video path, frame indices) of every item the ``split`` loader yields, in order."""
    dataset = datamodule.dataset(split)
    plan = []
    for record, probe in dataset.videos:
        clips = eval_clip_indices(probe.num_frames, probe.fps, dataset.frames, dataset.fps, dataset.clips,
                                  record.segment)
        plan += [(Path(record.path), indices) for indices in clips for _ in range(dataset.crops)]
    return plan


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


def raw_decode_throughput(plan: Plan, backend: str) -> dict[str, Any]:
    """Clips/s of decoding ``plan`` with ``backend`` alone, in this process."""
    if backend not in RAW_DECODERS:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(RAW_DECODERS)}")
    decode = RAW_DECODERS[backend]
    start = time.perf_counter()
    for path, indices in plan:
        decode(path, indices)
    seconds = time.perf_counter() - start
    return {"clips": len(plan), "seconds": seconds, "clips_per_s": len(plan) / seconds}


def loader_throughput(datamodule: VideoDataModule, split: str = "test", epochs: int = 2) -> dict[str, Any]:
    """Clips/s of the ``split`` loader over the last of ``epochs`` epochs (the first starts the workers)."""
    loader = {"train": datamodule.train_dataloader, "val": datamodule.val_dataloader,
              "test": datamodule.test_dataloader}[split]()
    for _ in range(epochs):
        clips, start = 0, time.perf_counter()
        for batch in loader:
            clips += len(batch["label"])
        seconds = time.perf_counter() - start
    return {"clips": clips, "seconds": seconds, "clips_per_s": clips / seconds}


def data_throughput(backends: tuple[str, ...] = ("decord", "pyav"), split: str = "test",
                    **datamodule_args: Any) -> dict[str, Any]:
    """Loader vs raw decoding for each backend, on the same clip plan; ratios are against raw decord.

    ``datamodule_args`` go to ``VideoDataModule`` (``root``, ``frames``, ``fps``, ``size``, ``num_workers``).
    """
    rows = {}
    for backend in backends:
        datamodule = VideoDataModule(**{**datamodule_args, "backend": backend})
        plan = clip_plan(datamodule, split)
        rows[backend] = {"loader": loader_throughput(datamodule, split),
                         "raw": raw_decode_throughput(plan, backend)}
    baseline = rows["decord"]["raw"] if "decord" in rows else raw_decode_throughput(plan, "decord")
    for row in rows.values():
        row["loader_vs_raw_decord"] = row["loader"]["clips_per_s"] / baseline["clips_per_s"]
        row["loader_vs_raw_same_backend"] = row["loader"]["clips_per_s"] / row["raw"]["clips_per_s"]
    return {"split": split, "clips": len(plan), "datamodule": datamodule_args, "backends": rows}
