"""Data-parallel batch inference over N processes: exact, in input order, for any dataset size.

Taught in notebook 10; timed in notebook 11.

The recipe (:func:`distributed_predict`):

1. split the ``n`` input rows into ``world_size`` **contiguous** ranges whose sizes differ by at most one
   (:func:`split_rows`) - no padding, no duplicates, so the answer is exact for sizes not divisible by the
   world size (``DistributedSampler`` instead pads by repeating samples; see notebook 04). When
   ``n < world_size`` some ranks get no rows; they still take part in the gather;
2. each rank runs the model on its range in batches of ``batch_size`` (``eval()``, ``inference_mode``);
3. the outputs are gathered to rank 0 with one collective (:func:`gather_rows`): every rank pads its block
   to the largest block size (known in advance from :func:`split_rows`, so no sizes are exchanged),
   ``dist.gather`` collects the blocks, and rank 0 trims the padding and concatenates them in rank
   order - which *is* input order, because the ranges are contiguous.

How the model reaches the workers: :func:`distributed_predict` takes either an ``nn.Module`` or the path of
an exported model. A module is **pickled** into each spawned process (its class must be importable, e.g.
``course_utils.models.Net`` - a class defined in a notebook cannot be); its tensors, like the inputs, travel
through PyTorch's shared memory rather than as copies. A path is loaded in each worker: ``.pt2`` with
``torch.export.load`` (the ``torch.export`` format), anything else with ``torch.jit.load`` (TorchScript) -
no pickle, no Python class needed (see :mod:`course_utils.export`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from . import launch

__all__ = [
    "split_rows",
    "predict_local",
    "load_model",
    "gather_rows",
    "predict_worker",
    "distributed_predict",
    "benchmark_worker",
    "latency_by_batch",
    "process_scaling",
    "ModelSpec",
]

#: What :func:`distributed_predict` accepts as a model: a module, or the path of an exported model.
ModelSpec = nn.Module | str | os.PathLike


def split_rows(n: int, world_size: int) -> list[tuple[int, int]]:
    """Contiguous ``[start, end)`` row ranges, one per rank, sizes differing by at most one (notebook 10).

    Rank ``r`` gets rows ``r*n//W`` to ``(r+1)*n//W``: every row exactly once, in order. With ``n < W``
    some ranges are empty.
    """
    if n < 0 or world_size < 1:
        raise ValueError(f"need n >= 0 and world_size >= 1, got n={n}, world_size={world_size}")
    return [(r * n // world_size, (r + 1) * n // world_size) for r in range(world_size)]


def load_model(model: ModelSpec) -> nn.Module:
    """A module as is; a ``.pt2`` path via ``torch.export.load(...).module()``; another path via
    ``torch.jit.load`` (notebook 10)."""
    if isinstance(model, nn.Module):
        return model
    path = Path(model)
    if path.suffix == ".pt2":
        return torch.export.load(str(path)).module()
    return torch.jit.load(str(path), map_location="cpu")


def predict_local(model: nn.Module, inputs: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Outputs of ``model`` for ``inputs`` in batches, in one process, in input order (notebook 10).

    The single-process reference that distributed results are compared with. An empty input gives an
    empty output with the right feature shape.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if hasattr(model, "eval") and not isinstance(model, torch.fx.GraphModule):
        model.eval()  # dropout off; an exported GraphModule is already in inference form
    with torch.inference_mode():
        if len(inputs) == 0:
            return model(inputs).detach().clone()
        return torch.cat([model(b) for b in inputs.split(batch_size)])


def gather_rows(local: torch.Tensor, ranges: list[tuple[int, int]], dst: int = 0) -> torch.Tensor | None:
    """Gather each rank's block of rows to ``dst`` in rank order, exactly (notebook 10).

    Blocks may have different lengths (even zero): each is padded to the longest length, gathered with
    ``dist.gather`` and trimmed on ``dst``, which returns the concatenation; other ranks return ``None``.
    ``ranges`` is the :func:`split_rows` list, known to every rank, so sizes need not be exchanged.
    """
    rank, world = dist.get_rank(), dist.get_world_size()
    sizes = [e - s for s, e in ranges]
    if len(sizes) != world or len(local) != sizes[rank]:
        raise ValueError(f"rank {rank}: {len(local)} rows but ranges say {sizes}")
    longest = max(max(sizes), 1)
    padded = local.new_zeros((longest, *local.shape[1:]))
    padded[: len(local)] = local
    bufs = [torch.empty_like(padded) for _ in range(world)] if rank == dst else None
    dist.gather(padded, gather_list=bufs, dst=dst)
    if rank != dst:
        return None
    return torch.cat([b[:k] for b, k in zip(bufs, sizes, strict=True)])


def predict_worker(rank: int, world_size: int, model: ModelSpec, inputs: torch.Tensor, batch_size: int) -> Any:
    """The per-rank body of :func:`distributed_predict`: predict this rank's rows, gather to rank 0.

    Returns ``(outputs or None, seconds)`` where ``seconds`` holds this rank's ``load``, ``compute`` and
    ``gather`` times (notebook 11 splits the time this way).
    """
    t0 = time.perf_counter()
    net = load_model(model)
    t1 = time.perf_counter()
    ranges = split_rows(len(inputs), world_size)
    start, end = ranges[rank]
    local = predict_local(net, inputs[start:end], batch_size)
    t2 = time.perf_counter()
    out = gather_rows(local, ranges)
    t3 = time.perf_counter()
    return out, {"load": t1 - t0, "compute": t2 - t1, "gather": t3 - t2}


def _check_picklable_class(model: ModelSpec) -> None:
    if isinstance(model, torch.jit.ScriptModule):
        raise TypeError("pass a TorchScript model by its file path (torch.jit.save it first); it cannot be pickled")
    if isinstance(model, nn.Module) and type(model).__module__ in ("__main__", "builtins"):
        raise TypeError(
            f"{type(model).__name__} is defined in the notebook, so spawned workers cannot unpickle it: "
            "define the class in a module (e.g. course_utils) or pass an exported model's path"
        )


def distributed_predict(
    model: ModelSpec,
    inputs: torch.Tensor,
    world_size: int,
    batch_size: int = 1024,
    timeout: float = 300.0,
    return_timings: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, list[dict[str, float]]]:
    """Predict ``inputs`` with ``world_size`` processes (via :func:`course_utils.launch.run`); outputs in
    input order, exactly as one process would compute them (notebook 10).

    ``model`` is an ``nn.Module`` whose class is importable (it is pickled into the workers) or the path of
    a TorchScript / ``torch.export`` (``.pt2``) file that each worker loads. Works for any number of rows,
    including fewer rows than ranks. ``return_timings=True`` also returns each rank's ``load`` /
    ``compute`` / ``gather`` seconds.
    """
    _check_picklable_class(model)
    if isinstance(model, (str, os.PathLike)):
        model = str(model)
    inputs = inputs.detach().cpu().contiguous()
    results = launch.run(predict_worker, world_size, args=(model, inputs, batch_size), timeout=timeout)
    out = results[0][0]
    timings = [r[1] for r in results]
    return (out, timings) if return_timings else out


def benchmark_worker(
    rank: int,
    world_size: int,
    model: ModelSpec,
    inputs: torch.Tensor,
    batch_sizes: list[int],
    repeats: int = 3,
    warmup: int = 1,
) -> dict[str, Any]:
    """Time the phases of a distributed prediction at several batch sizes in one process group (notebook 11).

    For each batch size: ``warmup`` untimed passes, then ``repeats`` timed passes. A pass starts with a
    barrier (all ranks start together) and is split into ``compute`` (this rank's rows), ``wait`` (a
    barrier: idle until the slowest rank has finished computing) and ``gather`` (the collective itself);
    ``total`` is compute + wait + gather. Returns ``{"enter", "exit"}`` (wall-clock ``time.time()`` when
    this function started and ended, to work out process start-up), ``"load"`` seconds and
    ``"by_batch": {batch_size: {"compute": [...], "wait": [...], "gather": [...], "total": [...]}}``.
    """
    enter = time.time()
    t0 = time.perf_counter()
    net = load_model(model)
    load = time.perf_counter() - t0
    ranges = split_rows(len(inputs), world_size)
    start, end = ranges[rank]
    mine = inputs[start:end]
    by_batch: dict[int, dict[str, list[float]]] = {}
    for bs in batch_sizes:
        rec: dict[str, list[float]] = {"compute": [], "wait": [], "gather": [], "total": []}
        for i in range(warmup + repeats):
            dist.barrier()
            t0 = time.perf_counter()
            local = predict_local(net, mine, bs)
            t1 = time.perf_counter()
            dist.barrier()
            t2 = time.perf_counter()
            gather_rows(local, ranges)
            t3 = time.perf_counter()
            if i >= warmup:
                for key, value in (("compute", t1 - t0), ("wait", t2 - t1), ("gather", t3 - t2), ("total", t3 - t0)):
                    rec[key].append(value)
        by_batch[bs] = rec
    return {"enter": enter, "load": load, "by_batch": by_batch, "exit": time.time()}


def latency_by_batch(
    model: nn.Module, inputs: torch.Tensor, batch_sizes: list[int], repeats: int = 20, warmup: int = 2
) -> dict[int, Any]:
    """One process: a :class:`course_utils.bench.Timing` of one forward pass per batch size (notebook 11).

    Its ``p50``/``p95`` are the latency of a request of that many rows; ``throughput`` is rows/s.
    """
    from .bench import time_it

    model.eval()
    out = {}
    with torch.inference_mode():
        for bs in batch_sizes:
            xb = inputs[:bs]
            out[bs] = time_it(lambda xb=xb: model(xb), repeats=repeats, warmup=warmup, items=len(xb))
    return out


def process_scaling(
    model: ModelSpec,
    inputs: torch.Tensor,
    worker_counts: list[int],
    batch_sizes: list[int],
    repeats: int = 3,
    threads_per_rank: int = 1,
    timeout: float = 300.0,
) -> dict[int, dict[str, Any]]:
    """Run :func:`benchmark_worker` for each world size (one launch each) and summarise (notebook 11).

    Per world size: ``startup`` (launch until the last rank entered the worker: spawning, importing,
    forming the process group), ``teardown`` (last rank done until ``run`` returned), ``launch_wall``, the
    slowest rank's ``load``, and per batch size the median over repeats of the slowest rank's ``compute``,
    ``wait``, ``gather`` and ``total`` seconds.
    """
    import statistics

    out: dict[int, dict[str, Any]] = {}
    for w in worker_counts:
        t0 = time.time()
        per_rank = launch.run(
            benchmark_worker, w, args=(model, inputs, batch_sizes, repeats), timeout=timeout,
            threads_per_rank=threads_per_rank,
        )
        t1 = time.time()
        phases: dict[int, dict[str, float]] = {}
        for bs in batch_sizes:
            phases[bs] = {
                key: statistics.median(max(r["by_batch"][bs][key][i] for r in per_rank) for i in range(repeats))
                for key in ("compute", "wait", "gather", "total")
            }
        out[w] = {
            "startup": max(r["enter"] for r in per_rank) - t0,
            "teardown": t1 - max(r["exit"] for r in per_rank),
            "launch_wall": t1 - t0,
            "load": max(r["load"] for r in per_rank),
            "phases": phases,
        }
    return out
