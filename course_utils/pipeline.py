"""Input pipelines over the MNIST arrays (PyTorch and ``tf.data``) and an exact evaluation split for ranks.

Notebook 04 builds and measures them; notebooks 05-12 use them. ``MNISTDataset`` lives here, not in a
notebook, because ``DataLoader`` worker processes must import it (spawn and forkserver cannot unpickle a
class defined in a notebook).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from .data import load_mnist

#: Pixel mean and standard deviation (scaled to [0, 1]) of the full MNIST training set, as in PyTorch's example.
MNIST_MEAN: float = 0.1307
MNIST_STD: float = 0.3081

_LAYOUTS = ("NCHW", "NHWC", "NHW", "flat")


def normalize_images(
    images: np.ndarray, layout: str = "NCHW", mean: float = MNIST_MEAN, std: float = MNIST_STD
) -> np.ndarray:
    """uint8 ``[N, 28, 28]`` -> float32 ``(x/255 - mean)/std`` as NCHW, NHWC, NHW (Keras MLP) or flat ``[N, 784]``."""
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be one of {_LAYOUTS}, got {layout!r}")
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected images [N, H, W], got shape {images.shape}")
    x = (images.astype(np.float32) / np.float32(255) - np.float32(mean)) / np.float32(std)
    return {"NCHW": x[:, None], "NHWC": x[..., None], "NHW": x, "flat": x.reshape(len(x), -1)}[layout]


def train_val_split(
    images: np.ndarray, labels: np.ndarray, val_fraction: float = 0.1, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(train, validation)`` by a seeded per-class shuffle: every digit keeps its share in both (05-06)."""
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


def load_mnist_tensors(split: str = "train", device: torch.device | str | None = None,
                       root: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """One MNIST split as normalised tensors ``x [N,1,28,28]``, ``y [N] int64``, converted once (on ``device``)."""
    images, labels = load_mnist(root, split=split)
    return arrays_to_tensors(images, labels, device)


class TensorLoader:
    """Mini-batches of preloaded tensors: one ``tensor[idx]`` gather per batch, no per-item work (04, 05).

    Epoch ``e`` shuffles with ``seed + e`` (``set_epoch``, as ``fit`` calls it; else each iteration moves
    on). With ``sampler=`` (e.g. ``DistributedSampler``) the sampler picks the indices.
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int = 64, shuffle: bool = False,
                 drop_last: bool = False, seed: int = 0, sampler: Sampler | Sequence[int] | None = None) -> None:  # fmt: skip
        if not tensors:
            raise ValueError("TensorLoader needs at least one tensor")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            raise ValueError(f"all tensors need the same first dimension, got {[len(t) for t in tensors]}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.tensors, self.batch_size, self.shuffle, self.drop_last = tensors, batch_size, shuffle, drop_last
        self.seed, self.sampler, self.epoch = seed, sampler, 0

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
    """One normalised image ``[1,28,28]`` and its label per ``__getitem__`` (torchvision's style; notebook 04)."""

    def __init__(
        self, images: np.ndarray, labels: np.ndarray, mean: float = MNIST_MEAN, std: float = MNIST_STD
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images, self.labels, self.mean, self.std = np.asarray(images), np.asarray(labels), mean, std

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = torch.from_numpy(self.images[i]).to(torch.float32).div_(255).sub_(self.mean).div_(self.std)
        return x.unsqueeze(0), int(self.labels[i])


def torch_dataloader(images: np.ndarray, labels: np.ndarray, batch_size: int = 64, shuffle: bool = False,
                     num_workers: int = 0, seed: int = 0, **kwargs: Any) -> DataLoader:  # fmt: skip
    """A seeded ``DataLoader`` over :class:`MNISTDataset` (notebook 04); ``kwargs`` go to ``DataLoader``."""
    generator = torch.Generator().manual_seed(seed)
    dataset = MNISTDataset(images, labels)
    return DataLoader(
        dataset, batch_size, shuffle=shuffle, num_workers=num_workers, generator=generator, **kwargs
    )


def tf_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int = 64, *, shuffle: bool = False,
               seed: int = 0, layout: str = "NHWC", cache: bool = True, prefetch: bool = True,
               drop_remainder: bool = False):  # fmt: skip
    """``tf.data``: from tensors -> map -> cache -> shuffle (every epoch) -> batch -> prefetch (04, 06, 07).

    ``layout``: ``"NHWC"`` (Conv2D), ``"NHW"`` (the article's MLP) or ``"flat"``. TensorFlow is imported here.
    """
    import tensorflow as tf

    if layout not in ("NHWC", "NHW", "flat"):
        raise ValueError(f"tf_dataset layout must be 'NHWC', 'NHW' or 'flat', got {layout!r}")
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected uint8 images [N, H, W], got shape {images.shape}")
    h, w = images.shape[1:]
    shape = {"NHWC": (h, w, 1), "NHW": (h, w), "flat": (h * w,)}[layout]
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


def distributed_sampler_shards(n: int, world_size: int, *, shuffle: bool = True, seed: int = 0,
                               epoch: int = 0, drop_last: bool = False) -> list[list[int]]:  # fmt: skip
    """``DistributedSampler``'s indices for every rank of ``world_size`` (padded; notebooks 04, 11)."""
    shards = []
    for rank in range(world_size):
        sampler = DistributedSampler(
            range(n), world_size, rank, shuffle=shuffle, seed=seed, drop_last=drop_last
        )
        sampler.set_epoch(epoch)
        shards.append(list(sampler))
    return shards


class UnpaddedShardSampler(Sampler[int]):
    """Rank ``rank`` takes items ``rank, rank + world_size, ...``: each item once, no padding (04, 08, 10).

    For exact distributed evaluation: sum per-rank counts with ``all_reduce``, never average rank means.
    """

    def __init__(self, n: int, rank: int, world_size: int) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        self.n, self.rank, self.world_size = n, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world_size))
