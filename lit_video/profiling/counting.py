"""Count multiply-accumulates, parameters and activations of any ``nn.Module``, per layer.

The counter is ``torch.utils.flop_counter`` run on meta tensors (``functional_call`` with every weight
swapped for a meta tensor; fake tensors where the forward makes CPU tensors of its own): shapes propagate but
nothing is allocated, so a 200-GFLOP transformer counts in about a second. It counts matrix multiplies and
convolutions (``mm``, ``addmm``, ``bmm``, ``baddbmm``, ``convolution``, attention kernels, recurrent layers);
einsum and ``matmul`` reach it as ``bmm``/``mm``. It skips norms, pooling and element-wise ops, which is the
convention of torchvision's ``_ops`` and of paper tables. Two kinds of ops have no formula in torch and are
added here: the CPU attention kernel (``_scaled_dot_product_flash_attention_for_cpu``: QK^T and AV, as for
the GPU kernels) and the fused recurrent layers (``mkldnn_rnn_layer``, ``lstm``, ``_cudnn_rnn``: every weight
matrix once per time step).

fvcore (the counter the field knows) is the cross-check: it traces with ``torch.jit`` on real tensors (it
fails on meta/fake tensors) and, besides conv/matmul, counts norms, upsampling and adaptive pooling. Its
``scaled_dot_product_attention`` is unhandled (silently 0), so a handle is added for it too.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from ..clip import Inputs, call, map_inputs
from ..models import PREDICTION, ModelInfo
from .inputs import as_inputs, describe_shape
from .receptive_field import first_tensor, receptive_fields

log = logging.getLogger(__name__)
aten = torch.ops.aten



def _rnn_flop(*args, out_val=None, **kwargs) -> int:
    """Fused recurrent layers (``aten.lstm``, ``aten._cudnn_rnn``): every 2D weight (input-hidden,
    hidden-hidden, projection; all layers and directions) multiplies one vector per time step and sequence.
    The gates' element-wise ops are not counted, as for every other layer."""
    data = args[0]  # (T, B, in), (B, T, in), (T, in) or packed (sum of lengths, in)
    weights = [a for a in args if isinstance(a, (list, tuple)) and a and isinstance(a[0], torch.Tensor)][-1]
    return 2 * data.numel() // data.shape[-1] * sum(w.numel() for w in weights if w.dim() == 2)


def _mkldnn_rnn_layer_flop(data, w_ih, w_hh, *args, out_val=None, **kwargs) -> int:
    """oneDNN's recurrent layer (how a CPU runs ``nn.LSTM``): one layer, one direction per call."""
    return 2 * data.numel() // data.shape[-1] * (w_ih.numel() + w_hh.numel())


for _formula in (_rnn_flop, _mkldnn_rnn_layer_flop):
    _formula._get_raw = True  # these formulas need the weights, not only the shapes

