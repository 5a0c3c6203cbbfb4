"""Small tasks and a minimal training loop for the theory notebooks (01 CNN, 03 GRU).

* :func:`first_token_task` - a synthetic long-dependency task: the label is the *first* token of a
  sequence of ``T`` random tokens. A model must carry one piece of information across ``T`` steps
  while later tokens of the same kind arrive; a plain RNN stops managing this as ``T`` grows (notebook 03).
* :class:`SeqClassifier` - an ``nn.RNN`` or ``nn.GRU`` read-out from the last hidden state (notebook 03).
* :func:`train_classifier` / :func:`accuracy` - seeded, device-agnostic training of tiny models on
  in-memory arrays (notebooks 01 and 03), built on the training loop that notebook 05 teaches.
* :func:`torch_threads` - run a block with one PyTorch thread (faster for tiny models on a busy CPU).
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

__all__ = ["first_token_task", "mnist_rows", "SeqClassifier", "train_classifier", "accuracy", "torch_threads"]


@contextlib.contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run the block with ``n`` PyTorch intra-op threads, then restore the previous number.

    Tiny models (a 32-unit RNN step is a few thousand multiply-adds) gain nothing from splitting each
    operation across threads; the threads only synchronise, and on a busy machine they spin while
    waiting for a core. One thread is faster there and gives the same numbers on any core count.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def first_token_task(
    n: int, T: int, n_classes: int = 4, n_distractors: int = 0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` one-hot token sequences ``x [n, T, n_classes + n_distractors]`` (float32) and labels ``y [n]`` (int64).

    Step 0 holds the class token (one of the first ``n_classes`` channels); every later step holds a
    random token: with ``n_distractors=0`` from the same ``n_classes`` symbols (later tokens look exactly
    like the answer, so the model must store step 0 and stop inputs overwriting it), otherwise from
    ``n_distractors`` separate symbols. The label is the step-0 token: chance is ``1 / n_classes``, and the
    answer lies ``T - 1`` steps before the read-out.
    """
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    if n_distractors:
        later = n_classes + rng.integers(0, n_distractors, size=(n, T - 1))
    else:
        later = rng.integers(0, n_classes, size=(n, T - 1))
    tokens = np.concatenate([y[:, None], later], axis=1)
    x = np.eye(n_classes + n_distractors, dtype=np.float32)[tokens]
    return x, y.astype(np.int64)


def mnist_rows(images: np.ndarray) -> np.ndarray:
    """MNIST ``uint8 [N,28,28]`` -> float32 sequences ``[N, 28 steps, 28 features]`` in [0, 1] (notebook 03).

    Row-by-row reading: step ``t`` is image row ``t``, so a recurrent model sees the digit top to bottom.
    """
    return (np.asarray(images, dtype=np.float32) / 255.0).reshape(len(images), 28, 28)


class SeqClassifier(nn.Module):
    """``nn.RNN``/``nn.GRU`` (batch-first) followed by a linear layer on the last hidden state -> logits."""

    def __init__(self, n_in: int, hidden: int, n_out: int, cell: str = "gru", update_bias: float | None = None) -> None:
        """``update_bias`` (GRU only) sets the update gate's total bias ``b_iz + b_hz`` at initialisation:
        a positive value makes ``z`` close to 1, so a fresh GRU already carries its state forward."""
        super().__init__()
        kinds = {"rnn": nn.RNN, "gru": nn.GRU}
        if cell not in kinds:
            raise ValueError(f"cell must be one of {sorted(kinds)}, got {cell!r}")
        self.cell = cell
        self.rnn = kinds[cell](n_in, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_out)
        if update_bias is not None:
            if cell != "gru":
                raise ValueError("update_bias is a GRU setting (the plain RNN has no gates)")
            with torch.no_grad():  # PyTorch's gate blocks are r, z, n: z is the middle third
                self.rnn.bias_ih_l0[hidden : 2 * hidden] = 0.0
                self.rnn.bias_hh_l0[hidden : 2 * hidden] = update_bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h_last = self.rnn(x)  # h_last [1, N, H]
        return self.head(h_last[-1])


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
    device: torch.device | str | None = None,
) -> list[float]:
    """Train ``model`` with Adam on in-memory ``(x, y)`` for ``epochs``; return the mean loss of each epoch.

    A short-cut for the theory notebooks: one :class:`~course_utils.pipeline.TensorLoader` (seeded
    shuffle: epoch ``e`` uses ``seed + e``) and :func:`course_utils.train.train_epoch` per epoch - the same
    loop notebook 05 teaches. ``loss_fn`` is ``F.cross_entropy`` for logits or ``F.nll_loss`` for a
    model that returns log-probabilities (the course's ``Net``). ``clip`` bounds the gradient norm;
    ``stop_below`` ends training early once an epoch's mean loss falls below it.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    loader = TensorLoader(
        torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64),
        batch_size=batch_size, shuffle=True, seed=seed,
    )
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        stats = train_epoch(model, loader, opt, device, loss_fn, sync=False, clip_grad_norm=clip)
        history.append(stats["loss"])
        if stop_below is not None and history[-1] < stop_below:
            break
    return history


def accuracy(model: nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, batch_size: int = 500) -> float:
    """Fraction of ``argmax(model(x)) == y``, computed in eval mode (:func:`course_utils.train.predict`)."""
    device = next(model.parameters()).device
    pred = predict(model, torch.as_tensor(x, dtype=torch.float32), device, batch_size=batch_size).argmax(1)
    return float((pred == torch.as_tensor(y, dtype=torch.int64)).double().mean())
