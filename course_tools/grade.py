"""Grade a folder of handed-in notebooks (``SUBMISSIONS/<student>/NN_x.ipynb``) with the instructor's checks.

Record, then judge: from the solution notebook of the same name the grader takes the setup cells (tagged
``grader-setup``, then the ``## Exercises`` section's own), the functions each exercise asks for and the check
cells; from the submission only the top-level imports, functions, classes and constant assignments (no other
cell runs). A checker process runs the instructor's cells with each student function replaced by a proxy into
one sandbox process per notebook (``course_tools.sandbox``), which runs the student's code on the check's
arguments and answers with plain data; the check judges it in the checker, which reports through a file in a
private folder. INSTRUCTORS.md describes the guarantees and the CSV. Usage (``make grade`` runs it)::

    python -m course_tools.grade SUBMISSIONS --out grades.csv [--timeout 600] [--jobs 2] [--only 01 03]
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from pathlib import Path

from course_utils.paths import ROOT

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
CSV_FIELDS = ("student", "notebook", "exercise", "passed", "message")
SETUP_TAG = "grader-setup"

#: ``checks.check_function("ex-name", ...)`` / ``check_predicate('ex-name', ...)``: the literal name.
_CHECK_CALL = re.compile(r"check_(?:function|predicate)\(\s*(?:name\s*=\s*)?[\"']([^\"']+)[\"']")

__all__ = ["GradeRow", "check_names", "grading_job", "run_checks", "grade_notebook", "grade_folder", "main"]


@dataclass(frozen=True)
class GradeRow:
    """One row of the grades CSV."""

    student: str
    notebook: str
    exercise: str
    passed: bool | str
    message: str


def check_names(nb) -> dict[str, str]:
    """Exercise names checked by a notebook, in order, mapped to the source of the cell that checks them."""
    names: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
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


def grader_setup(nb) -> list[str]:
    """Sources of the code cells outside the exercise section tagged ``grader-setup`` (in notebook order): the
    lesson's set-up the exercises need, run by the grader before the section instead of repeated in it."""
    section = {id(c) for c in exercise_section(nb)}
    return [
        _python(c.source)
        for c in nb.cells
        if c.cell_type == "code" and SETUP_TAG in c.metadata.get("tags", []) and id(c) not in section
    ]


DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _constant(node: ast.AST) -> bool:
    """An assignment that calls nothing (``GATES = ("z", "r", "n")``) may stay."""
    return isinstance(node, (ast.Assign, ast.AnnAssign)) and not any(
        isinstance(n, (ast.Call, ast.Lambda, ast.NamedExpr, ast.Await)) for n in ast.walk(node)
    )


