"""Grade a folder of submitted student notebooks: run each one, collect its exercise checks into a CSV.

Layout of the submissions folder (one sub-folder per student, the course's notebook names inside)::

    SUBMISSIONS_DIR/
        alice/01_cnn_from_scratch.ipynb
        alice/03_gru.ipynb
        bob/01_cnn_from_scratch.ipynb

Every notebook runs top to bottom in a fresh kernel (nbclient, ``allow_errors=True``, so a broken cell
does not stop the rest), with ``$COURSE_CHECKS_LOG`` pointing at a fresh temporary file: each
``course_utils.checks`` call appends one JSON line ``{"name", "passed", "message"}`` to it (see
``checks.py`` and the exercise convention in CONTRIBUTING.md). The CSV has one row per exercise::

    student,notebook,exercise,passed,message

and one summary row per student (``notebook=ALL``, ``exercise=TOTAL``, ``passed=k/n``). Exercises the
solution notebook (``--solutions``, default ``notebooks/``) or the submission checks, but whose check never
ran (the kernel died, the notebook timed out, the check cell was deleted), are rows with ``passed=False``
and the reason. A check cell that differs from the solution's is flagged in the message.

Usage (``make grade SUBMISSIONS=...`` runs the same)::

    python -m course_tools.grade SUBMISSIONS_DIR --out grades.csv [--timeout 600] [--only 01 03]

Taught in INSTRUCTORS.md (not in a notebook).
"""

from __future__ import annotations

import argparse
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

__all__ = ["GradeRow", "NotebookRun", "check_names", "run_notebook", "grade_notebook", "grade_folder", "main"]


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


