"""2D image backbones from torchvision, with their classifier removed, for frame-based video models."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names


def load_local_checkpoint(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a local state dict (a torchvision ``.pth`` or a Lightning ``.ckpt``) into ``model``, strictly.

    Nothing is ever downloaded: ``path`` must be a file on disk.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"pretrained checkpoint {str(path)!r} does not exist (weights load only from a local file)"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:  # a Lightning checkpoint
        state = state["state_dict"]
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {str(path)!r} does not match {type(model).__name__}: "
            f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
        )
    return model


def torchvision_2d(name: str, pretrained: str | Path | None = None) -> nn.Module:
    """A torchvision image classifier by name (``resnet18``, ``mobilenet_v3_small``...), random or from a
    local file."""
    try:
        builder = torchvision.models.get_model_builder(name)
    except ValueError as err:
        choices = ", ".join(torchvision.models.list_models(module=torchvision.models)[:12])
        raise ValueError(f"backbone {name!r} is not a torchvision image model (e.g. {choices}, ...)") from err
    kwargs = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
    net = builder(weights=None, **kwargs)
    if pretrained is not None:
        load_local_checkpoint(net, pretrained)
    return net


def _last_node_before_pool(net: nn.Module) -> str:
    """Name of the graph node that produces the final spatial feature map (the input of global pooling)."""
    _, nodes = get_graph_node_names(net)
    for i, node in enumerate(nodes):
        if "avgpool" in node or node in ("adaptive_avg_pool2d", "mean") or node.startswith("flatten"):
            return nodes[i - 1]
    raise ValueError(f"cannot find the global pooling of {type(net).__name__}")


class FrameBackbone(nn.Module):
    """A 2D CNN applied to images ``(N, 3, H, W)``.

    ``spatial=False`` returns pooled features ``(N, D)``; ``spatial=True`` the last feature map
    ``(N, D, h, w)``.
    """

    def __init__(self, name: str = "resnet18", pretrained: str | Path | None = None, spatial: bool = False):
        super().__init__()
        net = torchvision_2d(name, pretrained)
        self.trunk = create_feature_extractor(net, {_last_node_before_pool(net): "features"})
        self.spatial = spatial
        self.out_channels = self.feature_map_shape(64)[0]

    def feature_map_shape(self, size: int) -> tuple[int, ...]:
        """The shape ``(D, h, w)`` of the feature map of one ``size x size`` frame (one probe pass)."""
        was_training = self.trunk.training
        device = next(self.trunk.parameters()).device
        with torch.no_grad():
            self.trunk.eval()
            shape = self.trunk(torch.zeros(1, 3, size, size, device=device))["features"].shape[1:]
        self.trunk.train(was_training)
        return tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.trunk(x)["features"]  # (N, D, h, w)
        return feats if self.spatial else feats.mean(dim=(2, 3))
