"""Model registry: every architecture is a builder function registered under a stable name.

A builder takes ``num_classes`` plus keyword overrides and returns a plain ``nn.Module`` whose forward maps a
clip ``(B, C, T, H, W)`` (or a dict of modalities) to logits ``(B, num_classes)``, with timm's surface:
``num_classes``, ``num_features``, ``forward_features``, ``forward_head``, ``get_classifier``,
``reset_classifier`` (``layers/classifier.py``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

from ..clip import DEFAULT_CLIP, Clip
from ..names import close_to, matching
from .published import Published

# The output of a multi-output model that is its prediction (a fixed combination of its streams' outputs): what a
# task scores under its metrics' plain names and saves as the predictions.
PREDICTION = "fused"


@dataclass(frozen=True)
class ModelInfo:
    """What a model is and what it needs from the data. Published figures carry their source."""

    name: str
    family: str
    task: str = "classification"  # what it is built for (``lit_video.tasks``): a config of another task refuses it
    modalities: tuple[str, ...] = ("rgb",)
    # The clip the model is built for by default (and its published figures counted at, where it has them); the
    # data takes it where a config leaves frames, size or fps out.
    clip: Clip = DEFAULT_CLIP
    description: str = ""  # the builder's docstring (reStructuredText; ``lit_video.terminal.plain`` to print it)
    # Which clips it takes (``accepts``), declared by the builder's registration:
    fixed_shape: bool = False  # only its default clip, whatever its arguments (fixed position tables)
    min_frames: int = 1  # the shortest clip the architecture takes (C3D: 16; its pools must keep a cell)
    min_size: int = 1  # the smallest frame side it takes
    heavy: bool = False  # seconds to build or run on a 2-core CPU even on a tiny clip (tests mark it slow)
    # A model with several outputs returns them named, in a dict with these keys, its prediction among them
    # (``PREDICTION``); each stream of a multi-stream model lives in ``model.streams[<output>]``. Empty: one
    # output, a tensor, which is the prediction.
    outputs: tuple[str, ...] = ()
    # Figures from papers, slides, model zoos and weights cards, each with its input, options and source; never
    # measured here (``published.py``; ``lit-video report fidelity`` measures beside them).
    published: tuple[Published, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, the default clip's frames, size and fps as fields of their own."""
        fields = asdict(self)
        return {**{k: v for k, v in fields.items() if k != "clip"}, **fields["clip"]}

    def accepts(self, frames: int, size: int) -> None:
        """Raise ValueError saying why, where the model cannot take clips of ``frames`` x ``size`` x ``size``: a
        fixed-shape model takes only its default clip, others at least ``min_frames`` x ``min_size``. (An
        architecture built from its arguments, a transformer's tubelets, says what it needs when it is built.)"""
        default = self.clip
        if self.fixed_shape and (frames, size) != (default.frames, default.size):
            raise ValueError(f"model {self.name!r} takes only clips of {default.frames} frames at {default.size}x"
                             f"{default.size} px (its shape is fixed), not {frames} frames at {size}x{size} px")
        if frames < self.min_frames or size < self.min_size:
            raise ValueError(f"model {self.name!r} takes clips of at least {self.min_frames} frames at "
                             f"{self.min_size}x{self.min_size} px, not {frames} frames at {size}x{size} px")

    def input_shape(self, batch_size: int = 1, frames: int | None = None, size: int | None = None
                    ) -> tuple[int, ...] | dict[str, tuple[int, ...]]:
        """What the model takes for a batch of clips of ``frames`` x ``size`` x ``size`` (None: its default
        clip's): ``(B, 3, T, S, S)``, or a shape per modality (``Clip.shapes``: optical flow has a field fewer
        than the frames). A clip it does not take raises ValueError (``accepts``)."""
        clip = Clip(frames or self.clip.frames, size or self.clip.size, self.clip.fps)
        self.accepts(clip.frames, clip.size)
        shapes = clip.shapes(self.modalities, batch_size)
        return shapes["rgb"] if tuple(shapes) == ("rgb",) else shapes

    def fit_clip(self, frames: int, size: int) -> tuple[int, int]:
        """The clip nearest to ``frames`` x ``size`` that this model takes: its default one if its shape is
        fixed, else one at least ``min_frames`` x ``min_size``."""
        if self.fixed_shape:
            return self.clip.frames, self.clip.size
        return max(frames, self.min_frames), max(size, self.min_size)


_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
_INFO: dict[str, ModelInfo] = {}


