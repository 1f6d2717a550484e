"""Video models: plain ``nn.Module``s behind one registry.

Importing this package registers every family (one module per family).
"""

# Imported for their side effect: each module registers its builders.
from . import (  # noqa: F401
    c3d,
    conv_gru,
    early_fusion,
    i3d,
    late_fusion,
    lecture_examples,
    lrcn,
    single_frame,
    slow_fusion,
    timesformer,
    torchvision_video,
    two_stream,
    vivit,
)
from .layers.inflate import inflate
from .registry import (
    DATA_ARGUMENTS,
    PREDICTION,
    ModelInfo,
    builder_arguments,
    create_model,
    list_models,
    model_info,
    register_model,
)

__all__ = ["DATA_ARGUMENTS", "PREDICTION", "ModelInfo", "builder_arguments", "create_model", "inflate", "list_models",
           "model_info", "register_model"]
