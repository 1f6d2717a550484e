"""Fidelity: every figure published for a registry model (``model_info(name).published``) beside the same
network (the same builder options and classes) counted by lit-video at the same input.

A number agrees within ``TOLERANCE``; a shape or receptive field agrees exactly (size-1 axes aside: the lecture
writes a pooled 3D output as 24 x 1 x 1). A figure that does not agree must say why (``Published.differs``, or
a layer's own ``"differs"``), else it is a fidelity failure (``FidelityRow.verdict``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models import create_model, list_models, model_info
from ..models.published import Published
from ..profiling import FlopReport, count_flops
from ..profiling.inputs import model_to_count

TOLERANCE = 0.02
AGREES, DOCUMENTED, FAILS = "agrees", "differs (documented)", "FAILS"


@dataclass(frozen=True)
class FidelityRow:
    """One published figure and lit-video's measurement of it."""

    model: str
    figure: Published
    quantity: str  # "GMACs", "params", or "<layer> <field>" (output_shape, receptive_field, gmacs)
    published: Any
    measured: Any
    differs: str  # why it differs, where the figure says

    @property
    def difference(self) -> float | None:
        """(measured - published) / published for numbers; None for shapes."""
        if isinstance(self.published, list):
            return None
        return (self.measured - self.published) / self.published

    @property
    def agrees(self) -> bool:
        if isinstance(self.published, list):
            return [d for d in self.measured if d != 1] == [d for d in self.published if d != 1]
        return abs(self.difference) <= TOLERANCE

    @property
    def verdict(self) -> str:
        return AGREES if self.agrees else DOCUMENTED if self.differs else FAILS


def _count(name: str, figure: Published) -> FlopReport:
    """The published network at the published input: on the meta device, or for real where the figure has
    receptive fields (measured by running the network)."""
    _, frames, height, width = figure.clip_shape
    if height != width:
        raise ValueError(f"{name}: lit-video counts square frames, {figure.input} is not")
    shape = model_info(name).input_shape(1, frames, height)
    if any("receptive_field" in layer for layer in figure.layers.values()):
        model = create_model(name, figure.num_classes, frames=frames, size=height, **figure.model_args)
        return count_flops(model, shape, receptive_field=True)
    model = model_to_count(name, figure.num_classes, frames=frames, size=height, **figure.model_args)
    return count_flops(model, shape)


def figure_rows(name: str, figure: Published) -> list[FidelityRow]:
    """The rows of one published figure: its total cost and parameters, then its layers in its own order."""
    report = _count(name, figure)
    rows = []
    for quantity, published, measured in (("GMACs", figure.gmacs, report.gmacs),
                                          ("params", figure.params, report.params)):
        if published is not None:
            rows.append(FidelityRow(name, figure, quantity, published, measured, figure.differs))
    layers = {layer.name: layer for layer in report.layers}
    for layer_name, fields in figure.layers.items():
        if layer_name not in report.output_shapes:
            raise ValueError(f"{name}: published layer {layer_name!r} is not a module of the network that runs "
                             f"(`lit-video profile {name} --layers` lists them)")
        layer = layers.get(layer_name)  # a container (an Inception block) has a shape, no figures of its own
        measured_fields = {"output_shape": report.output_shapes[layer_name][1:],
                           "receptive_field": layer and layer.receptive_field, "gmacs": layer and layer.gmacs}
        for field, published in fields.items():
            if field != "differs":
                rows.append(FidelityRow(name, figure, f"{layer_name} {field}", published, measured_fields[field],
                                        fields.get("differs", "")))
    return rows


def fidelity_rows(names: list[str] | None = None) -> list[FidelityRow]:
    """Every published figure of the registry (or of ``names``), measured."""
    return [row for name in (list_models() if names is None else names)
            for figure in model_info(name).published for row in figure_rows(name, figure)]


