"""Start ``torchrun`` jobs from a notebook or a test: one machine, or several "nodes" on localhost.

Taught in notebook 08. ``torchrun`` is ``python -m torch.distributed.run``; these helpers build its
command line, run it as a subprocess (working folder: the repository root, so ``-m course_utils...``
resolves), and return the log. :func:`trim_log` keeps the lines that tell the story (our ranks'
prints, torchrun's restart and failure messages) out of the agent's chatter.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .launch import free_port

__all__ = ["TorchrunResult", "torchrun_command", "show_command", "run_torchrun", "run_local_nodes", "trim_log"]

_ROOT = Path(__file__).resolve().parent.parent
_TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]

#: torchrun / elastic-agent log lines worth showing (besides the workers' own ``[rank r/N ...]`` lines)
AGENT_PATTERNS = (
    r"closing signal",
    r"failed \(exitcode",
    r"[Rr]estart",
    r"node_rank is only used",
    r"Connection reset by peer",
    r"terminate called|what\(\):|Fatal Python error",  # why a worker aborted (exit code -6 / -11)
    r"^(\[rank\d+\]: )?[\w.]+(Error|Exception): ",  # the last line of a worker's traceback
)


@dataclass
class TorchrunResult:
    """A finished torchrun process: its command, exit status, full log and wall-clock seconds."""

    cmd: list[str]
    returncode: int
    log: str
    seconds: float

    def trimmed(self, max_lines: int = 40) -> str:
        """:func:`trim_log` of this run's log."""
        return trim_log(self.log, max_lines)


def torchrun_command(
    script_args: Sequence[str],
    nproc_per_node: int = 2,
    *,
    module: str = "course_utils.torchrun_train",
    standalone: bool = True,
    nnodes: int = 1,
    node_rank: int = 0,
    rdzv_endpoint: str | None = None,
    rdzv_id: str = "course",
    max_restarts: int = 0,
) -> list[str]:
    """The argument list of a torchrun call (``standalone``: one machine, a private rendezvous)."""
    cmd = [*_TORCHRUN, f"--nproc-per-node={nproc_per_node}", f"--max-restarts={max_restarts}"]
    if standalone:
        cmd.append("--standalone")
    else:
        if rdzv_endpoint is None:
            raise ValueError("a multi-node run needs rdzv_endpoint='HOST:PORT' of node 0")
        cmd += [
            f"--nnodes={nnodes}",
            f"--node-rank={node_rank}",
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint={rdzv_endpoint}",
            f"--rdzv-id={rdzv_id}",
        ]
    return [*cmd, "-m", module, *map(str, script_args)]


def show_command(cmd: Sequence[str]) -> str:
    """``cmd`` as a shell line, with ``python -m torch.distributed.run`` written as ``torchrun``."""
    cmd = list(cmd)
    if cmd[: len(_TORCHRUN)] == _TORCHRUN:
        cmd = ["torchrun", *cmd[len(_TORCHRUN) :]]
    return shlex.join(cmd)


def _env(threads: int) -> dict[str, str]:
    """The environment of a torchrun call.

    * ``OMP_NUM_THREADS``: intra-op threads per worker (1: no oversubscription, and results are
      bit-identical between launches with the same world size).
    * ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1``: in torch 2.13 the elastic agent keeps *one* key-value store
      for all restart attempts and the restarted workers' process group reads it without a per-attempt
      prefix, so it can pick up the dead workers' addresses ("Gloo connectFullMesh failed ... Connection
      refused", or a hang) - seen here in 2 of 4 restarts. With the variable set, each attempt gets a fresh
      store (pytorch/pytorch#135712 describes the same race); 5 of 5 restarts then succeeded.
    """
    return dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1", TORCH_DISABLE_SHARE_RDZV_TCP_STORE="1")


def run_torchrun(cmd: Sequence[str], timeout: float = 300.0, threads: int = 1) -> TorchrunResult:
    """Run one torchrun command to the end (or kill it after ``timeout`` s); return its log."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            list(cmd), cwd=_ROOT, env=_env(threads), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
        )
        return TorchrunResult(list(cmd), p.returncode, p.stdout, time.perf_counter() - t0)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        raise TimeoutError(f"torchrun did not finish within {timeout:.0f} s; last output:\n{trim_log(out)}") from None


def run_local_nodes(
    script_args: Sequence[str],
    nnodes: int = 2,
    nproc_per_node: int = 1,
    timeout: float = 300.0,
    threads: int = 1,
    port: int | None = None,
) -> list[TorchrunResult]:
    """Pretend to be ``nnodes`` machines: start one torchrun per "node" on this host, all meeting at a
    c10d rendezvous on 127.0.0.1 (on a real cluster, each command runs on its own machine and the
    endpoint is node 0's address). Returns one result per node, in node order."""
    endpoint = f"127.0.0.1:{port or free_port()}"
    rdzv_id = f"local{os.getpid()}"
    cmds = [
        torchrun_command(
            script_args, nproc_per_node, standalone=False, nnodes=nnodes, node_rank=n, rdzv_endpoint=endpoint, rdzv_id=rdzv_id
        )
        for n in range(nnodes)
    ]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(c, cwd=_ROOT, env=_env(threads), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for c in cmds
    ]
    try:
        outs = [p.communicate(timeout=max(1.0, timeout - (time.perf_counter() - t0)))[0] for p in procs]
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"the {nnodes}-node run did not finish within {timeout:.0f} s") from None
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    seconds = time.perf_counter() - t0
    return [TorchrunResult(c, p.returncode, o, seconds) for c, p, o in zip(cmds, procs, outs, strict=True)]


def trim_log(log: str, max_lines: int = 40) -> str:
    """The lines of a torchrun log that matter: workers' ``[rank r/N ...]`` prints and the agent's
    failure/restart messages (shortened), at most ``max_lines``."""
    keep = []
    agent = re.compile("|".join(AGENT_PATTERNS))
    for line in log.splitlines():
        if line.startswith("[rank ") and "/" in line.split("]")[0]:
            keep.append(line)
        elif agent.search(line):
            line = re.sub(r"^[WEI]\d{4} [\d:.]+ \d+ \S+\] ", "torchrun: ", line)  # drop the logger prefix
            keep.append(line if len(line) <= 160 else line[:157] + "...")
    return "\n".join(keep[:max_lines])
