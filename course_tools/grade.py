"""Grade a folder of submitted student notebooks with the instructor's checks into a CSV.

Layout of the submissions folder (one sub-folder per student, the course's notebook names inside)::

    SUBMISSIONS_DIR/
        alice/01_cnn_from_scratch.ipynb
        alice/03_gru.ipynb
        bob/01_cnn_from_scratch.ipynb

**The student's code never decides the grade.** For each submitted notebook the grader takes, from the
*solution* notebook (``--solutions``, default ``notebooks/``), the ``## Exercises`` section: its setup cells,
which functions each exercise defines (the cells with ``### BEGIN SOLUTION``) and its check cells. From the
*submission* it takes only the top-level ``import``, ``def`` and ``class`` statements and assignments of
constants (as nbgrader's
autograder and okpy extract answers); no other cell of the submission runs, so a cell that patches
``checks``, writes a log, prints ``PASS`` or loops forever has no effect. A checker process (fresh
interpreter, instructor code only) runs the solution's setup and check cells; each student function in it
is a proxy that calls the function in a separate sandbox process (``course_tools.sandbox``: own temporary
folder, file-size cap, user ``nobody`` when grading as root) and receives only plain data back. A call that
hangs, a sandbox that dies or prints 100 MB, a function that raises: each is a failure with its reason.
The checker reports to the grader through a file in a private folder. The CSV has one row per exercise::

    student,notebook,exercise,passed,message

and one summary row per student (``notebook=ALL``, ``exercise=TOTAL``, ``passed=k/n``).

Usage (``make grade SUBMISSIONS=...`` runs the same)::

    python -m course_tools.grade SUBMISSIONS_DIR --out grades.csv [--timeout 600] [--only 01 03]

What it does not guarantee (INSTRUCTORS.md): a student who hard-codes the answers of the visible check
cases passes them; without root, student code runs as the grading user and could disturb other processes of
that user; exercises whose check hands the function to other processes (e.g. ``launch.run``) are not
supported by the proxy.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from course_utils.paths import ROOT

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
CSV_FIELDS = ("student", "notebook", "exercise", "passed", "message")

#: ``checks.check_function("ex-name", ...)`` / ``check_predicate('ex-name', ...)``: the literal name.
_CHECK_CALL = re.compile(r"check_(?:function|predicate)\(\s*(?:name\s*=\s*)?[\"']([^\"']+)[\"']")

__all__ = [
    "GradeRow",
    "NotebookRun",
    "check_names",
    "grading_job",
    "run_checks",
    "grade_notebook",
    "grade_folder",
    "main",
]


@dataclass(frozen=True)
class GradeRow:
    """One row of the grades CSV."""

    student: str
    notebook: str
    exercise: str
    passed: bool | str
    message: str


@dataclass(frozen=True)
class NotebookRun:
    """What running one notebook produced: the check log, cell errors and why it stopped early (if it did)."""

    checks: list[dict]
    errors: list[str]
    aborted: str
    seconds: float


def check_names(nb) -> dict[str, str]:
    """Exercise names checked by a notebook, in order, mapped to the source of the cell that checks them."""
    names: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for name in _CHECK_CALL.findall(cell.source):
            names.setdefault(name, cell.source)
    return names


def _normalise(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _python(source: str) -> str:
    """A cell's source without IPython magics and shell escapes (which plain Python cannot parse)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def exercise_section(nb) -> list:
    """The code cells from the ``## Exercises`` heading to the next level-2 heading."""
    cells, inside = [], False
    for cell in nb.cells:
        if cell.cell_type == "markdown" and re.match(r"\s*## ", cell.source):
            inside = cell.source.lstrip().startswith("## Exercises")
        elif inside and cell.cell_type == "code":
            cells.append(cell)
    return cells


DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _no_calls(node: ast.AST) -> bool:
    """An assignment of a constant (``GATES = ("z", "r", "n")``): it may stay; one that calls something may not."""
    return not any(isinstance(n, (ast.Call, ast.Lambda, ast.NamedExpr, ast.Await)) for n in ast.walk(node))


