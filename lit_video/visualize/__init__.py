"""Looking inside trained video models (the lecture's "Visualizing Video Models", Feichtenhofer et al. 2018/2019):
class-model inputs by activation maximisation (``class_model``) and where in space and time a decision comes from
(``saliency``), for any registry model a lit-video checkpoint holds. ``render`` turns both into files a person can
watch; ``lit-video visualize`` (``cli``) runs them.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data import VideoDataModule
from ..data.flow import FlowSettings
from ..data.transforms import MEAN, STD
from ..models import PREDICTION, model_info
from ..tasks import VideoClassifier


@dataclass
class TrainedModel:
    """A checkpoint's model, ready to look at: in eval mode with its weights frozen, the names of its classes, and
    the clip it was trained on."""

    module: VideoClassifier
    class_names: list[str]
    frames: int
    size: int
    fps: float
    resize: int | None
    modalities: tuple[str, ...]
    groups: dict[str, list[int]]
    backend: str
    flow: FlowSettings | None  # how the training data's optical flow was computed (a model that takes it)
    root: Path  # the data it was trained on

    def class_index(self, name: str) -> int:
        if name not in self.class_names:
            raise ValueError(f"class {name!r} is not one of this model's: {', '.join(self.class_names)}")
        return self.class_names.index(name)

    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        """One clip's input shape per modality, ``(1, C, T, H, W)`` (flow: ``T - 1`` fields)."""
        shapes = model_info(self.module.hparams.name).input_shape(1, self.frames, self.size)
        return shapes if isinstance(shapes, dict) else {"rgb": shapes}

    def __call__(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Class scores (logits, ``(N, K)``) of ``inputs`` per modality: the model's prediction."""
        return self.module.named_outputs(inputs if len(inputs) > 1 else inputs["rgb"])[PREDICTION]


def load_trained_model(checkpoint: str | Path, device: str = "cpu") -> TrainedModel:
    """The model of a lit-video checkpoint (``lit-video fit``, or a sweep entry's ``runs/<entry>/``), with its class
    names from the data it was trained on (the checkpoint's data settings; the built-in data is regenerated if this
    machine has no copy)."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint {str(checkpoint)!r} does not exist")
    saved: dict[str, Any] = torch.load(checkpoint, map_location="cpu", weights_only=False)
    data_args = saved.get("datamodule_hyper_parameters")
    if data_args is None:
        raise ValueError(f"{checkpoint}: no data settings in the checkpoint (not one a lit-video run saved)")
    # Contiguous: no layout to measure; init_weights: the weights are the checkpoint's, not a first stage's.
    module = VideoClassifier.load_from_checkpoint(checkpoint, map_location=device, memory_format="contiguous",
                                                  init_weights=None)
    module.eval().requires_grad_(False)
    # The DataModule's own arguments (the CLI saves its instantiator beside them), without the run's log folder.
    accepted = set(inspect.signature(VideoDataModule).parameters) - {"log_dir"}
    data = VideoDataModule(**{k: v for k, v in data_args.items() if k in accepted})
    return TrainedModel(module, data.class_names, data.frames, data.size, data.fps, data.resize, data.modalities,
                        data.groups, data.backend, data.flow_settings, data.root)


def _mean_std() -> tuple[torch.Tensor, torch.Tensor]:
    """The models' input normalisation (the clip transform's), ``(3, 1, 1, 1)`` each."""
    return torch.tensor(MEAN).view(3, 1, 1, 1), torch.tensor(STD).view(3, 1, 1, 1)


def to_unit_range(clip: torch.Tensor) -> torch.Tensor:
    """An RGB clip ``(3, T, H, W)`` in the models' input normalisation, back in [0, 1] (clamped)."""
    mean, std = _mean_std()
    return (clip * std + mean).clamp(0, 1)


def normalized_bounds() -> tuple[torch.Tensor, torch.Tensor]:
    """The normalised values of black and white per channel, ``(3, 1, 1, 1)`` each: the range of a real clip."""
    mean, std = _mean_std()
    return (0 - mean) / std, (1 - mean) / std
