"""Figures published for an architecture, each with what makes it comparable: the input it was measured at, the
builder options that give the published network, the class count, the evaluation protocol of an accuracy, and
the source a reader can open. Nothing here is measured; ``lit-video report fidelity`` measures the same network
at the same input beside every figure (``docs/fidelity.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


def describe_setup(input_shape: str, num_classes: int, model_args: Mapping[str, Any]) -> str:
    """What a figure depends on besides the architecture's name: ``"3x16x112x112, 101 classes, pool5_padding=True"``."""
    return f"{input_shape}, {num_classes} classes" + "".join(f", {k}={v}" for k, v in model_args.items())


@dataclass(frozen=True)
class EvalProtocol:
    """How a published accuracy was measured: ``clips`` clips of ``frames`` frames (sampled at ``fps``) per
    video, ``crops`` crops of ``size`` x ``size`` per clip, the scores averaged over the ``clips x crops`` views."""

    frames: int
    clips: int
    crops: int
    size: int
    fps: float | None = None

    def __str__(self) -> str:
        rate = f" at {self.fps:g} fps" if self.fps else ""
        return (f"{self.clips} clip(s) x {self.crops} crop(s) of {self.frames} frames{rate}, "
                f"{self.size}x{self.size}")


@dataclass(frozen=True)
class Published:
    """One source's figures for one architecture.

    ``input`` (``"CxTxHxW"``, e.g. ``"3x16x112x112"``) is the clip ``gmacs`` and ``layers`` are for; where the
    source does not state it, ``input_note`` says how it is known. ``model_args`` are the builder options that
    give the published network (``{}``: the defaults), ``num_classes`` the classes of ``params``. ``differs``
    says why lit-video's network or count differs from the published one, where it knowingly does. An accuracy
    (``top1`` on ``dataset``) needs its ``protocol``: its clip need not be the cost's.
    """

    source: str  # where to read the figures: repository, file and commit, or paper / slides and table
    input: str
    gmacs: float | None = None  # 10^9 multiply-accumulates for one clip of ``input``
    params: int | None = None
    num_classes: int = 400
    model_args: Mapping[str, Any] = field(default_factory=dict)
    input_note: str = ""
    differs: str = ""
    # Per layer (lit-video's module names): {"conv1": {"gmacs": 1.04, "output_shape": [...], ...}}.
    layers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    dataset: str = ""
    top1: float | None = None
    top5: float | None = None
    protocol: EvalProtocol | None = None

    def __post_init__(self) -> None:
        if (self.top1 is not None or self.top5 is not None) and (self.protocol is None or not self.dataset):
            raise ValueError(f"an accuracy needs its dataset and evaluation protocol ({self.source})")
        if len(self.clip_shape) != 4:
            raise ValueError(f"input must be CxTxHxW, got {self.input!r} ({self.source})")

    @property
    def clip_shape(self) -> tuple[int, ...]:
        """``input`` as ``(C, T, H, W)``."""
        return tuple(int(d) for d in self.input.split("x"))

    def applies_to(self, model_args: Mapping[str, Any], input_shape: str, num_classes: int) -> bool:
        """Whether a count of this network (``model_args``) at ``input_shape`` with ``num_classes`` classes
        measures what this source published."""
        return dict(model_args) == dict(self.model_args) and input_shape == self.input \
            and num_classes == self.num_classes

    def setup(self) -> str:
        """The input, class count and builder options the figures are for (``describe_setup``)."""
        return describe_setup(self.input, self.num_classes, self.model_args)

    def accuracy(self) -> str:
        """The accuracy with its protocol, and a warning where its clip is not the one the cost is for."""
        if self.top1 is None:
            return ""
        text = f"top-1 {self.top1:g} on {self.dataset} ({self.protocol})"
        frames = self.clip_shape[1]
        if self.protocol.frames != frames:
            text += f"; not the {frames}-frame clip the GMACs are for"
        return text

    def summary(self) -> str:
        """One line: the cost at its input and options, and the accuracy with its protocol."""
        parts = []
        if self.gmacs is not None or self.params is not None:
            cost = [f"{self.gmacs:.4g} GMACs" if self.gmacs is not None else "",
                    f"{self.params / 1e6:.2f} M params" if self.params is not None else ""]
            parts.append(f"{' / '.join(c for c in cost if c)} at {self.setup()}")
        if self.top1 is not None:
            parts.append(self.accuracy())
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