def grading_job(solution, submission) -> dict:
    """What the checker needs: the solution's exercise section split into setup, answer and check cells, and
    the submission's top-level imports, functions and classes (nothing else of it runs)."""
    steps, setup = [], []
    for cell in exercise_section(solution):
        source = _python(cell.source)
        if "BEGIN SOLUTION" in source:
            names = [n.name for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
            steps.append({"kind": "answer", "names": names})
        elif _CHECK_CALL.search(source):
            steps.append({"kind": "check", "names": _CHECK_CALL.findall(source), "source": source})
        else:
            steps.append({"kind": "setup", "source": source})
            setup.append(source)
    kept, skipped = [], 0
    for cell in submission.cells:
        if cell.cell_type != "code":
            continue
        source = _python(cell.source)
        try:
            tree = ast.parse(source)
        except SyntaxError:
            skipped += 1
            continue
        lines = source.splitlines()
        for node in tree.body:
            if isinstance(node, DEFINITIONS) or (
                isinstance(node, (ast.Assign, ast.AnnAssign)) and _no_calls(node)
            ):
                start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
                kept.append("\n".join(lines[start - 1 : node.end_lineno]))
    return {
        "steps": steps,
        "setup": "\n\n".join(setup),
        "definitions": kept,
        "unparsable_cells": skipped,
    }


def _checker(job_path: str, result_path: str) -> None:
    """The checker process: instructor code only; student functions are proxies into a sandbox."""
    from course_tools.sandbox import Remote, Sandbox
    from course_utils import checks

    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    sandbox = Sandbox(job["setup"], job["definitions"], job.get("call_timeout", 60.0))
    namespace: dict = {"__name__": "__main__"}
    results: list[dict] = []
    try:
        for step in job["steps"]:
            if step["kind"] == "answer":
                namespace.update({name: Remote(sandbox, name) for name in step["names"]})
                continue
            before = len(checks.RESULTS)
            try:
                exec(compile(step["source"], f"<{step['kind']} cell>", "exec"), namespace)
            except Exception as e:  # noqa: BLE001 - an instructor cell that cannot run is reported
                if step["kind"] == "check":
                    for name in step["names"]:
                        results.append(
                            {
                                "name": name,
                                "passed": False,
                                "message": f"check could not run: {type(e).__name__}: {e}",
                            }
                        )
                continue
            results += [
                {"name": r.name, "passed": bool(r.passed), "message": r.message}
                for r in checks.RESULTS[before:]
            ]
            Path(result_path).write_text(json.dumps(results), encoding="utf-8")
    finally:
        sandbox.close()
        Path(result_path).write_text(json.dumps(results), encoding="utf-8")


def run_checks(submission: Path, solution: Path, timeout: float, call_timeout: float = 60.0) -> NotebookRun:
    """Grade one submission against one solution notebook in a checker process; at most ``timeout`` s."""
    import nbformat

    t0 = time.perf_counter()
    job = grading_job(nbformat.read(solution, as_version=4), nbformat.read(submission, as_version=4))
    job["call_timeout"] = min(call_timeout, timeout)
    with tempfile.TemporaryDirectory(prefix="course_grade_") as private:  # 0700: the sandbox cannot reach it
        job_path, result_path = Path(private, "job.json"), Path(private, "result.json")
        job_path.write_text(json.dumps(job), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "COURSE_CHECKS_LOG"}
        env.update(MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        cmd = [sys.executable, "-m", "course_tools.grade", "--checker", str(job_path), str(result_path)]
        aborted = ""
        with tempfile.TemporaryFile() as log:
            proc = subprocess.Popen(
                cmd, cwd=private, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                aborted = f"grading timed out after {timeout:g} s"
            finally:
                _kill_group(proc)
            if proc.returncode not in (0, None) and not aborted:
                log.seek(0)
                lines = [ln for ln in log.read(1 << 20).decode(errors="replace").splitlines() if ln.strip()]
                aborted = "the checker failed" + (f" ({lines[-1][:160]})" if lines else "")
        try:
            checks = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            checks = []
    errors = (
        [f"{job['unparsable_cells']} cell(s) of the submission are not valid Python and were ignored"]
        if job["unparsable_cells"]
        else []
    )
    return NotebookRun(checks, errors, aborted, time.perf_counter() - t0)


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    proc.wait()


def grade_notebook(student: str, path: Path, timeout: float, solutions: Path | None = None) -> list[GradeRow]:
    """Grade one submitted notebook with the solution's checks; every expected exercise gets a row."""
    import nbformat

    solution = (solutions or ROOT / "notebooks") / path.name
    if not solution.is_file():
        return [
            GradeRow(
                student, path.name, "(notebook)", False, f"no solution notebook {solution} to grade against"
            )
        ]
    try:
        submitted = check_names(nbformat.read(path, as_version=4))
    except Exception as e:
        return [
            GradeRow(student, path.name, "(notebook)", False, f"unreadable notebook: {type(e).__name__}: {e}")
        ]
    reference = check_names(nbformat.read(solution, as_version=4))
    run = run_checks(path, solution, timeout)
    last = {
        str(entry.get("name", "")): entry for entry in run.checks
    }  # a check run twice counts once, the last
    rows = []
    for name in reference:
        notes = []
        if name not in submitted:
            notes.append("note: the submission had deleted this check cell (the solution's check ran)")
        elif _normalise(reference[name]) != _normalise(submitted[name]):
            notes.append("note: the submission's check cell was edited (the solution's check ran)")
        if name in last:
            entry = last[name]
            message = "; ".join([str(entry.get("message", "")), *notes]).strip("; ")
            rows.append(GradeRow(student, path.name, name, bool(entry.get("passed")), message))
        else:
            why = run.aborted or "no result"
            rows.append(
                GradeRow(student, path.name, name, False, "; ".join([f"check did not run: {why}", *notes]))
            )
    if not reference:
        rows.append(
            GradeRow(student, path.name, "(notebook)", False, "the solution notebook has no exercise checks")
        )
    return rows


def grade_folder(
    submissions: Path,
    timeout: float = 600,
    only: list[str] | None = None,
    solutions: Path | None = ROOT / "notebooks",
    echo: bool = True,
) -> list[GradeRow]:
    """Grade every ``<student>/<NN_x>.ipynb`` under ``submissions``; exercise rows then a TOTAL per student."""
    rows: list[GradeRow] = []
    course_files = {
        p: p.read_bytes() for d in ("course_utils", "course_tools") for p in (ROOT / d).rglob("*.py")
    }
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    for student_dir in students:
        notebooks = sorted(student_dir.glob(NOTEBOOK_GLOB))
        if only:
            notebooks = [p for p in notebooks if any(p.name.startswith(o) for o in only)]
        student_rows: list[GradeRow] = []
        for path in notebooks:
            if echo:
                print(f"{student_dir.name}/{path.name} ...", flush=True)
            t0 = time.perf_counter()
            new = grade_notebook(student_dir.name, path, timeout, solutions)
            changed = _restore(course_files)
            if changed:  # the submission's code rewrote the grader's own files: restored, and no credit
                why = f"the submission's code changed {', '.join(changed)} (restored; no credit for this notebook)"
                new = [GradeRow(r.student, r.notebook, r.exercise, False, why) for r in new]
            student_rows += new
            if echo:
                ok = sum(r.passed is True for r in new)
                print(f"  {ok}/{len(new)} passed in {time.perf_counter() - t0:.1f} s", flush=True)
        exercises = [r for r in student_rows if r.exercise != "(notebook)"]
        passed = sum(r.passed is True for r in exercises)
        per_nb = ", ".join(
            f"{p.name.split('_')[0]}: {sum(r.passed is True for r in exercises if r.notebook == p.name)}"
            f"/{sum(r.notebook == p.name for r in exercises)}"
            for p in notebooks
        )
        summary = f"{passed} of {len(exercises)} exercises passed" + (
            f" ({per_nb})" if per_nb else " (no notebooks)"
        )
        rows += student_rows
        rows.append(GradeRow(student_dir.name, "ALL", "TOTAL", f"{passed}/{len(exercises)}", summary))
    return rows


def _restore(files: dict[Path, bytes]) -> list[str]:
    """Put back every course file whose bytes changed (or that vanished); return their names."""
    changed = []
    for path, data in files.items():
        try:
            same = path.read_bytes() == data
        except OSError:
            same = False
        if not same:
            path.write_bytes(data)
            changed.append(str(path.relative_to(ROOT)))
    return changed


def write_csv(rows: list[GradeRow], out: Path) -> None:
    """Write the grade rows as CSV with the header ``student,notebook,exercise,passed,message``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_FIELDS)
        for r in rows:
            w.writerow([r.student, r.notebook, r.exercise, r.passed, r.message])


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--checker":  # the checker process (internal)
        _checker(sys.argv[2], sys.argv[3])
        return 0
    ap = argparse.ArgumentParser(prog="python -m course_tools.grade", description=__doc__.split("\n\n")[0])
    ap.add_argument("submissions", type=Path, help="folder with one sub-folder of notebooks per student")
    ap.add_argument("--out", type=Path, default=Path("grades.csv"), help="CSV to write (default grades.csv)")
    ap.add_argument(
        "--timeout", type=float, default=600, help="seconds per notebook, all cells together (default 600)"
    )
    ap.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 03")
    ap.add_argument(
        "--solutions",
        type=Path,
        default=ROOT / "notebooks",
        help="solution notebooks whose checks grade the submissions (default notebooks/)",
    )
    args = ap.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"no such folder: {args.submissions}", file=sys.stderr)
        return 2
    solutions = args.solutions
    if sys.platform == "win32":  # pragma: no cover - zmq needs the selector loop on Windows
        asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())
    rows = grade_folder(args.submissions, args.timeout, args.only, solutions)
    if not rows:
        print(f"no student folders with notebooks in {args.submissions}", file=sys.stderr)
        return 2
    write_csv(rows, args.out)
    print()
    for r in rows:
        if r.exercise == "TOTAL":
            print(f"{r.student}: {r.message}")
    print(f"\nwrote {args.out} ({sum(r.exercise != 'TOTAL' for r in rows)} exercise rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
