"""Synchronous vs asynchronous data-parallel SGD, with staleness measured (notebook 09).

Three ways for ``W`` workers to train one model on their own shards of MNIST, each run by
:func:`course_utils.launch.run` and written so the three can be compared step for step:

* :func:`sync_worker` - **synchronous** SGD: every step each rank computes a gradient on its minibatch,
  the gradients are averaged with ``all_reduce`` and every rank applies the same update. Nobody moves on
  until the slowest rank has contributed, and no gradient is ever stale (staleness 0 by construction -
  measured anyway).
* :func:`hogwild_worker` - **Hogwild!** (Niu et al., 2011): the parameters live in shared memory
  (``torch.multiprocessing``: ``model.share_memory()``); each process reads them, computes a gradient and
  writes its update *without any lock*. Updates that other processes wrote between this process's read
  and its write make its gradient stale.
* :func:`ps_worker` - a tiny **parameter server** over gloo point-to-point messages: rank 0 holds the
  parameters; ranks ``1..W`` receive them, compute a gradient and send it back; the server applies each
  gradient as it arrives (``dist.recv`` from any source) and replies with the new parameters.

Staleness of a gradient = the number of updates applied to the parameters between the moment the worker
read them and the moment its gradient is applied. Every runner returns the staleness of every update, the
wall-clock time of each update, and parameter snapshots, which :func:`evaluate_snapshots` turns into test
loss curves (the same metric for all three methods).

``delays`` (seconds of sleep per step, one per worker) makes stragglers: a slow worker holds up every
synchronous step but not the asynchronous ones.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from .models import Net

__all__ = [
    "RunLog",
    "make_model",
    "worker_batches",
    "sync_worker",
    "hogwild_worker",
    "ps_worker",
    "Hyper",
    "compare_worker",
    "run_comparison",
    "merge_logs",
    "run_sync",
    "run_hogwild",
    "run_ps",
    "evaluate_snapshots",
]


@dataclass
class RunLog:
    """What one run recorded (times in seconds since all ranks started together).

    ``updates``: the update count at each snapshot; ``times``: when; ``snapshots``: flat parameters then.
    ``staleness``: one entry per applied update. ``compute``/``comm``: seconds this rank spent computing
    gradients and communicating/waiting. ``wall``: total seconds of the training loop.
    """

    method: str
    workers: int
    updates: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    snapshots: list[np.ndarray] = field(default_factory=list)
    staleness: list[int] = field(default_factory=list)
    compute: float = 0.0
    comm: float = 0.0
    wall: float = 0.0
    gradients: int = 0


def make_model(seed: int = 0) -> Net:
    """The article's ``Net`` without dropout (so a gradient depends only on the data and weights)."""
    torch.manual_seed(seed)
    return Net(dropout=False)


def _data(worker: int, workers: int) -> tuple[torch.Tensor, torch.Tensor]:
    """This worker's contiguous shard of the MNIST training split (normalised)."""
    from .infer import split_rows
    from .pipeline import load_mnist_tensors

    x, y = load_mnist_tensors("train")
    start, end = split_rows(len(x), workers)[worker]
    return x[start:end], y[start:end]


def worker_batches(worker: int, workers: int, steps: int, batch_size: int, seed: int = 0):
    """Yield ``steps`` minibatches sampled (seeded, with replacement of batches) from this worker's shard."""
    x, y = _data(worker, workers)
    g = torch.Generator().manual_seed(seed * 1000 + worker)
    for _ in range(steps):
        idx = torch.randint(len(x), (batch_size,), generator=g)
        yield x[idx], y[idx]


