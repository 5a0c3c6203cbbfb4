"""course_utils.ddp: DDP training through launch.run, and N ranks x B/N == one process on B."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils import ddp, launch
from course_utils.models import Net


def test_equivalence_indices_partition_each_global_batch():
    steps, B, N = 3, 8, 2
    parts = [ddp.equivalence_indices(steps, B, r, N) for r in range(N)]
    assert sorted(parts[0] + parts[1]) == list(range(steps * B))
    assert parts[0][:4] == [0, 1, 2, 3] and parts[1][:4] == [4, 5, 6, 7]
    assert ddp.equivalence_indices(steps, B, 0, 1) == list(range(steps * B))
    with pytest.raises(ValueError):
        ddp.equivalence_indices(2, 10, 0, 3)


def test_flat_params_unwraps_and_counts():
    v = ddp.flat_params(Net())
    assert v.shape == (21840,) and v.dtype == np.float64


def test_rank_device_is_cpu_without_gpu(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert ddp.rank_device(0) == torch.device("cpu")


def test_ddp_two_ranks_equal_one_process_on_the_global_batch():
    ref = ddp.equivalence_reference(steps=4, global_batch=32)
    out = launch.run(ddp.equivalence_ddp, 2, args=(4, 32), backend="gloo")
    np.testing.assert_allclose(out[0], ref, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(out[0], out[1])  # replicas stay identical
    torch.manual_seed(0)
    assert np.abs(out[0] - ddp.flat_params(Net(dropout=False))).max() > 1e-3  # and they did train


def test_train_ddp_two_ranks_disjoint_shards_and_set_epoch():
    out = launch.run(ddp.train_ddp, 2, args=(2, 32, 0.05, 0.5, 512), backend="gloo")
    assert out[1] is None
    res = out[0]
    assert len(res["history"]) == 2 and res["history"][-1]["train_images"] == 512
    r0, r1 = res["ranks"]
    assert r0["samples_per_epoch"] == r1["samples_per_epoch"] == 256
    assert r0["checksum"] == r1["checksum"]
    assert r0["first_indices"][0] != r0["first_indices"][1]  # set_epoch reshuffled
    assert not set(r0["first_indices"][0]) & set(r1["first_indices"][0])  # different data per rank
    assert 0.0 <= res["history"][-1]["test_accuracy"] <= 1.0
