"""lit-video: a PyTorch Lightning benchmark suite for video-understanding architectures.

    from lit_video import VideoClassifier, VideoDataModule, count_flops, create_model, list_models, model_info

The registry (``create_model``, ``list_models``, ``model_info``), the FLOP counter (``count_flops``), the clip
classification task's LightningModule (``VideoClassifier``) and its DataModule (``VideoDataModule``; no ``root``: the
built-in synthetic dataset). README.md, "Python", shows them together.
"""

__version__ = "0.1.0"

from .data import VideoDataModule
from .models import create_model, list_models, model_info
from .profiling import count_flops
from .tasks import VideoClassifier

__all__ = ["VideoClassifier", "VideoDataModule", "__version__", "count_flops", "create_model", "list_models",
           "model_info"]
