"""Profiling: multiply-accumulates, parameters, activations and receptive fields per layer; throughput,
latency, memory and MFU against the machine's measured peak; the memory a run needs, known before it runs;
data-loader speed against raw decoding; the machine stamp of every measured figure.

Units: ``gmacs`` = 10^9 multiply-accumulates (the field's "GFLOPs"), ``gflops`` = 2 x gmacs.
"""

from ..machine import accelerator_device, cpu_name, device_name, git_sha, machine_info, versions
from .counting import FlopReport, LayerStats, count_flops, fvcore_count, gflops
from .memory import MemoryNeed, NotEnoughMemory, available_bytes, throughput_need
from .options import ThroughputOptions, check_device
from .peak import MatmulPeak, machine_peak, machine_peak_gflops
from .receptive_field import receptive_fields
from .throughput import measure_throughput

__all__ = [
    "FlopReport", "LayerStats", "MatmulPeak", "MemoryNeed", "NotEnoughMemory", "ThroughputOptions",
    "accelerator_device", "available_bytes", "check_device", "count_flops", "cpu_name", "device_name",
    "fvcore_count", "gflops", "git_sha", "machine_info", "machine_peak", "machine_peak_gflops",
    "measure_throughput", "receptive_fields", "throughput_need", "versions",
]
