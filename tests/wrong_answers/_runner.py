"""Run one solution notebook's exercise checks on the solution and on plausible wrong answers.

Usage (``tests/test_wrong_answers.py`` runs it in a fresh interpreter, one per notebook)::

    python tests/wrong_answers/_runner.py NOTEBOOK.ipynb WRONG_ANSWERS.py

It runs the lesson's cells tagged ``grader-setup``, then splits the notebook's ``## Exercises`` section as the
grader does (``course_tools.grade.grading_job``: setup, answer and check cells, IPython magics stripped) and runs
it in one namespace, in order. At each
exercise (an answer cell and the check cell after it) it runs the solution's answer cell and the check, then
the student version's answer cell (``make student``'s blank stub) and the check, then each wrong ``def`` of the
data file's ``WRONG[name]`` in place of the solution followed by the same check, and finally the solution again
(so later cells see the solution). The last line of stdout is JSON::

    {"exercises": {name: {"checks": [...], "solution": [result, ...], "stub": [result, ...],
                          "wrong": [{"why": ..., "results": [result, ...]}, ...]}},
     "unknown": [names in WRONG that no answer cell defines], "seconds": float}

where a result is ``{"name", "passed", "message"}`` from ``checks.RESULTS``, or ``{"name": "(cell)",
"passed": False, "error": ...}`` when the check cell itself raised (a check must never raise).
"""

from __future__ import annotations

import contextlib
import io
import json
import runpy
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run_check(source: str, namespace: dict) -> list[dict]:
    from course_utils import checks

    before = len(checks.RESULTS)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, "<check cell>", "exec"), namespace)
    except Exception as e:  # noqa: BLE001 - reported: a check cell must not raise on a wrong answer
        return [{"name": "(cell)", "passed": False, "error": f"{type(e).__name__}: {e}"}]
    return [{"name": r.name, "passed": bool(r.passed), "message": r.message} for r in checks.RESULTS[before:]]


def _exec(source: str, namespace: dict, label: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source, label, "exec"), namespace)


def main(notebook: str, data_file: str) -> dict:
    import nbformat

    from course_tools import grade

    t0 = time.perf_counter()
    wrong: dict[str, list[tuple[str, str]]] = runpy.run_path(data_file).get("WRONG", {})
    from course_tools.student import make_student_version

    nb = nbformat.read(notebook, as_version=4)
    cells = grade.exercise_section(nb)
    steps = grade.grading_job(nb, nb)["steps"]
    with tempfile.TemporaryDirectory() as folder:  # the student version: same cells, solutions blanked
        student = nbformat.read(make_student_version(Path(notebook), Path(folder)), as_version=4)
    stubs = [grade._python(c.source) for c in grade.exercise_section(student)]
    namespace: dict = {"__name__": "__main__"}
    for source in grade.grader_setup(nb):  # the lesson's cells tagged grader-setup, as the grader runs them
        _exec(source, namespace, "<grader-setup cell>")
    exercises: dict[str, dict] = {}
    pending: tuple[list[str], str] | None = None  # the last answer cell's names and source
    for cell, step, stub in zip(cells, steps, stubs, strict=True):
        source = grade._python(cell.source)
        if step["kind"] == "setup":
            _exec(source, namespace, "<setup cell>")
        elif step["kind"] == "answer":
            pending = (step["names"], source, stub)
            _exec(source, namespace, "<answer cell>")
        elif pending is not None:  # the check of the answer cell before it
            names, answer, blank = pending
            pending = None
            for name in names:
                entry = {"checks": step["names"], "solution": [], "stub": [], "wrong": []}
                _exec(answer, namespace, "<answer cell>")
                entry["solution"] = _run_check(source, namespace)
                _exec(blank, namespace, "<student stub>")
                entry["stub"] = _run_check(source, namespace)
                for why, wrong_source, *_ in wrong.get(name, []):  # a third item: this answer's hint words
                    _exec(textwrap.dedent(wrong_source), namespace, f"<wrong {name}>")
                    entry["wrong"].append({"why": why, "results": _run_check(source, namespace)})
                _exec(answer, namespace, "<answer cell>")  # later cells see the solution
                exercises[name] = entry
        else:  # a check cell with no answer cell before it: run it like the notebook does
            _run_check(source, namespace)
    return {
        "exercises": exercises,
        "unknown": sorted(set(wrong) - set(exercises)),
        "seconds": time.perf_counter() - t0,
    }


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
