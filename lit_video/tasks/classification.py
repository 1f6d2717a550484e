"""Clip classification: ``VideoClassifier``, the task's LightningModule. It wraps any registry model by name and
owns the loss, the optimiser and the clip- and video-level metrics; models stay plain ``nn.Module``s.

A model with several outputs returns them named (``two_stream``: ``rgb``, ``flow`` and ``fused``); each is scored
the same way, its metrics suffixed with its name (``test/video_top1_rgb``), and the output named ``fused``
(``PREDICTION``) is the model's prediction, under the plain names (``test/video_top1``). Training sums the losses of
the other outputs (the streams): a fused output is a fixed combination of them, scored and not trained. A model with
one output trains it and predicts with it.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import lightning as L
import torch
import torch.nn.functional as F
import torchmetrics
from lightning.pytorch.utilities import rank_zero_info
from torch import nn
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.retrieval import RetrievalHitRate

from ..memory_format import (
    check_memory_format,
    describe_choice,
    fastest_memory_format,
    inputs_to_memory_format,
    to_memory_format,
)
from ..models import PREDICTION, create_model, model_info
from ..models.layers.backbone import load_local_checkpoint
from ..terminal import width, wrap


class VideoProbs(NamedTuple):
    """Video-level class probabilities: ``videos (V,)`` (each video's index in its split, ascending), ``probs (V, K)``
    and ``labels`` (``(V,)`` class indices, or ``(V, K)`` multi-hot for multi-label data)."""

    videos: torch.Tensor
    probs: torch.Tensor
    labels: torch.Tensor


class VideoScores(torchmetrics.Metric):
    """Collects per-view class probabilities and averages them per video (the multi-view test protocol).

    States are concatenated across processes, so under DDP a video's views are averaged together wherever they were
    scored. Each state starts with an empty entry of its shape, so that a process that scored nothing (a split
    smaller than the processes, or every video of its share unreadable) still joins the gathering.
    """

    full_state_update = False

    def __init__(self, num_classes: int, multi_label: bool = False) -> None:
        super().__init__()
        self.num_classes, self.multi_label = num_classes, multi_label
        self.add_state("index", default=[], dist_reduce_fx="cat")
        self.add_state("probs", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")
        self.reset()

    def reset(self) -> None:
        super().reset()
        labels = (torch.empty(0, self.num_classes) if self.multi_label else torch.empty(0, dtype=torch.long))
        self.update(torch.empty(0, dtype=torch.long, device=self.device),
                    torch.empty(0, self.num_classes, device=self.device), labels.to(self.device))

    @property
    def empty(self) -> bool:
        """No view scored here (in this process)."""
        return sum(len(index) for index in self.index) == 0

    def update(self, video_index: torch.Tensor, probs: torch.Tensor, labels: torch.Tensor) -> None:
        self.index.append(video_index)
        self.probs.append(probs)
        self.labels.append(labels)

    def compute(self) -> VideoProbs:
        """The V distinct videos seen, ordered by index, with their views' probabilities averaged."""
        index = torchmetrics.utilities.dim_zero_cat(self.index)
        probs = torchmetrics.utilities.dim_zero_cat(self.probs)
        labels = torchmetrics.utilities.dim_zero_cat(self.labels)
        videos, slot = torch.unique(index, return_inverse=True)
        summed = probs.new_zeros(len(videos), probs.shape[1]).index_add_(0, slot, probs)
        counts = torch.bincount(slot, minlength=len(videos)).clamp_min(1).unsqueeze(1)
        video_labels = labels.new_zeros((len(videos), *labels.shape[1:])).index_copy_(0, slot, labels)
        return VideoProbs(videos, summed / counts, video_labels)


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
        frames: frames of the clip the data delivers (linked from the data by the CLI; None: the model's default
            clip). The model is built for its clip, and a clip it does not take fails here, before training
            (``ModelInfo.accepts``).
        size: the clip's height and width in px, as ``frames``.
        groups: class groups (group name -> class indices), for per-group accuracy; linked from the data.
        lr: AdamW's peak learning rate. The default is for training from scratch (no pretrained weights): the main
            sweep's CNNs train with it, LRCN, two-stream and the transformers with 1e-3
            (``configs/sweeps/lecture.yaml`` says why; benchmarks/tune_lecture_recipes.py searched them on the
            built-in data's validation split). Fine-tuning pretrained weights wants less.
        weight_decay: AdamW's weight decay, on weights only (not biases or norms).
        warmup_ratio: fraction of all optimiser steps spent warming the learning rate up linearly from zero;
            a cosine decay to ``min_lr_ratio * lr`` follows.
        min_lr_ratio: where the cosine decay ends, as a fraction of ``lr``.
        label_smoothing: for the single-label cross-entropy.
        init_weights: a local checkpoint (a lit-video ``.ckpt``) whose weights this model starts from, for every
            layer; its optimiser and epochs are not resumed (that is ``--ckpt_path``).
        memory_format: the layout the model and its clips take: ``auto`` (default) the faster of ``contiguous`` and
            ``channels_last`` (``channels_last_3d`` for clips) for this model on the run's device, batch size and
            precision, measured once per model and machine and cached (``lit_video.memory_format``); or one of
            them, ``contiguous`` being plain PyTorch's. The layout used is ``self.memory_format`` once set up.
    """

    def __init__(
        self,
        name: str = "single_frame",
        num_classes: int = 10,
        multi_label: bool = False,
        model_args: dict[str, Any] | None = None,
        frames: int | None = None,
        size: int | None = None,
        groups: dict[str, list[int]] | None = None,
        lr: float = 3e-3,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        min_lr_ratio: float = 0.01,
        label_smoothing: float = 0.0,
        init_weights: str | None = None,
        memory_format: str = "auto",
    ) -> None:
        info = model_info(name)  # raises with the closest names for an unknown model
        frames, size = frames or info.clip.frames, size or info.clip.size
        super().__init__()
        self.save_hyperparameters()
        check_training_options(lr, weight_decay, warmup_ratio, min_lr_ratio, label_smoothing)
        check_memory_format(memory_format, "model.memory_format")
        self.memory_format: str | None = None  # the layout in use: chosen in `setup`, where the device is known
        self.model = create_model(name, num_classes, frames=frames, size=size, multi_label=multi_label,
                                  **(model_args or {}))
        # What the model returns: its named outputs (the prediction among them), or one output, its prediction.
        self.outputs: tuple[str, ...] = info.outputs or (PREDICTION,)
        if init_weights is not None:
            load_local_checkpoint(self, init_weights)

        self.groups = dict(groups or {})
        top5 = min(5, num_classes)  # "top-5" on data with fewer classes is top-all
        # keyed "fit", not "train": a ModuleDict key may not shadow nn.Module.train
        self.clip_metrics = nn.ModuleDict({
            stage: torchmetrics.MetricCollection({
                "clip_top1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
                "clip_top5": MulticlassAccuracy(num_classes, top_k=top5, average="micro"),
            }, prefix=prefix) for stage, prefix in (("fit", "train/"), ("val", "val/"), ("test", "test/"))
        }) if not multi_label else nn.ModuleDict()
        # Each output's views, averaged per video at the epoch's end.
        self.video_scores = nn.ModuleDict({
            stage: nn.ModuleDict({output: VideoScores(num_classes, multi_label) for output in self.outputs})
            for stage in ("val", "test")})
        # The evaluation loss, averaged over every clip of every process (weighted by batch size).
        self.eval_loss = nn.ModuleDict({stage: torchmetrics.MeanMetric() for stage in ("val", "test")})
        # The last test's video-level probabilities of the prediction, on the CPU, in every process: what a
        # confusion matrix or an error analysis reads (``train.test_predictions``).
        self.test_predictions: VideoProbs | None = None

    def setup(self, stage: str) -> None:
        if self.memory_format is None:
            self.memory_format, how = self._choose_memory_format()
            to_memory_format(self.model, self.memory_format)
            rank_zero_info("\n".join(wrap(f"memory format: {self.memory_format} ({how})", width())))

    def _choose_memory_format(self) -> tuple[str, str]:
        """``model.memory_format``, or for ``auto`` the faster layout on this run's device, batch size and precision
        (``fastest_memory_format``, as ``lit-video profile`` chooses), and how it was chosen, in words. Every process
        of a distributed run takes rank 0's choice, so the replicas' weights have one layout."""
        if self.hparams.memory_format != "auto":
            return self.hparams.memory_format, "model.memory_format"
        trainer = self._trainer
        if trainer is None:  # set up by hand, not by a Trainer: nothing to measure against
            return "contiguous", "auto: no Trainer, nothing measured"
        batch = getattr(trainer.datamodule, "batch_size", None) or 8
        shape = model_info(self.hparams.name).input_shape(batch, self.hparams.frames, self.hparams.size)
        precision = str(trainer.precision)
        dtype = {"bf16": torch.bfloat16, "16": torch.float16}.get(precision.partition("-")[0], torch.float32)
        choice = trainer.strategy.broadcast(fastest_memory_format(self.model, shape, trainer.strategy.root_device,
                                                                  dtype), src=0)
        return choice["memory_format"], describe_choice(choice)

    def on_fit_start(self) -> None:
        total = sum(p.numel() for p in self.model.parameters())
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        name = self.hparams.name
        rank_zero_info(f"model {name}: {total:,} parameters ({trainable:,} trainable)\n"  # two lines in 80 columns
                       f"its GMACs a clip: lit-video profile {name} --frames {self.hparams.frames} "
                       f"--size {self.hparams.size}")

    def forward(self, video: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor | dict[str, torch.Tensor]:
        return self.model(video)

    def named_outputs(self, video: torch.Tensor | dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The model's outputs on a batch's clips (in the model's memory format), by name: a one-output model's is
        its ``PREDICTION``."""
        out = self(inputs_to_memory_format(video, self.memory_format or "contiguous"))
        return out if isinstance(out, dict) else {PREDICTION: out}

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.hparams.multi_label:
            return F.binary_cross_entropy_with_logits(logits, labels.float())
        return F.cross_entropy(logits, labels, label_smoothing=self.hparams.label_smoothing)

    def _losses(self, outputs: dict[str, torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """The loss of each trained output: every output but a fused one (a fixed combination of the others),
        or the one output there is."""
        trained = {name: out for name, out in outputs.items() if name != PREDICTION} or outputs
        return {name: self._loss(out, labels) for name, out in trained.items()}

    def _probs(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.sigmoid() if self.hparams.multi_label else logits.softmax(-1)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        if len(batch["label"]) == 0:
            return None  # every video of the batch failed to decode (listed in skipped_videos.txt): skip the step
        batch_size = len(batch["label"])
        outputs = self.named_outputs(batch["video"])
        losses = self._losses(outputs, batch["label"])
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            # Fail loudly: a NaN run would otherwise train to the end and report chance accuracy.
            raise FloatingPointError(f"training loss is {loss.item()} at step {self.global_step} (lr too high?)")
        if len(losses) > 1:  # the streams' own losses, beside their sum
            self.log_dict({f"train/loss_{name}": value for name, value in losses.items()}, batch_size=batch_size)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        if not self.hparams.multi_label:
            self.clip_metrics["fit"].update(outputs[PREDICTION].detach(), batch["label"])
            self.log_dict(self.clip_metrics["fit"], on_step=False, on_epoch=True, batch_size=batch_size)
        return loss

    def _eval_step(self, stage: str, batch: dict[str, Any]) -> None:
        if len(batch["label"]) == 0:
            return
        outputs = self.named_outputs(batch["video"])
        loss = sum(self._losses(outputs, batch["label"]).values())
        for name, logits in outputs.items():
            self.video_scores[stage][name].update(batch["video_index"], self._probs(logits).float(), batch["label"])
        self.eval_loss[stage].update(loss.detach().float(), len(batch["label"]))
        if not self.hparams.multi_label:
            self.clip_metrics[stage].update(outputs[PREDICTION], batch["label"])

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step("test", batch)

    def video_probs(self, stage: str) -> dict[str, VideoProbs]:
        """Each output's video-level probabilities this epoch, over every process (outputs the model did not
        return, none): what the epoch's metrics are computed from, and what a callback may read first."""
        found = {name: scores.compute() for name, scores in self.video_scores[stage].items()}
        return {name: probs for name, probs in found.items() if len(probs.probs)}

    def _epoch_metrics(self, stage: str) -> None:
        """The epoch's loss, clip- and video-level metrics, each computed from the states of every process (so
        under DDP they are a single process's numbers: the evaluation sampler gives each video to one process).
        Every process takes part in each gathering, whatever it scored, and logs the same numbers."""
        probs = self.video_probs(stage)
        for scores in self.video_scores[stage].values():
            scores.reset()
        metrics = {}
        for name, video_probs in probs.items():  # the prediction under the plain names, the others suffixed
            metrics |= self._accuracies(stage, video_probs.probs, video_probs.labels,
                                        suffix="" if name == PREDICTION else f"_{name}")
        if stage == "test" and PREDICTION in probs:
            self.test_predictions = VideoProbs(*(t.detach().cpu() for t in probs[PREDICTION]))
        clip_metrics = self.clip_metrics[stage] if stage in self.clip_metrics else None  # none for multi-label
        loss = self.eval_loss[stage].compute() if metrics else None
        clip = clip_metrics.compute() if metrics and clip_metrics is not None else {}
        self.eval_loss[stage].reset()
        if clip_metrics is not None:
            clip_metrics.reset()
        if metrics:  # nothing scored anywhere (sanity checking without batches, an empty split): nothing to log
            # The numbers are the same in every process: "max" passes them on unchanged (a mean of equal floats
            # can round).
            self.log_dict({f"{stage}/loss": loss, **clip, **metrics}, prog_bar=stage == "val", sync_dist=True,
                          reduce_fx="max")

    def _accuracies(self, stage: str, probs: torch.Tensor, labels: torch.Tensor, suffix: str = "") -> dict[str, Any]:
        """Video-level metrics of ``probs (V, K)`` against ``labels``: top-1 / top-5 (hit@k for multi-label data),
        mean class accuracy and the accuracy within each class group; ``suffix`` after each metric's name."""
        k = self.hparams.num_classes
        if self.hparams.multi_label:
            return {f"{stage}/video_hit1{suffix}": hit_at_k(probs, labels, 1),
                    f"{stage}/video_hit5{suffix}": hit_at_k(probs, labels, min(5, k))}
        acc = torchmetrics.functional.classification.multiclass_accuracy
        metrics = {
            f"{stage}/video_top1{suffix}": acc(probs, labels, k, top_k=1, average="micro"),
            f"{stage}/video_top5{suffix}": acc(probs, labels, k, top_k=min(5, k), average="micro"),
            # Macro average over the classes present, so a class absent from the split doesn't count as 0.
            f"{stage}/mean_class_acc{suffix}": acc(probs, labels, k, average="none")[torch.unique(labels)].mean(),
        }
        correct = probs.argmax(1) == labels
        for group, classes in self.groups.items():
            in_group = torch.isin(labels, torch.as_tensor(classes, device=labels.device))
            if in_group.any():
                metrics[f"{stage}/group_acc{suffix}/{group}"] = correct[in_group].float().mean()
        return metrics

    def on_validation_epoch_end(self) -> None:
        self._epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._epoch_metrics("test")

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
