"""Where the memory of training goes: formulas, and the instruments that check them on a CPU.

Taught in notebook 12. Two halves:

* **Formulas** (:func:`model_state_bytes`, :func:`ffn_activation_bytes`, :func:`max_params_that_fit`):
  bytes for weights, gradients and optimizer state per parameter, for SGD / momentum / Adam at
  ``fp32``, ``bf16`` and ``mixed`` precision, and the activations an FFN stack saves for backward.
* **Measurements** (:func:`tensor_bytes`, :func:`optimizer_state_bytes`, :func:`saved_activation_bytes`,
  :func:`profile_step_memory`, :func:`train_state_sizes`): what the tensors really occupy.

Which CPU instrument works (measured with torch 2.13, see notebook 12):

* ``tracemalloc`` does **not** see PyTorch tensors: their storage comes from c10's CPU allocator, not from
  Python's allocator, so a 100 MiB training step shows up as a few KiB of Python objects.
* process RSS (``psutil``) moves, but it counts library code, allocator caches and pages that were freed
  but not returned to the OS, and it seldom goes down: good for "is something leaking", not for bytes.
* ``torch.profiler.profile(profile_memory=True)`` records every tensor allocation and free with its
  size and time; summing them in time order gives live tensor bytes and the **peak** exactly
  (:func:`profile_step_memory`). On a GPU, ``torch.cuda.max_memory_allocated`` gives the same number.
* ``torch.autograd.graph.saved_tensors_hooks`` sees every tensor autograd keeps for backward
  (:func:`saved_activation_bytes`): the activations, counted without running backward.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = [
    "DTYPE_BYTES",
    "OPTIMIZER_STATES",
    "PRECISIONS",
    "ModelStateBytes",
    "model_state_bytes",
    "bytes_per_param",
    "ffn_stack",
    "ffn_params",
    "ffn_activation_bytes",
    "max_params_that_fit",
    "tensor_bytes",
    "param_bytes",
    "grad_bytes",
    "optimizer_state_bytes",
    "saved_activation_bytes",
    "StepMemory",
    "profile_step_memory",
    "train_state_sizes",
    "GiB",
    "MiB",
]

GiB = 2**30
MiB = 2**20

#: Bytes per element of the dtypes the course uses.
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}

#: How many parameter-sized tensors each optimizer keeps (SGD: none; momentum: velocity; Adam: m and v).
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2}

#: ``fp32``: everything fp32. ``bf16``: weights, gradients and optimizer state all bf16 ("pure" bf16).
#: ``mixed``: bf16 weights and gradients for compute, plus an fp32 master copy of the weights and fp32
#: optimizer state (the recipe of Micikevicius et al. 2018, counted as in the ZeRO paper, Rajbhandari et al. 2020).
PRECISIONS = ("fp32", "bf16", "mixed")


@dataclass(frozen=True)
class ModelStateBytes:
    """Bytes of the model states: weights, gradients, fp32 master weights and optimizer state."""

    weights: int
    grads: int
    master: int
    optimizer: int

    @property
    def total(self) -> int:
        return self.weights + self.grads + self.master + self.optimizer


def model_state_bytes(n_params: int, optimizer: str = "adam", precision: str = "fp32") -> ModelStateBytes:
    """Bytes of weights, gradients, master weights and optimizer state for ``n_params`` (notebook 12).

    ``optimizer``: ``"sgd"``, ``"momentum"`` or ``"adam"``; ``precision``: ``"fp32"``, ``"bf16"``, ``"mixed"``.
    Mixed-precision Adam is 2 + 2 + 4 + 4 + 4 = 16 bytes per parameter, the same as fp32 Adam: mixed
    precision saves activation memory and time, not model-state memory.
    """
    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZER_STATES)}, got {optimizer!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    k = OPTIMIZER_STATES[optimizer]
    if precision == "fp32":
        return ModelStateBytes(4 * n_params, 4 * n_params, 0, 4 * k * n_params)
    if precision == "bf16":
        return ModelStateBytes(2 * n_params, 2 * n_params, 0, 2 * k * n_params)
    return ModelStateBytes(2 * n_params, 2 * n_params, 4 * n_params, 4 * k * n_params)


def bytes_per_param(optimizer: str = "adam", precision: str = "fp32") -> int:
    """Model-state bytes per parameter (weights + grads + master + optimizer state); notebook 12."""
    return model_state_bytes(1, optimizer, precision).total


def max_params_that_fit(capacity_bytes: float, per_param: float) -> float:
    """How many parameters fit in ``capacity_bytes`` at ``per_param`` bytes each (activations ignored)."""
    return capacity_bytes / per_param


# --- the model the notebook measures -------------------------------------------------------------


def ffn_stack(width: int, depth: int, mult: int = 4, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """``depth`` transformer-style feed-forward blocks: Linear(w, mult·w) → ReLU → Linear(mult·w, w)."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, mult * width), nn.ReLU(), nn.Linear(mult * width, width)]
    return nn.Sequential(*layers).to(dtype)


