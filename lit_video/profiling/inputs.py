"""Model inputs for profiling: from a shape, a tensor, a dict of modalities, or a registry model's info."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lit_video.models import create_model

from ..clip import Inputs, map_inputs


def is_shape(obj: Any) -> bool:
    return isinstance(obj, Sequence) and not isinstance(obj, str) and all(isinstance(s, int) for s in obj)


def as_inputs(spec: Any, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Inputs:
    """Turn a shape (``(B, C, T, H, W)``), a dict of shapes, a tensor, a dict or tuple of tensors into inputs.

    Shapes become zero tensors; tensors are passed through unchanged (a tuple means positional arguments).
    """
    if isinstance(spec, torch.Tensor):
        return spec
    if is_shape(spec):
        if any(s <= 0 for s in spec):
            raise ValueError(f"input shape {tuple(spec)} has a non-positive size")
        return torch.zeros(tuple(spec), device=device, dtype=dtype)
    if isinstance(spec, dict) and spec:
        return {k: as_inputs(v, device=device, dtype=dtype) for k, v in spec.items()}  # type: ignore[misc]
    if isinstance(spec, (tuple, list)) and spec and all(isinstance(t, torch.Tensor) for t in spec):
        return tuple(spec)
    raise TypeError(
        "model inputs must be a shape like (1, 3, 16, 112, 112), a tensor, a dict of modality -> shape or "
        f"tensor, or a tuple of tensors; got {type(spec).__name__}: {spec!r:.80}"
    )


def input_tensors(inputs: Inputs) -> list[torch.Tensor]:
    if isinstance(inputs, dict):
        return list(inputs.values())
    return list(inputs) if isinstance(inputs, tuple) else [inputs]


def describe_shape(inputs: Inputs) -> list[int] | dict[str, list[int]]:
    """The input shape as JSON-friendly lists (a dict for multi-modal inputs)."""
    if isinstance(inputs, dict):
        return {k: list(v.shape) for k, v in inputs.items()}
    if isinstance(inputs, tuple):
        return [list(v.shape) for v in inputs]  # type: ignore[return-value]
    return list(inputs.shape)


def model_to_count(name: str, num_classes: int, **overrides: Any) -> torch.nn.Module:
    """Registry model ``name`` built for counting: on the meta device (no memory, no initialisation time), or
    on the CPU where its builder copies weights (which meta tensors do not hold)."""
    try:
        with torch.device("meta"):
            return create_model(name, num_classes, **overrides)
    except (NotImplementedError, RuntimeError):
        return create_model(name, num_classes, **overrides)


def resize_batch(inputs: Inputs, batch_size: int, device: torch.device | str | None = None) -> Inputs:
    """The same inputs with a new batch size: new random tensors of the same dtype, on ``device`` (default:
    each tensor's own; meta stays meta, a shape without memory)."""
    return map_inputs(inputs, lambda t: torch.randn((batch_size, *t.shape[1:]), dtype=t.dtype,
                                                    device=t.device if device is None else device))
