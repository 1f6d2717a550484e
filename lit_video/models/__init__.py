"""Video models: plain ``nn.Module``s behind one registry.

Importing this package registers every family (one module per family).
"""

from . import single_frame  # noqa: F401  (registers its builders)
from .registry import ModelInfo, builder_arguments, create_model, list_models, model_info, register_model

__all__ = ["ModelInfo", "builder_arguments", "create_model", "list_models", "model_info", "register_model"]
