"""Video models: plain ``nn.Module``s behind one registry.

Importing this package registers every family (one module per family).
"""

# Imported for their side effect: each module registers its builders.
from . import c3d, i3d, lecture_examples, single_frame  # noqa: F401
from .layers.inflate import inflate
from .registry import ModelInfo, builder_arguments, create_model, list_models, model_info, register_model

__all__ = ["ModelInfo", "builder_arguments", "create_model", "inflate", "list_models", "model_info", "register_model"]
