"""course_utils.ring: the simulated ring all-reduce sums correctly and moves 2(N-1)/N x size per rank."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import launch, ring


@pytest.mark.parametrize("n,size", [(1, 5), (2, 6), (3, 7), (4, 4), (5, 3), (8, 1000)])
def test_every_rank_ends_with_the_sum(n, size):
    rng = np.random.default_rng(n)
    vecs = [rng.normal(size=size) for _ in range(n)]
    trace = ring.ring_allreduce(vecs)
    for r in range(n):
        np.testing.assert_allclose(trace.results[r], np.sum(vecs, axis=0), rtol=1e-12, atol=1e-12)
    assert len(trace.steps) == 2 * (n - 1)


@pytest.mark.parametrize("n", [2, 3, 4, 8])
def test_traffic_matches_formula(n):
    size = 8 * 9 * 10  # divisible by every n here, so chunks are equal
    trace = ring.ring_allreduce([np.ones(size)] * n)
    for s in trace.sent:
        assert s == ring.ring_traffic_per_rank(n, size)
    assert ring.ring_traffic_per_rank(n, size) < 2 * size
    assert ring.parameter_server_traffic(n, size) == 2 * (n - 1) * size


def test_inputs_are_not_modified_and_snapshots_recorded():
    vecs = [np.arange(4.0), np.ones(4)]
    trace = ring.ring_allreduce(vecs, record=True)
    np.testing.assert_array_equal(vecs[0], np.arange(4.0))
    assert len(trace.snapshots) == 2
    assert "reduce-scatter" in trace.describe() and "all-gather" in trace.describe()


def test_chunk_bounds_cover_everything():
    b = ring.chunk_bounds(10, 3)
    assert b[0][0] == 0 and b[-1][1] == 10
    assert all(b[i][1] == b[i + 1][0] for i in range(2))
    assert max(h - lo for lo, h in b) - min(h - lo for lo, h in b) <= 1


def test_bad_arguments():
    with pytest.raises(ValueError):
        ring.ring_allreduce([np.ones(3), np.ones(4)])
    with pytest.raises(ValueError):
        ring.ring_traffic_per_rank(0, 10)


def test_ring_with_real_send_recv_equals_all_reduce():
    out = launch.run(ring.ring_allreduce_p2p, 3, args=(11,), backend="gloo")
    total = np.sum([o["x"] for o in out], axis=0)
    for o in out:
        np.testing.assert_array_equal(o["ring"], total)
        np.testing.assert_array_equal(o["all_reduce"], total)
    assert sum(o["sent"] for o in out) == pytest.approx(3 * ring.ring_traffic_per_rank(3, 11), abs=3)
