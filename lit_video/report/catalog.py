"""The registry's catalog, what ``lit-video models`` prints: every model's ``ModelInfo``, its builder's options, its
cost (GMACs and parameters of one clip at its default clip, 400 classes: Kinetics-400's), and beside each published
figure lit-video's count of the same network at the same input (``fidelity.figure_rows``).

Counting all 38 models takes ~6 s after ~3 s of importing torch, so the command reads the catalog from a file,
``lit_video/models/catalog.json``, written by ``lit-video models --write-catalog`` and checked against a fresh
measurement by ``tests/test_models_cli.py`` (as ``docs/fidelity.md`` is): listing the models imports no torch.
"""

from __future__ import annotations

import json
from typing import Any

from ..models import builder_arguments, list_models, model_info
from ..profiling import count_flops
from ..profiling.inputs import model_to_count
from .fidelity import figure_rows

NUM_CLASSES = 400  # the classes a model's cost is counted with: Kinetics-400's, as published costs mostly are


def _published(name: str) -> list[dict[str, Any]]:
    """Each published figure, its one-line summary, and its totals beside lit-video's count with the verdict."""
    return [{**figure.to_dict(), "summary": figure.summary(),
             "measured": [{"quantity": r.quantity, "published": r.published, "measured": r.measured,
                           "difference": r.difference, "verdict": r.verdict}
                          for r in figure_rows(name, figure) if r.quantity in ("GMACs", "params")]}
            for figure in model_info(name).published]


def entry(name: str) -> dict[str, Any]:
    """One model's catalog entry: ``ModelInfo.to_dict()`` with its published figures measured, the builder's
    options (each default's ``repr``, None where it has none) and its cost, ``gmacs`` and ``params``."""
    info = model_info(name)
    cost = count_flops(model_to_count(name, NUM_CLASSES), info.input_shape(1))
    options = {k: None if p.default is p.empty else repr(p.default) for k, p in builder_arguments(name).items()}
    return {**info.to_dict(), "published": _published(name), "options": options, "num_classes": NUM_CLASSES,
            "gmacs": cost.gmacs, "params": cost.params}


def render() -> str:
    """The catalog file's text: every registered model's entry, measured now."""
    return json.dumps([entry(name) for name in list_models()], indent=1) + "\n"