def _grad(model: torch.nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> float:
    model.zero_grad(set_to_none=False)
    loss = F.nll_loss(model(xb), yb)
    loss.backward()
    return loss.item()


def _snapshot(log: RunLog, updates: int, t0: float, model: torch.nn.Module) -> None:
    log.updates.append(updates)
    log.times.append(time.perf_counter() - t0)
    log.snapshots.append(parameters_to_vector(model.parameters()).detach().numpy().copy())


@dataclass(frozen=True)
class Hyper:
    """The training settings every method shares: updates per worker, minibatch, learning rate..."""

    steps: int = 100
    batch_size: int = 32
    lr: float = 0.05
    seed: int = 0
    snapshot_every: int = 10


def _sync(worker: int, workers: int, h: Hyper, delays: Sequence[float], group=None) -> RunLog:
    """Synchronous SGD as compute worker ``worker`` of ``workers`` (ranks of ``group``)."""
    model = make_model(h.seed)
    params = list(model.parameters())
    log = RunLog("sync all-reduce", workers)
    delay = delays[worker] if worker < len(delays) else 0.0
    dist.barrier(group=group)
    t0 = time.perf_counter()
    if worker == 0:
        _snapshot(log, 0, t0, model)
    for step, (xb, yb) in enumerate(worker_batches(worker, workers, h.steps, h.batch_size, h.seed)):
        read_version = step  # the version of the weights this gradient is computed on
        tc = time.perf_counter()
        _grad(model, xb, yb)
        if delay:
            time.sleep(delay)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        tm = time.perf_counter()
        dist.all_reduce(flat, group=group)  # waits for the slowest rank: the price of synchrony
        te = time.perf_counter()
        flat /= workers
        with torch.no_grad():
            offset = 0
            for p in params:
                p -= h.lr * flat[offset : offset + p.numel()].view_as(p)
                offset += p.numel()
        log.compute += tm - tc
        log.comm += te - tm
        log.gradients += 1
        log.staleness.append(step - read_version)  # applied on version `step`: 0 by construction
        if worker == 0 and (step + 1) % h.snapshot_every == 0:
            _snapshot(log, step + 1, t0, model)
    log.wall = time.perf_counter() - t0
    if worker == 0 and log.updates[-1] != h.steps:
        _snapshot(log, h.steps, t0, model)
    return log


def _hogwild(
    worker: int, workers: int, model, counter, lock, h: Hyper, delays: Sequence[float], group=None
) -> RunLog:
    """Hogwild! as compute worker ``worker`` of ``workers`` on the shared ``model``."""
    log = RunLog("Hogwild shared memory", workers)
    params = list(model.parameters())
    delay = delays[worker] if worker < len(delays) else 0.0
    dist.barrier(group=group)  # the process group is used only to start (and stop) together
    t0 = time.perf_counter()
    if worker == 0:
        _snapshot(log, 0, t0, model)
    for step, (xb, yb) in enumerate(worker_batches(worker, workers, h.steps, h.batch_size, h.seed)):
        read_version = int(counter.item())
        tc = time.perf_counter()
        _grad(model, xb, yb)  # reads the shared weights, which other processes may change meanwhile
        if delay:
            time.sleep(delay)
        tm = time.perf_counter()
        with torch.no_grad():
            for p in params:
                p -= h.lr * p.grad  # written straight into shared memory, no lock
        with lock:  # the lock guards only the counter used to measure staleness
            counter += 1
            applied_on = int(counter.item()) - 1  # the version this update was applied on top of
        log.compute += tm - tc
        log.comm += time.perf_counter() - tm
        log.gradients += 1
        log.staleness.append(applied_on - read_version)
        if worker == 0 and (step + 1) % h.snapshot_every == 0:
            _snapshot(log, int(counter.item()), t0, model)
    log.wall = time.perf_counter() - t0
    dist.barrier(group=group)
    if worker == 0:
        _snapshot(log, int(counter.item()), t0, model)
    return log


def _ps(rank: int, world_size: int, h: Hyper, delays: Sequence[float]) -> RunLog:
    """Parameter server (rank 0) or worker (ranks 1..) on the default process group."""
    workers = world_size - 1
    if workers < 1:
        raise ValueError("a parameter server needs world_size >= 2 (one server + workers)")
    model = make_model(h.seed)
    w = parameters_to_vector(model.parameters()).detach().clone()
    n = w.numel()
    log = RunLog("parameter server", workers)
    dist.barrier()
    t0 = time.perf_counter()
    if rank == 0:
        version = 0
        log.updates.append(0)
        log.times.append(0.0)
        log.snapshots.append(w.numpy().copy())
        reply = torch.empty(n + 1)
        for dst in range(1, world_size):
            reply[:n], reply[n] = w, version
            dist.send(reply, dst=dst)
        msg = torch.empty(n + 2)
        for _ in range(workers * h.steps):
            src = dist.recv(msg)  # from whichever worker is first
            log.staleness.append(version - int(msg[n].item()))
            w -= h.lr * msg[:n]
            version += 1
            reply[:n], reply[n] = w, version
            dist.send(reply, dst=src)
            if version % h.snapshot_every == 0:
                log.updates.append(version)
                log.times.append(time.perf_counter() - t0)
                log.snapshots.append(w.numpy().copy())
        log.wall = time.perf_counter() - t0
        if log.updates[-1] != version:
            log.updates.append(version)
            log.times.append(log.wall)
            log.snapshots.append(w.numpy().copy())
        return log
    worker = rank - 1
    delay = delays[worker] if worker < len(delays) else 0.0
    params = torch.empty(n + 1)
    out = torch.empty(n + 2)
    tr = time.perf_counter()
    dist.recv(params, src=0)
    log.comm += time.perf_counter() - tr
    for xb, yb in worker_batches(worker, workers, h.steps, h.batch_size, h.seed):
        tc = time.perf_counter()
        vector_to_parameters(params[:n], model.parameters())
        loss = _grad(model, xb, yb)
        if delay:
            time.sleep(delay)
        out[:n] = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        out[n], out[n + 1] = params[n], loss
        tm = time.perf_counter()
        dist.send(out, dst=0)
        dist.recv(params, src=0)  # the next weights (the last reply is received and unused)
        log.compute += tm - tc
        log.comm += time.perf_counter() - tm
        log.gradients += 1
    log.wall = time.perf_counter() - t0
    return log


def sync_worker(rank: int, world_size: int, h: Hyper, delays: Sequence[float] = ()) -> RunLog:
    """Synchronous SGD on ``world_size`` ranks: all-reduce-averaged gradients, identical updates (notebook 09).

    ``h.steps`` updates; each uses ``world_size`` minibatches of ``h.batch_size`` (one per rank). Rank 0's
    log holds the snapshots.
    """
    return _sync(rank, world_size, h, delays)


def hogwild_worker(
    rank: int, world_size: int, model: torch.nn.Module, counter: torch.Tensor, lock, h: Hyper,
    delays: Sequence[float] = (),
) -> RunLog:
    """Hogwild!: lock-free SGD on a model whose parameters are in shared memory (notebook 09).

    ``model`` was ``share_memory()``-ed by the parent (it arrives in every process as a view of the same
    memory); ``counter`` is a shared one-element int64 tensor counting applied updates, incremented under
    ``lock`` only to *measure* staleness - the parameter updates themselves take no lock. Each rank
    applies ``h.steps`` updates; rank 0 records snapshots every ``h.snapshot_every`` of its own steps.
    """
    return _hogwild(rank, world_size, model, counter, lock, h, delays)


def ps_worker(rank: int, world_size: int, h: Hyper, delays: Sequence[float] = ()) -> RunLog:
    """An asynchronous parameter server over gloo ``send``/``recv`` (notebook 09).

    Rank 0 is the server, ranks ``1..world_size-1`` are workers (worker ``i`` = rank ``i+1``; ``delays`` is
    indexed by worker). Each worker does ``h.steps`` rounds of: receive ``[weights, version]``, compute a
    gradient, send ``[gradient, version read, loss]``. The server applies gradients in arrival order
    (``dist.recv`` without a source), records the staleness ``version now - version read``, and replies
    to that worker only. The server's log holds the snapshots and the staleness.
    """
    return _ps(rank, world_size, h, delays)


def compare_worker(
    rank: int, world_size: int, h: Hyper, settings: Sequence[Sequence[float]], shared: Sequence[tuple], lock
) -> list[dict[str, RunLog | None]]:
    """All three methods, for each straggler setting, in **one** process group (notebook 09).

    ``world_size = workers + 1``: rank 0 is the parameter server and sits out the synchronous and Hogwild
    runs, which use ranks ``1..workers`` (a sub-group). ``settings`` lists ``delays`` tuples;
    ``shared[i]`` is ``(model, counter)`` for setting ``i``'s Hogwild run. Returns one dict per setting.
    """
    workers = world_size - 1
    group = dist.new_group(list(range(1, world_size)))  # every rank must call new_group
    out = []
    for delays, (model, counter) in zip(settings, shared, strict=True):
        res: dict[str, RunLog | None] = {}
        res["sync"] = _sync(rank - 1, workers, h, delays, group) if rank > 0 else None
        dist.barrier()
        res["hogwild"] = _hogwild(rank - 1, workers, model, counter, lock, h, delays, group) if rank > 0 else None
        dist.barrier()
        res["ps"] = _ps(rank, world_size, h, delays)
        dist.barrier()
        out.append(res)
    return out


def merge_logs(logs: Sequence[RunLog]) -> RunLog:
    """One log per run: the snapshots of the rank that recorded them, every rank's staleness entries, and
    compute / communication seconds summed over the ranks that computed gradients (not the server)."""
    rec = next(lg for lg in logs if lg.snapshots)
    merged = RunLog(rec.method, rec.workers, rec.updates, rec.times, rec.snapshots)
    merged.wall = max(lg.wall for lg in logs)
    merged.staleness = [s for lg in logs for s in lg.staleness]
    computing = [lg for lg in logs if lg.gradients]
    merged.compute = sum(lg.compute for lg in computing)
    merged.comm = sum(lg.comm for lg in computing)
    merged.gradients = sum(lg.gradients for lg in computing)
    return merged


def _shared_model(seed: int) -> tuple[torch.nn.Module, torch.Tensor]:
    model = make_model(seed)
    model.share_memory()
    return model, torch.zeros(1, dtype=torch.int64).share_memory_()


def _lock():
    import torch.multiprocessing as tmp

    return tmp.get_context("spawn").Lock()  # the launcher's start method


def run_sync(workers: int = 2, h: Hyper = Hyper(), delays: Sequence[float] = (), timeout: float = 300.0) -> RunLog:
    """Run :func:`sync_worker` on ``workers`` processes: ``h.steps`` updates (notebook 09)."""
    from .launch import run

    return merge_logs(run(sync_worker, workers, args=(h, tuple(delays)), timeout=timeout))


def run_hogwild(
    workers: int = 2, h: Hyper = Hyper(), delays: Sequence[float] = (), timeout: float = 300.0
) -> RunLog:
    """Run :func:`hogwild_worker` on ``workers`` processes sharing one model: ``h.steps`` updates *each*.

    The model, the update counter and its lock are created here, in shared memory, and handed to the
    spawned processes (``torch.multiprocessing`` passes shared tensors by handle, not by copy).
    """
    from .launch import run

    model, counter = _shared_model(h.seed)
    args = (model, counter, _lock(), h, tuple(delays))
    merged = merge_logs(run(hogwild_worker, workers, args=args, timeout=timeout))
    if int(counter.item()) != workers * h.steps:
        raise RuntimeError(f"expected {workers * h.steps} updates, counted {int(counter.item())}")
    return merged


def run_ps(workers: int = 2, h: Hyper = Hyper(), delays: Sequence[float] = (), timeout: float = 300.0) -> RunLog:
    """Run :func:`ps_worker`: one server process + ``workers`` worker processes, ``h.steps`` gradients each."""
    from .launch import run

    return merge_logs(run(ps_worker, workers + 1, args=(h, tuple(delays)), timeout=timeout))


def run_comparison(
    workers: int = 2,
    h: Hyper = Hyper(),
    settings: Sequence[Sequence[float]] = ((),),
    timeout: float = 600.0,
) -> list[dict[str, RunLog]]:
    """Sync, Hogwild and parameter server for every ``delays`` setting, with one launch (notebook 09).

    Returns one ``{"sync": RunLog, "hogwild": RunLog, "ps": RunLog}`` per setting (logs merged over ranks).
    """
    from .launch import run

    shared = [_shared_model(h.seed) for _ in settings]
    args = (h, [tuple(d) for d in settings], shared, _lock())
    per_rank = run(compare_worker, workers + 1, args=args, timeout=timeout)
    out = []
    for i, (_, counter) in enumerate(shared):
        if int(counter.item()) != workers * h.steps:
            raise RuntimeError(f"Hogwild run {i}: expected {workers * h.steps} updates, counted {int(counter.item())}")
        out.append(
            {k: merge_logs([r[i][k] for r in per_rank if r[i][k] is not None]) for k in ("sync", "hogwild", "ps")}
        )
    return out


@torch.inference_mode()
def evaluate_snapshots(
    log: RunLog, x: torch.Tensor, y: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """Test loss and accuracy of every snapshot in ``log`` on ``(x, y)`` (notebook 09)."""
    model = make_model()
    model.eval()
    losses, accs = [], []
    for flat in log.snapshots:
        vector_to_parameters(torch.from_numpy(flat), model.parameters())
        out = model(x)
        losses.append(F.nll_loss(out, y).item())
        accs.append((out.argmax(1) == y).float().mean().item())
    return np.array(losses), np.array(accs)