def register_model(
    name: str | None = None,
    *,
    family: str,
    task: str = "classification",
    modalities: tuple[str, ...] = ("rgb",),
    frames: int = DEFAULT_CLIP.frames,
    size: int = DEFAULT_CLIP.size,
    fps: float = DEFAULT_CLIP.fps,
    fixed_shape: bool = False,
    heavy: bool = False,
    min_frames: int = 1,
    min_size: int = 1,
    outputs: tuple[str, ...] = (),
    published: Sequence[Published] = (),
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a builder ``fn(num_classes, **overrides) -> nn.Module`` under ``name`` (default: its name), with
    its default clip (``frames`` x ``size`` at ``fps``) and the fields of ``ModelInfo``.

    A builder whose architecture depends on the clip takes ``frames`` and / or ``size`` arguments without a
    default (the registered clip is the default: ``create_model`` always passes the clip the model will see), and
    one that depends on the labels' kind a ``multi_label`` argument.
    """
    if outputs and PREDICTION not in outputs:
        raise ValueError(f"outputs {outputs!r}: a model with several outputs names its prediction {PREDICTION!r}")

    clip = Clip(frames, size, fps)
    clip.shapes(modalities, 1)  # an unknown modality fails at registration

    def decorator(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or fn.__name__
        if key in _BUILDERS:
            raise ValueError(f"model {key!r} is already registered (by {_BUILDERS[key].__module__})")
        _BUILDERS[key] = fn
        _INFO[key] = ModelInfo(
            name=key,
            family=family,
            task=task,
            modalities=tuple(modalities),
            clip=clip,
            description=inspect.getdoc(fn) or "",
            fixed_shape=fixed_shape,
            heavy=heavy,
            min_frames=min_frames,
            min_size=min_size,
            outputs=tuple(outputs),
            published=tuple(published),
        )
        return fn

    return decorator


def _check_name(name: str) -> None:
    if name not in _BUILDERS:
        close = close_to(name, _BUILDERS)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown model {name!r}.{hint} Run `lit-video models` for the full list.")


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, sorted. ``pattern``: a glob (``"vivit*"``, with ``*``, ``?`` or ``[``) matched
    against the whole name as timm's ``list_models`` does, or a plain word matched anywhere in it
    (``lit_video.names.matching``)."""
    return matching(_BUILDERS, pattern)


def model_info(name: str) -> ModelInfo:
    _check_name(name)
    return _INFO[name]


# Builder arguments the data decides, not options: ``create_model`` passes them to the builders that take them.
DATA_ARGUMENTS = ("frames", "size", "multi_label")


def builder_arguments(name: str) -> dict[str, inspect.Parameter]:
    """The keyword overrides a builder accepts (used to validate configs before training); the clip's frames and
    size and the labels' kind (``DATA_ARGUMENTS``) are not among them: they are the data's."""
    _check_name(name)
    params = inspect.signature(_BUILDERS[name]).parameters
    return {k: p for k, p in params.items()
            if k not in ("num_classes", *DATA_ARGUMENTS) and p.kind is not p.VAR_KEYWORD}


def create_model(name: str, num_classes: int, *, frames: int | None = None, size: int | None = None,
                 multi_label: bool = False, **overrides: Any) -> nn.Module:
    """Build model ``name`` with ``num_classes`` outputs. Unknown overrides raise with the accepted ones.

    ``frames`` / ``size`` are the clip the model will see (``(B, C, frames, size, size)``; None: the model's
    default clip; one it does not take raises ValueError, ``ModelInfo.accepts``) and ``multi_label`` whether a video
    has several labels: the one place that passes them on, to the builders whose architecture depends on them (C3D's
    FC6, a transformer's position table, a late fusion of class probabilities). Other models are built the same for
    every clip and labels.

    ``pretrained`` (where a builder takes it): a local checkpoint path, True for the network's published weights
    (torchvision's), None / False for random initialisation. A model whose builder does not take it accepts only
    None / False.
    """
    info = model_info(name)
    fn = _BUILDERS[name]
    params = inspect.signature(fn).parameters
    if "pretrained" in overrides and "pretrained" not in params:
        # A model with no weights of any kind to start from (C3D, the small transformers...): random init only.
        if overrides["pretrained"] is not None and overrides["pretrained"] is not False:
            raise ValueError(f"model {name!r} has no published weights: pretrained takes only None or False (random "
                             "initialisation) for it; model.init_weights starts training from a lit-video checkpoint")
        overrides = {k: v for k, v in overrides.items() if k != "pretrained"}
    unknown = sorted(set(overrides) - set(builder_arguments(name)))
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        accepted = ", ".join(sorted(builder_arguments(name))) or "none"
        raise TypeError(f"model {name!r} does not take {', '.join(unknown)}; it accepts: {accepted}")
    data = {"frames": frames or info.clip.frames, "size": size or info.clip.size, "multi_label": multi_label}
    info.accepts(data["frames"], data["size"])
    return fn(num_classes=num_classes, **{k: v for k, v in data.items() if k in params}, **overrides)
