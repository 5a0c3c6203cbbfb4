"""course_utils.pipeline: normalisation, splits, TensorLoader, Dataset/DataLoader, tf.data, sharding samplers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.pipeline import (
    MNIST_MEAN,
    MNIST_STD,
    MNISTDataset,
    TensorLoader,
    UnpaddedShardSampler,
    distributed_sampler_shards,
    load_mnist_tensors,
    normalize_images,
    tf_dataset,
    torch_dataloader,
    train_val_split,
)


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    labels = (np.arange(50) % 10).astype(np.uint8)
    return images, labels


def test_normalize_layouts_and_values(small):
    images, _ = small
    ref = (images.astype(np.float64) / 255 - MNIST_MEAN) / MNIST_STD
    for layout, shape in [
        ("NCHW", (50, 1, 28, 28)),
        ("NHWC", (50, 28, 28, 1)),
        ("NHW", (50, 28, 28)),
        ("flat", (50, 784)),
    ]:
        x = normalize_images(images, layout)
        assert x.shape == shape and x.dtype == np.float32
        np.testing.assert_allclose(x.reshape(50, 28, 28), ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="layout"):
        normalize_images(images, "CHW")
    with pytest.raises(ValueError, match="N, H, W"):
        normalize_images(images[0])


def test_mnist_constants_match_the_data():
    x, y = load_mnist_tensors("train")
    assert x.shape[1:] == (1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    # the full-MNIST constants are close to the subset's own statistics: normalised data ~ mean 0, std 1
    assert abs(float(x.mean())) < 0.02 and abs(float(x.std()) - 1) < 0.02


def test_train_val_split_is_stratified_disjoint_and_seeded(small):
    images, labels = small
    (xt, yt), (xv, yv) = train_val_split(images, labels, val_fraction=0.2, seed=1)
    assert len(xt) + len(xv) == 50 and len(yv) == 10
    assert np.bincount(yv, minlength=10).tolist() == [1] * 10  # every class in the validation part
    rows = {x.tobytes() for x in xt} | {x.tobytes() for x in xv}
    assert len(rows) == 50  # disjoint and complete
    (xt2, _), _ = train_val_split(images, labels, val_fraction=0.2, seed=1)
    np.testing.assert_array_equal(xt, xt2)
    with pytest.raises(ValueError):
        train_val_split(images, labels, val_fraction=1.5)


def test_tensor_loader_covers_every_item_once_per_epoch():
    x = torch.arange(10).float()
    y = torch.arange(10)
    loader = TensorLoader(x, y, batch_size=3, shuffle=True, seed=0)
    assert len(loader) == 4
    batches = list(loader)
    assert [len(b[0]) for b in batches] == [3, 3, 3, 1]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10))
    for bx, by in batches:  # tensors stay aligned
        assert torch.equal(bx, by.float())
    second = torch.cat([b[1] for b in loader])
    assert not torch.equal(seen, second)  # next epoch, new order
    loader.set_epoch(0)
    assert torch.equal(torch.cat([b[1] for b in loader]), seen)  # set_epoch replays an epoch's order


def test_tensor_loader_options():
    x = torch.arange(10)
    assert [b[0].tolist() for b in TensorLoader(x, batch_size=4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dl = TensorLoader(x, batch_size=4, drop_last=True)
    assert len(dl) == 2 and [len(b[0]) for b in dl] == [4, 4]
    sampler = UnpaddedShardSampler(10, rank=1, world_size=3)
    assert [b[0].tolist() for b in TensorLoader(x, batch_size=2, sampler=sampler)] == [[1, 4], [7]]
    with pytest.raises(ValueError):
        TensorLoader(x, torch.arange(3))
    with pytest.raises(ValueError):
        TensorLoader(x, batch_size=0)


def test_tensor_loader_forwards_set_epoch_to_a_distributed_sampler():
    x = torch.arange(9)
    sampler = torch.utils.data.DistributedSampler(range(9), num_replicas=2, rank=0, shuffle=True, seed=0)
    loader = TensorLoader(x, batch_size=4, sampler=sampler)
    loader.set_epoch(3)
    assert sampler.epoch == 3
    assert torch.cat([b[0] for b in loader]).tolist() == distributed_sampler_shards(9, 2, epoch=3)[0]


def test_dataset_matches_normalize_and_dataloader_batches(small):
    images, labels = small
    ds = MNISTDataset(images, labels)
    x0, y0 = ds[3]
    assert x0.shape == (1, 28, 28) and y0 == 3
    np.testing.assert_allclose(x0.numpy(), normalize_images(images[3:4])[0], rtol=1e-6, atol=1e-6)
    batches = list(torch_dataloader(images, labels, batch_size=16))
    assert [len(b[0]) for b in batches] == [16, 16, 16, 2]
    np.testing.assert_allclose(
        torch.cat([b[0] for b in batches]).numpy(), normalize_images(images), atol=1e-6
    )
    with pytest.raises(ValueError):
        MNISTDataset(images, labels[:3])


def test_dataloader_with_a_worker_gives_the_same_batches(small):
    images, labels = small
    a = [b[1] for b in torch_dataloader(images, labels, batch_size=8, shuffle=True, seed=3)]
    b = [b[1] for b in torch_dataloader(images, labels, batch_size=8, shuffle=True, seed=3, num_workers=1)]
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_tf_dataset_shapes_values_and_shuffle(small):
    pytest.importorskip("tensorflow")
    images, labels = small
    ds = tf_dataset(images, labels, batch_size=16, layout="NHWC")
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    assert [len(x) for x in xs] == [16, 16, 16, 2] and xs[0].shape[1:] == (28, 28, 1)
    np.testing.assert_allclose(np.concatenate(xs), normalize_images(images, "NHWC"), atol=1e-6)
    np.testing.assert_array_equal(np.concatenate(ys), labels)
    flat = next(iter(tf_dataset(images, labels, batch_size=4, layout="flat")))[0]
    assert tuple(flat.shape) == (4, 784)
    shuffled = tf_dataset(images, labels, batch_size=50, shuffle=True, seed=0)
    e1, e2 = (next(iter(shuffled))[1].numpy() for _ in range(2))
    assert sorted(e1.tolist()) == sorted(labels.tolist()) and not np.array_equal(e1, labels)
    assert not np.array_equal(e1, e2)  # reshuffled each epoch
    with pytest.raises(ValueError):
        tf_dataset(images, labels, layout="NCHW")


def test_distributed_sampler_pads_with_duplicates():
    shards = distributed_sampler_shards(10, 4, shuffle=False)
    assert [len(s) for s in shards] == [3, 3, 3, 3]  # 12 slots for 10 items
    flat = [i for s in shards for i in s]
    assert sorted(set(flat)) == list(range(10)) and len(flat) - len(set(flat)) == 2
    dropped = distributed_sampler_shards(10, 4, shuffle=False, drop_last=True)
    assert [len(s) for s in dropped] == [2, 2, 2, 2]  # drop_last loses 2 items instead
    e0 = distributed_sampler_shards(10, 2, epoch=0)
    e1 = distributed_sampler_shards(10, 2, epoch=1)
    assert e0 != e1 and sorted(e0[0] + e0[1]) == sorted(e1[0] + e1[1]) == list(range(10))


@pytest.mark.parametrize("n,world", [(10, 4), (7, 3), (2, 4), (0, 2), (12, 1)])
def test_unpadded_shards_cover_once_and_keep_order(n, world):
    shards = [list(UnpaddedShardSampler(n, r, world)) for r in range(world)]
    assert [len(UnpaddedShardSampler(n, r, world)) for r in range(world)] == [len(s) for s in shards]
    assert sorted(i for s in shards for i in s) == list(range(n))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    rebuilt = [shards[i % world][i // world] for i in range(n)]
    assert rebuilt == list(range(n))
    with pytest.raises(ValueError):
        UnpaddedShardSampler(n, world, world)
