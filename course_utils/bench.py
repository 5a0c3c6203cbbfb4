"""Timing done right: warm-up, repeats, medians and spread, throughput, latency percentiles.

Taught in notebook 11, used wherever the course states a speed. A timing is never a pass/fail test:
notebooks print these numbers (beside :func:`machine_label`) and tests only check the arithmetic. The
scaling analysis (speedup, efficiency, Amdahl's law) is written in notebook 11's own cells.
"""

from __future__ import annotations

import math
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Timing", "time_it", "machine_label", "percentile"]


@dataclass(frozen=True)
class Timing:
    """Seconds per call over ``repeats`` runs (after warm-up) and the work done per call."""

    times: tuple[float, ...]
    items: int = 1

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def spread(self) -> float:
        """Inter-quartile range relative to the median (0.05 = the middle half lies within 5 %)."""
        if len(self.times) < 2:
            return 0.0
        q = statistics.quantiles(self.times, n=4, method="inclusive")
        return (q[2] - q[0]) / self.median if self.median > 0 else 0.0

    @property
    def throughput(self) -> float:
        """Items per second at the median time."""
        return self.items / self.median if self.median > 0 else float("inf")

    @property
    def p50(self) -> float:
        """Median latency of one call, seconds (the same as :attr:`median`)."""
        return percentile(self.times, 50)

    @property
    def p95(self) -> float:
        """95th-percentile latency of one call, seconds: 1 call in 20 is slower than this.

        Needs many repeats to mean anything (with 5 it is nearly the maximum).
        """
        return percentile(self.times, 95)

    def __str__(self) -> str:
        s = f"median {_fmt_seconds(self.median)} ± {self.spread:.0%} IQR over {len(self.times)} runs"
        if self.items != 1:
            s += f", {self.throughput:,.0f} items/s"
        return s


def _fmt_seconds(t: float) -> str:
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.1f} ms"
    return f"{t * 1e6:.0f} µs"


def time_it(
    fn: Callable[[], object],
    repeats: int = 5,
    warmup: int = 1,
    items: int = 1,
    min_time: float = 0.0,
    sync: Callable[[], object] | None = None,
) -> Timing:
    """Call ``fn()`` ``warmup`` times untimed, then time ``repeats`` calls.

    ``items`` is the work per call (images, rows) for throughput. ``sync`` (e.g.
    ``torch.cuda.synchronize``) runs after each call inside the timed region, so asynchronous GPU work
    is counted. ``min_time`` keeps repeating until at least that many seconds were timed in total.
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    times: list[float] = []
    while len(times) < repeats or sum(times) < min_time:
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return Timing(tuple(times), items)


def machine_label() -> str:
    """A short description of the machine a timing ran on (CPU model, cores, GPU if any)."""
    from .devices import _cpu_cores

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    label = f"{cpu}, {_cpu_cores()} cores"
    try:
        import torch

        if torch.cuda.is_available():
            label += f", GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return label


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between order statistics.

    The same definition as ``numpy.percentile``'s default: position ``(n - 1) * q / 100`` in the
    sorted values. Taught in notebook 11 (p50/p95 latency).
    """
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q}")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
