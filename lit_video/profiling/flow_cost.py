"""What a model that takes optical flow pays before its network runs: computing the flow, per frame pair and per
clip, timed on real frames. The two-stream method's cost is its two networks plus this; a leaderboard that showed
only the networks' GMACs would flatter it, so the sweep reports it as its own column (``flow_ms_per_clip``).

Timed with OpenCV's threads as they are (all cores unless set), the median of ``repeats`` runs after a warm-up.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from ..data.flow import compute_flow


def flow_ms_per_pair(frames: np.ndarray, method: str = "dis", repeats: int = 5) -> float:
    """Milliseconds ``compute_flow`` takes per pair of consecutive frames of ``frames`` ``uint8 (T, H, W, 3)``."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    compute_flow(frames, method)  # warm-up: OpenCV allocates its pyramids on the first call
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        compute_flow(frames, method)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times) / (len(frames) - 1)


def flow_cost(frames: np.ndarray, method: str = "dis", repeats: int = 5) -> dict[str, Any]:
    """The flow cost of one clip, ``frames`` ``uint8 (T, H, W, 3)`` at the size flow is computed at: ``method``,
    ``frame_size`` ``[H, W]``, ``ms_per_pair`` and ``ms_per_clip`` (its ``T - 1`` pairs)."""
    per_pair = flow_ms_per_pair(frames, method, repeats)
    return {"method": method, "frame_size": list(frames.shape[1:3]), "ms_per_pair": per_pair,
            "ms_per_clip": per_pair * (len(frames) - 1)}


def dataset_clip(datamodule: Any, split: str = "test") -> np.ndarray:
    """The first test clip of ``datamodule`` (a ``VideoDataModule``) as decoded, ``uint8 (T, H, W, 3)`` at its
    video's own size, where flow is computed: the frames a two-stream model's flow comes from."""
    from ..data.decode import read_frames
    from ..data.sampling import eval_clip_indices

    record, probe = datamodule.dataset(split).videos[0]
    indices = eval_clip_indices(probe.num_frames, probe.fps, datamodule.frames, datamodule.fps, 1, record.segment)[0]
    return read_frames(record.path, indices, datamodule.backend).numpy()
