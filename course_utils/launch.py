"""Run a function on N processes with a PyTorch process group, from a notebook.

Taught in notebook 08; used by 09-12. ``run(fn, world_size)`` starts ``world_size`` processes (the
``spawn`` method: each a fresh Python that imports ``fn`` by name), initialises
``torch.distributed`` in each (rendezvous on 127.0.0.1 with a free port; gloo on CPU, NCCL when there is a
GPU per rank), calls ``fn(rank, world_size, *args)`` and returns the results in rank order.

Why a helper and not ``mp.spawn`` in the notebook:

* ``fn`` must be importable: a function defined in a notebook cell cannot be pickled by name into a
  spawned process, so worker functions live in ``course_utils`` modules (checked, with a clear error);
* a rank that raises stops the whole run at once, and its traceback is re-raised in the notebook
  (no process is left behind; the other ranks would otherwise wait in a collective forever);
* a hung run (a collective some rank never joins) ends with :class:`TimeoutError` after ``timeout`` s;
* ranks' ``print`` output is shown in the notebook, prefixed with ``[rank r]``;
* results come back by value (pickled to bytes in the child), never as shared-memory tensors owned by a
  child that has already exited.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import pickle
import queue as queue_mod
import socket
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

__all__ = ["run", "free_port", "default_backend", "RankFailedError"]


class RankFailedError(RuntimeError):
    """A worker rank raised (or died); ``rank`` says which, the message carries its traceback."""

    def __init__(self, rank: int, world_size: int, details: str) -> None:
        super().__init__(f"rank {rank} of {world_size} failed:\n{details}")
        self.rank = rank


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def default_backend(world_size: int) -> str:
    """``"nccl"`` when CUDA has at least one GPU per rank and NCCL is built in, else ``"gloo"``."""
    import torch
    import torch.distributed as dist

    if torch.cuda.is_available() and torch.cuda.device_count() >= world_size and dist.is_nccl_available():
        return "nccl"
    return "gloo"


class _QueueWriter(io.TextIOBase):
    """A stdout/stderr replacement in a worker that forwards whole lines to the parent."""

    def __init__(self, q, rank: int) -> None:
        self.q, self.rank, self.buf = q, rank, ""

    def write(self, s: str) -> int:
        self.buf += s
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            self.q.put(("log", self.rank, line))
        return len(s)

    def flush(self) -> None:
        if self.buf:
            self.q.put(("log", self.rank, self.buf))
            self.buf = ""


def _worker(fn, rank, world_size, args, backend, port, timeout, threads, capture, q) -> None:
    if capture:
        sys.stdout = sys.stderr = _QueueWriter(q, rank)
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(world_size),
    )
    try:
        import torch
        import torch.distributed as dist

        if threads:
            torch.set_num_threads(threads)
        if backend == "nccl":
            torch.cuda.set_device(rank % torch.cuda.device_count())
        dist.init_process_group(
            backend, rank=rank, world_size=world_size, timeout=timedelta(seconds=timeout),
            init_method=f"tcp://127.0.0.1:{port}",
        )
        result = fn(rank, world_size, *args)
        payload = pickle.dumps(result)  # plain pickle: tensors travel by value, not as shared memory
    except BaseException:
        # Report before tearing the group down: closing connections makes the *other* ranks fail too,
        # and the parent must hear the root cause first. The timestamp orders near-simultaneous errors.
        if capture:
            sys.stdout.flush()
        q.put(("error", rank, (time.time(), traceback.format_exc())))
        return
    if capture:
        sys.stdout.flush()
    q.put(("ok", rank, payload))
    dist.destroy_process_group()


def run(
    fn: Callable[..., Any],
    world_size: int,
    args: Sequence[Any] = (),
    backend: str | None = None,
    timeout: float = 120.0,
    threads_per_rank: int | None = None,
    capture_output: bool = True,
) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` on ``world_size`` processes; return results in rank order.

    ``backend``: ``"gloo"`` or ``"nccl"``; default :func:`default_backend`. ``timeout``: seconds the whole
    run may take (also the process group's collective timeout); then every process is stopped and
    :class:`TimeoutError` is raised. ``threads_per_rank``: PyTorch intra-op threads per process (default:
    CPU cores // world_size, at least 1, so ranks don't oversubscribe the CPU). A rank that raises
    stops all ranks and raises :class:`RankFailedError` with that rank's number and traceback.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    module = getattr(fn, "__module__", None)
    if module in (None, "__main__") or "<locals>" in getattr(fn, "__qualname__", ""):
        raise ValueError(
            f"{getattr(fn, '__qualname__', fn)!r} is defined in the notebook (or inside a function), so a spawned "
            "process cannot import it. Put worker functions in a module, e.g. course_utils, and import them."
        )
    backend = backend or default_backend(world_size)
    if threads_per_rank is None:
        from .devices import _cpu_cores

        threads_per_rank = max(1, _cpu_cores() // world_size)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    port = free_port()
    procs = [
        ctx.Process(
            target=_worker,
            args=(fn, r, world_size, tuple(args), backend, port, timeout, threads_per_rank, capture_output, q),
            daemon=True,
            name=f"course-rank-{r}",
        )
        for r in range(world_size)
    ]
    results: dict[int, Any] = {}
    deadline = time.monotonic() + timeout
    try:
        for p in procs:
            p.start()
        while len(results) < world_size:
            try:
                kind, rank, payload = q.get(timeout=0.2)
            except queue_mod.Empty:
                if time.monotonic() > deadline:
                    missing = sorted(set(range(world_size)) - set(results))
                    raise TimeoutError(
                        f"run({fn.__qualname__}) did not finish within {timeout:.0f} s; ranks {missing} never "
                        "returned (a collective that some rank never joined?). All ranks were stopped."
                    ) from None
                for r, p in enumerate(procs):
                    if r not in results and p.exitcode not in (None, 0):
                        _drain_logs(q, results)
                        raise RankFailedError(
                            r, world_size, f"process exited with code {p.exitcode} without a result"
                        ) from None
                continue
            if kind == "log":
                print(f"[rank {rank}] {payload}", flush=True)
            elif kind == "error":
                raise _root_cause(q, procs, results, world_size, rank, *payload)
            else:
                results[rank] = pickle.loads(payload)
        for p in procs:
            p.join(timeout=10)
    finally:
        _stop(procs)
        q.close()
    return [results[r] for r in range(world_size)]


def _root_cause(q, procs, results, world_size, rank, when, tb, grace: float = 1.0) -> RankFailedError:
    """One rank failed; within ``grace`` s, find the rank that failed *first* (a raised exception with the
    earliest time, or a process that died without one) - the others usually only lost their peer."""
    errors = {rank: (when, tb)}
    t_end = time.monotonic() + grace
    while time.monotonic() < t_end:
        try:
            kind, r, payload = q.get(timeout=0.05)
        except queue_mod.Empty:
            continue
        if kind == "error":
            errors[r] = payload
        elif kind == "log":
            print(f"[rank {r}] {payload}", flush=True)
    for r, p in enumerate(procs):  # a rank that died abruptly (os._exit, segfault, OOM kill) is the cause
        if r not in errors and r not in results and p.exitcode not in (None, 0):
            others = "; ".join(f"rank {o}: {t.strip().splitlines()[-1]}" for o, (_, t) in sorted(errors.items()))
            return RankFailedError(r, world_size, f"process exited with code {p.exitcode} without a result (then {others})")
    first = min(errors, key=lambda r: errors[r][0])
    return RankFailedError(first, world_size, errors[first][1])


def _drain_logs(q, results) -> None:
    """Print the log lines still queued (a crashed rank's last words)."""
    while True:
        try:
            kind, rank, payload = q.get_nowait()
        except (queue_mod.Empty, OSError, EOFError):
            return
        if kind == "log":
            print(f"[rank {rank}] {payload}", flush=True)


def _stop(procs) -> None:
    """Terminate, then kill, every worker that is still alive; reap them all."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    t_end = time.monotonic() + 5
    for p in procs:
        p.join(timeout=max(0.0, t_end - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(timeout=5)
