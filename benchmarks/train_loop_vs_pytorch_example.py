"""The course's PyTorch training loop vs the loop style of the official PyTorch MNIST example.

Same model (the article's ``Net``, ``course_utils.models``), same batch size (64), same optimizer
(``Adadelta(lr=1.0)``, as in the example), same data (the MNIST training split on disk), same machine and
process. Only the loop style differs:

* **PyTorch example** (``pytorch/examples``, ``mnist/main.py``): a ``Dataset`` that returns one image at a
  time - ``torchvision.datasets.MNIST.__getitem__`` makes a PIL image, then ``transforms.ToTensor()`` and
  ``transforms.Normalize((0.1307,), (0.3081,))`` run per sample (re-implemented here exactly, since
  torchvision is not a course dependency) - and a ``DataLoader(batch_size=64)`` that collates them; the
  loop reads ``loss.item()`` every 10 batches for its log line. The model is in the default (NCHW) layout.
* **Course loop**: ``course_utils.train.train_epoch`` over a ``course_utils.pipeline.TensorLoader`` (the
  normalised images are converted once and kept as one tensor; a batch is one indexing by a shuffled
  permutation), the model in the channels-last memory format, ``zero_grad(set_to_none=True)``.

Two ablations show where the gain comes from: the course loop with the model left in NCHW (preloading
only) and the example's loop with a channels-last model (memory format only).

Each repeat trains every variant for one epoch, in interleaved order (rotated each round) so that
load from other processes hits all of them alike; the table shows medians over repeats and the ratio of
medians (and, as a check on a busy machine, the ratio of the best repeats). A timing is a measurement,
never a pass/fail test. Threads are left at PyTorch's default
unless ``--threads`` is given (the same for both sides).

    python benchmarks/train_loop_vs_pytorch_example.py [--repeats 7] [--threads N] [--max-batches N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils.bench import machine_label  # noqa: E402
from course_utils.data import load_mnist  # noqa: E402
from course_utils.models import Net  # noqa: E402
from course_utils.pipeline import MNIST_MEAN, MNIST_STD, TensorLoader, load_mnist_tensors  # noqa: E402
from course_utils.train import train_epoch  # noqa: E402

BATCH_SIZE = 64
LOG_INTERVAL = 10


class ExampleStyleMNIST(torch.utils.data.Dataset):
    """``torchvision.datasets.MNIST`` + ``Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])``, per sample."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.data = torch.from_numpy(images)
        self.targets = torch.from_numpy(labels.astype(np.int64))
        self.mean, self.std = (MNIST_MEAN,), (MNIST_STD,)

    def __len__(self) -> int:
        return len(self.data)

    @staticmethod
    def to_tensor(pic: Image.Image) -> torch.Tensor:
        # torchvision.transforms.functional.to_tensor for a mode-"L" PIL image
        img = torch.from_numpy(np.array(pic, np.uint8, copy=True))
        img = img.view(pic.size[1], pic.size[0], 1).permute((2, 0, 1)).contiguous()
        return img.to(dtype=torch.get_default_dtype()).div(255)

    def normalize(self, tensor: torch.Tensor) -> torch.Tensor:
        # torchvision.transforms.functional.normalize (inplace=False)
        tensor = tensor.clone()
        mean = torch.as_tensor(self.mean, dtype=tensor.dtype, device=tensor.device)
        std = torch.as_tensor(self.std, dtype=tensor.dtype, device=tensor.device)
        if (std == 0).any():
            raise ValueError("std evaluated to zero")
        return tensor.sub_(mean.view(-1, 1, 1)).div_(std.view(-1, 1, 1))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        img, target = self.data[index], int(self.targets[index])
        img = Image.fromarray(img.numpy())  # mode "L" for a 2-D uint8 array
        return self.normalize(self.to_tensor(img)), target


def example_train(model, device, train_loader, optimizer, max_batches: int | None) -> None:
    """The official example's ``train()`` without the print (its ``loss.item()`` every 10 batches is kept)."""
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % LOG_INTERVAL == 0:
            loss.item()
        if max_batches is not None and batch_idx + 1 >= max_batches:
            break


