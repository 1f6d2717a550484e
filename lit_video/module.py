"""VideoClassifier: the one LightningModule. It wraps any registry model by name and owns the loss, the
optimiser and the clip- and video-level metrics; models stay plain ``nn.Module``s."""

from __future__ import annotations

import copy
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

from .layout import check_memory_format, fastest_memory_format, inputs_to_memory_format, to_memory_format
from .models import ModelInfo, create_model, model_info
from .models.layers.backbone import load_local_checkpoint

STREAM_CHOICES = ("rgb", "flow", "both")  # which streams of a two-stream model a run trains
FUSIONS = ("average", "weighted")
# The spatial stream's fusion weights tried on validation (``fusion="weighted"``).
FUSION_WEIGHTS = torch.linspace(0, 1, 21)


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
        frames, size: the clip shape the data delivers (linked from the data by the CLI); passed to models whose
            architecture depends on them and used to check, before training, that the model accepts the clip.
        groups: class groups (group name -> class indices), for per-group accuracy; linked from the data.
        lr, weight_decay: AdamW settings. The defaults are for training from scratch (no pretrained weights), the
            main sweep's for every family but early fusion (benchmarks/tune_lecture_recipes.py searched them on the
            built-in data's validation split). Fine-tuning pretrained weights wants less.
        warmup_ratio: fraction of all optimiser steps spent warming the learning rate up linearly from zero;
            a cosine decay to ``min_lr_ratio * lr`` follows.
        label_smoothing: for the single-label cross-entropy.
        stream, fusion: for a model with several streams (``two_stream``: ``rgb`` and ``flow``, each classifying on
            its own). ``stream`` says which this run trains: ``both`` (their losses summed) or one, the other left as
            it is, as the paper trained them one at a time (then ``init_weights`` carries the first run's stream
            into the second). Evaluation reports the video-level accuracy of each trained stream
            (``<stage>/video_top1_rgb``, ``..._flow``, ``<stage>/group_acc_rgb/<group>``) and of their fusion (the
            usual names). ``fusion``: ``average`` (the paper's: probabilities averaged) or ``weighted`` (the
            spatial stream's weight chosen on each validation epoch from 0, 0.05, ..., 1 for the best video-level
            top-1, ties to the nearest 0.5; kept with the weights, used at test, logged as ``val/fusion_weight``).
        init_weights: a local checkpoint (a lit-video ``.ckpt``) whose weights this model starts from, for every
            layer; its optimiser and epochs are not resumed (that is ``--ckpt_path``).
        memory_format: the layout the model and its clips take: ``auto`` (default) the faster of ``contiguous`` and
            ``channels_last`` (``channels_last_3d`` for clips) for this model on the run's device, batch size and
            precision, measured once per model and machine and cached (``lit_video.layout``); or one of
            them, ``contiguous`` being plain PyTorch's. The layout used is ``self.memory_format`` once set up.
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
        stream: str = "both",
        fusion: str = "average",
        init_weights: str | None = None,
        memory_format: str = "auto",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        check_training_options(lr, weight_decay, warmup_ratio, min_lr_ratio, label_smoothing)
        check_memory_format(memory_format, "model.memory_format")
        self.memory_format: str | None = None  # the layout in use: chosen in `setup`, where the device is known
        info = model_info(name)  # raises with the closest names for an unknown model
        args = dict(model_args or {})
        # The data's clip, unless model_args pin the one the model is built for.
        clip = {"frames": args.pop("frames", frames), "size": args.pop("size", size)}
        self.model = create_model(name, num_classes, **clip, **args)
        self.modalities = info.modalities
        check_clip_shape(self.model, info, frames, size)
        # A multi-stream model (``forward_streams``) names its streams; a run trains some of them, and a checkpoint
        # remembers which streams have been trained, so that evaluation reports only those.
        self.streams: tuple[str, ...] = tuple(self.model.streams) if hasattr(self.model, "forward_streams") else ()
        check_stream_options(name, self.streams, stream, fusion)
        self.train_streams = self.streams if stream == "both" else (stream,)
        if self.streams:  # (only then: checkpoints of one-stream models keep their keys)
            self.register_buffer("trained_streams", torch.zeros(len(self.streams), dtype=torch.bool))
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
        self.video_scores = nn.ModuleDict({stage: VideoScores(num_classes, multi_label) for stage in ("val", "test")})
        self.stream_scores = nn.ModuleDict({
            stage: nn.ModuleDict({s: VideoScores(num_classes, multi_label) for s in self.streams})
            for stage in ("val", "test")})
        # The evaluation loss, averaged over every clip of every process (weighted by batch size).
        self.eval_loss = nn.ModuleDict({stage: torchmetrics.MeanMetric() for stage in ("val", "test")})
        # The last test's video-level probabilities (a multi-stream model's fusion), on the CPU, in every process:
        # what a confusion matrix or an error analysis reads (``train.test_predictions``).
        self.test_predictions: VideoProbs | None = None

    def setup(self, stage: str) -> None:
        if self.memory_format is None:
            self.memory_format = self._choose_memory_format()
            to_memory_format(self.model, self.memory_format)
            rank_zero_info(f"memory format: {self.memory_format}"
                           + (" (model.memory_format auto: the faster here)" if self.hparams.memory_format == "auto"
                              else ""))

    def _choose_memory_format(self) -> str:
        """``model.memory_format``, or for ``auto`` the faster layout on this run's device, batch size and precision.
        Every process of a distributed run takes rank 0's choice, so the replicas' weights have one layout."""
        if self.hparams.memory_format != "auto":
            return self.hparams.memory_format
        trainer = self._trainer
        if trainer is None:  # set up by hand, not by a Trainer: nothing to measure against
            return "contiguous"
        batch = getattr(trainer.datamodule, "batch_size", None) or 8
        shape = model_info(self.hparams.name).input_shape(batch, self.hparams.frames, self.hparams.size)
        precision = str(trainer.precision)
        dtype = {"bf16": torch.bfloat16, "16": torch.float16}.get(precision.partition("-")[0], torch.float32)
        choice = fastest_memory_format(self.model, shape, trainer.strategy.root_device, dtype)["memory_format"]
        return trainer.strategy.broadcast(choice, src=0)

    def _clips(self, batch: dict[str, Any]) -> Any:
        """The batch's clips in the model's memory format."""
        return inputs_to_memory_format(batch["video"], self.memory_format or "contiguous")

    def on_fit_start(self) -> None:
        for i, name in enumerate(self.streams):
            self.trained_streams[i] |= name in self.train_streams
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
        batch_size = len(batch["label"])
        if self.streams:  # the streams this run trains, their losses summed (the streams share no weights)
            stream_logits = self.model.forward_streams(self._clips(batch), self.train_streams)
            losses = {name: self._loss(out, batch["label"]) for name, out in stream_logits.items()}
            self.log_dict({f"train/loss_{name}": value for name, value in losses.items()}, batch_size=batch_size)
            loss = sum(losses.values())
            logits = self._fuse({name: self._probs(out.detach()) for name, out in stream_logits.items()})
        else:
            logits = self(self._clips(batch))
            loss = self._loss(logits, batch["label"])
        if not torch.isfinite(loss):
            # Fail loudly: a NaN run would otherwise train to the end and report chance accuracy.
            raise FloatingPointError(f"training loss is {loss.item()} at step {self.global_step} (lr too high?)")
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        if not self.hparams.multi_label:
            self.clip_metrics["fit"].update(logits.detach(), batch["label"])
            self.log_dict(self.clip_metrics["fit"], on_step=False, on_epoch=True, batch_size=batch_size)
        return loss

    def _eval_step(self, stage: str, batch: dict[str, Any]) -> None:
        if len(batch["label"]) == 0:
            return
        batch_size = len(batch["label"])
        if self.streams:  # each evaluated stream's scores kept; the fusion is made from them at the epoch's end
            stream_logits = self.model.forward_streams(self._clips(batch), self.eval_streams)
            loss = sum(self._loss(out, batch["label"]) for out in stream_logits.values())
            probs = {name: self._probs(out).float() for name, out in stream_logits.items()}
            for name, p in probs.items():
                self.stream_scores[stage][name].update(batch["video_index"], p, batch["label"])
            scores = self._fuse(probs)
        else:
            logits = self(self._clips(batch))
            loss, scores = self._loss(logits, batch["label"]), logits
            self.video_scores[stage].update(batch["video_index"], self._probs(logits).float(), batch["label"])
        self.eval_loss[stage].update(loss.detach().float(), batch_size)
        if not self.hparams.multi_label:
            self.clip_metrics[stage].update(scores, batch["label"])

    @property
    def eval_streams(self) -> tuple[str, ...]:
        """The streams evaluation reports: those trained (in this run or before it, by ``init_weights`` or a
        resumed checkpoint), or every stream of a model never trained."""
        trained = tuple(name for name, done in zip(self.streams, self.trained_streams.tolist(), strict=True) if done)
        return trained or self.streams

    def _fuse(self, probs: dict[str, torch.Tensor], weight: Any = None) -> torch.Tensor:
        """The fusion of the streams' class probabilities ``(N, K)`` with the spatial stream's ``weight`` (default:
        the model's): the model's own (softmax probabilities) for single-label data; the same weighted average of
        the sigmoids for multi-label data."""
        if not self.hparams.multi_label:
            # Log-probabilities are logits whose softmax is the probabilities themselves.
            return self.model.fuse({name: p.log() for name, p in probs.items()}, weight).exp()
        w = float(self.model.fusion_weight if weight is None else weight)
        ordered = [probs[name] for name in self.streams if name in probs]
        return ordered[0] if len(ordered) == 1 else w * ordered[0] + (1 - w) * ordered[1]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step("test", batch)

    def _epoch_metrics(self, stage: str) -> None:
        """The epoch's loss, clip- and video-level metrics, each computed from the states of every process (so
        under DDP they are a single process's numbers: the evaluation sampler gives each video to one process).
        Every process takes part in each gathering, whatever it scored, and logs the same numbers."""
        metrics = self._stream_video_metrics(stage) if self.streams else self._video_metrics(stage)
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

    def _video_metrics(self, stage: str) -> dict[str, Any]:
        scores = self.video_scores[stage]
        videos, probs, labels = scores.compute()  # the V videos scored in any process: (V,), (V, K), labels
        scores.reset()
        if not len(probs):
            return {}
        self._keep_predictions(stage, VideoProbs(videos, probs, labels))
        return self._accuracies(stage, probs, labels)

    def _keep_predictions(self, stage: str, video_probs: VideoProbs) -> None:
        if stage == "test":
            self.test_predictions = VideoProbs(*(t.detach().cpu() for t in video_probs))

    def _stream_video_metrics(self, stage: str) -> dict[str, Any]:
        """Each evaluated stream's video-level accuracies, suffixed with its name, and their fusion's under the
        usual names; with ``fusion="weighted"``, validation first chooses the fusion weight."""
        per_stream = {}
        for name, scores in self.stream_scores[stage].items():
            video_probs = scores.compute()  # videos in index order, the same for every stream
            if len(video_probs.probs):
                per_stream[name] = video_probs
            scores.reset()
        if not per_stream:
            return {}
        videos, _, labels = next(iter(per_stream.values()))
        metrics = {}
        for name, video_probs in per_stream.items():
            metrics |= self._accuracies(stage, video_probs.probs, labels, suffix=f"_{name}")
        probs = {name: video_probs.probs for name, video_probs in per_stream.items()}
        choose = stage == "val" and self.hparams.fusion == "weighted" and len(probs) == 2
        if choose and not self.trainer.sanity_checking:
            self.model.fusion_weight.fill_(self._choose_fusion_weight(probs, labels))
            metrics["val/fusion_weight"] = self.model.fusion_weight.clone()
        fused = self._fuse(probs)
        self._keep_predictions(stage, VideoProbs(videos, fused, labels))
        return metrics | self._accuracies(stage, fused, labels)

    def _choose_fusion_weight(self, probs: dict[str, torch.Tensor], labels: torch.Tensor) -> float:
        """The spatial stream's weight (of ``FUSION_WEIGHTS``) that gives the best video-level top-1 (hit@1) on
        these videos' probabilities; ties go to the weight nearest the plain average, 0.5."""
        def top1(w: float) -> float:
            fused = self._fuse(probs, w)
            if self.hparams.multi_label:
                return float(hit_at_k(fused, labels, 1))
            return float((fused.argmax(1) == labels).float().mean())

        weights = FUSION_WEIGHTS.tolist()
        return max(weights, key=lambda w: (top1(w), -abs(w - 0.5)))

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


