"""Activation checkpointing: keep fewer activations, recompute them in backward (taught in notebook 12).

Without checkpointing, a forward pass keeps every tensor backward will need. With ``segments`` checkpointed
segments (``torch.utils.checkpoint.checkpoint_sequential``), only each segment's *input* is kept; in
backward each segment is run forward again, one at a time, to rebuild its activations. Memory falls from
"all layers" to "segment inputs + one segment"; compute rises by at most one extra forward pass. (Non-reentrant checkpointing
stops recomputing a segment as soon as every tensor backward needs is back - "early stop" - so the last
layers of a segment, whose outputs nobody saved, are not rerun.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.profiler import record_function
from torch.utils.checkpoint import checkpoint_sequential

from .bench import Timing, time_it
from .memory import profile_step_memory

__all__ = ["forward_maybe_checkpointed", "ffn_kept_bytes", "CheckpointCost", "checkpoint_cost"]


def forward_maybe_checkpointed(model: nn.Sequential, x: torch.Tensor, segments: int = 0) -> torch.Tensor:
    """``model(x)``; with ``segments > 0``, through ``checkpoint_sequential`` (non-reentrant).

    Note: ``checkpoint_sequential`` runs the *last* segment normally (its activations are needed at once
    by backward anyway), so ``segments=1`` checkpoints nothing."""
    if segments <= 0:
        return model(x)
    return checkpoint_sequential(model, segments, x, use_reentrant=False)


def ffn_kept_bytes(batch: int, width: int, depth: int, segments: int, elem_bytes: int = 4) -> int:
    """Bytes an :func:`course_utils.memory.ffn_stack` keeps after forward with ``segments`` checkpointed
    segments (``segments`` divides ``depth``; 0 = none): the inputs of segments 2…s, the last segment's
    activations (5·B·w per block, its input included) and, per checkpointed segment, the saved CPU RNG state
    (``checkpoint`` keeps it so that dropout is recomputed identically)."""
    e = batch * width * elem_bytes
    if segments <= 1:
        return 5 * depth * e
    if depth % segments:
        raise ValueError(f"segments ({segments}) must divide depth ({depth})")
    rng = torch.get_rng_state().numel()
    return (segments - 1) * (e + rng) + 5 * (depth // segments) * e


@dataclass(frozen=True)
class CheckpointCost:
    """What one forward+backward costs with ``segments`` checkpointed segments (0 = no checkpointing)."""

    segments: int
    peak_bytes: int  # peak live tensor bytes above the start (profiler), forward + backward
    after_forward_bytes: int  # live bytes when forward has finished: what is kept for backward
    linear_forwards: int  # forward calls of the model's nn.Linear layers in one forward + backward
    timing: Timing  # forward + backward wall time

    def predicted_time_ratio(self, plain_forwards: int) -> float:
        """Time relative to no checkpointing if backward costs twice the forward and only the recomputed
        ``nn.Linear`` forwards add work: 1 + (extra forwards / plain forwards) / 3."""
        return 1 + (self.linear_forwards - plain_forwards) / plain_forwards / 3


def checkpoint_cost(
    model: nn.Sequential, x: torch.Tensor, segments: int, repeats: int = 5, warmup: int = 1
) -> CheckpointCost:
    """Measure peak memory (``torch.profiler``) and time (:func:`course_utils.bench.time_it`) of
    forward + backward of ``model`` on ``x`` with ``segments`` checkpointed segments."""

    def fwd_bwd() -> None:
        model.zero_grad(set_to_none=False)  # keep the .grad buffers: only activations come and go
        with record_function("forward"):
            loss = forward_maybe_checkpointed(model, x, segments).square().mean()
        with record_function("backward"):
            loss.backward()

    calls = [0]

    def count(module, args, output) -> None:
        calls[0] += 1

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        fwd_bwd()  # counts forwards, recomputed ones included; grads exist from here on
    finally:
        for h in hooks:
            h.remove()
    mem = profile_step_memory(fwd_bwd)
    timing = time_it(fwd_bwd, repeats=repeats, warmup=warmup)
    return CheckpointCost(segments, mem.peak, mem.live_at_end("forward"), calls[0], timing)
