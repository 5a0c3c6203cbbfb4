"""DistributedDataParallel (DDP) workers for ``course_utils.launch.run``: training and the equivalence proof.

Taught in notebook 08. What DDP changes against the single-device loop of notebook 05 is small, and all of
it is here - the loop itself is reused unchanged (:func:`course_utils.train.train_epoch`, ``evaluate``):

1. every process (rank) builds the same model and wraps it in ``DistributedDataParallel``, which
   broadcasts rank 0's parameters at construction and all-reduces (averages) gradients in ``backward()``;
2. a ``DistributedSampler`` gives each rank a different ``1/N`` of the data, and ``set_epoch(e)``
   reshuffles it every epoch (without it, every epoch repeats epoch 0's order) - erratum 12;
3. metrics are *local* until you combine them: ``train_epoch``/``evaluate`` sum counts over ranks with
   ``all_reduce``; per-rank details travel to rank 0 with ``dist.gather_object``.

There is no ``parallel_apply`` step and no ``dist.get_local_rank()`` (erratum 11): the ordinary loop runs in
every process, and the local rank comes from the environment (``LOCAL_RANK``).
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DistributedSampler

from .models import Net
from .pipeline import TensorLoader, UnpaddedShardSampler, load_mnist_tensors
from .train import evaluate, train_epoch

__all__ = [
    "rank_device",
    "wrap_ddp",
    "rank_loaders",
    "flat_params",
    "train_ddp",
    "equivalence_batches",
    "equivalence_indices",
    "equivalence_reference",
    "equivalence_ddp",
]


def rank_device(local_rank: int) -> torch.device:
    """The device of a rank: its own GPU ``cuda:local_rank`` under NCCL; under gloo a GPU shared
    round-robin when there is one (``COURSE_DEVICE=cpu`` forces the CPU), else the CPU."""
    if os.environ.get("COURSE_DEVICE") == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    if dist.is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", local_rank)
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def wrap_ddp(model: torch.nn.Module, device: torch.device) -> DDP:
    """Move ``model`` to ``device`` and wrap it in DDP (``device_ids`` only for a GPU)."""
    model = model.to(device)
    return DDP(model, device_ids=[device.index] if device.type == "cuda" else None)


def rank_loaders(
    rank: int, world_size: int, batch_size: int, n_train: int | None = None, seed: int = 0
) -> tuple[DistributedSampler, TensorLoader, TensorLoader]:
    """This rank's data: a ``DistributedSampler`` over the (first ``n_train``) training images, a loader of
    ``batch_size`` per rank drawing from it, and an unpadded shard of the test set (each image counted once)."""
    x, y = load_mnist_tensors("train")
    if n_train is not None:
        x, y = x[:n_train], y[:n_train]
    xt, yt = load_mnist_tensors("test")
    sampler = DistributedSampler(range(len(y)), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    loader = TensorLoader(x, y, batch_size=batch_size, sampler=sampler)
    test_loader = TensorLoader(xt, yt, batch_size=1000, sampler=UnpaddedShardSampler(len(yt), rank, world_size))
    return sampler, loader, test_loader


def flat_params(model: torch.nn.Module) -> np.ndarray:
    """All parameters of ``model`` (unwrapped from DDP if needed) as one float64 NumPy vector."""
    model = getattr(model, "module", model)
    return torch.cat([p.detach().reshape(-1).double().cpu() for p in model.parameters()]).numpy()


def _local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", dist.get_rank() if dist.is_initialized() else 0))


def train_ddp(
    rank: int,
    world_size: int,
    epochs: int = 2,
    batch_size: int = 32,
    lr: float = 0.05,
    momentum: float = 0.5,
    n_train: int | None = None,
    seed: int = 0,
) -> dict | None:
    """Worker: train the article's ``Net`` with DDP; ``batch_size`` is *per rank* (global = × world_size).

    Each epoch: ``set_epoch`` → ``train_epoch`` (gradients all-reduced by DDP, metrics summed over ranks)
    → ``evaluate`` on an unpadded shard of the test set per rank. Rank 0 prints one line per epoch and
    returns the history plus every rank's details (gathered with ``dist.gather_object``): samples per
    epoch, the first indices its sampler gave it in each epoch, and a checksum of its final parameters
    (equal on all ranks: DDP keeps the replicas identical). Other ranks return ``None``.
    """
    device = rank_device(_local_rank())
    sampler, loader, test_loader = rank_loaders(rank, world_size, batch_size, n_train, seed)
    torch.manual_seed(seed)  # same init everywhere (DDP would broadcast rank 0's anyway)
    model = wrap_ddp(Net(), device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    history, first_indices = [], []
    for epoch in range(epochs):
        loader.set_epoch(epoch)  # → sampler.set_epoch: a new shuffle each epoch, the same on every rank
        first_indices.append(list(sampler)[:4])
        dist.barrier()  # start the clock together
        tr = train_epoch(model, loader, opt, device)  # global loss/accuracy: summed over ranks inside
        te = evaluate(model, test_loader, device)
        if rank == 0:
            history.append({"epoch": epoch, **{f"train_{k}": v for k, v in tr.items()}, "test_accuracy": te["accuracy"]})
            print(
                f"epoch {epoch}: train loss {tr['loss']:.3f}, train acc {tr['accuracy']:.3f}, "
                f"test acc {te['accuracy']:.3f} ({tr['images']:.0f} images on {world_size} rank(s))"
            )
    mine = {
        "rank": rank,
        "samples_per_epoch": len(sampler),
        "first_indices": first_indices,
        "checksum": float(flat_params(model).sum()),
        "threads": torch.get_num_threads(),
        "device": str(device),
    }
    ranks = [None] * world_size if rank == 0 else None
    dist.gather_object(mine, ranks, dst=0)  # every rank's details to rank 0
    return {"history": history, "ranks": ranks} if rank == 0 else None


def equivalence_batches(steps: int, global_batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed data of the equivalence proof: the first ``steps × global_batch`` training images."""
    x, y = load_mnist_tensors("train")
    return x[: steps * global_batch], y[: steps * global_batch]


