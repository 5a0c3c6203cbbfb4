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


def test_speedup_and_efficiency():
    assert bench.speedup(10.0, 4.0) == 2.5
    assert bench.scaling_efficiency(10.0, 5.0, 2) == 1.0
    assert bench.scaling_efficiency(10.0, 10.0, 2) == 0.5
    with pytest.raises(ValueError):
        bench.speedup(0.0, 1.0)
    with pytest.raises(ValueError):
        bench.scaling_efficiency(1.0, 1.0, 0)


def test_amdahl_speedup_limits():
    assert bench.amdahl_speedup(1, 0.3) == pytest.approx(1.0)
    assert bench.amdahl_speedup(4, 0.0) == pytest.approx(4.0)
    assert bench.amdahl_speedup(4, 1.0) == pytest.approx(1.0)
    assert bench.amdahl_speedup(1e12, 0.1) == pytest.approx(10.0)


def test_amdahl_fit_recovers_exact_model():
    ts, tp = 2.0, 8.0  # s = 0.2
    ns = [1, 2, 4, 8]
    fit = bench.amdahl_fit(ns, [ts + tp / n for n in ns])
    assert fit.t_serial == pytest.approx(ts) and fit.t_parallel == pytest.approx(tp)
    assert fit.serial_fraction == pytest.approx(0.2)
    assert fit.max_speedup == pytest.approx(5.0)
    assert fit.rms_residual == pytest.approx(0.0, abs=1e-12)
    assert fit.speedup(4) == pytest.approx(bench.amdahl_speedup(4, 0.2))
    assert fit.time(2) == pytest.approx(6.0)


def test_amdahl_fit_two_points_and_least_squares():
    fit = bench.amdahl_fit([1, 2], [10.0, 6.0])  # 10 = a + b, 6 = a + b/2  ->  a = 2, b = 8
    assert fit.serial_fraction == pytest.approx(0.2)
    # noisy points: same answer as numpy's straight-line fit of T against 1/n
    ns, times = [1, 2, 3, 4], [10.3, 5.8, 4.9, 3.9]
    slope, intercept = np.polyfit([1 / n for n in ns], times, 1)
    fit = bench.amdahl_fit(ns, times)
    assert fit.t_serial == pytest.approx(intercept) and fit.t_parallel == pytest.approx(slope)
    assert fit.rms_residual > 0


def test_amdahl_fit_slowdown_gives_serial_fraction_above_one():
    fit = bench.amdahl_fit([1, 2], [1.0, 1.5])  # two workers slower than one: not Amdahl's regime
    assert fit.serial_fraction > 1 and fit.max_speedup < 1


def test_amdahl_fit_errors():
    with pytest.raises(ValueError):
        bench.amdahl_fit([2, 2], [1.0, 1.0])
    with pytest.raises(ValueError):
        bench.amdahl_fit([1, 2], [1.0])


def test_time_it_counts_repeats_and_items():
    calls = []
    t = bench.time_it(lambda: calls.append(1), repeats=4, warmup=2, items=8)
    assert len(calls) == 6 and len(t.times) == 4 and t.items == 8
