"""2D image backbones for frame-based video models: torchvision's networks with their classifier removed, and
the small-image ResNets of He et al. (2016, section 4.2) for clips of 32 to 64 px."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn
from torchvision.models import WeightsEnum
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names
from torchvision.models.resnet import BasicBlock, conv1x1

# The CIFAR ResNets of He et al. 2016 (section 4.2): depth 6n + 2, n basic blocks per stage; name: (n, stem
# stride). "_s2": the stem at stride 2, a quarter of the cost (16 x 16 maps at 32 px), for CPU budgets.
SMALL_IMAGE_RESNETS = {"cifar_resnet8": (1, 1), "cifar_resnet14": (2, 1), "cifar_resnet20": (3, 1),
                       "cifar_resnet8_s2": (1, 2), "cifar_resnet20_s2": (3, 2)}

# A builder's ``pretrained``: a local checkpoint path, True for the network's published weights, None / False for
# random initialisation (``resolve_pretrained``).
Pretrained = str | Path | bool | None

# torchvision's published GoogLeNet / Inception-v3 weights hold their auxiliary classifiers; the 2D networks here are
# built without them, as torchvision's own builders drop them after loading.
AUX_CLASSIFIERS = ("aux1.", "aux2.", "AuxLogits.")


def resolve_pretrained(pretrained: object, network: str, weights: WeightsEnum | None
                       ) -> str | Path | WeightsEnum | None:
    """What ``pretrained`` asks ``network`` (``"model 'r3d_18'"``, ``"backbone 'resnet18'"``) to start from: a local
    checkpoint path, its published ``weights`` (for True; None where it has none), or None (random, for None /
    False). Anything else is a one-line ValueError saying what ``pretrained`` takes for it."""
    if pretrained is None or pretrained is False:
        return None
    if isinstance(pretrained, str | Path):
        return pretrained
    if pretrained is True and weights is not None:
        return weights
    accepts = (f"a local checkpoint path, True (torchvision's {weights!r}) or None" if weights is not None
               else "a local checkpoint path (or None)")
    if pretrained is True:
        raise ValueError(f"{network} has no published weights: pretrained takes {accepts}")
    raise ValueError(f"{network}: pretrained takes {accepts}, got {pretrained!r}")


def read_torch_file(path: str | Path, what: str = "checkpoint") -> Any:
    """What a torch file a user names holds (a checkpoint, a state dict), read on the CPU without running code from
    it (``weights_only``). FileNotFoundError where ``path`` is not a file, a one-line ValueError where torch cannot
    read it; each names it as ``what``."""
    path = Path(path)
    where = f"{what} {str(path)!r}"
    if not path.is_file():  # a folder, or a FIFO, which would block the read
        raise FileNotFoundError(f"{where} is not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 (torch raises a type per failure: zip, pickle, EOF, OS errors)
        text = str(err).strip()
        why = text.split(". ")[0].splitlines()[0][:120] if text else type(err).__name__
        raise ValueError(f"{where} cannot be read ({why}): not a torch file, or a damaged one") from err


def read_state_dict(path: str | Path) -> Mapping[str, torch.Tensor]:
    """The state dict in a local file (a torchvision ``.pth`` or a Lightning ``.ckpt``); ``path`` must exist."""
    state = read_torch_file(path, "pretrained checkpoint")
    if isinstance(state, dict) and "state_dict" in state:  # a Lightning checkpoint
        state = state["state_dict"]
    return state


def load_weights(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> nn.Module:
    """Load ``state`` into ``model``, strictly; where the names or shapes disagree, a one-line ValueError naming
    ``source``, where it came from."""
    own = model.state_dict()
    reshaped = [f"{key} {tuple(value.shape)}, not {tuple(own[key].shape)}" for key, value in state.items()
                if key in own and getattr(value, "shape", None) != own[key].shape]
    if reshaped:  # torch raises them with every key's lines, even unstrict
        raise ValueError(f"{source} does not match {type(model).__name__}: shapes differ, "
                         f"{'; '.join(reshaped[:3])}{'...' if len(reshaped) > 3 else ''}")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{source} does not match {type(model).__name__}: "
            f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
        )
    return model


def load_local_checkpoint(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a local state dict (a torchvision ``.pth`` or a Lightning ``.ckpt``) into ``model``, strictly."""
    return load_weights(model, read_state_dict(path), f"checkpoint {str(path)!r}")


