"""Synchronous vs asynchronous data-parallel SGD, with staleness measured (notebook 09).

Three ways for ``W`` workers to train one model on their own shards of MNIST, run by
:func:`course_utils.launch.run` and written so that they can be compared gradient for gradient
(every run computes the same number of minibatch gradients, ``W * h.steps``):

* **synchronous** SGD (:func:`sync_worker`): every step each rank computes a gradient on its minibatch,
  the gradients are averaged with ``all_reduce`` and every rank applies the same update - ``h.steps``
  updates of ``W`` gradients each. Nobody moves on until the slowest rank has contributed; no gradient is
  ever stale (staleness 0 by construction - measured anyway).
* **Hogwild!** (Niu et al., 2011; :func:`hogwild_worker`): the parameters live in shared memory
  (``torch.multiprocessing``: ``model.share_memory()``); each process reads them, computes a gradient and
  writes its update *without any lock*, until ``W * h.steps`` updates have been made in total (a fast
  process makes more of them).
* a tiny **parameter server** (:func:`ps_worker`) over gloo point-to-point messages: rank 0 holds the
  parameters; ranks ``1..W`` receive them, compute a gradient and send it back; the server applies each
  gradient as it arrives (``dist.recv`` from any source) and replies with the new parameters, until
  ``W * h.steps`` updates.

**Staleness** of a gradient = the number of updates applied to the parameters between the moment the
worker read them and the moment its gradient is applied. Every run returns the staleness (and the worker)
of every update, the wall-clock time of snapshots of the parameters, and how long the workers spent
computing vs communicating or waiting; :func:`evaluate_snapshots` turns the snapshots into test-loss
curves - the same metric for all three methods.

``delays`` (seconds of sleep per gradient, one entry per worker) makes stragglers.
:func:`run_comparison` runs all three methods for several ``delays`` settings in *one* process group.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from .models import Net

__all__ = [
    "Hyper",
    "RunLog",
    "make_model",
    "worker_batches",
    "sync_worker",
    "hogwild_worker",
    "ps_worker",
    "compare_worker",
    "merge_logs",
    "run_sync",
    "run_hogwild",
    "run_ps",
    "run_comparison",
    "evaluate_snapshots",
    "reference_sync_sgd",
    "delayed_gradient_descent",
    "time_to_target",
]


@dataclass(frozen=True)
class Hyper:
    """Settings shared by every method: gradients per worker (``steps``), minibatch, learning rate...

    ``sync_lr``: the learning rate of synchronous SGD (default ``lr``). One synchronous update averages
    ``W`` gradients, i.e. uses a ``W`` times larger batch; the linear-scaling rule sets ``sync_lr = W * lr``.
    """

    steps: int = 100
    batch_size: int = 32
    lr: float = 0.05
    seed: int = 0
    snapshot_every: int = 10
    sync_lr: float | None = None

    @property
    def lr_sync(self) -> float:
        return self.lr if self.sync_lr is None else self.sync_lr


@dataclass
class RunLog:
    """What one run recorded (times in seconds since all ranks started together).

    ``updates``/``times``/``snapshots``: update count, time and flat parameters at each snapshot.
    ``staleness``/``staleness_worker``: per applied update, its staleness and which worker sent it.
    ``compute``/``comm``: seconds the workers spent computing gradients / communicating or waiting.
    ``wall``: seconds of the training loop; ``gradients``: gradients computed (and used).
    """

    method: str
    workers: int
    updates: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    snapshots: list[np.ndarray] = field(default_factory=list)
    staleness: list[int] = field(default_factory=list)
    staleness_worker: list[int] = field(default_factory=list)
    compute: float = 0.0
    comm: float = 0.0
    wall: float = 0.0
    gradients: int = 0

    def snapshot(self, updates: int, t0: float, flat: torch.Tensor) -> None:
        """Record the parameters ``flat`` after ``updates`` updates."""
        self.updates.append(updates)
        self.times.append(time.perf_counter() - t0)
        self.snapshots.append(flat.detach().numpy().copy())


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


def worker_batches(
    worker: int, workers: int, steps: int | None, batch_size: int, seed: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Minibatches drawn (seeded) from this worker's shard: ``steps`` of them, or endless if ``None``."""
    x, y = _data(worker, workers)
    g = torch.Generator().manual_seed(seed * 1000 + worker)
    i = 0
    while steps is None or i < steps:
        idx = torch.randint(len(x), (batch_size,), generator=g)
        yield x[idx], y[idx]
        i += 1


