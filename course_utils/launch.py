"""Run a function on N processes with a PyTorch process group, from a notebook.

Taught in notebook 08; used by 09-12, 14 and 15. ``run(fn, world_size)`` starts ``world_size`` processes (the
``spawn`` method: each a fresh Python), initialises ``torch.distributed`` in each (rendezvous on
127.0.0.1 with a free port; backend and device from :func:`course_utils.devices.device_plan`), calls
``fn(rank, world_size, *args)`` and returns the results in rank order.

Why a helper and not ``mp.spawn`` in the notebook:

* plain pickle sends a function *by reference* (module and name), and a function defined in a notebook
  cell has no module a fresh process could import; ``run`` sends ``fn`` and ``args`` *by value* with
  ``cloudpickle``, so the learner writes the worker in a cell, changes it and runs it again;
* a rank that raises stops the whole run at once, and its traceback is re-raised in the notebook
  (no process is left behind; the other ranks would otherwise wait in a collective forever);
* a hung run (a collective some rank never joins) ends with :class:`TimeoutError` after ``timeout`` s;
* ranks' ``print`` output is shown in the notebook, prefixed with ``[rank r]``;
* results come back by value (pickled to bytes in the child), never as shared-memory tensors owned by a
  child that has already exited.
"""

from __future__ import annotations

import importlib
import io
import multiprocessing as mp
import os
import queue as queue_mod
import re
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

try:
    import cloudpickle
except ImportError:  # a bare GPU image (make gpu-check): only importable functions can travel
    import pickle as cloudpickle

from .devices import _cpu_cores, device_plan

__all__ = [
    "run",
    "run_torchrun",
    "free_port",
    "plan_for",
    "torchrun_env",
    "RankFailedError",
    "run_programs",
    "ProgramResult",
    "trim_log",
]


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


def _dumps(obj: Any) -> bytes:
    """cloudpickle, plus: objects that stand in ``sys.modules`` for a module (``torch.backends.cudnn`` is a
    ``CudnnModule``) travel by name, as modules do."""
    if cloudpickle.__name__ == "pickle":
        return cloudpickle.dumps(obj)

    class Pickler(cloudpickle.Pickler):
        def reducer_override(self, value: Any) -> Any:
            name = getattr(value, "__name__", None)
            if isinstance(name, str) and not isinstance(value, type) and sys.modules.get(name) is value:
                return importlib.import_module, (name,)
            return super().reducer_override(value)

    buffer = io.BytesIO()
    Pickler(buffer).dump(obj)
    return buffer.getvalue()


def plan_for(world_size: int, device: str | None = None):
    """The device plan ``run`` uses for ``world_size`` ranks on this machine (see ``devices.device_plan``).

    ``device``: ``"cpu"``, ``"cuda"`` or ``"auto"``; default ``$COURSE_DEVICE``, else auto.
    """
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return device_plan(world_size, gpus, 1, device or os.environ.get("COURSE_DEVICE"))


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


def _worker(
    payload, rank, world_size, backend, device, port, timeout, threads, capture, init_group, q
) -> None:
    if capture:
        sys.stdout = sys.stderr = _QueueWriter(q, rank)
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(world_size),
        COURSE_RANK_BACKEND=backend,
        COURSE_RANK_DEVICE=device,
    )
    try:
        import torch
        import torch.distributed as dist

        if threads:
            torch.set_num_threads(threads)
        # the device first, then the group: NCCL binds its communicator to the device it is given
        device_id = torch.device(device) if device.startswith("cuda") else None
        if device_id is not None:
            torch.cuda.set_device(device_id)
        fn, args = cloudpickle.loads(payload)
        if init_group:
            dist.init_process_group(
                backend,
                rank=rank,
                world_size=world_size,
                timeout=timedelta(seconds=timeout),
                init_method=f"tcp://127.0.0.1:{port}",
                device_id=device_id if backend == "nccl" else None,
            )
        result = fn(rank, world_size, *args)
        payload = _dumps(result)  # tensors travel by value, not as shared memory
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
    if dist.is_initialized():
        dist.destroy_process_group()


