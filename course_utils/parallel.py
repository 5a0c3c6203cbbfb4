"""Splitting one model across processes: tensor, pipeline and sharded-optimizer parallelism, by hand.

Taught in notebook 12. Every worker runs under :func:`course_utils.launch.run` (gloo on CPU, the same code
takes NCCL on GPUs) and returns plain tensors, so the notebook can compare with the unsplit model.

* **Tensor parallelism** (Megatron-LM style, Shoeybi et al. 2019): :class:`ColumnParallelLinear` splits a
  weight's output rows across ranks, :class:`RowParallelLinear` its input columns; :class:`TensorParallelMLP`
  chains them so a two-layer MLP needs one all-reduce in forward (and one in backward). The collectives
  are autograd functions (:func:`copy_to_parallel`, :func:`reduce_from_parallel`,
  :func:`gather_from_parallel`, :func:`scatter_to_parallel`), and :data:`COMM_CALLS` counts them.
* **Pipeline parallelism** (GPipe, Huang et al. 2019): :func:`gpipe_step` runs stage ``rank`` of an
  ``nn.Sequential`` on micro-batches with ``send``/``recv`` - all forwards, then all backwards - and logs
  when each stage computes, so the bubble can be measured against (p − 1)/(m + p − 1).
* **Sharded optimizer state** (ZeRO stage 1, Rajbhandari et al. 2020): :func:`sharding_worker` trains the
  same model with DDP + Adam, DDP + ``ZeroRedundancyOptimizer`` and FSDP2 ``fully_shard`` and reports
  the final weights and each rank's bytes of parameters, gradients and optimizer state.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .memory import grad_bytes, optimizer_state_bytes, param_bytes

__all__ = [
    "COMM_CALLS",
    "copy_to_parallel",
    "reduce_from_parallel",
    "gather_from_parallel",
    "scatter_to_parallel",
    "ColumnParallelLinear",
    "RowParallelLinear",
    "TensorParallelMLP",
    "tensor_parallel_worker",
    "split_sequential",
    "gpipe_step",
    "bubble_fraction",
    "measured_bubble",
    "pipeline_worker",
    "tp_and_pp_worker",
    "sharding_worker",
]

#: How many collectives of each kind ran in this process ("all_reduce", "all_gather"), forward and backward.
COMM_CALLS: Counter = Counter()


# --- collectives that autograd understands (Megatron's f and g operators) ---------------------------


class _CopyToParallel(torch.autograd.Function):
    """Forward: identity (every rank already has the full input). Backward: all-reduce the gradient,
    because each rank computed only its part of d(loss)/d(input)."""

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        g = g.clone()
        COMM_CALLS["all_reduce"] += 1
        dist.all_reduce(g)
        return g


class _ReduceFromParallel(torch.autograd.Function):
    """Forward: all-reduce (sum the ranks' partial results). Backward: identity."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone()
        COMM_CALLS["all_reduce"] += 1
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return g


class _GatherFromParallel(torch.autograd.Function):
    """Forward: all-gather the ranks' slices along the last dim. Backward: keep this rank's slice."""

    @staticmethod
    def forward(ctx, x):
        ws = dist.get_world_size()
        parts = [torch.empty_like(x) for _ in range(ws)]
        COMM_CALLS["all_gather"] += 1
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=-1)

    @staticmethod
    def backward(ctx, g):
        return g.chunk(dist.get_world_size(), dim=-1)[dist.get_rank()].contiguous()


class _ScatterToParallel(torch.autograd.Function):
    """Forward: keep this rank's slice of the last dim. Backward: all-gather the gradient slices."""

    @staticmethod
    def forward(ctx, x):
        return x.chunk(dist.get_world_size(), dim=-1)[dist.get_rank()].contiguous()

    @staticmethod
    def backward(ctx, g):
        parts = [torch.empty_like(g) for _ in range(dist.get_world_size())]
        COMM_CALLS["all_gather"] += 1
        dist.all_gather(parts, g.contiguous())
        return torch.cat(parts, dim=-1)


def copy_to_parallel(x: torch.Tensor) -> torch.Tensor:
    """Identity forward, all-reduce backward (enter a tensor-parallel region)."""
    return _CopyToParallel.apply(x)


def reduce_from_parallel(x: torch.Tensor) -> torch.Tensor:
    """All-reduce forward, identity backward (leave a row-parallel region)."""
    return _ReduceFromParallel.apply(x)


def gather_from_parallel(x: torch.Tensor) -> torch.Tensor:
    """All-gather along the last dim forward, take own slice backward (leave a column-parallel region)."""
    return _GatherFromParallel.apply(x)


def scatter_to_parallel(x: torch.Tensor) -> torch.Tensor:
    """Take own slice of the last dim forward, all-gather backward."""
    return _ScatterToParallel.apply(x)


