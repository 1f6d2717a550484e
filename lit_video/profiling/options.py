"""How a throughput measurement runs (``ThroughputOptions``), the dtypes it can run in (``DTYPES``, the fastest
for a device by ``fastest_dtype``) and the devices it can run on (``check_device``); a bad value is a ValueError
that names it."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..memory_format import check_memory_format

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class ThroughputOptions:
    """How ``measure_throughput`` runs a model; a bad option raises ValueError naming it.

    ``batch_sizes`` to measure (batch 1 is always added, for latency); ``train`` also times training steps (at
    batch sizes >= 2); ``device``; ``dtype`` other than float32 runs under autocast; ``memory_format``: ``auto``
    (default) measures whichever of ``contiguous`` and ``channels_last`` (``channels_last_3d`` for clips) is faster
    for this model on this device at the largest batch size (``memory_format.fastest_memory_format``, once per
    model and machine, again where that was provisional), or names one; ``remeasure_layout`` measures ``auto``'s
    choice again whatever the cache holds; ``compile`` wraps the model in ``torch.compile``;
    ``threads`` sets torch's thread count for the measurement (None: as it is); ``warmup`` untimed and
    ``repeats`` timed iterations per figure; ``find_max_batch`` also finds the largest batch that fits in
    memory, up to ``batch_limit``; ``cached_peak`` divides MFU by the matmul peak an earlier run cached instead
    of measuring it in this call (about a second saved; the result's ``peak_source`` says it is cached).
    """

    batch_sizes: tuple[int, ...] = (1, 8)
    train: bool = True
    device: str | torch.device = "cpu"
    dtype: str | torch.dtype = "float32"
    memory_format: str = "auto"
    remeasure_layout: bool = False
    compile: bool = False
    threads: int | None = None
    warmup: int = 2
    repeats: int = 10
    find_max_batch: bool = False
    batch_limit: int = 1024
    cached_peak: bool = False

    def __post_init__(self) -> None:
        self.batch_sizes = tuple(self.batch_sizes)  # a config gives a list
        if not self.batch_sizes or any(not isinstance(b, int) or b < 1 for b in self.batch_sizes):
            raise ValueError(f"batch_sizes must be positive integers, got {self.batch_sizes!r}")
        _dtype(self.dtype)
        check_memory_format(self.memory_format)
        if self.remeasure_layout and self.memory_format != "auto":
            raise ValueError(f"remeasure_layout measures again the layout that memory_format auto chooses, but "
                             f"memory_format {self.memory_format!r} names one: leave out one of the two")
        _parse_device(self.device)  # a name only: whether this machine has it is checked where it runs
        for name, low in (("threads", 1), ("warmup", 0), ("repeats", 1), ("batch_limit", 1)):
            value = getattr(self, name)
            if value is not None and value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")


def fastest_dtype(device: str | torch.device, dtype: str = "auto") -> str:
    """``dtype``, or for ``auto`` the fastest the device computes well: bfloat16 on a GPU that has it (Ampere and
    newer), float32 elsewhere (a CPU without AVX-512 BF16 runs bf16 matmuls a hundred times slower)."""
    if dtype != "auto":
        return dtype
    device = torch.device(device)
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return "bfloat16" if cuda_bf16 else "float32"


def _dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def _parse_device(device: str | torch.device) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device {device!r} is not a device (cpu, cuda, cuda:1): {err}") from None


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device`` if this machine can measure on it, else a ValueError saying why: not a
    device name, no GPU torch can use, a GPU index beyond the ones there are, or a kind other than cpu / cuda."""
    dev = _parse_device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r}: this machine has no CUDA GPU that torch can use "
                             f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}); use cpu")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"device {str(device)!r}: this machine has {count} GPU(s), cuda:0 to "
                             f"cuda:{count - 1}")
    elif dev.type != "cpu":
        raise ValueError(f"device {str(device)!r}: speed is measured on cpu or cuda devices")
    return dev
