"""Exercise checks: tell a student pass/fail with a useful hint.

Convention (see CONTRIBUTING.md, "Exercises"): every exercise is a *function* the student completes.
In the solution notebook its body sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
``make student`` replaces that region with ``raise NotImplementedError()``. The cell after it calls a
check from this module, which

* prints one line: ``PASS ex-name ...``, ``FAIL ex-name: not attempted`` (nothing more: no hint before a
  try), or ``FAIL ex-name: the failing case, what was expected and what came back. Hint: ...`` where the hint
  names the mistake or the idea to revisit, never code of the solution (a case may carry its own hint);
* refuses a function that calls the lesson's own code for the mechanism (``forbid=``: "calls gru_forward from
  the lesson: write the step yourself"), in the notebook and in the grader alike;
* never raises (a student's notebook keeps running), and returns a :class:`CheckResult`,
* appends a JSON line to the file named by ``$COURSE_CHECKS_LOG`` when it is set (used for grading).

Exercise functions take and return plain data (numbers, strings, NumPy arrays, tuples/lists/dicts of them),
so the grader can run them isolated and judge what they return; a worker run on several processes goes
through :func:`run_on_ranks` and returns plain data from each rank.
"""

from __future__ import annotations

import dis
import json
import os
import traceback
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "CheckResult",
    "RESULTS",
    "NOT_ATTEMPTED",
    "check_function",
    "check_predicate",
    "delegated_names",
    "run_on_ranks",
    "summary",
]

#: the whole message of an exercise that still raises NotImplementedError
NOT_ATTEMPTED = "not attempted"


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


def _names_used(code: types.CodeType) -> set[str]:
    """Global and attribute names a code object (and the functions and classes nested in it) reads."""
    names = {
        ins.argval
        for ins in dis.get_instructions(code)
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_ATTR")
    }
    names = {n if isinstance(n, str) else str(n) for n in names} | set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_used(const)
    return names


def delegated_names(fn: Callable, forbid: Iterable[str]) -> list[str]:
    """The names in ``forbid`` (the lesson's definitions of the mechanism) that ``fn`` uses, directly or through
    another function of the same notebook or module that it calls. Empty when it writes the mechanism itself."""
    forbid, seen, found = set(forbid), set(), []
    todo = [getattr(fn, "__wrapped__", fn)]
    while todo:
        f = todo.pop()
        code = getattr(f, "__code__", None)
        if code is None or code in seen:
            continue
        seen.add(code)
        used = _names_used(code)
        found += sorted(used & forbid - set(found))
        scope = getattr(f, "__globals__", {})
        for name in (
            used - forbid
        ):  # follow the learner's own helpers (a grader's proxy: its code), not libraries
            g = scope.get(name)
            g = getattr(g, "__wrapped__", g)
            if isinstance(g, types.FunctionType) and g.__module__ == getattr(f, "__module__", None):
                todo.append(g)
    return found


def _delegation_message(fn: Callable, forbid: Sequence[str]) -> str | None:
    used = delegated_names(fn, forbid) if forbid else []
    if not used:
        return None
    what = ", ".join(used)
    return f"calls {what} from the lesson: write this step yourself, without the lesson's {what}"


def _where(fn: Callable, error: BaseException) -> str:
    """`` (line N)`` of the learner's code where ``error`` was raised, if it was raised there."""
    code = getattr(getattr(fn, "__wrapped__", fn), "__code__", None)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if code and f.filename == code.co_filename]
    return f" (line {frames[-1].lineno})" if frames else ""


def _call(fn: Callable, args: Sequence, kwargs: dict) -> tuple[Any, str | None]:
    """Call the student's function; return (value, None) or (None, why it failed)."""
    try:
        return fn(*args, **kwargs), None
    except NotImplementedError:
        return None, NOT_ATTEMPTED
    except Exception as e:  # a student's bug: report it, never crash the notebook
        if type(e).__name__ == "RankFailedError" and "\nNotImplementedError" in str(e):
            return None, NOT_ATTEMPTED  # a worker that still raises NotImplementedError on its ranks
        return None, f"your function raised {type(e).__name__}: {e}{_where(fn, e)}"


def _fail(name: str, message: str, hint: str) -> CheckResult:
    if message == NOT_ATTEMPTED:
        return _record(CheckResult(name, False, NOT_ATTEMPTED))
    return _record(CheckResult(name, False, message + (f". Hint: {hint}" if hint else "")))


def check_function(
    name: str,
    fn: Callable,
    cases: Iterable[tuple | dict],
    *,
    atol: float = 1e-6,
    rtol: float = 1e-6,
    hint: str = "",
    forbid: Sequence[str] = (),
) -> CheckResult:
    """Check ``fn`` against ``cases``: each is ``(args, expected)``, ``(args, kwargs, expected)`` or a dict with
    ``args``, ``expected`` and optionally ``kwargs`` and ``hint`` (shown instead of ``hint`` when that case
    fails: it names what the case tests, e.g. "padding on both sides").

    Results are compared with tolerance (arrays, tensors, tuples of them). The first failing case is
    reported with its arguments, so the student can reproduce it. ``forbid``: the lesson's functions for the
    same mechanism; a function that uses any of them fails before it runs.
    """
    cases = list(cases)
    delegated = _delegation_message(fn, forbid)
    if delegated:
        return _record(CheckResult(name, False, delegated))
    for i, case in enumerate(cases):
        case_hint = hint
        if isinstance(case, dict):
            args, kwargs, expected = case["args"], case.get("kwargs", {}), case["expected"]
            case_hint = case.get("hint", hint)
        elif len(case) == 2:
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
        if err == NOT_ATTEMPTED:
            return _fail(name, err, "")
        call = f"{getattr(fn, '__name__', 'fn')}({', '.join(_short(a, 30) for a in args)})"
        return _fail(name, f"case {i + 1}/{len(cases)} {call}: {err}", case_hint)
    return _record(CheckResult(name, True, f"{len(cases)}/{len(cases)} cases"))


def check_predicate(
    name: str,
    fn: Callable[[], Any],
    predicate: Callable[[Any], bool | tuple[bool, str]],
    *,
    hint: str = "",
    success: str = "",
    forbid: Sequence[str] = (),
    target: Callable | None = None,
) -> CheckResult:
    """Call ``fn()`` and judge its result with ``predicate`` (returns ``ok`` or ``(ok, message)``).

    ``forbid`` as in :func:`check_function`, applied to ``target`` (the learner's function that ``fn`` wraps,
    e.g. a worker run on several processes) or to ``fn`` itself."""
    delegated = _delegation_message(target or fn, forbid)
    if delegated:
        return _record(CheckResult(name, False, delegated))
    value, err = _call(fn, (), {})
    if err is None:
        try:
            verdict = predicate(value)
        except Exception as e:
            verdict = (False, f"result could not be checked ({type(e).__name__}: {e})")
        ok, err = verdict if isinstance(verdict, tuple) else (bool(verdict), "result is not right")
        if ok:
            return _record(CheckResult(name, True, success))
    return _fail(name, err, hint)


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
