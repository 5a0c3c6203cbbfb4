"""Tiny worker functions for ``course_utils.launch.run``: the first collectives (notebook 08) and the
failure modes the launcher must survive (its unit tests). Workers live in a module so spawn can import them.
"""

from __future__ import annotations

import time

import torch
import torch.distributed as dist


def hello(rank: int, world_size: int) -> dict:
    """Each rank contributes ``rank + 1``; all-reduce sums them; return what this rank sees."""
    t = torch.tensor([float(rank + 1)])
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    print(f"hello from rank {rank} of {world_size} ({dist.get_backend()}), sum = {t.item():.0f}")
    return {"rank": rank, "world_size": world_size, "backend": dist.get_backend(), "sum": t.item()}


def tensor_back(rank: int, world_size: int, n: int) -> torch.Tensor:
    """Return a tensor to the parent (it must arrive by value, even after this process exits)."""
    return torch.full((n,), float(rank))


def fail_on_rank(rank: int, world_size: int, bad_rank: int) -> int:
    """``bad_rank`` raises; the others wait in a barrier that will never complete."""
    if rank == bad_rank:
        raise ValueError(f"deliberate failure on rank {rank}")
    dist.barrier()
    return rank


def hang_on_rank(rank: int, world_size: int, bad_rank: int) -> int:
    """``bad_rank`` never joins the all-reduce (it sleeps), so the others hang in the collective."""
    if rank == bad_rank:
        time.sleep(3600)
    t = torch.ones(1)
    dist.all_reduce(t)
    return rank


def crash_on_rank(rank: int, world_size: int, bad_rank: int) -> int:
    """``bad_rank`` dies abruptly (like a segfault or the OOM killer): no Python exception is reported."""
    import os

    if rank == bad_rank:
        os._exit(3)
    dist.barrier()
    return rank