def _sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _sdpa_backward_flop(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None,
                        **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


# Ops torch's counter has no formula for: the CPU flash-attention kernel (same count as the GPU kernels: QK^T
# and AV) and the fused recurrent layers (GRU and, on the meta device, LSTM decompose into counted matmuls).
EXTRA_FORMULAS = {
    aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_flop,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _sdpa_backward_flop,
    aten.lstm: _rnn_flop,
    aten._cudnn_rnn: _rnn_flop,
    aten.mkldnn_rnn_layer: _mkldnn_rnn_layer_flop,
}
COUNTER = "torch.utils.flop_counter (conv + matmul + attention + recurrent)"
# fvcore operators beyond conv/matmul (norms, resampling, pooling), reported apart in the cross-check.
FVCORE_NON_MATMUL = ("norm", "upsample", "pool", "grid_sampler")


@dataclass
class LayerStats:
    """One row of the per-layer table. ``gmacs`` are the layer's own (not its children's)."""

    name: str
    type: str
    output_shape: list[int]
    receptive_field: list[int] | None  # [t, h, w] in input frames / pixels reached by one central output unit
    gmacs: float
    params: int
    calls: int = 1  # > 1 for a module applied several times (a recurrent cell, a shared block)


@dataclass
class FlopReport:
    """What one forward pass over ``input_shape`` costs. ``gmacs``: 10^9 multiply-accumulates; gflops = 2x."""

    gmacs: float
    params: int
    trainable_params: int
    activations: int  # output elements of the layers that multiply (conv / linear / attention)
    counter: str
    input_shape: Any
    layers: list[LayerStats]
    by_operator: dict[str, float] = field(default_factory=dict)  # gmacs per aten operator
    # Every module's output shape (the last call's), containers too ("net.inception5b"); "" is the model's.
    output_shapes: dict[str, list[int]] = field(default_factory=dict)
    cross_check: dict[str, Any] | None = None

    @property
    def gflops(self) -> float:
        return gflops(self.gmacs)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["gflops"] = self.gflops
        return out

    def gmacs_in(self, module: str) -> float:
        """GMACs of the layers inside the module named ``module`` (``"streams.rgb"``), itself included."""
        return sum(layer.gmacs for layer in self.layers if layer.name == module or layer.name.startswith(module + "."))


def stream_gmacs(info: ModelInfo, report: FlopReport) -> dict[str, float] | None:
    """GMACs per clip of each stream of a model with several outputs (every output but its prediction; the
    registry's contract keeps each stream's network in ``model.streams[<output>]``), by stream; None for a model
    with one output."""
    streams = [name for name in info.outputs if name != PREDICTION]
    return {name: report.gmacs_in(f"streams.{name}") for name in streams} or None


def gflops(gmacs: float | None) -> float | None:
    """GFLOPs of ``gmacs`` multiply-accumulates: each is two floating-point operations (None stays None)."""
    return None if gmacs is None else 2 * gmacs


def _real(inputs: Inputs) -> Inputs:
    """Meta inputs (a shape) as zero tensors on the CPU, for counting that runs on fake or real tensors."""
    return map_inputs(inputs, lambda t: torch.zeros(t.shape, dtype=t.dtype) if t.is_meta else t)


def _meta_only(err: Exception) -> bool:
    """Whether a failure on meta tensors is one a real device would not have (an op without a meta kernel,
    data-dependent control flow), rather than the model refusing its input (a shape it does not take)."""
    text = str(err).lower()
    return isinstance(err, NotImplementedError) or any(w in text for w in ("meta", "data-dependent", "item()"))


def _on_meta(model: nn.Module) -> bool:
    return any(t.is_meta for t in (*model.parameters(), *model.buffers()))


def _is_leaf(module: nn.Module) -> bool:
    return next(module.children(), None) is None


def _run_counted(model: nn.Module, inputs: Inputs, how: str) -> tuple[FlopCounterMode, dict, dict]:
    """One forward under the flop counter; hooks record each module's last output shape and call count.

    ``how``: "meta" runs with every parameter, buffer and input swapped for a meta tensor
    (``functional_call``: the caller's model is not touched, nothing is allocated); "fake" keeps the real
    parameters and fakes the activations (for code that makes CPU tensors of its own); "real" runs for real.
    """
    shapes: dict[str, list[int]] = {}
    calls: dict[str, int] = {}

    def hook(name):
        def record(_module, _args, output):
            tensor = first_tensor(output)
            if tensor is not None:
                shapes[name] = list(tensor.shape)
            calls[name] = calls.get(name, 0) + 1

        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules()]
    # nn.MultiheadAttention / TransformerEncoderLayer's fused inference kernels are opaque to the counter;
    # with the fast path off they run the same math as counted matmuls.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=EXTRA_FORMULAS) as counter:
            if how == "meta":
                tensors = {**dict(model.named_parameters()), **dict(model.named_buffers())}
                state = {k: torch.empty_like(v, device="meta") for k, v in tensors.items()}
                meta = map_inputs(inputs, lambda t: torch.empty_like(t, device="meta"))
                functional_call(model, state, tuple(meta) if isinstance(meta, tuple) else (meta,))
            elif how == "fake":
                with FakeTensorMode(allow_non_fake_inputs=True) as mode:
                    call(model, map_inputs(inputs, mode.from_tensor))
            else:
                call(model, inputs)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        for h in handles:
            h.remove()
    return counter, shapes, calls


