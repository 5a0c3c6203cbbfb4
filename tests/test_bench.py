"""course_utils.bench: the arithmetic behind every speed the course prints (never the speeds themselves)."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import bench


def test_timing_median_spread_throughput():
    t = bench.Timing((1.0, 2.0, 3.0, 4.0, 5.0), items=10)
    assert t.median == 3.0 and t.best == 1.0
    assert t.throughput == pytest.approx(10 / 3)
    assert t.spread == pytest.approx((4.0 - 2.0) / 3.0)  # inclusive quartiles of 1..5 are 2 and 4


@pytest.mark.parametrize("q", [0, 5, 25, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy_linear(q):
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 100):
        xs = rng.exponential(size=n).tolist()
        assert bench.percentile(xs, q) == pytest.approx(np.percentile(xs, q))


def test_percentile_errors():
    with pytest.raises(ValueError):
        bench.percentile([], 50)
    with pytest.raises(ValueError):
        bench.percentile([1.0], 101)


def test_p50_p95():
    times = tuple(float(i) for i in range(1, 101))  # 1..100
    t = bench.Timing(times)
    assert t.p50 == pytest.approx(50.5) == pytest.approx(t.median)
    assert t.p95 == pytest.approx(95.05)


def test_time_it_counts_repeats_and_items():
    calls = []
    t = bench.time_it(lambda: calls.append(1), repeats=4, warmup=2, items=8)
    assert len(calls) == 6 and len(t.times) == 4 and t.items == 8