def run_notebook(path: Path, timeout: float, cwd: Path | None = None) -> NotebookRun:
    """Execute ``path`` in a fresh kernel with its own checks log; stop after ``timeout`` seconds in all."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    deadline = time.monotonic() + timeout

    def remaining(cell) -> float:  # nbclient's per-cell timeout = what is left of the notebook's budget
        return max(1.0, deadline - time.monotonic())

    client = NotebookClient(
        nb,
        timeout=int(timeout),
        timeout_func=remaining,
        interrupt_on_timeout=False,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd or path.parent)}},
    )
    fd, log_name = tempfile.mkstemp(prefix="course_checks_", suffix=".jsonl")
    os.close(fd)
    env = {**os.environ, "COURSE_CHECKS_LOG": log_name, "MPLBACKEND": "Agg"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    aborted = ""
    t0 = time.perf_counter()
    # The kernel's own stdout/stderr (not the notebook's outputs): kept out of the terminal, and quoted
    # when the kernel dies, since its last line usually says why.
    with tempfile.TemporaryFile(mode="w+b") as kernel_log:
        try:
            client.execute(env=env, stdout=kernel_log, stderr=subprocess.STDOUT)
        except CellTimeoutError:
            aborted = f"notebook timed out after {timeout:g} s"
        except DeadKernelError:
            kernel_log.seek(0)
            lines = [ln for ln in kernel_log.read().decode(errors="replace").splitlines() if ln.strip()]
            aborted = "kernel died" + (f" (its last words: {lines[-1].strip()[:160]})" if lines else "")
        except Exception as e:  # a broken notebook file, a kernel that does not start
            aborted = f"could not run ({type(e).__name__}: {str(e).strip()[:160]})"
    seconds = time.perf_counter() - t0
    try:
        checks = []
        for line in Path(log_name).read_text(encoding="utf-8").splitlines():
            try:
                checks.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    finally:
        os.unlink(log_name)
    errors = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                errors.append(f"cell {i + 1}: {out.get('ename', '')}: {str(out.get('evalue', ''))[:120]}")
    return NotebookRun(checks, errors, aborted, seconds)


def grade_notebook(
    student: str, path: Path, timeout: float, solutions: Path | None = None, cwd: Path | None = None
) -> list[GradeRow]:
    """Run one submitted notebook and turn its checks into rows (missing checks become failures)."""
    import nbformat

    try:
        submitted = check_names(nbformat.read(path, as_version=4))
    except Exception as e:
        return [GradeRow(student, path.name, "(notebook)", False, f"unreadable notebook: {type(e).__name__}: {e}")]
    reference: dict[str, str] = {}
    if solutions is not None and (solutions / path.name).is_file():
        reference = check_names(nbformat.read(solutions / path.name, as_version=4))
    expected = list(reference) + [n for n in submitted if n not in reference]

    run = run_notebook(path, timeout, cwd)
    last: dict[str, dict] = {}
    for entry in run.checks:  # a check run twice counts with its last result
        last[str(entry.get("name", ""))] = entry
    names = expected + [n for n in last if n not in expected]
    rows = []
    for name in names:
        notes = []
        if name in reference and name in submitted and _normalise(reference[name]) != _normalise(submitted[name]):
            notes.append("note: the check cell differs from the solution notebook's")
        if name in last:
            entry = last[name]
            msg = str(entry.get("message", ""))
            rows.append(GradeRow(student, path.name, name, bool(entry.get("passed")), "; ".join([msg, *notes]).strip("; ")))
            continue
        if run.aborted:
            why = run.aborted
        elif name not in submitted:
            why = "the check cell is missing from the submission"
        elif run.errors:
            why = "an error stopped it (" + run.errors[0] + ")"
        else:
            why = "no result logged"
        rows.append(GradeRow(student, path.name, name, False, "; ".join([f"check did not run: {why}", *notes])))
    if not names:
        status = run.aborted or ("; ".join(run.errors[:1]) or "ran, but it has no exercise checks")
        rows.append(GradeRow(student, path.name, "(notebook)", not run.aborted and not run.errors, status))
    return rows


def grade_folder(
    submissions: Path,
    timeout: float = 600,
    only: list[str] | None = None,
    solutions: Path | None = ROOT / "notebooks",
    cwd: Path | None = None,
    echo: bool = True,
) -> list[GradeRow]:
    """Grade every ``<student>/<NN_x>.ipynb`` under ``submissions``; exercise rows then a TOTAL per student."""
    rows: list[GradeRow] = []
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
            new = grade_notebook(student_dir.name, path, timeout, solutions, cwd)
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
        summary = f"{passed} of {len(exercises)} exercises passed" + (f" ({per_nb})" if per_nb else " (no notebooks)")
        rows += student_rows
        rows.append(GradeRow(student_dir.name, "ALL", "TOTAL", f"{passed}/{len(exercises)}", summary))
    return rows


def write_csv(rows: list[GradeRow], out: Path) -> None:
    """Write the grade rows as CSV with the header ``student,notebook,exercise,passed,message``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_FIELDS)
        for r in rows:
            w.writerow([r.student, r.notebook, r.exercise, r.passed, r.message])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m course_tools.grade", description=__doc__.split("\n\n")[0])
    ap.add_argument("submissions", type=Path, help="folder with one sub-folder of notebooks per student")
    ap.add_argument("--out", type=Path, default=Path("grades.csv"), help="CSV to write (default grades.csv)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per notebook, all cells together (default 600)")
    ap.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 03")
    ap.add_argument(
        "--solutions", type=Path, default=ROOT / "notebooks",
        help="solution notebooks: which exercises to expect (default notebooks/); 'none' to skip",
    )
    ap.add_argument("--cwd", type=Path, help="working folder of every kernel (default: the notebook's folder)")
    args = ap.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"no such folder: {args.submissions}", file=sys.stderr)
        return 2
    solutions = None if str(args.solutions).lower() == "none" else args.solutions
    if sys.platform == "win32":  # pragma: no cover - zmq needs the selector loop on Windows
        asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())
    rows = grade_folder(args.submissions, args.timeout, args.only, solutions, args.cwd)
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
