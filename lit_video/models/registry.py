"""Model registry: every architecture is a builder function registered under a stable name.

A builder takes ``num_classes`` plus keyword overrides and returns a plain ``nn.Module`` whose forward maps a
clip ``(B, C, T, H, W)`` (or a dict of modalities) to logits ``(B, num_classes)``, with timm's surface:
``num_classes``, ``num_features``, ``forward_features``, ``forward_head``, ``get_classifier``,
``reset_classifier`` (``layers/classifier.py``).
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

from .published import Published

# Channels of each input modality: RGB frames, and optical flow (dx, dy) between consecutive frames.
MODALITY_CHANNELS = {"rgb": 3, "flow": 2}


@dataclass(frozen=True)
class ModelInfo:
    """What a model is and what it needs from the data. Published figures carry their source."""

    name: str
    family: str
    modalities: tuple[str, ...] = ("rgb",)
    frames: int = 8
    size: int = 112
    fps: float = 5.0
    description: str = ""
    # Capabilities that callers (tests, sweeps) branch on, declared by the builder's registration:
    fixed_shape: bool = False  # takes only its default clip, whatever its arguments (fixed position tables)
    heavy: bool = False  # seconds to build or run on a 2-core CPU even on a tiny clip
    min_frames: int = 1  # the shortest clip the architecture takes (C3D: 16; its pools must keep a cell)
    min_size: int = 1  # the smallest frame side it takes
    # Figures from papers, slides, model zoos and weights cards, each with its input, options and source; never
    # measured here (``published.py``; ``lit-video report fidelity`` measures beside them).
    published: tuple[Published, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def input_shape(self, batch_size: int, frames: int, size: int
                    ) -> tuple[int, ...] | dict[str, tuple[int, ...]]:
        """What the model takes for clips of ``frames`` x ``size`` x ``size``: ``(B, 3, T, S, S)``, or a shape per
        modality, optical flow having a field fewer than the frames (the lecture's ``2*(T-1)`` flow images)."""
        shapes = {m: (batch_size, MODALITY_CHANNELS[m], frames - (m == "flow"), size, size) for m in self.modalities}
        return shapes["rgb"] if tuple(shapes) == ("rgb",) else shapes

    def fit_clip(self, frames: int, size: int) -> tuple[int, int]:
        """The clip nearest to ``frames`` x ``size`` that this model takes: its default one if its shape is
        fixed, else one at least ``min_frames`` x ``min_size``."""
        if self.fixed_shape:
            return self.frames, self.size
        return max(frames, self.min_frames), max(size, self.min_size)


_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
_INFO: dict[str, ModelInfo] = {}


def register_model(
    name: str | None = None,
    *,
    family: str,
    modalities: tuple[str, ...] = ("rgb",),
    frames: int = 8,
    size: int = 112,
    fps: float = 5.0,
    fixed_shape: bool = False,
    heavy: bool = False,
    min_frames: int = 1,
    min_size: int = 1,
    published: Sequence[Published] = (),
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a builder ``fn(num_classes, **overrides) -> nn.Module`` under ``name`` (default: its name).

    A builder whose architecture depends on the clip takes ``frames`` and / or ``size`` arguments, defaulting
    to the registered ``frames`` / ``size``; ``create_model`` passes it the clip the model will see.
    """

    unknown = [m for m in modalities if m not in MODALITY_CHANNELS]
    if unknown or not modalities:
        raise ValueError(f"modalities {modalities!r}: choose from {', '.join(MODALITY_CHANNELS)}")

    def decorator(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or fn.__name__
        if key in _BUILDERS:
            raise ValueError(f"model {key!r} is already registered (by {_BUILDERS[key].__module__})")
        doc = inspect.getdoc(fn) or ""
        _BUILDERS[key] = fn
        _INFO[key] = ModelInfo(
            name=key,
            family=family,
            modalities=tuple(modalities),
            frames=frames,
            size=size,
            fps=fps,
            description=doc.splitlines()[0] if doc else "",
            fixed_shape=fixed_shape,
            heavy=heavy,
            min_frames=min_frames,
            min_size=min_size,
            published=tuple(published),
        )
        return fn

    return decorator


def _check_name(name: str) -> None:
    if name not in _BUILDERS:
        close = difflib.get_close_matches(name, _BUILDERS, n=5, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown model {name!r}.{hint} Run `lit-video models` for the full list.")


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, sorted. ``pattern``: a glob (``"vivit*"``, with ``*``, ``?`` or ``[``) matched
    against the whole name as timm's ``list_models`` does, or a plain word matched anywhere in it."""
    if pattern is None:
        return sorted(_BUILDERS)
    if any(c in pattern for c in "*?["):
        return sorted(fnmatch.filter(_BUILDERS, pattern))
    return sorted(n for n in _BUILDERS if pattern in n)


def model_info(name: str) -> ModelInfo:
    _check_name(name)
    return _INFO[name]


def builder_arguments(name: str) -> dict[str, inspect.Parameter]:
    """The keyword overrides a builder accepts (used to validate configs before training)."""
    _check_name(name)
    params = inspect.signature(_BUILDERS[name]).parameters
    return {k: p for k, p in params.items() if k != "num_classes" and p.kind is not p.VAR_KEYWORD}


def create_model(name: str, num_classes: int, *, frames: int | None = None, size: int | None = None,
                 **overrides: Any) -> nn.Module:
    """Build model ``name`` with ``num_classes`` outputs. Unknown overrides raise with the accepted ones.

    ``frames`` / ``size`` are the clip the model will see (``(B, C, frames, size, size)``): the one place that
    passes them on, to the builders that take them (architectures built for one clip shape, e.g. C3D's FC6).
    Other models take any clip and ignore them; ``None`` keeps the builder's default.

    ``pretrained`` (where a builder takes it): a local checkpoint path, True for the network's published weights
    (torchvision's), None / False for random initialisation. A model whose builder does not take it accepts only
    None / False.
    """
    _check_name(name)
    fn = _BUILDERS[name]
    params = inspect.signature(fn).parameters
    if "pretrained" in overrides and "pretrained" not in params:
        # A model with no weights of any kind to start from (C3D, the small transformers...): random init only.
        if overrides["pretrained"] is not None and overrides["pretrained"] is not False:
            raise ValueError(f"model {name!r} has no published weights: pretrained takes only None or False (random "
                             "initialisation) for it; model.init_weights starts training from a lit-video checkpoint")
        overrides = {k: v for k, v in overrides.items() if k != "pretrained"}
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(overrides) - set(params))
        if unknown:
            accepted = ", ".join(sorted(builder_arguments(name))) or "none"
            raise TypeError(f"model {name!r} does not take {', '.join(unknown)}; it accepts: {accepted}")
    clip = {k: v for k, v in (("frames", frames), ("size", size)) if v is not None and k in params}
    return fn(num_classes=num_classes, **clip, **overrides)
