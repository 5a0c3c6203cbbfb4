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


def test_compare_one_rule_unpaired_and_paired():
    fast, slow, mixed = [1.0, 1.1, 1.05], [1.2, 1.3, 1.25], [1.0, 1.4, 1.22]
    assert bench.compare(fast, slow).verdict == "faster than"
    assert bench.compare(slow, fast).verdict == "slower than"
    assert bench.compare(mixed, slow).verdict == "about as fast as"  # ranges overlap
    c = bench.compare(slow, fast)
    assert (c.ratio, c.low, c.high) == pytest.approx((1.25 / 1.05, 1.2 / 1.1, 1.3 / 1.0))
    # paired: seed by seed A is always lower, although the unpaired ranges overlap
    a, b = [0.30, 0.50, 0.70], [0.31, 0.52, 0.75]
    assert bench.compare(a, b).verdict == "about as fast as"
    assert (
        bench.compare(a, b, paired=True, words=("lower than", "higher than", "about as")).verdict
        == "lower than"
    )
    assert str(bench.compare(fast, slow)).startswith("faster than (0.84x [")
    with pytest.raises(ValueError):
        bench.compare([1.0], [1.0, 2.0], paired=True)
    with pytest.raises(ValueError):
        bench.compare([], [1.0])