def ffn_params(width: int, depth: int, mult: int = 4) -> int:
    """Parameters of :func:`ffn_stack`: per block 2·mult·w² weights + (mult + 1)·w biases."""
    return depth * (2 * mult * width * width + (mult + 1) * width)


def ffn_activation_bytes(batch: int, width: int, depth: int, mult: int = 4, elem_bytes: int = 4) -> int:
    """Bytes :func:`ffn_stack` saves for backward: per block the block input (B·w) and the ReLU output
    (B·mult·w), which the second Linear also needs - one tensor, saved once."""
    return depth * batch * (1 + mult) * width * elem_bytes


# --- measured sizes --------------------------------------------------------------------------------


def _tensors(obj: Any) -> Iterable[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


def _local(t: torch.Tensor) -> torch.Tensor:
    """The shard this process holds, for a DTensor (FSDP2); the tensor itself otherwise."""
    return t.to_local() if hasattr(t, "to_local") else t


def tensor_bytes(obj: Any, min_numel: int = 0) -> int:
    """Bytes of all tensors in ``obj`` (a tensor, or nested dicts / lists / tuples of them).

    The same tensor (or an identical view of it) listed twice counts once; for a DTensor only the local
    shard counts. ``min_numel`` skips small tensors (e.g. Adam's scalar ``step`` counters)."""
    seen: set[tuple] = set()
    total = 0
    for t in _tensors(obj):
        t = _local(t)
        if t.numel() < min_numel:
            continue
        key = (t.data_ptr(), t.numel(), t.dtype) if t.device.type != "meta" else (id(t),)
        if key in seen:
            continue
        seen.add(key)
        total += t.numel() * t.element_size()
    return total


def param_bytes(model: nn.Module) -> int:
    """Bytes of the parameters this process holds (local shards under FSDP2)."""
    return tensor_bytes(list(model.parameters()))


def grad_bytes(model: nn.Module) -> int:
    """Bytes of the ``.grad`` tensors this process holds."""
    return tensor_bytes([p.grad for p in model.parameters() if p.grad is not None])


def optimizer_state_bytes(optimizer: torch.optim.Optimizer, min_numel: int = 2) -> int:
    """Bytes of an optimizer's state tensors (momentum buffers, Adam's m and v) on this process.

    Works for plain optimizers, for ``ZeroRedundancyOptimizer`` (its local ``optim`` holds this rank's
    shard) and for FSDP2 (DTensor states count their local shard). Scalar ``step`` counters are skipped."""
    inner = getattr(optimizer, "optim", optimizer)  # ZeroRedundancyOptimizer keeps the local one here
    return tensor_bytes(list(inner.state.values()), min_numel=min_numel)


def saved_activation_bytes(fn: Callable[[], Any], exclude: Iterable[torch.Tensor] = ()) -> tuple[int, Any]:
    """Run ``fn()`` and count the bytes autograd saves for backward; return ``(bytes, fn's result)``.

    Uses ``torch.autograd.graph.saved_tensors_hooks``. Each storage counts once; tensors in ``exclude``
    (pass the model's parameters: Linear saves its weight, which is no activation) are not counted.
    Non-reentrant activation checkpointing hides the tensors inside a checkpointed region from this hook
    (it installs its own), so measure checkpointing with :func:`profile_step_memory` instead."""
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in skip:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(seen.values()), out


@contextmanager
def _quiet_stderr():
    """Silence fd 2 (Kineto prints start/stop lines there, below Python) while the profiler runs."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@dataclass(frozen=True)
class StepMemory:
    """Live tensor bytes during a profiled call, relative to its start: the peak and what remained.

    ``timeline``: ``(milliseconds since start, live bytes)`` after each allocation or free.
    ``phases``: ``{name: (start_ms, end_ms)}`` of the ``torch.profiler.record_function`` ranges in the call.
    """

    peak: int
    retained: int
    timeline: tuple[tuple[float, int], ...]
    phases: dict[str, tuple[float, float]]

    def peak_in(self, phase: str) -> int:
        """The highest live bytes while ``phase`` (a ``record_function`` name) was running."""
        t0, t1 = self.phases[phase]
        inside = [b for t, b in self.timeline if t0 <= t <= t1]
        return max(inside, default=0)

    def live_at_end(self, phase: str) -> int:
        """Live bytes when ``phase`` ended (e.g. after "forward": what is kept for backward)."""
        t1 = self.phases[phase][1]
        before = [b for t, b in self.timeline if t <= t1]
        return before[-1] if before else 0


def profile_step_memory(fn: Callable[[], Any], quiet: bool = True) -> StepMemory:
    """Run ``fn()`` under ``torch.profiler`` with ``profile_memory=True``; return peak and retained bytes.

    Every CPU tensor allocation (+bytes) and free (-bytes) is an event; their running sum in time order is
    the live tensor memory above what existed before the call, so its maximum is the peak. Tensors that
    existed before (parameters, inputs) are the baseline 0; frees of such tensors go below it. This is
    what ``torch.cuda.max_memory_allocated`` reports on a GPU, measured here on a CPU. Wrap parts of
    ``fn`` in ``torch.profiler.record_function("name")`` to get their time spans in ``phases``."""
    from torch.profiler import ProfilerActivity, profile

    ctx = _quiet_stderr() if quiet else _null()
    with ctx, profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = list(prof.profiler.kineto_results.events())
    mem = sorted((e for e in events if e.name() == "[memory]"), key=lambda e: e.start_ns())
    t0 = min((e.start_ns() for e in events), default=0)
    live, peak, timeline = 0, 0, []
    for e in mem:
        live += e.nbytes()
        peak = max(peak, live)
        timeline.append(((e.start_ns() - t0) / 1e6, live))
    phases = {
        e.name(): ((e.start_ns() - t0) / 1e6, (e.end_ns() - t0) / 1e6) for e in events if e.is_user_annotation()
    }
    return StepMemory(peak, live, tuple(timeline), phases)


@contextmanager
def _null():
    yield


def train_state_sizes(
    width: int, depth: int, optimizer: str, precision: str, batch: int = 8, seed: int = 0
) -> dict[str, int]:
    """Build :func:`ffn_stack`, take one real training step, and measure the model states' bytes.

    Returns ``weights`` (``state_dict`` tensors), ``grads``, ``master`` (fp32 copy, ``mixed`` only) and
    ``optimizer`` (state tensors) as measured after the step - to compare with :func:`model_state_bytes`.
    ``mixed`` is done by hand: bf16 model for forward/backward, fp32 master weights that the optimizer
    updates, copied back into the bf16 model after the step."""
    torch.manual_seed(seed)
    dtype = torch.float32 if precision == "fp32" else torch.bfloat16
    model = ffn_stack(width, depth, dtype=dtype)
    master = [p.detach().float().clone().requires_grad_(True) for p in model.parameters()] if precision == "mixed" else None
    opt_params = master if master is not None else list(model.parameters())
    if optimizer == "sgd":
        opt = torch.optim.SGD(opt_params, lr=1e-2)
    elif optimizer == "momentum":
        opt = torch.optim.SGD(opt_params, lr=1e-2, momentum=0.9)
    elif optimizer == "adam":
        opt = torch.optim.Adam(opt_params, lr=1e-3)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}")
    x = torch.randn(batch, width, dtype=dtype)
    model(x).float().square().mean().backward()
    if master is not None:
        for m, p in zip(master, model.parameters(), strict=True):
            m.grad = p.grad.float()  # a transient fp32 copy of the gradient, for the optimizer
        opt.step()
        with torch.no_grad():
            for m, p in zip(master, model.parameters(), strict=True):
                p.copy_(m)  # the bf16 weights used by the next forward
                m.grad = None
    else:
        opt.step()
    return {
        "weights": tensor_bytes(model.state_dict()),
        "grads": grad_bytes(model),
        "master": tensor_bytes(master) if master is not None else 0,
        "optimizer": optimizer_state_bytes(opt),
    }
