"""Exercise checks: tell a student pass/fail with a useful hint.

Convention (see CONTRIBUTING.md, "Exercises"): every exercise is a *function* the student completes.
In the solution notebook its body sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
``make student`` replaces that region with ``raise NotImplementedError()``. The cell after it calls a
check from this module, which

* prints one line: ``PASS ex-name ...`` or ``FAIL ex-name: what went wrong. Hint: ...``,
* never raises (a student's notebook keeps running), and returns a :class:`CheckResult`,
* appends a JSON line to the file named by ``$COURSE_CHECKS_LOG`` when it is set (used for grading).
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["CheckResult", "RESULTS", "check_function", "check_predicate", "run_on_ranks", "summary"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one exercise check."""

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        """Show nothing: the check already printed its PASS/FAIL line (keeps nbval outputs stable)."""


#: Every result of this kernel, in order (``summary()`` prints them).
RESULTS: list[CheckResult] = []


def _record(result: CheckResult) -> CheckResult:
    RESULTS.append(result)
    print(
        ("PASS " if result.passed else "FAIL ")
        + result.name
        + (": " if result.message else "")
        + result.message
    )
    log = os.environ.get("COURSE_CHECKS_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(asdict(result)) + "\n")
    return result


def _close(actual: Any, expected: Any, atol: float, rtol: float) -> tuple[bool, str]:
    """Compare numbers, arrays, tensors and (nested) tuples/lists; return (ok, why-not)."""
    if hasattr(actual, "detach"):  # torch tensors
        actual = actual.detach().cpu().numpy()
    if hasattr(expected, "detach"):
        expected = expected.detach().cpu().numpy()
    if isinstance(expected, (tuple, list)) and not isinstance(actual, np.ndarray):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return False, f"expected a sequence of length {len(expected)}, got {_short(actual)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            ok, why = _close(a, e, atol, rtol)
            if not ok:
                return False, f"item {i}: {why}"
        return True, ""
    if isinstance(expected, str) or expected is None or isinstance(expected, bool):
        return (actual == expected), f"expected {expected!r}, got {_short(actual)}"
    try:
        a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    except (TypeError, ValueError):
        return bool(actual == expected), f"expected {_short(expected)}, got {_short(actual)}"
    if a.shape != e.shape:
        return False, f"expected shape {e.shape}, got shape {a.shape}"
    if not np.allclose(a, e, atol=atol, rtol=rtol, equal_nan=True):
        err = float(np.max(np.abs(a - e))) if a.size else 0.0
        return False, f"expected {_short(expected)}, got {_short(actual)} (max abs error {err:.3g})"
    return True, ""


def _short(x: Any, limit: int = 80) -> str:
    s = repr(x)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _call(fn: Callable, args: Sequence, kwargs: dict) -> tuple[Any, str | None]:
    """Call the student's function; return (value, None) or (None, why it failed)."""
    try:
        return fn(*args, **kwargs), None
    except NotImplementedError:
        return None, "not attempted yet (the function still raises NotImplementedError)"
    except Exception as e:  # a student's bug: report it, never crash the notebook
        where = traceback.extract_tb(e.__traceback__)[-1]
        return None, f"your function raised {type(e).__name__}: {e} (line {where.lineno})"


def check_function(
    name: str,
    fn: Callable,
    cases: Iterable[tuple],
    *,
    atol: float = 1e-6,
    rtol: float = 1e-6,
    hint: str = "",
) -> CheckResult:
    """Check ``fn`` against ``cases``: each is ``(args, expected)`` or ``(args, kwargs, expected)``.

    Results are compared with tolerance (arrays, tensors, tuples of them). The first failing case is
    reported with its arguments, so the student can reproduce it.
    """
    cases = list(cases)
    for i, case in enumerate(cases):
        if len(case) == 2:
            args, expected = case
            kwargs: dict = {}
        else:
            args, kwargs, expected = case
        args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
        value, err = _call(fn, args, kwargs)
        if err is None:
            ok, err = _close(value, expected, atol, rtol)
            if ok:
                continue
        call = f"{getattr(fn, '__name__', 'fn')}({', '.join(_short(a, 30) for a in args)})"
        msg = f"case {i + 1}/{len(cases)} {call}: {err}"
        return _record(CheckResult(name, False, msg + (f". Hint: {hint}" if hint else "")))
    return _record(CheckResult(name, True, f"{len(cases)}/{len(cases)} cases"))


def check_predicate(
    name: str,
    fn: Callable[[], Any],
    predicate: Callable[[Any], bool | tuple[bool, str]],
    *,
    hint: str = "",
    success: str = "",
) -> CheckResult:
    """Call ``fn()`` and judge its result with ``predicate`` (returns ``ok`` or ``(ok, message)``)."""
    value, err = _call(fn, (), {})
    if err is None:
        try:
            verdict = predicate(value)
        except Exception as e:
            verdict = (False, f"result could not be checked ({type(e).__name__}: {e})")
        ok, err = verdict if isinstance(verdict, tuple) else (bool(verdict), "result is not right")
        if ok:
            return _record(CheckResult(name, True, success))
    return _record(CheckResult(name, False, err + (f". Hint: {hint}" if hint else "")))


def run_on_ranks(
    fn: Callable, world_size: int, args: Sequence = (), *, launcher: str = "spawn", timeout: float = 120.0
) -> list:
    """Run a student's worker ``fn(rank, world_size, *args)`` on ``world_size`` processes and return the
    results in rank order: ``launcher="spawn"`` uses ``course_utils.launch.run``, ``"torchrun"`` uses
    ``launch.run_torchrun``. Checks call this rather than the launcher, so that the grader can run the
    student's worker inside its sandbox (results come back as plain data there)."""
    if launcher not in ("spawn", "torchrun"):
        raise ValueError(f"launcher must be 'spawn' or 'torchrun', not {launcher!r}")
    on_ranks = getattr(fn, "on_ranks", None)
    if on_ranks is not None:  # a grader's proxy: the worker runs in the sandbox
        return on_ranks(world_size, tuple(args), launcher, timeout)
    from . import launch

    if launcher == "torchrun":
        return launch.run_torchrun(fn, world_size, args=args, timeout=timeout)
    return launch.run(fn, world_size, args=args, timeout=timeout)


def summary() -> str:
    """Print and return ``k/n checks passed`` for this kernel."""
    done = sum(r.passed for r in RESULTS)
    line = f"{done}/{len(RESULTS)} checks passed"
    print(line)
    return line
