"""Memory: what a run of a model needs, estimated from its meta-tensor count before anything real is allocated;
what the device has available; the peak a run used.

A shape or batch that cannot fit must be refused with what it would need, not allocated until the operating
system kills the process (a CPU swaps and then dies; a GPU raises out-of-memory half-way). The count of
``count_flops`` runs on meta tensors and needs no memory, and its report has what an estimate needs: the
parameters, the outputs of every layer, and the summed outputs of the layers that multiply (``activations``).

The estimate, in bytes (``param`` bytes per parameter, ``act`` bytes per activation element, B the batch):

- inference: the weights + B x (the input + 2 x the largest layer output: one layer's input and output are
  alive at once). Measured resident-set growth on 8 registry models (C3D, R3D-18, I3D-R50, I3D-Inception,
  Swin3D-T, LRCN, single-frame, the lecture's 3D CNN; batch 4 to 16) was 1.0 to 3.0 x this activation term.
- training: the weights + their gradients + B x ``TRAIN_ACTIVATION_FACTOR`` x ``activations``: backward keeps
  every multiplying layer's input, and the norm and activation outputs beside it. The same 8 models grew by
  their gradients + 1.9 to 4.7 x ``activations`` (median 3; from below: the growth is measured after an
  inference run whose freed memory the process keeps); the factor is the low end.

Both are estimates from below: a run they refuse cannot fit, a run they let through may still be too big at the
edge (allocator caches, fragmentation, kernels' work space).
"""

from __future__ import annotations

import contextlib
import ctypes
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .counting import FlopReport
from .options import ThroughputOptions, _dtype

# Activations kept for backward, per multiplying layer output (conv / linear / attention): see the docstring.
TRAIN_ACTIVATION_FACTOR = 2.0
# Activations alive at once in inference, in units of the largest layer output: its input and its output.
INFER_ACTIVATION_FACTOR = 2.0
GIB = 2**30


class NotEnoughMemory(ValueError):
    """A run would need more memory than its device has available; raised before anything is allocated.

    ``need`` is the estimate (a ``MemoryNeed``), ``available`` the bytes the device has free.
    """

    def __init__(self, need: MemoryNeed, available: float):
        self.need, self.available = need, available
        parts = ", ".join(f"{k} {_gib(v)}" for k, v in need.parts.items() if v)
        super().__init__(
            f"{need.what} needs at least {_gib(need.total)} of {need.device} memory ({parts}); "
            f"{_gib(available)} is available: use a smaller batch or clip")


@dataclass
class MemoryNeed:
    """What a run needs at least, in bytes per part (weights, gradients, activations, inputs), on ``device``."""

    what: str
    device: str
    parts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def __add__(self, other: MemoryNeed) -> MemoryNeed:
        """Both at once (on the same device): parts of the same name add up."""
        parts = dict(self.parts)
        for key, value in other.parts.items():
            parts[key] = parts.get(key, 0) + value
        return MemoryNeed(f"{self.what} + {other.what}", self.device, parts)


def _gib(n: float) -> str:
    if n == math.inf:
        return "unlimited"
    return f"{n / GIB:.2f} GiB" if n >= GIB else f"{n / 2**20:.0f} MiB"


def _per_clip(report: FlopReport) -> int:
    """The batch size ``report`` was counted at (its first input's first dimension)."""
    shape = report.input_shape
    first = next(iter(shape.values())) if isinstance(shape, dict) else shape
    first = first[0] if first and isinstance(first[0], list) else first  # a tuple of inputs
    return max(1, int(first[0])) if first else 1


def forward_need(report: FlopReport, what: str, device: str | torch.device, batch: int, *, train: bool,
                 weight_bytes: int, grad_bytes: int = 0, act_bytes: int = 4) -> MemoryNeed:
    """The least a forward (``train``: forward + backward) of ``batch`` clips needs, from ``report``'s count.

    ``weight_bytes`` are the weights this run allocates (0 when they exist already), ``grad_bytes`` their
    gradients, ``act_bytes`` the bytes of one activation element (4 for float32, 2 under bf16 autocast).
    """
    counted = _per_clip(report)
    inputs = sum(math.prod(s) for s in _input_shapes(report.input_shape)) // counted
    if train:
        acts = TRAIN_ACTIVATION_FACTOR * report.activations / counted
    else:
        largest = max((math.prod(layer.output_shape) for layer in report.layers), default=0) / counted
        acts = INFER_ACTIVATION_FACTOR * largest
    parts = {"weights": weight_bytes, "gradients": grad_bytes if train else 0,
             "activations": int(batch * acts * act_bytes), "inputs": batch * inputs * 4}
    return MemoryNeed(what, str(torch.device(device)), parts)