def grading_job(solution, submission) -> dict:
    """What the checker needs: the solution's exercise section as steps (one per cell: setup, answer or check),
    its ``grader-setup`` cells, and the submission's top-level imports, functions, classes and constants."""
    steps = []
    for cell in exercise_section(solution):
        source = _python(cell.source)
        if "BEGIN SOLUTION" in source:
            names = [n.name for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
            steps.append({"kind": "answer", "names": names})
        elif _CHECK_CALL.search(source):
            steps.append({"kind": "check", "names": _CHECK_CALL.findall(source), "source": source})
        else:
            steps.append({"kind": "setup", "source": source})
    preamble = grader_setup(solution)
    kept, failed = [], []
    for i, cell in enumerate(submission.cells):
        if cell.cell_type != "code" or cell.source.lstrip().startswith("%%"):  # cell magics are not Python
            continue
        source = _python(cell.source)
        try:
            tree = ast.parse(source)
        except SyntaxError as e:
            failed.append(f"cell {i + 1}: SyntaxError: {e.msg} (line {e.lineno})")
            continue
        lines = source.splitlines()
        for node in tree.body:
            if isinstance(node, DEFINITIONS) or _constant(node):
                start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
                kept.append((node, "\n".join(lines[start - 1 : node.end_lineno])))
    answers = {name for step in steps if step["kind"] == "answer" for name in step["names"]}
    return {
        "preamble": preamble,
        "steps": steps,
        "setup": "\n\n".join([*preamble, *(s["source"] for s in steps if s["kind"] == "setup")]),
        "definitions": _used_by(kept, answers),
        "failed": failed,
    }


def _used_by(statements: list[tuple[ast.stmt, str]], names: set[str]) -> list[str]:
    """The statements that bind ``names`` or, transitively, a name that those statements use, in order: the
    sandbox then imports only what the answers need (not the lesson's TensorFlow when an answer uses NumPy)."""
    need, keep = set(names), [False] * len(statements)
    while True:
        new = [
            i
            for i, (node, _) in enumerate(statements)
            if not keep[i] and (_binds(node) & need or "*" in _binds(node))
        ]
        if not new:
            return [source for k, (_, source) in zip(keep, statements, strict=True) if k]
        for i in new:
            keep[i] = True
            need |= {n.id for n in ast.walk(statements[i][0]) if isinstance(n, ast.Name)}


def _binds(node: ast.stmt) -> set[str]:
    """Top-level names a definition, import or assignment binds."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _checker(job_path: str, result_path: str) -> None:
    """The checker process: instructor code only; student functions are proxies into one sandbox."""
    from course_tools.sandbox import Remote, Sandbox, stand_ins
    from course_utils import checks

    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    sandbox = Sandbox(job["setup"], job["definitions"], job["call_timeout"], job["as_nobody"], job["failed"])
    sandbox.start()  # its imports and setup run while this process runs its own
    code = stand_ins(job["definitions"])
    namespace: dict = {"__name__": "__main__"}
    results: list[dict] = []
    steps = [{"kind": "setup", "source": s} for s in job["preamble"]] + job["steps"]
    try:
        for step in steps:
            if step["kind"] == "answer":
                namespace.update({name: Remote(sandbox, name, code.get(name)) for name in step["names"]})
                continue
            before = len(checks.RESULTS)
            try:
                exec(compile(step["source"], f"<{step['kind']} cell>", "exec"), namespace)
            except Exception as e:  # noqa: BLE001 - an instructor cell that cannot run is reported
                why = f"check could not run: {type(e).__name__}: {e}"
                results += [{"name": n, "passed": False, "message": why} for n in step.get("names", [])]
            results += [
                {"name": r.name, "passed": bool(r), "message": r.message} for r in checks.RESULTS[before:]
            ]
            Path(result_path).write_text(json.dumps(results), encoding="utf-8")
    finally:
        sandbox.close()


def run_checks(submission: Path, solution: Path, timeout: float, call_timeout=60.0) -> tuple[list[dict], str]:
    """Grade one submission against one solution notebook in a checker process within ``timeout`` s; return
    the checks' results and why the run stopped early ("" when it did not)."""
    import nbformat

    from course_tools.sandbox import drops_to_nobody, kill_tree

    job = grading_job(nbformat.read(solution, as_version=4), nbformat.read(submission, as_version=4))
    job.update(call_timeout=min(call_timeout, timeout), as_nobody=drops_to_nobody())
    with tempfile.TemporaryDirectory(prefix="course_grade_") as private:  # 0700: the sandbox cannot reach it
        job_path, result_path = Path(private, "job.json"), Path(private, "result.json")
        job_path.write_text(json.dumps(job), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "COURSE_CHECKS_LOG"}
        env.update(MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        cmd = [sys.executable, "-m", "course_tools.grade", "--checker", str(job_path), str(result_path)]
        with tempfile.TemporaryFile() as log:
            proc = subprocess.Popen(
                cmd, cwd=private, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                proc.wait(timeout=timeout)
                aborted = ""
            except subprocess.TimeoutExpired:
                aborted = f"grading timed out after {timeout:g} s"
            finally:
                kill_tree(proc, group=True)  # the checker, its sandbox and whatever they started
            if proc.returncode != 0 and not aborted:
                log.seek(0)
                lines = [ln for ln in log.read(1 << 20).decode(errors="replace").splitlines() if ln.strip()]
                aborted = "the checker failed" + (f" ({lines[-1][:160]})" if lines else "")
        try:
            return json.loads(result_path.read_text(encoding="utf-8")), aborted
        except (OSError, ValueError):
            return [], aborted


def grade_notebook(
    student: str, path: Path, timeout: float, solutions: Path | None = None, call_timeout: float = 60.0
) -> list[GradeRow]:
    """Grade one submitted notebook with the solution's checks; every expected exercise gets a row."""
    import nbformat

    solution = (solutions or ROOT / "notebooks") / path.name
    try:
        reference = check_names(nbformat.read(solution, as_version=4))
        submitted = check_names(nbformat.read(path, as_version=4))
    except Exception as e:  # noqa: BLE001 - a missing or unreadable notebook is a row, not a crash
        return [GradeRow(student, path.name, "(notebook)", False, f"cannot grade: {type(e).__name__}: {e}")]
    results, aborted = run_checks(path, solution, timeout, call_timeout) if reference else ([], "")
    last = {str(r.get("name", "")): r for r in results}  # a check run twice counts once, the last
    rows = []
    for name in reference:
        entry = last.get(name, {"passed": False, "message": f"check did not run: {aborted or 'no result'}"})
        notes = [str(entry.get("message", ""))]
        if name not in submitted:
            notes.append("note: the submission had deleted this check cell (the solution's check ran)")
        elif _normalise(reference[name]) != _normalise(submitted[name]):
            notes.append("note: the submission's check cell was edited (the solution's check ran)")
        rows.append(
            GradeRow(student, path.name, name, entry.get("passed") is True, "; ".join(notes).strip("; "))
        )
    return rows or [GradeRow(student, path.name, "(notebook)", False, "the solution notebook has no checks")]


def grade_folder(
    submissions: Path,
    timeout: float = 600,
    only: list[str] | None = None,
    solutions: Path | None = ROOT / "notebooks",
    echo: bool = True,
    jobs: int = 1,
    call_timeout: float = 60.0,
) -> list[GradeRow]:
    """Grade every ``<student>/<NN_x>.ipynb`` under ``submissions``, ``jobs`` notebooks at a time; exercise
    rows, then a TOTAL row per student."""
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    work = [
        (s.name, p)
        for s in students
        for p in sorted(s.glob(NOTEBOOK_GLOB))
        if not only or any(p.name.startswith(o) for o in only)
    ]

    def grade(item: tuple[str, Path]) -> list[GradeRow]:
        t0 = time.perf_counter()
        rows = grade_notebook(*item, timeout, solutions, call_timeout)
        if echo:
            ok = sum(r.passed is True for r in rows)
            print(f"{item[0]}/{item[1].name}: {ok}/{len(rows)} passed in {time.perf_counter() - t0:.0f} s")
        return rows

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        graded = dict(zip(work, pool.map(grade, work), strict=True))
    rows: list[GradeRow] = []
    for student in students:
        mine = [item for item in work if item[0] == student.name]
        exercises = [r for item in mine for r in graded[item] if r.exercise != "(notebook)"]
        passed = sum(r.passed is True for r in exercises)
        per_nb = ", ".join(
            f"{p.name[:2]}: {sum(r.passed is True for r in exercises if r.notebook == p.name)}"
            f"/{sum(r.notebook == p.name for r in exercises)}"
            for _, p in mine
        )
        rows += [r for item in mine for r in graded[item]]
        summary = f"{passed} of {len(exercises)} exercises passed ({per_nb or 'no notebooks'})"
        rows.append(GradeRow(student.name, "ALL", "TOTAL", f"{passed}/{len(exercises)}", summary))
    return rows


def write_csv(rows: list[GradeRow], out: Path) -> None:
    """Write the grade rows as CSV with the header ``student,notebook,exercise,passed,message``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_FIELDS)
        w.writerows(map(astuple, rows))


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--checker":  # the checker process (internal)
        _checker(sys.argv[2], sys.argv[3])
        return 0
    ap = argparse.ArgumentParser(prog="python -m course_tools.grade", description=__doc__.split("\n\n")[0])
    ap.add_argument("submissions", type=Path, help="folder with one sub-folder of notebooks per student")
    ap.add_argument("--out", type=Path, default=Path("grades.csv"), help="CSV to write (default grades.csv)")
    ap.add_argument(
        "--timeout", type=float, default=600, help="seconds per notebook, all checks (default 600)"
    )
    ap.add_argument("--call-timeout", type=float, default=60, help="seconds per call of a student function")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks graded at a time (default 1)")
    ap.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 03")
    ap.add_argument(
        "--solutions", type=Path, default=ROOT / "notebooks", help="solution notebooks (default notebooks/)"
    )
    args = ap.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"no such folder: {args.submissions}", file=sys.stderr)
        return 2
    rows = grade_folder(
        args.submissions,
        args.timeout,
        args.only,
        args.solutions,
        jobs=args.jobs,
        call_timeout=args.call_timeout,
    )
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
