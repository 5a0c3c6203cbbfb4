"""course_utils.async_sgd: sync SGD is exact large-batch SGD; async runs apply every gradient; staleness."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from course_utils import async_sgd as A

H = A.Hyper(steps=6, batch_size=8, lr=0.05, seed=0, snapshot_every=3)


def test_worker_batches_are_seeded_and_from_the_own_shard():
    a = list(A.worker_batches(1, 2, 3, 4, seed=0))
    b = list(A.worker_batches(1, 2, 3, 4, seed=0))
    assert all(torch.equal(xa, xb) for (xa, _), (xb, _) in zip(a, b, strict=True))
    other = list(A.worker_batches(0, 2, 3, 4, seed=0))
    assert not torch.equal(a[0][0], other[0][0])


def test_sync_equals_single_process_large_batch_sgd_and_is_never_stale():
    h = dataclasses.replace(H, sync_lr=2 * H.lr)  # the linear-scaling rule for a 2x larger batch
    log = A.run_sync(2, h)
    assert log.updates == [0, 3, 6] and len(log.snapshots) == 3
    assert log.staleness == [0] * (2 * h.steps) and log.gradients == 2 * h.steps
    np.testing.assert_allclose(log.snapshots[-1], A.reference_sync_sgd(2, h), rtol=1e-5, atol=1e-6)
    assert not np.allclose(A.reference_sync_sgd(2, h), A.reference_sync_sgd(2, H))  # sync_lr is used


def test_parameter_server_with_one_worker_is_plain_sgd():
    log = A.run_ps(1, H)
    assert log.staleness == [0] * H.steps  # nobody else updates between read and write
    assert log.gradients == H.steps and log.updates == [0, 3, 6]
    np.testing.assert_allclose(log.snapshots[-1], A.reference_sync_sgd(1, H), rtol=1e-5, atol=1e-6)


def test_hogwild_makes_exactly_the_budget_of_updates_and_measures_staleness():
    log = A.run_hogwild(2, A.Hyper(steps=20, batch_size=8, snapshot_every=5))
    assert len(log.staleness) == 40 and log.gradients == 40
    assert min(log.staleness) >= 0 and max(log.staleness) <= 39
    assert sorted(set(log.staleness_worker)) == [0, 1]
    assert log.updates[0] == 0 and log.updates[-1] == 40
    assert np.all(np.diff(log.updates) > 0) and np.all(np.diff(log.times) >= 0)


@pytest.mark.slow
def test_comparison_runs_all_methods_in_one_group_and_training_helps():
    h = A.Hyper(steps=30, batch_size=16, snapshot_every=10)
    (res,) = A.run_comparison(2, h, settings=[(0.0, 0.05)])
    from course_utils.pipeline import load_mnist_tensors

    x, y = load_mnist_tensors("test")
    x, y = x[:300], y[:300]
    for name, log in res.items():
        losses, _ = A.evaluate_snapshots(log, x, y)
        # Early SGD at batch 16 is volatile: one snapshot of an asynchronous run can jump back to ~2.3
        # (seen in CI), so compare the median of the later half of the snapshots with the start.
        later = np.median(losses[len(losses) // 2 :])
        assert later < losses[0] - 0.1, (name, losses)
    assert res["sync"].updates[-1] == 30 and res["hogwild"].updates[-1] == 60 and res["ps"].updates[-1] == 60
    assert set(res["sync"].staleness) == {0}
    assert len(res["ps"].staleness) == 60 and min(res["ps"].staleness) >= 0
    assert res["ps"].gradients == res["hogwild"].gradients == 60
    # the straggler (worker 1) contributes fewer of the asynchronous updates than worker 0
    assert res["ps"].staleness_worker.count(1) < res["ps"].staleness_worker.count(0)


def test_delayed_gradient_descent_stability_bound():
    # w[t+1] = w[t] - c w[t-tau] is stable iff 0 < c < 2 sin(pi / (2 (2 tau + 1)))
    for tau in (0, 1, 2, 4):
        bound = 2 * np.sin(np.pi / (2 * (2 * tau + 1)))
        below = A.delayed_gradient_descent(1.0, 0.8 * bound, tau, 600)
        above = A.delayed_gradient_descent(1.0, 1.2 * bound, tau, 600)
        assert abs(below[-1]) < 1e-3 and abs(above[-1]) > 1.0, tau
    assert A.delayed_gradient_descent(2.0, 0.25, 0, 2) == [1.0, 0.5, 0.25]


def test_time_to_target():
    assert A.time_to_target([0, 1, 2], [3.0, 2.0, 1.0], 2.0) == 1.0
    assert A.time_to_target([0, 1], [3.0, 2.5], 1.0) is None