def count_flops(model: nn.Module, input_shape_or_inputs: Any, *, receptive_field: bool = False,
                cross_check: bool = False) -> FlopReport:
    """Count one forward pass of ``model`` (in eval mode) on the given inputs (a shape, a tensor, or a dict).

    The figures are for the whole input: pass a batch of one for per-clip figures. A model built on the meta
    device (``with torch.device("meta"): ...``: no weight memory, no initialisation) counts too, and a shape
    stays on the meta device (no memory, whatever its size) unless the count has to run on real tensors.
    ``receptive_field`` (the expensive opt-in) adds the measured receptive field of every layer (a real float64
    forward and one backward per layer, see ``receptive_field.py``); ``cross_check`` also runs fvcore on real
    tensors. With neither, a model built on the meta device counts with the defaults.
    """
    inputs = as_inputs(input_shape_or_inputs, device="meta")  # a shape costs no memory until run for real
    if _on_meta(model) and (receptive_field or cross_check):
        raise ValueError("receptive fields and the fvcore cross-check run the model for real: build it on a "
                         "real device, not on meta (count_flops without them works on meta)")
    was_training = model.training
    model.eval()  # inference cost; also keeps BatchNorm from updating its statistics with fake data
    try:
        # Cheapest first; data-dependent control flow (``.item()``) runs on real tensors only.
        for how in ("meta", "fake", "real"):
            try:
                counter, shapes, calls = _run_counted(model, inputs if how == "meta" else _real(inputs), how)
                break
            except Exception as err:
                if how == "real" or _on_meta(model):
                    hint = " (build it on a real device)" if how == "meta" and _meta_only(err) else ""
                    raise ValueError(f"{type(model).__name__} cannot be counted on {how} tensors: {err}{hint}"
                                     ) from err
                log.info("counting %s on %s tensors failed (%s)", type(model).__name__, how, err)
        rfs = receptive_fields(model, inputs) if receptive_field else {}
        check = fvcore_count(model, inputs) if cross_check else None
    finally:
        model.train(was_training)

    # The counter names modules "<RootClass>.<qualified name>", the root "<RootClass>".
    root = type(model).__name__
    macs = {
        ("" if key == root else key.removeprefix(root + ".")): sum(ops.values()) / 2
        for key, ops in counter.get_flop_counts().items()
        if key != "Global"
    }
    # A module's own MACs: its total less those of the modules it called. Those are its children, except in an
    # fx GraphModule (torchvision's feature extractors), whose graph calls the leaves of its containers directly:
    # there each called module counts towards its nearest *called* ancestor, or its MACs would count twice.
    called_by: dict[str, list[str]] = {}
    for name in shapes:
        if name:
            parent = name.rpartition(".")[0]
            while parent and parent not in shapes:
                parent = parent.rpartition(".")[0]
            called_by.setdefault(parent, []).append(name)
    layers = []
    for name, module in model.named_modules():
        if name not in shapes:
            continue  # never called in forward
        own = macs.get(name, 0.0) - sum(macs.get(c, 0.0) for c in called_by.get(name, ()))
        if _is_leaf(module) or own > 0:
            layers.append(LayerStats(
                name=name or "(model)", type=type(module).__name__, output_shape=shapes[name],
                receptive_field=rfs.get(name), gmacs=own / 1e9,
                params=sum(p.numel() for p in module.parameters(recurse=False)), calls=calls[name],
            ))
    activations = sum(math.prod(layer.output_shape) * layer.calls for layer in layers if layer.gmacs > 0)
    by_op = {str(op): n / 2e9 for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return FlopReport(
        gmacs=counter.get_total_flops() / 2e9,
        params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        activations=activations,
        counter=f"{COUNTER} on {how} tensors",
        input_shape=describe_shape(inputs),
        layers=layers,
        by_operator=by_op,
        output_shapes=shapes,
        cross_check=check,
    )


def fvcore_nn():
    """``fvcore.nn``, imported without the FutureWarning its import raises (its losses use ``torch.jit.script``):
    a warning about fvcore's code that no user of lit-video can act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated", category=FutureWarning)
        import fvcore.nn
    return fvcore.nn


def _fvcore_sdpa(inputs: list, outputs: list) -> int:
    """fvcore handle for ``aten::scaled_dot_product_attention``: QK^T plus AV, in multiply-accumulates."""
    get_shape = fvcore_nn().jit_handles.get_shape
    q, k, v = (get_shape(x) for x in inputs[:3])  # (..., L, E), (..., S, E), (..., S, Ev)
    batch = math.prod(q[:-2])
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def fvcore_count(model: nn.Module, inputs: Inputs) -> dict[str, Any]:
    """fvcore's count of one forward on real tensors, split into conv/matmul and the rest (norms, pooling)."""
    real = map_inputs(inputs, lambda t: torch.randn(t.shape, dtype=t.dtype) if t.is_meta else t)
    args = tuple(real) if isinstance(real, tuple) else (real,)
    analysis = fvcore_nn().FlopCountAnalysis(model, args)
    analysis.set_op_handle("aten::scaled_dot_product_attention", _fvcore_sdpa)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    by_op = {op: n / 1e9 for op, n in analysis.by_operator().items()}
    other = {op: g for op, g in by_op.items() if any(w in op for w in FVCORE_NON_MATMUL)}
    return {
        "counter": "fvcore (jit trace, real tensors)",
        "gmacs": analysis.total() / 1e9,
        "conv_matmul_gmacs": sum(g for op, g in by_op.items() if op not in other),
        "norm_pool_gmacs": sum(other.values()),
        "by_operator": by_op,
        "skipped_ops": dict(analysis.unsupported_ops()),
    }
