"""Looking inside trained video models (the lecture's "Visualizing Video Models", Feichtenhofer et al. 2018/2019):
class-model inputs by activation maximisation (``class_model``) and where in space and time a decision comes from
(``saliency``), for any registry model a lit-video checkpoint holds. ``render`` turns both into files a person can
watch; ``lit-video visualize`` (``cli``) runs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import VideoDataModule
from ..data.flow import FlowSettings
from ..data.transforms import MEAN, STD
from ..models import PREDICTION, model_info
from ..models.layers.backbone import load_weights
from ..tasks import VideoClassifier
from ..tasks.checkpoint import init_arguments, read_checkpoint


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
    machine has no copy). A file that is not such a checkpoint, or whose weights do not fit the model its settings
    build, is a one-line ValueError naming it."""
    saved = read_checkpoint(checkpoint)
    where = f"checkpoint {str(saved.path)!r}"
    try:  # contiguous: no layout to measure; init_weights: the weights are the checkpoint's, not a first stage's
        module = VideoClassifier(**{**init_arguments(VideoClassifier, saved.model), "memory_format": "contiguous",
                                    "init_weights": None})
    except (TypeError, ValueError) as err:  # settings this version's registry no longer builds
        raise ValueError(f"{where}: its model settings do not build: {err}") from err
    load_weights(module, saved.state_dict, where)
    module.to(device).eval().requires_grad_(False)
    # Without the run's log folder: the skipped-videos list of a look is not the run's.
    data = VideoDataModule(**{**init_arguments(VideoDataModule, saved.data), "log_dir": None})
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
