"""Input pipelines over the same MNIST arrays: PyTorch and ``tf.data``, and how data is split across ranks.

Taught in notebook 04; used by every training notebook (05-12). One source of truth for:

* the normalisation constants :data:`MNIST_MEAN`, :data:`MNIST_STD` and :func:`normalize_images`;
* :func:`load_mnist_tensors` - a split as normalised ``torch`` tensors, loaded once;
* :class:`TensorLoader` - the course's fast loader: batches of *preloaded* tensors indexed by a shuffled
  permutation (no per-sample Python work, no collation). It has ``set_epoch`` and accepts any sampler
  (e.g. ``DistributedSampler``), so the same loader serves a single process and a DDP rank;
* :class:`MNISTDataset` + :func:`torch_dataloader` - the classic ``Dataset``/``DataLoader`` pair (one image
  per ``__getitem__``, optional worker processes), for comparison and for data that does not fit in memory;
* :func:`tf_dataset` - ``tf.data`` from tensors: map, cache, shuffle, batch, prefetch (TF imported lazily);
* :func:`distributed_sampler_shards`, :class:`UnpaddedShardSampler` - what each rank sees under
  ``DistributedSampler`` (including the duplicated samples it pads with) and an exact alternative for
  evaluation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from .data import load_mnist

__all__ = [
    "MNIST_MEAN",
    "MNIST_STD",
    "normalize_images",
    "train_val_split",
    "arrays_to_tensors",
    "load_mnist_tensors",
    "TensorLoader",
    "MNISTDataset",
    "torch_dataloader",
    "tf_dataset",
    "distributed_sampler_shards",
    "UnpaddedShardSampler",
]

#: Mean and standard deviation of the pixel values (scaled to [0, 1]) of the full 60,000-image MNIST
#: training set - the constants of the official PyTorch example. The offline subset is within 0.001 of them.
MNIST_MEAN: float = 0.1307
MNIST_STD: float = 0.3081

_LAYOUTS = ("NCHW", "NHWC", "NHW", "flat")


def normalize_images(
    images: np.ndarray, layout: str = "NCHW", mean: float = MNIST_MEAN, std: float = MNIST_STD
) -> np.ndarray:
    """uint8 images ``[N, 28, 28]`` -> float32 ``(x/255 - mean)/std`` in ``layout`` (notebook 04).

    Layouts: ``"NCHW"`` (PyTorch convolutions, ``[N,1,28,28]``), ``"NHWC"`` (Keras convolutions,
    ``[N,28,28,1]``), ``"NHW"`` (``[N,28,28]``, the article's Keras MLP) and ``"flat"`` (``[N,784]``).
    """
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be one of {_LAYOUTS}, got {layout!r}")
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected images [N, H, W], got shape {images.shape}")
    x = (images.astype(np.float32) / np.float32(255) - np.float32(mean)) / np.float32(std)
    if layout == "NCHW":
        return x[:, None, :, :]
    if layout == "NHWC":
        return x[:, :, :, None]
    if layout == "flat":
        return x.reshape(len(x), -1)
    return x


def train_val_split(
    images: np.ndarray, labels: np.ndarray, val_fraction: float = 0.1, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Split arrays into ``(train, validation)`` by a seeded, per-class (stratified) shuffle (notebooks 05-06).

    Every class keeps the same share in both parts, so a small validation set still holds all digits.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    labels = np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        val_idx.append(idx[: int(round(len(idx) * val_fraction))])
    val = np.sort(np.concatenate(val_idx))
    train = np.setdiff1d(np.arange(len(labels)), val)
    rng.shuffle(train)
    rng.shuffle(val)
    return (images[train], labels[train]), (images[val], labels[val])


def arrays_to_tensors(
    images: np.ndarray, labels: np.ndarray, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images and labels -> normalised ``x [N,1,28,28] float32`` and ``y [N] int64`` tensors (notebook 05)."""
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    x = torch.from_numpy(normalize_images(images, "NCHW"))
    y = torch.from_numpy(np.asarray(labels).astype(np.int64))
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


def load_mnist_tensors(
    split: str = "train",
    device: torch.device | str | None = None,
    root: str | os.PathLike | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One MNIST split as normalised tensors ``x [N,1,28,28] float32`` and ``y [N] int64`` (notebook 05).

    The 4,000-image offline subset is 12.5 MB as float32 (the full 60,000: 188 MB), so it is converted
    once and kept in memory (on ``device`` if given): every epoch after that is pure indexing.
    """
    images, labels = load_mnist(root, split=split)
    return arrays_to_tensors(images, labels, device)


class TensorLoader:
    """Mini-batches of preloaded tensors, indexed by a shuffled permutation (notebook 05).

    A drop-in for ``DataLoader`` when the data is already a tensor in memory: each batch is one
    ``tensor[idx]`` gather per tensor instead of ``batch_size`` calls of ``Dataset.__getitem__`` plus a
    collate. Shuffling is seeded: epoch ``e`` uses ``seed + e``. :meth:`set_epoch` is called by
    :func:`course_utils.train.fit` (as for ``DistributedSampler``); without it, each new iteration moves to
    the next epoch. With ``sampler=`` (e.g. a ``DistributedSampler`` in a DDP rank) the sampler chooses
    the indices and ``shuffle``/``seed`` are ignored.
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int = 64,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        sampler: Sampler | Sequence[int] | None = None,
    ) -> None:
        if not tensors:
            raise ValueError("TensorLoader needs at least one tensor")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            raise ValueError(f"all tensors need the same first dimension, got {[len(t) for t in tensors]}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.sampler = sampler
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the shuffle of ``epoch`` next (and forward it to a sampler that has ``set_epoch``)."""
        self.epoch = epoch
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def _indices(self) -> torch.Tensor:
        if self.sampler is not None:
            return torch.as_tensor(list(self.sampler), dtype=torch.long)
        n = len(self.tensors[0])
        if self.shuffle:
            return torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        return torch.arange(n)

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else len(self.tensors[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        order = self._indices()
        self.epoch += 1  # a plain `for` loop over the loader reshuffles next time; set_epoch overrides
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield tuple(t[idx.to(t.device)] for t in self.tensors)


class MNISTDataset(Dataset):
    """One normalised image ``[1,28,28]`` and its label per ``__getitem__`` - the classic style (notebook 04).

    What ``torchvision.datasets.MNIST`` with ``ToTensor()`` + ``Normalize`` does, from uint8 arrays:
    the conversion runs per sample, in the main process or in ``DataLoader`` worker processes.
    Defined in a module so worker processes can unpickle it.
    """

    def __init__(
        self, images: np.ndarray, labels: np.ndarray, mean: float = MNIST_MEAN, std: float = MNIST_STD
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = np.asarray(images)
        self.labels = np.asarray(labels)
        self.mean, self.std = mean, std

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = torch.from_numpy(self.images[i]).to(torch.float32).div_(255).sub_(self.mean).div_(self.std)
        return x.unsqueeze(0), int(self.labels[i])


def torch_dataloader(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 64,
    shuffle: bool = False,
    num_workers: int = 0,
    seed: int = 0,
    **kwargs: Any,
) -> DataLoader:
    """A ``DataLoader`` over :class:`MNISTDataset` (notebook 04); ``kwargs`` go to ``DataLoader``.

    With ``num_workers > 0`` worker processes run ``__getitem__``; ``persistent_workers=True`` keeps them
    alive between epochs (otherwise every epoch pays their start-up).
    """
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        MNISTDataset(images, labels),
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        generator=generator,
        **kwargs,
    )


def tf_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 64,
    *,
    shuffle: bool = False,
    seed: int = 0,
    layout: str = "NHWC",
    cache: bool = True,
    prefetch: bool = True,
    drop_remainder: bool = False,
):
    """A ``tf.data.Dataset`` of normalised batches: from tensors -> map -> cache -> shuffle -> batch -> prefetch.

    Taught in notebook 04, used in 06-07. ``layout`` is ``"NHWC"`` (``[28,28,1]`` for Conv2D), ``"NHW"``
    (the article's MLP) or ``"flat"``. The order matters: ``map`` before ``cache`` runs the conversion once;
    ``shuffle`` after ``cache`` reshuffles every epoch; ``prefetch`` last overlaps input with training.
    TensorFlow is imported here, not at module import.
    """
    import tensorflow as tf

    if layout not in ("NHWC", "NHW", "flat"):
        raise ValueError(f"tf_dataset layout must be 'NHWC', 'NHW' or 'flat', got {layout!r}")
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected uint8 images [N, H, W], got shape {images.shape}")
    shape = {"NHWC": (*images.shape[1:], 1), "NHW": images.shape[1:], "flat": (int(np.prod(images.shape[1:])),)}[
        layout
    ]
    mean, std = tf.constant(MNIST_MEAN, tf.float32), tf.constant(MNIST_STD, tf.float32)

    def to_float(x, y):
        x = (tf.cast(x, tf.float32) / 255.0 - mean) / std
        return tf.reshape(x, shape), y

    ds = tf.data.Dataset.from_tensor_slices((images, np.asarray(labels).astype(np.int32)))
    ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds


def distributed_sampler_shards(
    n: int,
    world_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    drop_last: bool = False,
) -> list[list[int]]:
    """The indices each rank gets from ``DistributedSampler`` for a dataset of ``n`` items (notebook 04).

    No process group is needed: ``num_replicas`` and ``rank`` are passed explicitly, exactly as each
    DDP process would see them. When ``n`` is not divisible by ``world_size`` (and ``drop_last=False``)
    the sampler *pads* by repeating the first indices, so some samples are seen twice per epoch.
    """
    shards = []
    for rank in range(world_size):
        sampler = DistributedSampler(
            range(n), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last
        )
        sampler.set_epoch(epoch)
        shards.append(list(sampler))
    return shards


class UnpaddedShardSampler(Sampler[int]):
    """Rank ``rank`` of ``world_size`` takes items ``rank, rank + world_size, ...``: no padding (notebooks 04, 08, 10).

    For exact distributed *evaluation*: every item is seen exactly once in total, shard sizes differ by
    at most one, and item ``i`` is at position ``i // world_size`` of rank ``i % world_size`` (so the
    original order can be rebuilt). Sum per-rank counts with ``all_reduce`` - do not average per-rank means.
    """

    def __init__(self, n: int, rank: int, world_size: int) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        self.n, self.rank, self.world_size = n, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world_size))
