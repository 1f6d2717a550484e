"""A lit-video checkpoint a user names (``lit-video test --ckpt_path``, ``lit-video visualize --ckpt``): read once,
with what built its model and its data, and any file that is not one refused in one line saying why."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data import CLIP_SETTINGS
from ..models import model_info
from ..models.layers.backbone import read_torch_file


@dataclass(frozen=True)
class Checkpoint:
    """What a lit-video run saved (Lightning's ``save_hyperparameters`` of the LightningModule and the DataModule,
    and the weights): ``model``, the module's arguments (the model's ``name``, its ``model_args``, ...); ``data``,
    the DataModule's (its ``root`` and the clip it trained on, ``CLIP_SETTINGS``); ``state_dict``."""

    path: Path
    model: dict[str, Any]
    data: dict[str, Any]
    state_dict: dict[str, torch.Tensor]

    @property
    def name(self) -> str:
        """The model's registry name."""
        return self.model["name"]

    def clip(self) -> dict[str, Any]:
        """The data settings the model was trained on that decide what it sees of a video (``CLIP_SETTINGS``), those
        the checkpoint has (one from an older lit-video may lack some)."""
        return {key: self.data[key] for key in CLIP_SETTINGS if key in self.data}

    def clip_words(self) -> str:
        """The trained clip in words: ``4 frames at 8 fps, 32 px (resized to 32)``."""
        data = self.data
        resized = f" (resized to {data['resize']})" if data.get("resize") else ""
        return f"{data['frames']} frames at {data['fps']:g} fps, {data['size']} px{resized}"


def init_arguments(cls: type, saved: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``saved`` (a checkpoint's ``model`` or ``data``) that ``cls`` takes: the checkpoint holds
    Lightning's own beside them (LightningCLI's instantiator)."""
    accepted = inspect.signature(cls).parameters
    return {key: value for key, value in saved.items() if key in accepted}


def read_checkpoint(path: str | Path) -> Checkpoint:
    """The lit-video checkpoint at ``path``. One line naming the file for anything else: FileNotFoundError where it
    is not a file, ValueError where torch cannot read it (truncated, text) or it holds weights without the
    settings that built them."""
    saved = read_torch_file(path)
    where = f"checkpoint {str(path)!r}"
    model = saved.get("hyper_parameters") if isinstance(saved, dict) else None
    data = saved.get("datamodule_hyper_parameters") if isinstance(saved, dict) else None
    if not (isinstance(model, dict) and "name" in model and isinstance(data, dict) and "state_dict" in saved):
        raise ValueError(f"{where} is not a lit-video checkpoint: it lacks the model's and the data's settings "
                         "beside the weights (lit-video fit saves them)")
    try:
        model_info(model["name"])
    except KeyError as err:
        raise ValueError(f"{where} holds {err.args[0]}") from err
    return Checkpoint(Path(path), model, data, saved["state_dict"])