def _number(value: float, quantity: str) -> str:
    return f"{value:,}" if quantity == "params" else f"{value:.3f}"


def _value(value: Any, quantity: str) -> str:
    if isinstance(value, list):
        return " x ".join(map(str, value))
    return _number(value, quantity)


def render(rows: list[FidelityRow], command: str) -> str:
    """``docs/fidelity.md``: a table of totals, a table of layers, the notes they point to, the accuracies with
    their protocols, and the models with nothing published."""
    notes: dict[str, int] = {}

    def note(text: str) -> str:
        if not text:
            return ""
        notes.setdefault(text, len(notes) + 1)
        return f" [{notes[text]}]"

    totals = [r for r in rows if r.quantity in ("GMACs", "params")]
    layers = [r for r in rows if r not in totals]
    failing = sum(r.verdict == FAILS for r in rows)
    lines = [
        "# Fidelity: published figures beside lit-video's own count",
        "",
        f"Generated by `{command}`; `tests/test_fidelity.py` recomputes every row and checks this file against it.",
        "Each published figure stands beside the same network (the builder options and class count it was "
        "published for) counted by lit-video at the same input (C x T x H x W, one clip), with "
        "`count_flops` (torch.utils.flop_counter on meta tensors: convolutions and matrix products, not norms, "
        "activations or pools). GMACs are 10^9 multiply-accumulates (GFLOPs = 2 x GMACs); most sources call "
        f"them FLOPs. A number agrees within {TOLERANCE:.0%}, a shape exactly; a figure that does not agree says "
        "why in its note.",
        "",
        f"{len(rows)} figures: {sum(r.verdict == AGREES for r in rows)} agree, "
        f"{sum(r.verdict == DOCUMENTED for r in rows)} differ for a documented reason, {failing} fail.",
        "",
        "## Cost and parameters",
        "",
        "| model | input, classes, options | figure | published | lit-video | difference | verdict | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in totals:
        lines.append(f"| `{r.model}` | {r.figure.setup()}{note(r.figure.input_note)} | {r.quantity} | "
                     f"{_number(r.published, r.quantity)} | {_number(r.measured, r.quantity)} | "
                     f"{r.difference:+.2%} | {r.verdict}{note(r.differs)} | {r.figure.source} |")
    lines += ["", "## Layers", "",
              "Output shapes are C x T x H x W (or C x H x W) without the batch; receptive fields T x H x W in input "
              "frames and pixels, measured by running the network (`lit-video profile NAME --layers`).", "",
              "| model | input | layer, figure | published | lit-video | verdict | source |",
              "|---|---|---|---|---|---|---|"]
    for r in layers:
        difference = "" if r.difference is None else f" ({r.difference:+.1%})"
        lines.append(f"| `{r.model}` | {r.figure.input} | {r.quantity} | {_value(r.published, r.quantity)} | "
                     f"{_value(r.measured, r.quantity)}{difference} | {r.verdict}{note(r.differs)} | "
                     f"{r.figure.source} |")
    lines += ["", "## Notes", ""] + [f"{n}. {text}" for text, n in notes.items()]
    accuracies = [(name, f) for name in list_models() for f in model_info(name).published if f.top1 is not None]
    lines += ["", "## Published accuracies and how they were measured", "",
              "Never measured here: each with the evaluation protocol it was published with, which is not always "
              "the clip its cost is published for.", "",
              "| model | accuracy (protocol) | cost published for | source |", "|---|---|---|---|"]
    lines += [f"| `{name}` | {f.accuracy()} | {f.input} | {f.source} |" for name, f in accuracies]
    measured = {r.model for r in rows}
    lines += ["", "## Models with no published figure", "",
              ", ".join(f"`{n}`" for n in list_models() if n not in measured and not model_info(n).published)
              + ": lit-video's own constructions (or the lecture's families at our own widths), so there is "
                "nothing to check against.", ""]
    return "\n".join(lines)
