"""VideoClassifier: the one LightningModule. It wraps any registry model by name and owns the loss, the
optimiser and the clip- and video-level metrics; models stay plain ``nn.Module``s."""

from __future__ import annotations

import copy
import functools
import math
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
import torchmetrics
from lightning.pytorch.utilities import rank_zero_info
from torch import nn
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.retrieval import RetrievalHitRate

from .models import ModelInfo, create_model, model_info


class VideoScores(torchmetrics.Metric):
    """Collects per-view class probabilities and averages them per video (the multi-view test protocol).

    States are concatenated across processes, so the video-level numbers are right under DDP too.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("index", default=[], dist_reduce_fx="cat")
        self.add_state("probs", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, video_index: torch.Tensor, probs: torch.Tensor, labels: torch.Tensor) -> None:
        self.index.append(video_index)
        self.probs.append(probs)
        self.labels.append(labels)

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(probs (V, K), labels (V,) or (V, K))`` for the V distinct videos seen, ordered by index."""
        index = torchmetrics.utilities.dim_zero_cat(self.index)
        probs = torchmetrics.utilities.dim_zero_cat(self.probs)
        labels = torchmetrics.utilities.dim_zero_cat(self.labels)
        videos, slot = torch.unique(index, return_inverse=True)
        summed = probs.new_zeros(len(videos), probs.shape[1]).index_add_(0, slot, probs)
        counts = torch.bincount(slot, minlength=len(videos)).clamp_min(1).unsqueeze(1)
        video_labels = labels.new_zeros((len(videos), *labels.shape[1:])).index_copy_(0, slot, labels)
        return summed / counts, video_labels


def hit_at_k(probs: torch.Tensor, multi_hot: torch.Tensor, k: int) -> torch.Tensor:
    """Multi-label hit@k: a video counts as a hit when any of its true labels is among its top-k classes."""
    videos = torch.arange(len(probs), device=probs.device).unsqueeze(1).expand_as(probs)  # (V, K) query ids
    return RetrievalHitRate(top_k=k).to(probs.device)(probs.flatten(), multi_hot.flatten().long(), videos.flatten())


