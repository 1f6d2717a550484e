"""Profiling: multiply-accumulates, parameters, activations and receptive fields per layer; throughput,
latency, memory and MFU against the machine's measured peak; data-loader speed against raw decoding.

Units: ``gmacs`` = 10^9 multiply-accumulates (the field's "GFLOPs"), ``gflops`` = 2 x gmacs.
"""

from .counting import FlopReport, LayerStats, count_flops, fvcore_count, per_video
from .inputs import model_input_shape
from .receptive_field import receptive_fields
from .timing import machine_info, machine_peak_gflops, measure_throughput

__all__ = [
    "FlopReport", "LayerStats", "count_flops", "fvcore_count", "machine_info", "machine_peak_gflops",
    "measure_throughput", "model_input_shape", "per_video", "receptive_fields",
]