def torchvision_2d(name: str, pretrained: Pretrained = None) -> nn.Module:
    """A torchvision image classifier by name (``resnet18``, ``mobilenet_v3_small``...): random, from a local
    file, or (``pretrained=True``) with torchvision's ``DEFAULT`` ImageNet weights, loaded as a local file is."""
    try:
        builder = torchvision.models.get_model_builder(name)
    except ValueError as err:
        choices = ", ".join(torchvision.models.list_models(module=torchvision.models)[:12])
        raise ValueError(f"backbone {name!r} is not a torchvision image model (e.g. {choices}, ...)") from err
    source = resolve_pretrained(pretrained, f"backbone {name!r}", torchvision.models.get_model_weights(name).DEFAULT)
    kwargs = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
    net = builder(weights=None, **kwargs)
    if source is None:
        return net
    if isinstance(source, WeightsEnum):
        # torchvision's weights API, called as its builders call it: torch hub's cache, a download only if missing.
        state, origin = source.get_state_dict(progress=True, check_hash=True), f"torchvision's {source!r}"
    else:
        state, origin = read_state_dict(source), f"checkpoint {str(source)!r}"
    return load_weights(net, {k: v for k, v in state.items() if not k.startswith(AUX_CLASSIFIERS)}, origin)


def cifar_resnet(blocks_per_stage: int, stem_stride: int = 1, widths: tuple[int, int, int] = (16, 32, 64)
                 ) -> nn.Sequential:
    """The ResNet He et al. built for 32 x 32 images, without its classifier: a 3x3 stem at stride 1 and no
    max-pool, then three stages of ``blocks_per_stage`` basic blocks at strides 1, 2, 2 (``widths`` channels).
    ImageNet ResNets shrink the frame 32-fold, so a 32 px frame leaves one cell after their stem and first stage
    have thrown most of it away; this one keeps an 8 x 8 map at 32 px (4 x 4 with ``stem_stride=2``).
    Output: ``(N, widths[-1], H / (4 * stem_stride), W / (4 * stem_stride))``."""
    layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, stem_stride, padding=1, bias=False),
                               nn.BatchNorm2d(widths[0]),
                               nn.ReLU(inplace=True)]
    channels = widths[0]
    for stage, width in enumerate(widths):
        for block in range(blocks_per_stage):
            stride = 2 if stage > 0 and block == 0 else 1
            downsample = None
            # Projection shortcuts where the shape changes (option B, as torchvision's ResNets); the paper's CIFAR
            # nets pad the identity with zeros (option A): ResNet-20 here has 2,752 more parameters.
            if stride != 1 or channels != width:
                downsample = nn.Sequential(conv1x1(channels, width, stride), nn.BatchNorm2d(width))
            layers.append(BasicBlock(channels, width, stride, downsample))
            channels = width
    net = nn.Sequential(*layers)
    for m in net.modules():  # torchvision ResNet's initialisation
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net


def _last_node_before_pool(net: nn.Module) -> str:
    """Name of the graph node that produces the final spatial feature map (the input of global pooling)."""
    _, nodes = get_graph_node_names(net)
    for i, node in enumerate(nodes):
        if "avgpool" in node or node in ("adaptive_avg_pool2d", "mean") or node.startswith("flatten"):
            return nodes[i - 1]
    raise ValueError(f"cannot find the global pooling of {type(net).__name__}")


class FrameBackbone(nn.Module):
    """A 2D CNN applied to images ``(N, 3, H, W)``: a torchvision image network by name (``resnet18``...) or one
    of the small-image ResNets (``SMALL_IMAGE_RESNETS``: ``cifar_resnet8``, ``cifar_resnet20``, ...).

    ``spatial=False`` returns pooled features ``(N, D)``; ``spatial=True`` the last feature map
    ``(N, D, h, w)``.
    """

    def __init__(self, name: str = "resnet18", pretrained: Pretrained = None, spatial: bool = False):
        super().__init__()
        if name in SMALL_IMAGE_RESNETS:
            self.trunk = cifar_resnet(*SMALL_IMAGE_RESNETS[name])
            source = resolve_pretrained(pretrained, f"backbone {name!r}", None)  # none published
            if source is not None:
                load_local_checkpoint(self.trunk, source)
        else:
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
            shape = self._features(torch.zeros(1, 3, size, size, device=device)).shape[1:]
        self.trunk.train(was_training)
        return tuple(shape)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.trunk(x)
        return feats["features"] if isinstance(feats, dict) else feats  # torchvision's extractor names its output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self._features(x)  # (N, D, h, w)
        return feats if self.spatial else feats.mean(dim=(2, 3))
