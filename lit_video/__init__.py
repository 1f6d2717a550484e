"""lit-video: a PyTorch Lightning benchmark suite for video-understanding architectures.

    from lit_video import VideoClassifier, VideoDataModule, count_flops, create_model, list_models, model_info

The registry (``create_model``, ``list_models``, ``model_info``), the FLOP counter (``count_flops``), the clip
classification task's LightningModule (``VideoClassifier``) and its DataModule (``VideoDataModule``; no ``root``: the
built-in synthetic dataset). README.md, "Python", shows them together.

Each name is imported on first use (PEP 562), so ``import lit_video`` alone, and the commands that need no model
(``lit-video --help``, ``--version``), do not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# The one owner of the version: pyproject.toml reads it from here, ``lit-video --version`` prints it.
__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "VideoClassifier": "lit_video.tasks",
    "VideoDataModule": "lit_video.data",
    "count_flops": "lit_video.profiling",
    "create_model": "lit_video.models",
    "list_models": "lit_video.models",
    "model_info": "lit_video.models",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lit_video' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # imported once: later look-ups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