def _input_shapes(shape: Any) -> list[list[int]]:
    if isinstance(shape, dict):
        return list(shape.values())
    return shape if shape and isinstance(shape[0], list) else [shape]


def model_bytes(model: nn.Module) -> int:
    """Bytes of ``model``'s parameters and buffers (a copy of the model allocates as much again)."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def throughput_need(report: FlopReport, options: ThroughputOptions, model: nn.Module | None = None) -> MemoryNeed:
    """The least ``measure_throughput`` needs on ``options.device`` for a model counted in ``report`` (one
    clip): its copy of the weights (``model``'s bytes; 4 per parameter without one), their gradients when it
    trains, and the activations and inputs of the largest batch (see this module's docstring for the estimate)."""
    b = max(options.batch_sizes)
    train = options.train and b > 1  # training is measured at batch >= 2 only
    weights = model_bytes(model) if model is not None else 4 * report.params
    grads = (sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
             if model is not None else 4 * report.trainable_params)
    return forward_need(report, f"{'training' if train else 'inference'} at batch {b}", options.device, b,
                        train=train, weight_bytes=weights, grad_bytes=grads,
                        act_bytes=_dtype(options.dtype).itemsize)


def _cgroup_free() -> float:
    """Bytes left under this process's cgroup memory limit (a container, a Slurm job), inf without one."""
    for limit, usage in (("memory.max", "memory.current"),
                         ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        with contextlib.suppress(OSError, ValueError):
            cap = Path("/sys/fs/cgroup", limit).read_text().strip()
            if cap == "max" or int(cap) >= 2**60:  # no limit ("max", or v1's page-rounded 2^63)
                return math.inf
            return int(cap) - int(Path("/sys/fs/cgroup", usage).read_text())
    return math.inf


def available_bytes(device: str | torch.device = "cpu") -> float:
    """Memory a run on ``device`` can still allocate: free GPU memory plus what torch holds cached but unused;
    on a CPU ``MemAvailable`` of ``/proc/meminfo``, capped by a cgroup limit. inf where nothing says."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    available = math.inf
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable"):
                available = int(line.split()[1]) * 1024
    return min(available, _cgroup_free())


def check_fits(*needs: MemoryNeed) -> None:
    """Raise ``NotEnoughMemory`` for the first need larger than what its device has available."""
    for need in needs:
        available = available_bytes(need.device)
        if need.total > available:
            raise NotEnoughMemory(need, available)


def _status_mb(field: str) -> float:
    """A memory field of ``/proc/self/status`` (``VmRSS``: resident now, ``VmHWM``: its high-water mark), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise OSError(f"/proc/self/status has no {field}")


def _reset_resident_peak() -> float:
    """Start a fresh resident-set high-water mark at the level of now, and return that level (MB).

    First the C heap gives back the pages of what was freed earlier (glibc's ``malloc_trim``): glibc keeps them,
    and a run that reuses them would not grow the resident set at all (a CPU's peak read 0 MB). Then writing 5 to
    ``/proc/self/clear_refs`` resets ``VmHWM`` (Linux >= 4.0). Raises OSError where either is impossible.
    """
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing kept to give back
        ctypes.CDLL(None).malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


class PeakMemory:
    """Peak memory (MB) the code run inside adds to what was allocated before it (the weights, the inputs).

    On a GPU: CUDA's max allocated less the allocated at the start. On a CPU: the process's peak resident set
    (the kernel's exact high-water mark, not a sample) less the resident set at the start, once what was freed
    before has been given back; it includes what the run allocates beyond tensors (thread pools, kernel caches).
    ``peak_mb`` is None where the CPU's peak cannot be reset (not Linux): a lifetime peak would say nothing.
    """

    def __init__(self, device: torch.device):
        self.device, self.peak_mb = device, None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device) / 2**20
        else:
            try:
                self._base = _reset_resident_peak()
            except OSError:
                self._base = None
        return self

    def __exit__(self, *exc) -> None:
        if self._base is None:
            return
        if self.device.type == "cuda":
            top = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            top = _status_mb("VmHWM")
        self.peak_mb = top - self._base