def _grad(model: torch.nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> float:
    model.zero_grad(set_to_none=False)
    loss = F.nll_loss(model(xb), yb)
    loss.backward()
    return loss.item()


def _flat_grad(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def _sync(worker: int, workers: int, h: Hyper, delays: Sequence[float], group=None) -> RunLog:
    """Synchronous SGD as compute worker ``worker`` of ``workers`` (the ranks of ``group``)."""
    model = make_model(h.seed)
    params = list(model.parameters())
    log = RunLog("sync all-reduce", workers)
    delay = delays[worker] if worker < len(delays) else 0.0
    dist.barrier(group=group)
    t0 = time.perf_counter()
    if worker == 0:
        log.snapshot(0, t0, parameters_to_vector(params))
    for step, (xb, yb) in enumerate(worker_batches(worker, workers, h.steps, h.batch_size, h.seed)):
        read_version = step  # the version of the weights this gradient is computed on
        tc = time.perf_counter()
        _grad(model, xb, yb)
        if delay:
            time.sleep(delay)
        flat = _flat_grad(model)
        tm = time.perf_counter()
        dist.all_reduce(flat, group=group)  # waits for the slowest rank: the price of synchrony
        te = time.perf_counter()
        flat /= workers
        with torch.no_grad():
            vector_to_parameters(parameters_to_vector(params) - h.lr_sync * flat, params)
        log.compute += tm - tc
        log.comm += te - tm
        log.gradients += 1
        log.staleness.append(step - read_version)  # applied on version `step`: 0 by construction
        log.staleness_worker.append(worker)
        if worker == 0 and (step + 1) % h.snapshot_every == 0:
            log.snapshot(step + 1, t0, parameters_to_vector(params))
    log.wall = time.perf_counter() - t0
    if worker == 0 and log.updates[-1] != h.steps:
        log.snapshot(h.steps, t0, parameters_to_vector(params))
    return log


def _hogwild(
    worker: int, workers: int, model, counters: torch.Tensor, lock, h: Hyper, delays: Sequence[float], group=None
) -> RunLog:
    """Hogwild! as compute worker ``worker`` of ``workers`` on the shared ``model``.

    ``counters`` (shared int64 ``[2]``): ``[tickets handed out, updates applied]``. A worker takes a ticket
    before each gradient and stops when the tickets (``workers * h.steps``) are gone, so exactly that
    many updates are made, by whichever worker is faster.
    """
    log = RunLog("Hogwild shared memory", workers)
    params = list(model.parameters())
    budget = workers * h.steps
    delay = delays[worker] if worker < len(delays) else 0.0
    dist.barrier(group=group)  # the process group is used only to start (and stop) together
    t0 = time.perf_counter()
    if worker == 0:
        log.snapshot(0, t0, parameters_to_vector(params))
    next_snapshot = h.snapshot_every
    for xb, yb in worker_batches(worker, workers, None, h.batch_size, h.seed):
        with lock:
            ticket = int(counters[0])
            if ticket >= budget:
                break
            counters[0] += 1
            read_version = int(counters[1])
        tc = time.perf_counter()
        _grad(model, xb, yb)  # reads the shared weights, which other processes may change meanwhile
        if delay:
            time.sleep(delay)
        tm = time.perf_counter()
        with torch.no_grad():
            for p in params:
                p -= h.lr * p.grad  # written straight into shared memory, no lock
        with lock:  # the lock guards only the counters that *measure*; the update above took none
            applied_on = int(counters[1])
            counters[1] += 1
        log.compute += tm - tc
        log.comm += time.perf_counter() - tm
        log.gradients += 1
        log.staleness.append(applied_on - read_version)
        log.staleness_worker.append(worker)
        if worker == 0 and applied_on + 1 >= next_snapshot:
            log.snapshot(applied_on + 1, t0, parameters_to_vector(params))
            next_snapshot = (applied_on + 1) // h.snapshot_every * h.snapshot_every + h.snapshot_every
    log.wall = time.perf_counter() - t0
    dist.barrier(group=group)
    if worker == 0 and log.updates[-1] != int(counters[1]):
        log.snapshot(int(counters[1]), t0, parameters_to_vector(params))
    return log


def _ps(rank: int, world_size: int, h: Hyper, delays: Sequence[float]) -> RunLog:
    """Parameter server (rank 0) or worker (ranks 1..) on the default process group.

    Messages are flat float32 tensors: server -> worker ``[weights, version, stop]``, worker -> server
    ``[gradient, version read, loss]``.
    """
    workers = world_size - 1
    if workers < 1:
        raise ValueError("a parameter server needs world_size >= 2 (one server + workers)")
    model = make_model(h.seed)
    w = parameters_to_vector(model.parameters()).detach().clone()
    n = w.numel()
    budget = workers * h.steps
    log = RunLog("parameter server", workers)
    dist.barrier()
    t0 = time.perf_counter()
    if rank == 0:
        version = 0
        log.snapshot(0, t0, w)
        reply = torch.zeros(n + 2)
        reply[:n] = w
        for dst in range(1, world_size):
            dist.send(reply, dst=dst)
        msg = torch.empty(n + 2)
        while version < budget:
            src = dist.recv(msg)  # from whichever worker is first
            log.staleness.append(version - int(msg[n].item()))
            log.staleness_worker.append(src - 1)
            w -= h.lr * msg[:n]
            version += 1
            reply[:n], reply[n], reply[n + 1] = w, version, float(version >= budget)
            dist.send(reply, dst=src)
            if version % h.snapshot_every == 0:
                log.snapshot(version, t0, w)
        reply[n] = -1.0  # "your last gradient was not used"
        for _ in range(workers - 1):  # the others each have one gradient in flight: discard, say stop
            src = dist.recv(msg)
            dist.send(reply, dst=src)
        log.wall = time.perf_counter() - t0
        if log.updates[-1] != version:
            log.snapshot(version, t0, w)
        return log
    worker = rank - 1
    delay = delays[worker] if worker < len(delays) else 0.0
    params = torch.empty(n + 2)
    out = torch.empty(n + 2)
    tr = time.perf_counter()
    dist.recv(params, src=0)
    log.comm += time.perf_counter() - tr
    for xb, yb in worker_batches(worker, workers, None, h.batch_size, h.seed):
        if params[n + 1] > 0:  # stop
            break
        tc = time.perf_counter()
        vector_to_parameters(params[:n], model.parameters())
        loss = _grad(model, xb, yb)
        if delay:
            time.sleep(delay)
        out[:n] = _flat_grad(model)
        out[n], out[n + 1] = params[n], loss
        tm = time.perf_counter()
        dist.send(out, dst=0)
        dist.recv(params, src=0)  # the next weights, or stop
        log.compute += tm - tc
        log.comm += time.perf_counter() - tm
        log.gradients += int(params[n] >= 0)  # a discarded last gradient is not counted
    log.wall = time.perf_counter() - t0
    return log


def sync_worker(rank: int, world_size: int, h: Hyper, delays: Sequence[float] = ()) -> RunLog:
    """Synchronous SGD on ``world_size`` ranks: all-reduce-averaged gradients, identical updates (notebook 09).

    ``h.steps`` updates; each uses ``world_size`` minibatches of ``h.batch_size`` (one per rank). Rank 0's
    log holds the snapshots.
    """
    return _sync(rank, world_size, h, delays)


def hogwild_worker(
    rank: int, world_size: int, model: torch.nn.Module, counters: torch.Tensor, lock, h: Hyper,
    delays: Sequence[float] = (),
) -> RunLog:
    """Hogwild!: lock-free SGD on a model whose parameters are in shared memory (notebook 09).

    ``model`` was ``share_memory()``-ed by the parent (it arrives in every process as a view of the same
    memory); ``counters`` is a shared int64 tensor ``[tickets, applied]`` changed under ``lock`` only to
    share out the ``world_size * h.steps`` updates and to *measure* staleness - the parameter updates
    themselves take no lock. Rank 0 records the snapshots.
    """
    return _hogwild(rank, world_size, model, counters, lock, h, delays)


def ps_worker(rank: int, world_size: int, h: Hyper, delays: Sequence[float] = ()) -> RunLog:
    """An asynchronous parameter server over gloo ``send``/``recv`` (notebook 09).

    Rank 0 is the server, ranks ``1..world_size-1`` are workers (worker ``i`` = rank ``i+1``; ``delays`` is
    indexed by worker). A worker repeats: receive ``[weights, version, stop]``, compute a gradient, send
    ``[gradient, version read, loss]``. The server applies gradients in arrival order (``dist.recv``
    without a source), records the staleness ``version now - version read``, and replies to that worker
    only, until ``(world_size - 1) * h.steps`` updates. The server's log holds snapshots and staleness.
    """
    return _ps(rank, world_size, h, delays)


def compare_worker(
    rank: int, world_size: int, h: Hyper, settings: Sequence[Sequence[float]], shared: Sequence[tuple], lock
) -> list[dict[str, RunLog | None]]:
    """All three methods, for each straggler setting, in **one** process group (notebook 09).

    ``world_size = workers + 1``: rank 0 is the parameter server and sits out the synchronous and Hogwild
    runs, which use ranks ``1..workers`` (a sub-group). ``settings`` lists ``delays`` tuples;
    ``shared[i]`` is ``(model, counters)`` for setting ``i``'s Hogwild run. Returns one dict per setting.
    """
    workers = world_size - 1
    group = dist.new_group(list(range(1, world_size)))  # every rank must call new_group
    out = []
    for delays, (model, counters) in zip(settings, shared, strict=True):
        res: dict[str, RunLog | None] = {}
        res["sync"] = _sync(rank - 1, workers, h, delays, group) if rank > 0 else None
        dist.barrier()
        res["hogwild"] = (
            _hogwild(rank - 1, workers, model, counters, lock, h, delays, group) if rank > 0 else None
        )
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
    for lg in logs:
        merged.staleness += lg.staleness
        merged.staleness_worker += lg.staleness_worker
    computing = [lg for lg in logs if lg.gradients]
    merged.compute = sum(lg.compute for lg in computing)
    merged.comm = sum(lg.comm for lg in computing)
    merged.gradients = sum(lg.gradients for lg in computing)
    return merged


def _shared_model(seed: int) -> tuple[torch.nn.Module, torch.Tensor]:
    model = make_model(seed)
    model.share_memory()
    return model, torch.zeros(2, dtype=torch.int64).share_memory_()


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
    """Run :func:`hogwild_worker` on ``workers`` processes sharing one model: ``workers * h.steps`` updates.

    The model, the counters and their lock are created here, in shared memory, and handed to the spawned
    processes (``torch.multiprocessing`` passes shared tensors by handle, not by copy).
    """
    from .launch import run

    model, counters = _shared_model(h.seed)
    merged = merge_logs(run(hogwild_worker, workers, args=(model, counters, _lock(), h, tuple(delays)), timeout=timeout))
    _check_budget("Hogwild", counters, workers * h.steps)
    return merged


def run_ps(workers: int = 2, h: Hyper = Hyper(), delays: Sequence[float] = (), timeout: float = 300.0) -> RunLog:
    """Run :func:`ps_worker`: one server + ``workers`` worker processes, ``workers * h.steps`` updates."""
    from .launch import run

    return merge_logs(run(ps_worker, workers + 1, args=(h, tuple(delays)), timeout=timeout))


def _check_budget(what: str, counters: torch.Tensor, budget: int) -> None:
    if int(counters[0]) != budget or int(counters[1]) != budget:
        raise RuntimeError(f"{what}: expected {budget} updates, counted {counters.tolist()}")


def run_comparison(
    workers: int = 2,
    h: Hyper = Hyper(),
    settings: Sequence[Sequence[float]] = ((),),
    timeout: float = 600.0,
) -> list[dict[str, RunLog]]:
    """Sync, Hogwild and parameter server for every ``delays`` setting, with one launch (notebook 09).

    Starts ``workers + 1`` processes once. Returns one ``{"sync": RunLog, "hogwild": RunLog, "ps": RunLog}``
    per setting (each merged over ranks).
    """
    from .launch import run

    shared = [_shared_model(h.seed) for _ in settings]
    args = (h, [tuple(d) for d in settings], shared, _lock())
    per_rank = run(compare_worker, workers + 1, args=args, timeout=timeout)
    out = []
    for i, (_, counters) in enumerate(shared):
        _check_budget(f"Hogwild run {i}", counters, workers * h.steps)
        out.append(
            {k: merge_logs([r[i][k] for r in per_rank if r[i][k] is not None]) for k in ("sync", "hogwild", "ps")}
        )
    return out


@torch.inference_mode()
def evaluate_snapshots(log: RunLog, x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
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


def reference_sync_sgd(workers: int, h: Hyper = Hyper()) -> np.ndarray:
    """What synchronous SGD on ``workers`` ranks must produce, computed in one process (notebook 09).

    Each step averages the gradients of every worker's minibatch (the same seeded minibatches as
    :func:`sync_worker`) and takes one SGD step: large-batch SGD with batch ``workers * h.batch_size``.
    Returns the final flat parameters.
    """
    model = make_model(h.seed)
    streams = [worker_batches(w, workers, h.steps, h.batch_size, h.seed) for w in range(workers)]
    for _ in range(h.steps):
        model.zero_grad()
        for stream in streams:
            xb, yb = next(stream)
            (F.nll_loss(model(xb), yb) / workers).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= h.lr_sync * p.grad
    return parameters_to_vector(model.parameters()).detach().numpy()


def delayed_gradient_descent(a: float, lr: float, tau: int, steps: int, w0: float = 1.0) -> list[float]:
    """Gradient descent on ``f(w) = a w^2 / 2`` where every gradient is ``tau`` updates stale (notebook 09).

    ``w[t+1] = w[t] - lr * a * w[t - tau]`` (with ``w[t] = w0`` for ``t < 0``); returns ``w[0..steps]``.
    With ``tau = 0`` it converges for ``0 < lr * a < 2``; staleness shrinks that range.
    """
    w = [float(w0)]
    for t in range(steps):
        w.append(w[t] - lr * a * w[max(t - tau, 0)])
    return w


def time_to_target(times: Sequence[float], losses: Sequence[float], target: float) -> float | None:
    """The first time at which ``losses`` is at or below ``target`` (``None`` if never) (notebook 09)."""
    for t, loss in zip(times, losses, strict=True):
        if loss <= target:
            return float(t)
    return None