def run(
    fn: Callable[..., Any],
    world_size: int,
    args: Sequence[Any] = (),
    backend: str | None = None,
    timeout: float = 120.0,
    threads_per_rank: int | None = None,
    capture_output: bool = True,
    device: str | None = None,
    init_group: bool = True,
) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` on ``world_size`` processes; return results in rank order.

    ``fn`` may be defined in the notebook: it travels by value (cloudpickle). Each rank's backend and device
    come from :func:`plan_for` (``device="cpu"`` asks for gloo on the CPU, e.g. for a CPU-only demo; default
    ``$COURSE_DEVICE``, else GPUs when there is one per rank); the worker reads its device with
    ``course_utils.devices.rank_device()``. ``backend`` overrides the plan's backend (``"gloo"`` alone also
    means the CPU unless ``device`` says otherwise). ``timeout``: seconds the whole run may take (also the
    collective timeout); then every process is stopped and :class:`TimeoutError` is raised.
    ``threads_per_rank``: PyTorch threads per process (default: CPU cores // world_size, at least 1). A rank
    that raises stops all ranks and raises :class:`RankFailedError` with its number and traceback.
    ``init_group=False``: the worker starts the process group itself (``dist.init_process_group(backend)`` with
    the ``env://`` variables the launcher sets: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK, and
    the plan's ``COURSE_RANK_BACKEND``/``COURSE_RANK_DEVICE``), as a script under torchrun would.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    if not callable(fn):
        raise TypeError(f"fn must be a function taking (rank, world_size, *args), got {type(fn).__name__}")
    if backend == "gloo" and device is None:
        device = "cpu"
    plan = plan_for(world_size, device)
    if backend is not None and backend != plan[0].backend:
        if backend == "nccl":
            raise ValueError(f"backend='nccl' needs a GPU per rank; the plan says: {plan[0].reason}")
        plan = [type(p)(p.rank, backend, p.device, p.cuda_visible_devices, "backend asked for") for p in plan]
    if threads_per_rank is None:
        threads_per_rank = max(1, _cpu_cores() // world_size)
    payload = _dumps((fn, tuple(args)))
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    port = free_port()
    procs = [
        ctx.Process(
            target=_worker,
            args=(
                payload,
                r,
                world_size,
                plan[r].backend,
                plan[r].device,
                port,
                timeout,
                threads_per_rank,
                capture_output,
                init_group,
                q,
            ),
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
                        f"run({getattr(fn, '__qualname__', fn)}) did not finish within {timeout:.0f} s; ranks {missing} never "
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
                results[rank] = cloudpickle.loads(payload)
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
            others = "; ".join(
                f"rank {o}: {t.strip().splitlines()[-1]}" for o, (_, t) in sorted(errors.items())
            )
            return RankFailedError(
                r, world_size, f"process exited with code {p.exitcode} without a result (then {others})"
            )
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


# ---------------------------------------------------------------------------------------------------
# Programs that must be files (a torchrun script, a TF multi-worker worker): start several at once.


@dataclass
class ProgramResult:
    """One finished program of :func:`run_programs`: its command, exit status, log and wall-clock seconds."""

    cmd: list[str]
    returncode: int
    log: str
    seconds: float

    def lines(self, *needles: str) -> list[str]:
        """Log lines containing any of ``needles`` (all lines when none given)."""
        return [ln for ln in self.log.splitlines() if not needles or any(n in ln for n in needles)]

    def trimmed(self, max_lines: int = 40) -> str:
        """:func:`trim_log` of this program's log."""
        return trim_log(self.log, max_lines)


#: log lines of torchrun's elastic agent (and of dying workers) worth showing beside the ranks' prints
AGENT_PATTERNS = (
    r"closing signal",
    r"failed \(exitcode",
    r"[Rr]estart",
    r"node_rank is only used",
    r"Connection reset by peer",
    r"terminate called|what\(\):|Fatal Python error",  # why a worker aborted (exit code -6 / -11)
    r"^(\[rank\d+\]: )?[\w.]+(Error|Exception): ",  # the last line of a worker's traceback
)


def trim_log(log: str, max_lines: int = 40) -> str:
    """The lines of a log that matter: workers' ``[rank r/N ...]`` prints and the launcher's failure and
    restart messages (shortened), at most ``max_lines``."""
    keep = []
    agent = re.compile("|".join(AGENT_PATTERNS))
    for line in log.splitlines():
        if line.startswith("[rank ") and "/" in line.split("]")[0]:
            keep.append(line)
        elif agent.search(line):
            line = re.sub(r"^[WEI]\d{4} [\d:.]+ \d+ \S+\] ", "torchrun: ", line)  # drop the logger prefix
            keep.append(line if len(line) <= 160 else line[:157] + "...")
    return "\n".join(keep[:max_lines])


def run_programs(
    cmds: Sequence[Sequence[str]],
    envs: Sequence[dict[str, str]] | None = None,
    timeout: float = 300.0,
    cwd: str | os.PathLike | None = None,
) -> list[ProgramResult]:
    """Start every command at once (each with ``os.environ`` updated by its ``envs`` entry), wait for all,
    return their logs in order. When one fails the others get 2 s to report, then all are stopped; after
    ``timeout`` s all are stopped and :class:`TimeoutError` shows the end of each log. Nothing is left running.
    """
    from .paths import ROOT

    envs = list(envs) if envs is not None else [{} for _ in cmds]
    if len(envs) != len(cmds):
        raise ValueError(f"{len(cmds)} commands but {len(envs)} environments")
    t0 = time.perf_counter()
    logs = [tempfile.TemporaryFile(mode="w+") for _ in cmds]
    procs = []
    try:
        for cmd, env, log in zip(cmds, envs, logs, strict=True):
            full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
            procs.append(
                subprocess.Popen(
                    list(map(str, cmd)), cwd=cwd or ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
                )
            )
        deadline = time.monotonic() + timeout
        while any(p.poll() is None for p in procs):
            if time.monotonic() > deadline:
                tails = []
                for i, log in enumerate(logs):
                    log.seek(0)
                    tails.append(f"--- program {i}:\n" + "\n".join(log.read().splitlines()[-8:]))
                raise TimeoutError(
                    f"the programs did not finish within {timeout:.0f} s; last output:\n" + "\n".join(tails)
                )
            if any(p.poll() not in (None, 0) for p in procs):
                time.sleep(2)  # let the others report, then stop them
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    seconds = time.perf_counter() - t0
    results = []
    for cmd, p, log in zip(cmds, procs, logs, strict=True):
        log.seek(0)
        results.append(ProgramResult(list(map(str, cmd)), p.returncode, log.read(), seconds))
        log.close()
    return results


_TORCHRUN_RUNNER = """
import os, sys, cloudpickle, torch, torch.distributed as dist
from course_utils.devices import rank_device, this_rank
fn, args = cloudpickle.load(open(sys.argv[1], "rb"))
device = rank_device()  # the device first (selected when it is a GPU), then the group bound to it
dist.init_process_group(this_rank().backend, device_id=device if this_rank().backend == "nccl" else None)
result = fn(dist.get_rank(), dist.get_world_size(), *args)
with open(os.path.join(sys.argv[2], f"rank{dist.get_rank()}.pkl"), "wb") as f:
    cloudpickle.dump(result, f)
dist.barrier()
dist.destroy_process_group()
"""


def torchrun_env(nproc: int, device: str | None = None) -> dict[str, str]:
    """Environment for ``nproc`` torchrun processes started from a notebook on this machine: the plan of
    :func:`plan_for` turned into ``COURSE_DEVICE``. On a machine with fewer GPUs than ``nproc`` the plan is the
    CPU, and ``COURSE_DEVICE=cpu`` says so explicitly (torchrun's processes would otherwise refuse to
    oversubscribe the GPUs, see ``devices.launcher_rank``)."""
    plan = plan_for(nproc, device)
    if plan[0].device == "cpu":
        return {"COURSE_DEVICE": "cpu"}
    return {"COURSE_DEVICE": "cuda"} if plan[0].backend == "gloo" else {}


def run_torchrun(
    fn: Callable[..., Any], nproc: int, args: Sequence[Any] = (), timeout: float = 300.0
) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` under ``torchrun --standalone --nproc-per-node=nproc``; results in
    rank order. ``fn`` travels by value (a function written in a notebook works); each process starts its
    group with the plan's backend (``devices.this_rank()``), as a torchrun script does. The processes get
    :func:`torchrun_env`: with fewer GPUs than ``nproc`` they are told to use the CPU, as :func:`run` would."""
    with tempfile.TemporaryDirectory(prefix="course_torchrun_") as folder:
        job, runner = os.path.join(folder, "job.pkl"), os.path.join(folder, "runner.py")
        with open(job, "wb") as f:
            f.write(_dumps((fn, tuple(args))))
        with open(runner, "w") as f:
            f.write(_TORCHRUN_RUNNER)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
        env = {**torchrun_env(nproc), "OMP_NUM_THREADS": "1", "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}
        (result,) = run_programs([[*cmd, runner, job, folder]], [env], timeout=timeout)
        if result.returncode != 0:
            raise RankFailedError(
                -1, nproc, f"torchrun exited with code {result.returncode}:\n{result.log[-3000:]}"
            )
        out = []
        for rank in range(nproc):
            with open(os.path.join(folder, f"rank{rank}.pkl"), "rb") as f:
                out.append(cloudpickle.load(f))
        return out