class VideoClassifier(L.LightningModule):
    """Trains and evaluates any registered video model.

    Args:
        name: registry name of the model (``lit-video models`` lists them).
        num_classes: number of classes; linked from the data by the CLI.
        multi_label: several labels per video (Sports-1M style): sigmoid loss and hit@k metrics.
        model_args: keyword overrides for the model builder (e.g. ``{"backbone": "resnet34"}``).
        frames, size: the clip shape the data delivers (linked from the data by the CLI); passed to models whose
            architecture depends on them and used to check, before training, that the model accepts the clip.
        groups: class groups (group name -> class indices), for per-group accuracy; linked from the data.
        lr, weight_decay: AdamW settings. The defaults are for training from scratch (no pretrained weights), the
            main sweep's for every family but early fusion (benchmarks/tune_lecture_recipes.py searched them on the
            built-in data's validation split). Fine-tuning pretrained weights wants less.
        warmup_ratio: fraction of all optimiser steps spent warming the learning rate up linearly from zero;
            a cosine decay to ``min_lr_ratio * lr`` follows.
        label_smoothing: for the single-label cross-entropy.
    """

    def __init__(
        self,
        name: str = "single_frame",
        num_classes: int = 10,
        multi_label: bool = False,
        model_args: dict[str, Any] | None = None,
        frames: int = 8,
        size: int = 112,
        groups: dict[str, list[int]] | None = None,
        lr: float = 3e-3,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        min_lr_ratio: float = 0.01,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        check_training_options(lr, weight_decay, warmup_ratio, min_lr_ratio, label_smoothing)
        info = model_info(name)  # raises with the closest names for an unknown model
        args = dict(model_args or {})
        # The data's clip, unless model_args pin the one the model is built for.
        clip = {"frames": args.pop("frames", frames), "size": args.pop("size", size)}
        self.model = create_model(name, num_classes, **clip, **args)
        self.modalities = info.modalities
        check_clip_shape(self.model, info, frames, size)

        self.groups = dict(groups or {})
        top5 = min(5, num_classes)  # "top-5" on data with fewer classes is top-all
        # keyed "fit", not "train": a ModuleDict key may not shadow nn.Module.train
        self.clip_metrics = nn.ModuleDict({
            stage: torchmetrics.MetricCollection({
                "clip_top1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
                "clip_top5": MulticlassAccuracy(num_classes, top_k=top5, average="micro"),
            }, prefix=prefix) for stage, prefix in (("fit", "train/"), ("val", "val/"), ("test", "test/"))
        }) if not multi_label else nn.ModuleDict()
        self.video_scores = nn.ModuleDict({stage: VideoScores() for stage in ("val", "test")})

    def on_fit_start(self) -> None:
        total = sum(p.numel() for p in self.model.parameters())
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        name = self.hparams.name
        rank_zero_info(f"model {name}: {total:,} parameters ({trainable:,} trainable); "
                       f"gmacs per clip: `lit-video profile {name} --frames {self.hparams.frames} "
                       f"--size {self.hparams.size}`")

    def forward(self, video: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model(video)

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.hparams.multi_label:
            return F.binary_cross_entropy_with_logits(logits, labels.float())
        return F.cross_entropy(logits, labels, label_smoothing=self.hparams.label_smoothing)

    def _probs(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.sigmoid() if self.hparams.multi_label else logits.softmax(-1)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        if len(batch["label"]) == 0:
            return None  # every video of the batch failed to decode (listed in skipped_videos.txt): skip the step
        logits = self(batch["video"])
        loss = self._loss(logits, batch["label"])
        if not torch.isfinite(loss):
            # Fail loudly: a NaN run would otherwise train to the end and report chance accuracy.
            raise FloatingPointError(f"training loss is {loss.item()} at step {self.global_step} (lr too high?)")
        batch_size = len(batch["label"])
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        if not self.hparams.multi_label:
            self.clip_metrics["fit"].update(logits.detach(), batch["label"])
            self.log_dict(self.clip_metrics["fit"], on_step=False, on_epoch=True, batch_size=batch_size)
        return loss

    def _eval_step(self, stage: str, batch: dict[str, Any]) -> None:
        if len(batch["label"]) == 0:
            return
        logits = self(batch["video"])
        batch_size = len(batch["label"])
        self.log(f"{stage}/loss", self._loss(logits, batch["label"]), batch_size=batch_size, sync_dist=True)
        if not self.hparams.multi_label:
            self.clip_metrics[stage].update(logits, batch["label"])
            self.log_dict(self.clip_metrics[stage], batch_size=batch_size, prog_bar=stage == "val")
        self.video_scores[stage].update(batch["video_index"], self._probs(logits).float(), batch["label"])

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step("test", batch)

    def _video_metrics(self, stage: str) -> None:
        scores = self.video_scores[stage]
        if not scores.index:  # sanity checking with no batches, or an empty split
            scores.reset()
            return
        probs, labels = scores.compute()
        scores.reset()
        k = self.hparams.num_classes
        if self.hparams.multi_label:
            metrics = {f"{stage}/video_hit1": hit_at_k(probs, labels, 1),
                       f"{stage}/video_hit5": hit_at_k(probs, labels, min(5, k))}
        else:
            acc = torchmetrics.functional.classification.multiclass_accuracy
            metrics = {
                f"{stage}/video_top1": acc(probs, labels, k, top_k=1, average="micro"),
                f"{stage}/video_top5": acc(probs, labels, k, top_k=min(5, k), average="micro"),
                # Macro average over the classes present, so a class absent from the split doesn't count as 0.
                f"{stage}/mean_class_acc": acc(probs, labels, k, average="none")[torch.unique(labels)].mean(),
            }
            correct = probs.argmax(1) == labels
            for group, classes in self.groups.items():
                in_group = torch.isin(labels, torch.as_tensor(classes, device=labels.device))
                if in_group.any():
                    metrics[f"{stage}/group_acc/{group}"] = correct[in_group].float().mean()
        self.log_dict(metrics, prog_bar=stage == "val")

    def on_validation_epoch_end(self) -> None:
        self._video_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._video_metrics("test")

    def configure_optimizers(self) -> dict[str, Any]:
        # No weight decay on biases and norm parameters (the usual AdamW recipe).
        params = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in params if p.ndim > 1]
        no_decay = [p for p in params if p.ndim <= 1]
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.hparams.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.hparams.lr,
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(self.hparams.warmup_ratio * total)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, functools.partial(warmup_cosine, total=total, warmup=warmup, floor=self.hparams.min_lr_ratio)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def check_training_options(lr: float, weight_decay: float, warmup_ratio: float, min_lr_ratio: float,
                           label_smoothing: float) -> None:
    """Optimiser and loss settings that cannot train fail here, before anything is built, naming the option."""
    problems = [f"model.{name} must be {rule} (got {value})" for name, value, ok, rule in (
        ("lr", lr, lr > 0, "> 0"),
        ("weight_decay", weight_decay, weight_decay >= 0, ">= 0"),
        ("warmup_ratio", warmup_ratio, 0 <= warmup_ratio < 1, "in [0, 1)"),
        ("min_lr_ratio", min_lr_ratio, 0 <= min_lr_ratio <= 1, "in [0, 1]"),
        ("label_smoothing", label_smoothing, 0 <= label_smoothing < 1, "in [0, 1)"),
    ) if not (ok and math.isfinite(value))]
    if problems:
        raise ValueError("; ".join(problems))


def warmup_cosine(step: int, total: int, warmup: int, floor: float) -> float:
    """Learning-rate factor: linear warm-up over ``warmup`` steps, then cosine decay to ``floor`` at ``total``."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def check_clip_shape(model: nn.Module, info: ModelInfo, frames: int, size: int) -> None:
    """Fail before training when model ``info.name`` cannot take the clip shape the data delivers.

    Runs one forward pass on the meta device, so it costs no compute and no memory.
    """
    if frames < 1 or size < 1:
        raise ValueError(f"data.frames ({frames}) and data.size ({size}) must be >= 1")
    if tuple(info.modalities) != ("rgb",):
        return  # multi-modal inputs are checked by their own models
    try:
        meta_model = copy.deepcopy(model).to("meta").eval()  # eval: batch norm on one clip needs no batch stats
        with torch.no_grad():
            meta_model(torch.empty(1, 3, frames, size, size, device="meta"))
    except (RuntimeError, ValueError, AssertionError, IndexError) as err:
        default = f"{info.frames} frames at {info.size} px"
        takes = f"it takes only {default}" if info.fixed_shape else f"its default is {default}"
        raise ValueError(
            f"model {info.name!r} cannot take clips of {frames} frames at {size}x{size} px "
            f"({str(err).splitlines()[0]}). Change data.frames / data.size; {takes}."
        ) from err
