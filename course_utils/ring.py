"""Ring all-reduce, simulated step by step, and what it costs in traffic.

Taught in notebook 08. ``N`` ranks each hold a vector of ``size`` numbers; all-reduce leaves the
element-wise sum on every rank. The ring algorithm cuts each vector into ``N`` chunks and runs

* **reduce-scatter**, ``N - 1`` steps: in step ``s`` rank ``r`` sends chunk ``(r - s) mod N`` to rank
  ``r + 1``, which adds it to its own copy. Afterwards rank ``r`` owns the full sum of chunk ``(r + 1) mod N``;
* **all-gather**, ``N - 1`` steps: the finished chunks travel once more round the ring, overwriting.

Each rank sends ``2 (N - 1)`` chunks of ``size / N`` numbers: ``2 (N - 1) / N × size`` - below
``2 × size`` however many ranks there are, which is why the ring is bandwidth-optimal. A parameter server
that receives every gradient and sends back the sum moves ``2 (N - 1) × size`` through one node instead.
:func:`ring_allreduce_p2p` runs the same schedule with real ``torch.distributed`` send/recv.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "RingTrace",
    "ring_allreduce",
    "ring_traffic_per_rank",
    "parameter_server_traffic",
    "chunk_bounds",
    "ring_allreduce_p2p",
]


@dataclass
class RingTrace:
    """What :func:`ring_allreduce` did: the result on every rank and the traffic it took."""

    results: list[np.ndarray]
    #: numbers sent by each rank, summed over all steps
    sent: list[int]
    #: one entry per step: (phase, [(src, dst, chunk), ...])
    steps: list[tuple[str, list[tuple[int, int, int]]]] = field(default_factory=list)
    #: per step, a snapshot of every rank's buffer (only when ``record=True``)
    snapshots: list[list[np.ndarray]] = field(default_factory=list)

    def describe(self) -> str:
        """The schedule as text, one line per step."""
        lines = []
        for i, (phase, moves) in enumerate(self.steps, 1):
            m = ", ".join(f"{s}→{d}: chunk {c}" for s, d, c in moves)
            lines.append(f"step {i} ({phase}): {m}")
        return "\n".join(lines)


def chunk_bounds(size: int, n: int) -> list[tuple[int, int]]:
    """Split ``range(size)`` into ``n`` contiguous chunks whose lengths differ by at most one."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    edges = np.linspace(0, size, n + 1).round().astype(int)
    return [(int(edges[i]), int(edges[i + 1])) for i in range(n)]


def ring_allreduce(vectors: list[np.ndarray], record: bool = False) -> RingTrace:
    """Simulate ring all-reduce (sum) over ``len(vectors)`` ranks; every rank ends with the sum.

    Nothing is sent anywhere: each "send" is a copy between entries of a list, counted in ``sent``.
    """
    n = len(vectors)
    if n < 1:
        raise ValueError("need at least one rank")
    buf = [np.array(v, dtype=np.float64, copy=True).ravel() for v in vectors]
    size = buf[0].size
    if any(b.size != size for b in buf):
        raise ValueError("every rank must hold a vector of the same size")
    bounds = chunk_bounds(size, n)
    sent = [0] * n
    trace = RingTrace(results=buf, sent=sent)
    for phase in ("reduce-scatter", "all-gather"):
        for s in range(n - 1):
            # all sends of a step happen "at once": read every outgoing chunk before anyone writes
            if phase == "reduce-scatter":
                moves = [(r, (r + 1) % n, (r - s) % n) for r in range(n)]
            else:
                moves = [(r, (r + 1) % n, (r + 1 - s) % n) for r in range(n)]
            outgoing = [buf[src][slice(*bounds[c])].copy() for src, _, c in moves]
            for (src, dst, c), data in zip(moves, outgoing, strict=True):
                lo, hi = bounds[c]
                if phase == "reduce-scatter":
                    buf[dst][lo:hi] += data
                else:
                    buf[dst][lo:hi] = data
                sent[src] += hi - lo
            trace.steps.append((phase, moves))
            if record:
                trace.snapshots.append([b.copy() for b in buf])
    return trace


def ring_traffic_per_rank(n: int, size: float) -> float:
    """Numbers each rank sends (and receives) in a ring all-reduce: ``2 (n - 1) / n × size``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return 2 * (n - 1) / n * size


def parameter_server_traffic(n: int, size: float) -> float:
    """Numbers through a central server that gathers ``n - 1`` vectors and sends the sum back: ``2 (n-1) size``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return 2 * (n - 1) * size


def ring_allreduce_p2p(rank: int, world_size: int, size: int = 10, seed: int = 0) -> dict:
    """Worker for ``launch.run``: ring all-reduce by hand with ``dist.isend``/``dist.recv``, checked
    against ``dist.all_reduce`` on the same data. Returns this rank's vector, both results and bytes sent."""
    import torch
    import torch.distributed as dist

    g = torch.Generator().manual_seed(seed + rank)
    x = torch.randint(0, 10, (size,), generator=g).double()
    buf = x.clone()
    bounds = chunk_bounds(size, world_size)
    right, left = (rank + 1) % world_size, (rank - 1) % world_size
    sent = 0
    for phase in ("reduce-scatter", "all-gather"):
        for s in range(world_size - 1):
            if phase == "reduce-scatter":
                send_c, recv_c = (rank - s) % world_size, (rank - 1 - s) % world_size
            else:
                send_c, recv_c = (rank + 1 - s) % world_size, (rank - s) % world_size
            lo, hi = bounds[send_c]
            out = buf[lo:hi].clone()
            req = dist.isend(out, dst=right)  # non-blocking: everyone sends and receives at once
            rlo, rhi = bounds[recv_c]
            inc = torch.empty(rhi - rlo, dtype=buf.dtype)
            dist.recv(inc, src=left)
            req.wait()
            sent += hi - lo
            if phase == "reduce-scatter":
                buf[rlo:rhi] += inc
            else:
                buf[rlo:rhi] = inc
    ref = x.clone()
    dist.all_reduce(ref)
    return {"rank": rank, "x": x.numpy(), "ring": buf.numpy(), "all_reduce": ref.numpy(), "sent": sent}
