"""The course's device-agnostic PyTorch training loop, evaluation, prediction and safe checkpoints.

Taught in notebook 05; reused unchanged inside DDP processes (notebook 08), by the inference notebooks
(10-11) and the benchmark ``benchmarks/train_loop_vs_pytorch_example.py``. Plain functions, no framework:

* :func:`train_epoch` - one pass over a loader: ``zero_grad(set_to_none=True)`` -> forward -> loss ->
  backward -> step; metrics are accumulated as tensors on the device (no ``.item()`` sync per batch).
* :func:`evaluate` - loss and accuracy under ``torch.inference_mode()``.
* :func:`predict` - model outputs for a tensor or a loader, in input order, on the CPU.
* :func:`fit` - epochs of the above with a ``tqdm.auto`` progress bar, a :class:`History`, TensorBoard
  scalars through ``SummaryWriter``, and checkpoint save/resume.
* :func:`save_checkpoint` / :func:`load_checkpoint` - model + optimizer (+ scheduler) + epoch + history,
  written atomically and read back with ``torch.load(..., weights_only=True)`` (never unpickles code).

Every function takes ``(model, loader or tensors, optimizer, device)``. A loader is anything that yields
``(x, y)`` batches: a ``DataLoader`` or the faster :class:`course_utils.pipeline.TensorLoader`. Inside a
DDP process pass the DDP-wrapped model and a loader with a ``DistributedSampler``: :func:`fit` calls
``set_epoch`` every epoch, and when a process group is initialised :func:`train_epoch` and
:func:`evaluate` sum their counts over all ranks (``all_reduce``), so every rank reports the global
metrics; only the main rank (rank 0) shows progress, writes logs and saves checkpoints.

Speed (measured in the benchmark, which prints the numbers): preloading normalised tensors once and
indexing them by a permutation removes the per-sample Python work of a ``Dataset``; putting a CNN in the
channels-last memory format (``model.to(memory_format=torch.channels_last)``) lets oneDNN use its faster
NHWC convolution and pooling kernels on CPUs.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "History",
    "unwrap_model",
    "is_main_process",
    "train_epoch",
    "evaluate",
    "predict",
    "fit",
    "save_checkpoint",
    "load_checkpoint",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class History:
    """Per-epoch metrics, named like Keras' ``History.history`` (notebook 05).

    ``history["loss"]``, ``history["accuracy"]`` (training), ``history["val_loss"]``,
    ``history["val_accuracy"]``, ``history["images_per_s"]``...; ``epochs`` holds the epoch numbers.
    Only lists of numbers, so it can travel inside a ``weights_only`` checkpoint.
    """

    epochs: list[int] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)

    def append(self, epoch: int, **metrics: float) -> None:
        """Record the metrics of one epoch."""
        self.epochs.append(int(epoch))
        for k, v in metrics.items():
            self.history.setdefault(k, []).append(float(v))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __len__(self) -> int:
        return len(self.epochs)

    def last(self) -> dict[str, float]:
        """The metrics of the last recorded epoch."""
        return {k: v[-1] for k, v in self.history.items() if v}

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for checkpoints and JSON)."""
        return {"epochs": list(self.epochs), "history": {k: list(v) for k, v in self.history.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict`."""
        return cls(list(d.get("epochs", [])), {k: list(v) for k, v in d.get("history", {}).items()})


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module inside a ``DistributedDataParallel``/``DataParallel`` or ``torch.compile`` wrapper."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod"):  # torch.compile's OptimizedModule
            model = model._orig_mod
        else:
            return model


def _dist_ready() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def is_main_process() -> bool:
    """True outside distributed training and on rank 0 inside it (who logs, prints and saves)."""
    return not _dist_ready() or torch.distributed.get_rank() == 0


def _acc_dtype(device: torch.device) -> torch.dtype:
    """float64 for metric sums, except on Apple MPS, which has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


def _global_sums(values: list[torch.Tensor | float], device: torch.device, sync: bool) -> list[float]:
    """Stack scalars into one tensor, sum it over ranks if a process group is up, return floats."""
    t = torch.stack([torch.as_tensor(v, dtype=_acc_dtype(device), device=device) for v in values])
    if sync and _dist_ready():
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
    return t.tolist()


def _batch_xy(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise TypeError("the loader must yield (inputs, targets) batches")
    return batch[0], batch[1]


def train_epoch(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    device: torch.device | str,
    loss_fn: LossFn = F.nll_loss,
    *,
    progress: Any | None = None,
    log_every: int = 10,
    sync: bool = True,
    clip_grad_norm: float | None = None,
) -> dict[str, float]:
    """Train ``model`` for one pass over ``loader``; return ``loss``, ``accuracy``, ``images``, ``seconds``, ``images_per_s``.

    Taught in notebook 05. ``loss_fn(outputs, targets)`` must return the batch *mean* (the default
    ``F.nll_loss`` matches the course's ``Net``, which returns log-probabilities; use
    ``F.cross_entropy`` for a model that returns logits). Batches are moved to ``device`` here (a no-op
    when they are already there). ``progress`` is an optional tqdm bar, advanced once per batch. The
    reported loss is the mean of the per-batch losses weighted by batch size, over all ranks when a
    process group is initialised and ``sync`` is true. ``clip_grad_norm`` rescales the gradients so that
    their global norm is at most that value before each step (exploding gradients, notebook 03).
    """
    device = torch.device(device)
    model.train()
    loss_sum = torch.zeros((), dtype=_acc_dtype(device), device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    t0 = time.perf_counter()
    for i, batch in enumerate(loader):
        x, y = _batch_xy(batch)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)  # drop the old gradients instead of writing zeros into them
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
        # Metrics stay on the device: an .item() here would wait for the GPU after every batch.
        loss_sum += loss.detach() * len(y)
        correct += (out.detach().argmax(1) == y).sum()
        seen += len(y)
        if progress is not None:
            progress.update(1)
            if i % log_every == 0:
                progress.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    loss_total, correct_total, n = _global_sums([loss_sum, correct, seen], device, sync)
    seconds = time.perf_counter() - t0  # after the sums: on a GPU, .tolist() waits for all queued work
    if n == 0:
        raise ValueError("the loader yielded no batches")
    return {
        "loss": loss_total / n,
        "accuracy": correct_total / n,
        "images": int(n),
        "seconds": seconds,
        "images_per_s": n / seconds if seconds > 0 else float("inf"),
    }


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    loader: Iterable,
    device: torch.device | str,
    loss_fn: LossFn = F.nll_loss,
    *,
    sync: bool = True,
) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` over ``loader``, in eval mode without autograd (notebook 05).

    Returns ``loss``, ``accuracy``, ``images``, ``seconds``. Under DDP (process group initialised,
    ``sync=True``) the counts are summed over ranks, so the result is exact when the ranks' shards are
    disjoint and cover the data once (see :class:`course_utils.pipeline.UnpaddedShardSampler`);
    ``DistributedSampler`` pads with duplicates and biases it slightly. With a process group, every rank
    must call it (the sum is a collective operation), as with :func:`train_epoch`.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=_acc_dtype(device), device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    t0 = time.perf_counter()
    for batch in loader:
        x, y = _batch_xy(batch)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        out = model(x)
        loss_sum += loss_fn(out, y) * len(y)
        correct += (out.argmax(1) == y).sum()
        seen += len(y)
    loss_total, correct_total, n = _global_sums([loss_sum, correct, seen], device, sync)
    seconds = time.perf_counter() - t0
    model.train(was_training)
    if n == 0:
        raise ValueError("the loader yielded no batches")
    return {"loss": loss_total / n, "accuracy": correct_total / n, "images": int(n), "seconds": seconds}


@torch.inference_mode()
def predict(
    model: nn.Module,
    data: torch.Tensor | Iterable,
    device: torch.device | str,
    batch_size: int = 1000,
) -> torch.Tensor:
    """Model outputs for every input, in input order, concatenated on the CPU (notebooks 05, 10).

    ``data`` is an input tensor (split into batches of ``batch_size``) or an iterable of batches, each
    either an input tensor or an ``(inputs, targets, ...)`` tuple whose first element is used.
    ``predict(...).argmax(1)`` gives the predicted classes.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    if isinstance(data, torch.Tensor):
        data = data.split(batch_size)
    outs = []
    for batch in data:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        outs.append(model(x.to(device, non_blocking=True)).cpu())
    model.train(was_training)
    if not outs:
        raise ValueError("no data to predict")
    return torch.cat(outs)


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    epoch: int | None = None,
    *,
    scheduler: Any | None = None,
    history: History | None = None,
    **extra: Any,
) -> Path:
    """Write model, optimizer, scheduler state, epoch and history to ``path`` atomically (notebook 05).

    The model is unwrapped first (DDP/compile), so the checkpoint loads into a plain model anywhere.
    The file is written to a temporary name in the same folder and renamed over ``path`` only when
    complete: a crash mid-save never leaves a half-written checkpoint. ``extra`` values must be plain
    data (numbers, strings, lists, dicts, tensors) so that ``weights_only=True`` loading accepts them.
    """
    path = Path(path)
    state: dict[str, Any] = {"model": unwrap_model(model).state_dict(), "epoch": epoch}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    if history is not None:
        state["history"] = history.to_dict()
    state.update(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    scheduler: Any | None = None,
    map_location: torch.device | str | None = None,
) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(..., weights_only=True)`` and restore what is passed (notebook 05).

    ``weights_only=True`` only rebuilds tensors and plain containers: a file that asks to run code
    raises ``pickle.UnpicklingError`` instead of running it. Tensors are mapped to ``map_location``
    (default: the device of ``model``'s parameters, else the CPU), so a GPU checkpoint loads on a laptop.
    Returns the whole dict (``epoch``, ``history`` as a :class:`History` if present, extras).
    """
    if map_location is None:
        first = next(iter(model.parameters()), None) if model is not None else None
        map_location = first.device if first is not None else "cpu"
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if model is not None:
        unwrap_model(model).load_state_dict(ckpt["model"])
    if optimizer is not None:
        if "optimizer" not in ckpt:
            raise KeyError(f"{path}: checkpoint has no optimizer state")
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None:
        if "scheduler" not in ckpt:
            raise KeyError(f"{path}: checkpoint has no scheduler state")
        scheduler.load_state_dict(ckpt["scheduler"])
    if "history" in ckpt:
        ckpt["history"] = History.from_dict(ckpt["history"])
    return ckpt


def _summary_writer(log_dir: str | os.PathLike):
    """A ``SummaryWriter`` that does not import TensorFlow just to write event files.

    ``tensorboard.compat`` imports TensorFlow whenever it is installed (seconds of start-up and a screen of
    logs in a PyTorch process) unless a module ``tensorboard.compat.notf`` exists; then it uses its own
    pure-Python file writer, which is all ``add_scalar`` needs. The marker is only set while TensorFlow is
    not loaded, so a process that already uses TensorFlow is left alone.
    """
    if "tensorflow" not in sys.modules:
        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(log_dir))


def _set_epoch(loader: Any, epoch: int) -> None:
    """Tell a loader (TensorLoader) or its sampler (DistributedSampler) which epoch starts."""
    for obj in (loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        if obj is not None and hasattr(obj, "set_epoch"):
            obj.set_epoch(epoch)
            return


def fit(
    model: nn.Module,
    train_loader: Iterable,
    optimizer: torch.optim.Optimizer,
    device: torch.device | str,
    epochs: int,
    *,
    val_loader: Iterable | None = None,
    loss_fn: LossFn = F.nll_loss,
    scheduler: Any | None = None,
    log_dir: str | os.PathLike | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    is_main: bool | None = None,
    history: History | None = None,
) -> History:
    """Train for ``epochs`` epochs (counted from 0; with ``resume`` from the checkpoint's epoch + 1) (notebook 05).

    Each epoch: ``set_epoch`` on the loader/sampler, :func:`train_epoch`, ``scheduler.step()`` (an
    epoch-based scheduler such as ``StepLR``), :func:`evaluate` on ``val_loader``, one row of the returned
    :class:`History`, TensorBoard scalars ``train/loss``, ``val/accuracy``... under ``log_dir``, and a
    checkpoint at ``checkpoint_path`` (overwritten each epoch). ``resume=True`` continues from an existing
    checkpoint (model, optimizer, scheduler, epoch, history and, outside DDP, PyTorch's random state, so
    dropout continues exactly as in an uninterrupted run); without one it starts from scratch.
    ``is_main`` (default: rank 0, or True without a process group) decides who shows the progress bar,
    writes logs and saves checkpoints - every rank still trains and evaluates, so under DDP give every
    rank a ``val_loader`` (or none to all). Rank 0 writes the checkpoint; before other ranks read it
    (e.g. ``resume=True`` after a restart) put a ``dist.barrier()`` between saving and loading.
    """
    device = torch.device(device)
    is_main = is_main_process() if is_main is None else is_main
    history = history if history is not None else History()
    start = 0
    if resume and checkpoint_path is not None and Path(checkpoint_path).is_file():
        ckpt = load_checkpoint(checkpoint_path, model, optimizer, scheduler=scheduler, map_location=device)
        start = int(ckpt["epoch"]) + 1
        if isinstance(ckpt.get("history"), History):
            history = ckpt["history"]
        if "rng_state" in ckpt and not _dist_ready():  # same dropout masks as an uninterrupted run
            torch.set_rng_state(ckpt["rng_state"].cpu())
            if "cuda_rng_state" in ckpt and device.type == "cuda":
                torch.cuda.set_rng_state(ckpt["cuda_rng_state"].cpu(), device)
    writer = None
    if log_dir is not None and is_main:
        writer = _summary_writer(log_dir)
    bar = None
    if progress and is_main and epochs > start:
        from tqdm.auto import tqdm

        per_epoch = len(train_loader) if hasattr(train_loader, "__len__") else None  # type: ignore[arg-type]
        bar = tqdm(total=(epochs - start) * per_epoch if per_epoch else None, unit="batch", desc="training")
    try:
        for epoch in range(start, epochs):
            _set_epoch(train_loader, epoch)
            if bar is not None:
                bar.set_description(f"epoch {epoch + 1}/{epochs}")
            train = train_epoch(model, train_loader, optimizer, device, loss_fn, progress=bar)
            row = {"loss": train["loss"], "accuracy": train["accuracy"], "images_per_s": train["images_per_s"]}
            if scheduler is not None:
                row["lr"] = optimizer.param_groups[0]["lr"]
                scheduler.step()
            if val_loader is not None:
                val = evaluate(model, val_loader, device, loss_fn)
                row["val_loss"], row["val_accuracy"] = val["loss"], val["accuracy"]
            history.append(epoch, **row)
            if bar is not None:
                shown = {k: f"{v:.3f}" for k, v in row.items() if k in ("loss", "val_loss", "val_accuracy")}
                bar.set_postfix(shown)
            if writer is not None:
                for k, v in row.items():
                    split, name = ("val", k[4:]) if k.startswith("val_") else ("train", k)
                    writer.add_scalar(f"{split}/{name}", v, epoch)
                writer.flush()
            if checkpoint_path is not None and is_main:
                rng = {"rng_state": torch.get_rng_state()}
                if device.type == "cuda":
                    rng["cuda_rng_state"] = torch.cuda.get_rng_state(device)
                save_checkpoint(checkpoint_path, model, optimizer, epoch, scheduler=scheduler, history=history, **rng)
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
    return history