def equivalence_indices(steps: int, global_batch: int, rank: int, world_size: int) -> list[int]:
    """Rank ``rank``'s part of each global batch: the ``rank``-th contiguous ``global_batch / world_size``
    slice of batch 0, then of batch 1, ... (one process = rank 0 of 1: everything, in order)."""
    if global_batch % world_size:
        raise ValueError(f"global batch {global_batch} is not divisible by {world_size} ranks")
    per = global_batch // world_size
    return [s * global_batch + rank * per + i for s in range(steps) for i in range(per)]


def _equivalence_run(model, steps: int, global_batch: int, rank: int, world_size: int, lr: float, device) -> np.ndarray:
    x, y = equivalence_batches(steps, global_batch)
    loader = TensorLoader(x, y, batch_size=global_batch // world_size, sampler=equivalence_indices(steps, global_batch, rank, world_size))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    train_epoch(model, loader, opt, device)  # one pass = ``steps`` optimizer steps
    return flat_params(model)


def equivalence_reference(steps: int = 5, global_batch: int = 64, lr: float = 0.05, seed: int = 0) -> np.ndarray:
    """One process, ``steps`` SGD steps on batches of ``global_batch``; returns the final parameters."""
    torch.manual_seed(seed)
    return _equivalence_run(Net(dropout=False), steps, global_batch, 0, 1, lr, "cpu")


def equivalence_ddp(rank: int, world_size: int, steps: int = 5, global_batch: int = 64, lr: float = 0.05, seed: int = 0) -> np.ndarray:
    """Worker: the same ``steps`` with DDP, each rank taking its ``global_batch / world_size`` slice of every
    global batch. Local loss = mean over B/N; DDP averages the gradients over N ranks = mean over B.
    ``Net(dropout=False)``: dropout would draw different masks in the two runs."""
    torch.manual_seed(seed)
    device = rank_device(_local_rank())
    model = wrap_ddp(Net(dropout=False), device)
    return _equivalence_run(model, steps, global_batch, rank, world_size, lr, device)
