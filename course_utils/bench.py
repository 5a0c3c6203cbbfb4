"""Timing done right: warm-up, repeats, medians and spread, throughput, latency percentiles; and the course's
one rule for comparing noisy measurements, :func:`compare`.

Taught in the evaluation notebook, used wherever the course states a speed or compares seeds. A timing is
never a pass/fail test: notebooks print these numbers (beside :func:`machine_label`) and tests only check the
arithmetic. The scaling analysis (speedup, efficiency, Amdahl's law) is written in the notebook's own cells.

**The comparison rule.** A is called lower (faster, better) than B only when *every* repeat says so: for
independent repeats, when the ranges of A and B do not overlap (A's worst is better than B's best); for paired
repeats (the same seed on both sides), when every pair's difference has the same sign. Otherwise the verdict is
"about the same", and the ratio is printed with the range the repeats allow. With 3 repeats a side this is
strict on purpose: a claim the spread does not support is not made.
"""

from __future__ import annotations

import math
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Timing", "time_it", "machine_label", "percentile", "Comparison", "compare"]


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
    sorted values. Taught in notebook 12 (p50/p95 latency).
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


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`: ``ratio`` of medians A/B, its ``low``-``high`` range over the repeats,
    and ``verdict``, one of the three words given to :func:`compare`."""

    ratio: float
    low: float
    high: float
    verdict: str

    def __str__(self) -> str:
        return f"{self.verdict} ({self.ratio:.2f}x [{self.low:.2f}, {self.high:.2f}])"


def compare(
    a: Sequence[float],
    b: Sequence[float],
    *,
    paired: bool = False,
    words: tuple[str, str, str] = ("faster than", "slower than", "about as fast as"),
) -> Comparison:
    """Compare repeated measurements ``a`` with ``b`` (times, losses: lower is the first word) by the course's
    one rule (module docstring): ``words[0]`` when every repeat says A < B, ``words[1]`` when every repeat says
    A > B, else ``words[2]``. ``paired=True``: ``a[i]`` and ``b[i]`` share a seed, and pairs are compared.
    The range of the ratio: over pairs when paired, else min(a)/max(b) to max(a)/min(b)."""
    a, b = [float(v) for v in a], [float(v) for v in b]
    if not a or not b:
        raise ValueError("compare needs at least one value on each side")
    if min(a + b) <= 0:
        raise ValueError("compare needs positive measurements (times, losses, error rates)")
    ratio = statistics.median(a) / statistics.median(b)
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired comparison of {len(a)} and {len(b)} values")
        ratios = [x / y for x, y in zip(a, b, strict=True)]
        low, high = min(ratios), max(ratios)
    else:
        low, high = min(a) / max(b), max(a) / min(b)
    verdict = words[0] if high < 1 else words[1] if low > 1 else words[2]
    return Comparison(ratio, low, high, verdict)
