"""Train and score tiny models on in-memory arrays: the plumbing notebooks 01 (CNN) and 03 (GRU) share.

:func:`train_classifier` and :func:`accuracy` are built on the training loop notebook 05 teaches
(:func:`course_utils.train.train_epoch`, :func:`course_utils.train.predict`); :func:`torch_threads`
runs a block with one PyTorch thread (faster for tiny models on a busy CPU).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .pipeline import TensorLoader
from .train import predict, train_epoch

__all__ = ["train_classifier", "accuracy", "torch_threads"]


@contextlib.contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run the block with ``n`` PyTorch intra-op threads, then restore the previous number.

    A tiny model's operations are too small to split across threads; on a busy machine the extra
    threads only spin while waiting for a core. One thread is faster there.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_classifier(
    model: nn.Module,
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    *,
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    loss_fn: Callable = F.cross_entropy,
    clip: float | None = None,
    stop_below: float | None = None,
) -> list[float]:
    """Train ``model`` with Adam on in-memory ``(x, y)``; return the mean loss of each epoch.

    Shuffling is seeded (epoch ``e`` uses ``seed + e``). ``loss_fn`` is ``F.cross_entropy`` for logits or
    ``F.nll_loss`` for log-probabilities (the course's ``Net``). ``clip`` bounds the gradient norm;
    ``stop_below`` ends training once an epoch's mean loss falls below it.
    """
    device = next(model.parameters()).device
    loader = TensorLoader(
        torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64),
        batch_size=batch_size, shuffle=True, seed=seed,
    )  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        stats = train_epoch(model, loader, opt, device, loss_fn, sync=False, clip_grad_norm=clip)
        history.append(stats["loss"])
        if stop_below is not None and history[-1] < stop_below:
            break
    return history


def accuracy(model: nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> float:
    """Fraction of ``argmax(model(x)) == y``, computed in eval mode."""
    device = next(model.parameters()).device
    pred = predict(model, torch.as_tensor(x, dtype=torch.float32), device, batch_size=500).argmax(1)
    return float((pred == torch.as_tensor(y, dtype=torch.int64)).double().mean())
