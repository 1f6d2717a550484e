"""Choosing a late fusion's weight on validation: ``FusionWeightSearch``, a Lightning callback for a model that
averages two streams' class probabilities with a ``fusion_weight`` (``two_stream``).

    lit-video fit --model.name two_stream --trainer.callbacks+=FusionWeightSearch ...

At the end of each validation epoch (not the sanity check) it tries the first stream's weights 0, 0.05, ..., 1 on
the epoch's video-level probabilities of the two streams and keeps the one with the best video-level top-1 (hit@1
for multi-label data), ties going to the weight nearest the plain average, 0.5; the model keeps it with its weights,
test uses it, and it is logged as ``val/fusion_weight``. The fused accuracy a validation epoch logs is that of the
weight in use during the epoch, chosen on the epoch before: a weight is never scored on the videos it was chosen on
in the same epoch. Averaging over views commutes with the weighted average, so the video-level fusion of a weight
is that weight's average of the streams' video-level probabilities.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from .classification import hit_at_k

WEIGHTS = torch.linspace(0, 1, 21)  # the first stream's share of the average, tried in turn


class FusionWeightSearch(Callback):
    """Set the model's ``fusion_weight`` (the first of ``streams``' share) to the one that scores best on each
    validation epoch's videos."""

    def __init__(self, streams: tuple[str, str] = ("rgb", "flow")) -> None:
        self.streams = tuple(streams)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        weight = getattr(pl_module.model, "fusion_weight", None)
        if weight is None:
            raise ValueError(f"FusionWeightSearch: model {pl_module.hparams.name!r} has no fusion_weight; it chooses "
                             "the weight of a late fusion of two streams (two_stream)")
        if trainer.sanity_checking:
            return
        probs = pl_module.video_probs("val")  # each output's, over every process
        if not all(stream in probs for stream in self.streams):
            return  # a stream not evaluated (never trained): nothing to weigh
        first, second = (probs[stream] for stream in self.streams)
        multi_label = pl_module.hparams.multi_label

        def top1(w: float) -> float:
            fused = w * first.probs + (1 - w) * second.probs
            if multi_label:
                return float(hit_at_k(fused, first.labels, 1))
            return float((fused.argmax(1) == first.labels).float().mean())

        best = max(WEIGHTS.tolist(), key=lambda w: (top1(w), -abs(w - 0.5)))
        weight.fill_(best)
        pl_module.log("val/fusion_weight", best, sync_dist=True, reduce_fx="max")