def check_stream_options(name: str, streams: tuple[str, ...], stream: str, fusion: str) -> None:
    """``model.stream`` and ``model.fusion`` fail here, before training, where the model cannot take them."""
    if stream not in STREAM_CHOICES or fusion not in FUSIONS:
        raise ValueError(f"model.stream must be one of {', '.join(STREAM_CHOICES)} (got {stream!r}) and model.fusion "
                         f"one of {', '.join(FUSIONS)} (got {fusion!r})")
    if not streams and (stream, fusion) != ("both", "average"):
        raise ValueError(f"model {name!r} has one stream: model.stream and model.fusion apply to two-stream models "
                         f"(two_stream); leave them out")


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
    shapes = info.input_shape(1, frames, size)
    try:
        meta_model = copy.deepcopy(model).to("meta").eval()  # eval: batch norm on one clip needs no batch stats
        with torch.no_grad():
            if isinstance(shapes, dict):
                meta_model({m: torch.empty(shape, device="meta") for m, shape in shapes.items()})
            else:
                meta_model(torch.empty(shapes, device="meta"))
    except (RuntimeError, ValueError, AssertionError, IndexError) as err:
        default = f"{info.frames} frames at {info.size} px"
        takes = f"it takes only {default}" if info.fixed_shape else f"its default is {default}"
        raise ValueError(
            f"model {info.name!r} cannot take clips of {frames} frames at {size}x{size} px "
            f"({str(err).splitlines()[0]}). Change data.frames / data.size; {takes}."
        ) from err