# --- tensor-parallel layers -----------------------------------------------------------------------


def _shard(n: int, rank: int, world_size: int) -> slice:
    if n % world_size:
        raise ValueError(f"dimension {n} is not divisible by world size {world_size}")
    k = n // world_size
    return slice(rank * k, (rank + 1) * k)


class ColumnParallelLinear(nn.Module):
    """``y = x Wᵀ + b`` with W's *output* rows split: rank r holds rows r·out/p … (r+1)·out/p − 1.

    Each rank computes its slice of ``y`` from the full ``x``; ``gather_output=True`` all-gathers the
    slices into the full ``y``, ``False`` leaves ``y`` split (the input a :class:`RowParallelLinear` wants).
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, gather_output: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.detach().clone())
        self.bias = nn.Parameter(bias.detach().clone()) if bias is not None else None
        self.gather_output = gather_output

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, world_size: int, gather_output: bool = True):
        """This rank's shard of an unsplit ``nn.Linear``."""
        rows = _shard(linear.out_features, rank, world_size)
        bias = linear.bias[rows] if linear.bias is not None else None
        return cls(linear.weight[rows], bias, gather_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(copy_to_parallel(x), self.weight, self.bias)
        return gather_from_parallel(y) if self.gather_output else y


class RowParallelLinear(nn.Module):
    """``y = x Wᵀ + b`` with W's *input* columns split: rank r multiplies its slice of ``x`` by its
    columns, giving a partial sum of the full ``y``; one all-reduce adds the partial sums. The bias is
    added once, after the sum (every rank holds all of it)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, input_is_parallel: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.detach().clone())
        self.bias = nn.Parameter(bias.detach().clone()) if bias is not None else None
        self.input_is_parallel = input_is_parallel

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, world_size: int, input_is_parallel: bool = False):
        """This rank's shard of an unsplit ``nn.Linear``."""
        cols = _shard(linear.in_features, rank, world_size)
        return cls(linear.weight[:, cols], linear.bias, input_is_parallel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.input_is_parallel:
            x = scatter_to_parallel(x)
        y = reduce_from_parallel(F.linear(x, self.weight))
        return y + self.bias if self.bias is not None else y


class TensorParallelMLP(nn.Module):
    """``fc2(relu(fc1(x)))`` split Megatron-style: fc1 column-parallel (no gather), ReLU on the local
    slice (element-wise, so no communication), fc2 row-parallel: **one** all-reduce in forward."""

    def __init__(self, fc1: nn.Linear, fc2: nn.Linear, rank: int, world_size: int) -> None:
        super().__init__()
        self.fc1 = ColumnParallelLinear.from_linear(fc1, rank, world_size, gather_output=False)
        self.fc2 = RowParallelLinear.from_linear(fc2, rank, world_size, input_is_parallel=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


def _run_and_grads(module: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """Forward, backward of sum(y²)/2 (so dL/dy = y); return output, input grad, param grads, comm counts."""
    COMM_CALLS.clear()
    x = x.detach().clone().requires_grad_(True)
    y = module(x)
    fwd = dict(COMM_CALLS)
    (y.square().sum() / 2).backward()
    bwd = {k: v - fwd.get(k, 0) for k, v in COMM_CALLS.items()}
    return {
        "y": y.detach(),
        "x_grad": x.grad.detach(),
        "grads": {n: p.grad.detach().clone() for n, p in module.named_parameters()},
        "comm_forward": fwd,
        "comm_backward": {k: v for k, v in bwd.items() if v},
    }


def tensor_parallel_worker(rank: int, world_size: int, fc1: nn.Linear, fc2: nn.Linear, x: torch.Tensor) -> dict:
    """Run ``fc1`` column-parallel, ``fc2`` row-parallel, and the two-layer MLP pattern, on this rank.

    Returns, per case, this rank's output, input gradient, parameter-gradient shards and collective counts.
    """
    return {
        "column": _run_and_grads(ColumnParallelLinear.from_linear(fc1, rank, world_size, gather_output=True), x),
        "row": _run_and_grads(RowParallelLinear.from_linear(fc2, rank, world_size), torch.relu(fc1(x)).detach()),
        "mlp": _run_and_grads(TensorParallelMLP(fc1, fc2, rank, world_size), x),
    }


# --- pipeline parallelism ---------------------------------------------------------------------------


def split_sequential(model: nn.Sequential, n_stages: int) -> list[list[int]]:
    """Indices of ``model``'s layers for each of ``n_stages`` stages, as equal in parameter count as a
    contiguous split allows (layers without parameters join the stage before them)."""
    sizes = [sum(p.numel() for p in layer.parameters()) for layer in model]
    total, target = sum(sizes), sum(sizes) / n_stages
    stages: list[list[int]] = [[]]
    acc = 0
    for i, s in enumerate(sizes):
        if s and acc >= target * len(stages) and len(stages) < n_stages:
            stages.append([])
        stages[-1].append(i)
        acc += s
    if len(stages) != n_stages or total == 0:
        raise ValueError(f"cannot split {len(model)} layers into {n_stages} stages")
    return stages


def _isend(t: torch.Tensor, dst: int, pending: list) -> None:
    """Send a tensor's shape (a fixed-size header), then its data, without waiting for the receiver.

    The work handles and the tensors go to ``pending``; they must stay alive until ``wait()``."""
    header = torch.zeros(8, dtype=torch.int64)
    header[0] = t.dim()
    header[1 : 1 + t.dim()] = torch.tensor(t.shape)
    t = t.contiguous()
    pending.append((dist.isend(header, dst), header))
    pending.append((dist.isend(t, dst), t))


def _recv(src: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    header = torch.zeros(8, dtype=torch.int64)
    dist.recv(header, src)
    t = torch.empty(header[1 : 1 + int(header[0])].tolist(), dtype=dtype)
    dist.recv(t, src)
    return t


def gpipe_step(
    stage: nn.Module, x: torch.Tensor | None, target: torch.Tensor | None, n_micro: int
) -> dict[str, Any]:
    """One GPipe training step (forward and backward, no optimizer step) for stage ``rank`` of a pipeline.

    Rank 0 gets the batch ``x``; the last rank gets ``target`` and computes the loss
    ``mean((y - target)²)`` over the whole batch, as the sum over micro-batches of their means times
    (micro-batch size / batch size). Schedule: every stage runs all ``n_micro`` forwards (receiving
    activations from the previous stage, sending to the next), then all backwards in reverse order
    (receiving output gradients from the next stage, sending input gradients back). Sends are
    asynchronous (``isend``), so a stage never waits for its neighbour to be ready to receive.
    Gradients accumulate in ``stage``'s ``.grad``. Returns the last stage's output and loss, and
    ``busy``: a list of ``(kind, micro-batch, start, end)`` with ``time.perf_counter()`` times.
    """
    rank, ws = dist.get_rank(), dist.get_world_size()
    first, last = rank == 0, rank == ws - 1
    micro_x = x.chunk(n_micro) if first else [None] * n_micro
    micro_t = target.chunk(n_micro) if last else [None] * n_micro
    n_total = target.shape[0] if last else None
    inputs, outputs, losses, busy, pending = [], [], [], [], []
    for i in range(n_micro):  # all forwards
        inp = micro_x[i] if first else _recv(rank - 1).requires_grad_(True)
        t0 = time.perf_counter()
        out = stage(inp)
        if last:
            loss = F.mse_loss(out, micro_t[i]) * (out.shape[0] / n_total)
        busy.append(("F", i, t0, time.perf_counter()))
        if last:
            losses.append(loss)
        else:
            _isend(out.detach(), rank + 1, pending)
        inputs.append(inp)
        outputs.append(out)
    for i in reversed(range(n_micro)):  # all backwards, last micro-batch first
        grad_out = None if last else _recv(rank + 1)
        t0 = time.perf_counter()
        if last:
            losses[i].backward()
        else:
            outputs[i].backward(grad_out)
        busy.append(("B", i, t0, time.perf_counter()))
        if not first:
            _isend(inputs[i].grad, rank - 1, pending)
    for work, _ in pending:  # sends went out while this stage computed; make sure they are done
        work.wait()
    result: dict[str, Any] = {"busy": busy}
    if last:
        result["y"] = torch.cat([o.detach() for o in outputs])
        result["loss"] = float(sum(loss.detach() for loss in losses))
    return result


def bubble_fraction(p: int, m: int) -> float:
    """Idle fraction of a GPipe schedule with ``p`` stages and ``m`` equal micro-batches: (p−1)/(m+p−1)."""
    return (p - 1) / (m + p - 1)


def measured_bubble(busy_per_rank: Sequence[Sequence[tuple]]) -> float:
    """1 − (time spent computing) / (stages × span of the whole step), from :func:`gpipe_step`'s logs."""
    starts = [b[2] for busy in busy_per_rank for b in busy]
    ends = [b[3] for busy in busy_per_rank for b in busy]
    span = max(ends) - min(starts)
    work = sum(b[3] - b[2] for busy in busy_per_rank for b in busy)
    return 1.0 - work / (len(busy_per_rank) * span)


def pipeline_worker(
    rank: int,
    world_size: int,
    model: nn.Sequential,
    x: torch.Tensor,
    target: torch.Tensor,
    micro_counts: Sequence[int],
    repeats: int = 1,
    warmup: int = 1,
) -> dict:
    """For each micro-batch count: one GPipe step of stage ``rank`` of ``model`` (``repeats`` times, after
    ``warmup`` untimed steps, each synchronised by a barrier). Returns this rank's layer indices, the first run's gradients (named as
    in ``model``), the last stage's output and loss, and every run's ``busy`` log."""
    idx = split_sequential(model, world_size)[rank]
    stage = nn.Sequential(*[model[i] for i in idx])
    names = {f"{j}.{n}": f"{i}.{n}" for j, i in enumerate(idx) for n, _ in model[i].named_parameters()}
    runs: dict[int, dict] = {}
    for _ in range(warmup):  # untimed: first calls pay one-off costs (allocations, kernel set-up)
        dist.barrier()
        gpipe_step(stage, x if rank == 0 else None, target if rank == world_size - 1 else None, micro_counts[0])
    for m in micro_counts:
        logs = []
        for r in range(repeats):
            stage.zero_grad(set_to_none=True)
            dist.barrier()
            out = gpipe_step(stage, x if rank == 0 else None, target if rank == world_size - 1 else None, m)
            logs.append(out["busy"])
            if r == 0:
                first = out
                grads = {names[n]: p.grad.detach().clone() for n, p in stage.named_parameters()}
        runs[m] = {"busy": logs, "grads": grads, "y": first.get("y"), "loss": first.get("loss")}
    return {"layers": idx, "runs": runs}


def tp_and_pp_worker(rank: int, world_size: int, tp_args: tuple, pp_args: tuple) -> dict:
    """Both model-parallel demos in one launch (one process start-up instead of two)."""
    return {"tp": tensor_parallel_worker(rank, world_size, *tp_args), "pp": pipeline_worker(rank, world_size, *pp_args)}


# --- sharded optimizer state -----------------------------------------------------------------------


def _train(model: nn.Module, opt: torch.optim.Optimizer, xs: torch.Tensor, ys: torch.Tensor) -> None:
    for x, y in zip(xs, ys, strict=True):
        opt.zero_grad(set_to_none=False)
        F.mse_loss(model(x), y).backward()
        opt.step()


def sharding_worker(
    rank: int, world_size: int, model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, lr: float = 1e-3,
    fsdp: bool = True,
) -> dict:
    """Train copies of ``model`` three ways on this rank's share of the data (``xs[:, rank::world_size]``):
    DDP + Adam, DDP + ``ZeroRedundancyOptimizer(Adam)``, and (``fsdp=True``) FSDP2 ``fully_shard`` + Adam.

    ``xs``/``ys``: ``[steps, batch, features]``; each rank takes every ``world_size``-th row of each batch,
    so all three see the same global batches. Returns, per method, the final full weights (``state``,
    from rank 0 only, to keep the pickles small) and this rank's bytes of parameters, gradients and
    optimizer state (``mem``)."""
    import copy

    from torch.distributed.optim import ZeroRedundancyOptimizer
    from torch.nn.parallel import DistributedDataParallel as DDP

    my_x, my_y = xs[:, rank::world_size], ys[:, rank::world_size]
    out: dict[str, Any] = {}

    ddp = DDP(copy.deepcopy(model))
    opt = torch.optim.Adam(ddp.parameters(), lr=lr)
    _train(ddp, opt, my_x, my_y)
    out["ddp"] = _report(rank, ddp.module, opt)

    zddp = DDP(copy.deepcopy(model))
    zopt = ZeroRedundancyOptimizer(zddp.parameters(), optimizer_class=torch.optim.Adam, lr=lr)
    _train(zddp, zopt, my_x, my_y)
    out["zero"] = _report(rank, zddp.module, zopt)

    if fsdp:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh("cpu", (world_size,))
        fmodel = copy.deepcopy(model)
        for layer in fmodel:
            if any(True for _ in layer.parameters()):
                fully_shard(layer, mesh=mesh)
        fully_shard(fmodel, mesh=mesh)
        fopt = torch.optim.Adam(fmodel.parameters(), lr=lr)
        _train(fmodel, fopt, my_x, my_y)
        out["fsdp"] = _report(rank, fmodel, fopt)
    return out


def _report(rank: int, model: nn.Module, opt: torch.optim.Optimizer) -> dict:
    full = {
        n: (p.full_tensor() if hasattr(p, "full_tensor") else p).detach().clone() for n, p in model.named_parameters()
    }  # full_tensor is a collective for FSDP2: every rank must call it
    return {
        "state": full if rank == 0 else None,
        "mem": {"params": param_bytes(model), "grads": grad_bytes(model), "optimizer": optimizer_state_bytes(opt)},
    }
