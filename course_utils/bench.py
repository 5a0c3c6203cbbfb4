"""Timing done right: warm-up, repeats, medians and spread, throughput, latency percentiles, scaling.

Taught in notebook 11, used wherever the course states a speed. A timing is never a pass/fail test:
notebooks print these numbers (beside :func:`machine_label`) and tests only check the arithmetic.

Scaling vocabulary (notebook 11): with ``T(1)`` the time on one worker and ``T(n)`` on ``n``,
``speedup = T(1) / T(n)`` and ``efficiency = speedup / n``. Amdahl's law models
``T(n) = T_serial + T_parallel / n``; :func:`amdahl_fit` estimates both parts from measured points by
least squares, and the *serial fraction* ``s = T_serial / (T_serial + T_parallel)`` bounds the speedup
by ``1 / s`` however many workers are added.
"""

from __future__ import annotations

import math
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "Timing",
    "time_it",
    "machine_label",
    "percentile",
    "speedup",
    "scaling_efficiency",
    "AmdahlFit",
    "amdahl_fit",
    "amdahl_speedup",
]


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


def speedup(t1: float, tn: float) -> float:
    """How many times faster ``n`` workers are than one: ``T(1) / T(n)`` (notebook 11)."""
    if t1 <= 0 or tn <= 0:
        raise ValueError("times must be positive")
    return t1 / tn


def scaling_efficiency(t1: float, tn: float, n: int) -> float:
    """Strong-scaling efficiency ``T(1) / (n T(n))``: 1.0 is perfect, 0.5 means half the workers idle."""
    if n < 1:
        raise ValueError("n must be >= 1")
    return speedup(t1, tn) / n


def amdahl_speedup(n: float, serial_fraction: float) -> float:
    """Amdahl's law: the speedup on ``n`` workers when a fraction ``s`` of one worker's time is serial."""
    return 1.0 / (serial_fraction + (1.0 - serial_fraction) / n)


@dataclass(frozen=True)
class AmdahlFit:
    """``T(n) ≈ t_serial + t_parallel / n`` fitted to measured points (see :func:`amdahl_fit`)."""

    t_serial: float
    t_parallel: float
    rms_residual: float

    @property
    def serial_fraction(self) -> float:
        """``s = t_serial / (t_serial + t_parallel)``. Outside [0, 1] the model does not fit the data:
        ``s > 1`` means adding workers made things *slower* (overheads grow with n, e.g. too few cores)."""
        total = self.t_serial + self.t_parallel
        return self.t_serial / total if total != 0 else float("nan")

    @property
    def max_speedup(self) -> float:
        """The limit of the speedup for infinitely many workers, ``1 / s`` (inf when s <= 0)."""
        s = self.serial_fraction
        return 1.0 / s if s > 0 else float("inf")

    def time(self, n: float) -> float:
        """Predicted time on ``n`` workers."""
        return self.t_serial + self.t_parallel / n

    def speedup(self, n: float) -> float:
        """Predicted speedup on ``n`` workers relative to the fitted ``T(1)``."""
        return self.time(1) / self.time(n)


def amdahl_fit(workers: Sequence[float], times: Sequence[float]) -> AmdahlFit:
    """Fit Amdahl's law ``T(n) = t_serial + t_parallel / n`` to measured ``(n, T(n))`` by least squares.

    The model is linear in ``x = 1/n``, so this is an ordinary straight-line fit of ``T`` against ``1/n``
    (intercept ``t_serial``, slope ``t_parallel``). Needs at least two distinct worker counts.
    Taught in notebook 11.
    """
    if len(workers) != len(times):
        raise ValueError("workers and times must have the same length")
    xs = [1.0 / n for n in workers]
    if len(set(xs)) < 2:
        raise ValueError("need measurements at two or more distinct worker counts")
    mx, my = statistics.fmean(xs), statistics.fmean(times)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, times, strict=True))
    slope = sxy / sxx
    intercept = my - slope * mx
    rms = math.sqrt(statistics.fmean((intercept + slope * x - y) ** 2 for x, y in zip(xs, times, strict=True)))
    return AmdahlFit(t_serial=intercept, t_parallel=slope, rms_residual=rms)
