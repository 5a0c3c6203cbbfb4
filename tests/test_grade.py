"""The grader: two fake submissions (one right, one wrong) made from a small solution notebook."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import nbformat
import pytest

from course_tools import grade
from course_tools.student import make_student_version

NB_NAME = "01_fixture.ipynb"

SETUP = "from course_utils import checks"
EX_DOUBLE = '''def double(x):
    """Return twice x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION'''
CHECK_DOUBLE = '# NBVAL_CHECK_OUTPUT\nchecks.check_function("ex-double", double, [((1,), 2), ((3,), 6)], hint="multiply by two")'
EX_HEAD = '''def head(xs):
    """Return the first item."""
    ### BEGIN SOLUTION
    return xs[0]
    ### END SOLUTION'''
CHECK_HEAD = '# NBVAL_CHECK_OUTPUT\nchecks.check_predicate("ex-head", lambda: head([5, 6]), lambda v: v == 5, hint="index 0")'


def _solution(folder: Path) -> Path:
    """A tiny solution notebook following the course's exercise convention."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 · Fixture\n\nA notebook made by the test."),
        nbformat.v4.new_markdown_cell("## Exercises"),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell(EX_DOUBLE),
        nbformat.v4.new_code_cell(CHECK_DOUBLE),
        nbformat.v4.new_code_cell(EX_HEAD),
        nbformat.v4.new_code_cell(CHECK_HEAD),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NB_NAME
    nbformat.write(nb, path)
    return path


def _fill(student_nb: Path, dest: Path, answers: dict[str, str]) -> Path:
    """Copy the student version with the stub of each function named in ``answers`` replaced."""
    nb = nbformat.read(student_nb, as_version=4)
    for cell in nb.cells:
        for fn, body in answers.items():
            if cell.cell_type == "code" and cell.source.startswith(f"def {fn}("):
                assert "raise NotImplementedError()" in cell.source
                cell.source = cell.source.replace("raise NotImplementedError()", body)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


@pytest.fixture(scope="module")
def classroom(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("class")
    solution = _solution(root / "solutions")
    student = make_student_version(solution, root / "student")
    subs = root / "submissions"
    _fill(student, subs / "alice" / NB_NAME, {"double": "return x * 2", "head": "return xs[0]"})
    _fill(student, subs / "bob" / NB_NAME, {"double": "return x + 2"})  # wrong; head left blank
    return {"root": root, "solutions": solution.parent, "submissions": subs}


@pytest.fixture(scope="module")
def graded(classroom) -> list[dict[str, str]]:
    out = classroom["root"] / "grades.csv"
    rc = grade.main([str(classroom["submissions"]), "--out", str(out), "--timeout", "120",
                     "--solutions", str(classroom["solutions"])])
    assert rc == 0
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(grade.CSV_FIELDS)
    return rows


def _row(rows, student, exercise):
    (row,) = [r for r in rows if r["student"] == student and r["exercise"] == exercise]
    return row


def test_right_submission_passes_every_exercise(graded):
    assert _row(graded, "alice", "ex-double")["passed"] == "True"
    assert _row(graded, "alice", "ex-head")["passed"] == "True"
    total = _row(graded, "alice", "TOTAL")
    assert total["passed"] == "2/2" and total["notebook"] == "ALL"


def test_wrong_submission_fails_with_the_checks_message(graded):
    double = _row(graded, "bob", "ex-double")
    assert double["passed"] == "False"
    assert "double(1)" in double["message"] and "Hint: multiply by two" in double["message"]
    head = _row(graded, "bob", "ex-head")
    assert head["passed"] == "False" and "not attempted yet" in head["message"]
    assert _row(graded, "bob", "TOTAL")["passed"] == "0/2"


def test_csv_has_one_row_per_exercise_and_student(graded):
    assert sorted((r["student"], r["exercise"]) for r in graded) == sorted(
        (s, e) for s in ("alice", "bob") for e in ("ex-double", "ex-head", "TOTAL")
    )
    assert all(r["notebook"] == NB_NAME for r in graded if r["exercise"] != "TOTAL")


def test_deleted_check_cell_timeout_and_dead_kernel_are_reported(classroom, tmp_path):
    student = classroom["root"] / "student" / NB_NAME
    carol = _fill(student, tmp_path / "subs" / "carol" / NB_NAME, {"double": "return 2 * x"})
    nb = nbformat.read(carol, as_version=4)
    nb.cells = [c for c in nb.cells if "ex-head" not in c.source]  # carol deleted the second check
    nbformat.write(nb, carol)
    hang = nbformat.read(student, as_version=4)  # dave's notebook hangs before the checks
    hang.cells.insert(2, nbformat.v4.new_code_cell("import time\ntime.sleep(60)"))
    (tmp_path / "subs" / "dave").mkdir()
    nbformat.write(hang, tmp_path / "subs" / "dave" / NB_NAME)

    crash = nbformat.read(student, as_version=4)  # erin's kernel dies before the checks
    crash.cells.insert(2, nbformat.v4.new_code_cell("import os\nos._exit(3)"))
    (tmp_path / "subs" / "erin").mkdir()
    nbformat.write(crash, tmp_path / "subs" / "erin" / NB_NAME)

    rows = grade.grade_folder(tmp_path / "subs", timeout=8, solutions=classroom["solutions"], echo=False)
    by = {(r.student, r.exercise): r for r in rows}
    assert by["carol", "ex-double"].passed is True
    assert by["carol", "ex-head"].passed is False
    assert "check cell is missing" in by["carol", "ex-head"].message
    assert by["carol", "TOTAL"].passed == "1/2"
    for ex in ("ex-double", "ex-head"):
        assert by["dave", ex].passed is False and "timed out after 8 s" in by["dave", ex].message
        assert by["erin", ex].passed is False and "kernel died" in by["erin", ex].message
    assert by["erin", "TOTAL"].passed == "0/2"


def test_check_names_reads_literal_names():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('checks.check_function("a", f, [])\nchecks.check_predicate(\n    \'b\', g, p)'),
        nbformat.v4.new_markdown_cell('checks.check_function("not-code", f, [])'),
    ])
    assert list(grade.check_names(nb)) == ["a", "b"]


COURSE_WITH_EXERCISES = [
    p for p in sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if "BEGIN SOLUTION" in p.read_text(encoding="utf-8")
]


@pytest.mark.parametrize("path", COURSE_WITH_EXERCISES, ids=lambda p: p.name[:2])
def test_grader_knows_every_check_of_the_course(path):
    """Every check call in a course notebook names its exercise with a literal, unique string."""
    nb = nbformat.read(path, as_version=4)
    calls = sum(
        len(re.findall(r"(?<!def )\bcheck_(?:function|predicate)\(", c.source)) for c in nb.cells if c.cell_type == "code"
    )
    names = grade.check_names(nb)
    assert len(names) == calls > 0, f"{path.name}: {calls} check calls but names {list(names)}"