class _Prefix:
    """The first ``n`` batches of a loader (for --max-batches smoke runs)."""

    def __init__(self, loader, n: int | None) -> None:
        self.loader, self.n = loader, n

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if self.n is not None and i >= self.n:
                return
            yield batch


def make_variants(max_batches: int | None, seed: int = 1) -> dict[str, Callable[[], int]]:
    """Each variant: a closure that trains one epoch and returns the number of images it trained on."""
    device = torch.device("cpu")  # the comparison is about the CPU; both sides would move to a GPU alike
    images, labels = load_mnist(split="train")
    x, y = load_mnist_tensors("train")
    n_epoch = len(images) if max_batches is None else min(len(images), max_batches * BATCH_SIZE)

    def model_and_opt(channels_last: bool):
        torch.manual_seed(seed)
        model = Net().to(device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model, torch.optim.Adadelta(model.parameters(), lr=1.0)

    def example(channels_last: bool) -> Callable[[], int]:
        model, opt = model_and_opt(channels_last)
        loader = torch.utils.data.DataLoader(
            ExampleStyleMNIST(images, labels),
            batch_size=BATCH_SIZE,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        )

        def run() -> int:
            example_train(model, device, loader, opt, max_batches)
            return n_epoch

        return run

    def course(channels_last: bool) -> Callable[[], int]:
        model, opt = model_and_opt(channels_last)
        loader = TensorLoader(x, y, batch_size=BATCH_SIZE, shuffle=True, seed=seed)

        def run() -> int:
            return int(train_epoch(model, _Prefix(loader, max_batches), opt, device, sync=False)["images"])

        return run

    return {
        "PyTorch example loop (per-sample Dataset+DataLoader, NCHW)": example(False),
        "course loop (TensorLoader + train_epoch, channels_last)": course(True),
        "ablation: course loop, model in NCHW (preloading only)": course(False),
        "ablation: example loop, channels_last (memory format only)": example(True),
    }


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=7, help="interleaved rounds (one epoch per variant each)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--max-batches", type=int, default=None, help="cut each epoch short (smoke test)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads for both sides (default: PyTorch's own default)",
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    print(f"machine: {machine_label()}")
    threads = (
        f"{torch.get_num_threads()} threads ({'default' if args.threads is None else 'set by --threads'})"
    )
    print(
        f"torch {torch.__version__}, {threads}, batch size {BATCH_SIZE}, "
        f"Adadelta(lr=1.0), model Net ({sum(p.numel() for p in Net().parameters()):,} parameters)"
    )
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    variants = make_variants(args.max_batches)
    names = list(variants)
    for _ in range(args.warmup):
        for name in names:
            variants[name]()
    rates: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.repeats):
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate who goes first
        for name in order:
            t0 = time.perf_counter()
            n = variants[name]()
            rates[name].append(n / (time.perf_counter() - t0))
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    base = statistics.median(rates[names[0]])
    width = max(len(n) for n in names)
    best_base = max(rates[names[0]])
    print(
        f"\n{'variant':<{width}}  {'images/s (median)':>17}  {'min-max':>15}  {'vs example':>10}  {'best vs best':>12}"
    )
    for name in names:
        med = statistics.median(rates[name])
        print(
            f"{name:<{width}}  {med:17,.0f}  {min(rates[name]):7,.0f}-{max(rates[name]):<7,.0f}  {med / base:9.2f}x"
            f"  {max(rates[name]) / best_base:11.2f}x"
        )
    ratio = statistics.median(rates[names[1]]) / base
    print(f"\nload average (1 min) before/after: {load0:.2f} / {load1:.2f} on {os.cpu_count()} CPUs")
    print(
        f"RESULT: course loop / PyTorch-example loop = {ratio:.2f}x images/s "
        f"(ratio of medians over {args.repeats} interleaved repeats; {machine_label()})"
    )
    return rates


if __name__ == "__main__":
    main()
