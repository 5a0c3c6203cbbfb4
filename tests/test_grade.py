"""The grader: two fake submissions (one right, one wrong) made from a small solution notebook."""

from __future__ import annotations

import csv
import json
import os
import re
import time
from pathlib import Path

import nbformat
import numpy as np
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
    rc = grade.main(
        [
            str(classroom["submissions"]),
            "--out",
            str(out),
            "--timeout",
            "120",
            "--solutions",
            str(classroom["solutions"]),
        ]
    )
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
    assert head["passed"] == "False" and "not attempted" in head["message"]
    assert _row(graded, "bob", "TOTAL")["passed"] == "0/2"


def test_csv_has_one_row_per_exercise_and_student(graded):
    assert sorted((r["student"], r["exercise"]) for r in graded) == sorted(
        (s, e) for s in ("alice", "bob") for e in ("ex-double", "ex-head", "TOTAL")
    )
    assert all(r["notebook"] == NB_NAME for r in graded if r["exercise"] != "TOTAL")


def _submission(
    classroom, folder: Path, student: str, answers: dict[str, str], extra_cells: list[str] = ()
) -> None:
    """``student``'s notebook: the student version with ``answers`` filled in and ``extra_cells`` appended
    after the setup cell of the exercises (where a student would add them)."""
    path = _fill(classroom["root"] / "student" / NB_NAME, folder / student / NB_NAME, answers)
    nb = nbformat.read(path, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if c.source == SETUP) + 1
    nb.cells[at:at] = [nbformat.v4.new_code_cell(src) for src in extra_cells]
    nbformat.write(nb, path)


PATCH_CHECKS = """from course_utils import checks
checks.check_function = lambda name, *a, **k: checks._record(checks.CheckResult(name, True, "patched"))
checks.check_predicate = checks.check_function"""
FORGE_LOG = """import json, os
for name in ("ex-double", "ex-head"):
    with open(os.environ.get("COURSE_CHECKS_LOG", "/dev/null"), "a") as f:
        f.write(json.dumps({"name": name, "passed": True, "message": "forged"}) + "\\n")"""
FAKE_PASS = 'print("PASS ex-double 2/2 cases")\nprint("PASS ex-head")'


@pytest.fixture(scope="module")
def tampered(classroom, tmp_path_factory) -> dict[tuple[str, str], grade.GradeRow]:
    """A class of tampering submissions (blank or wrong answers plus a trick each), graded once."""
    subs = tmp_path_factory.mktemp("tampered")
    _submission(classroom, subs, "patcher", {}, [PATCH_CHECKS])
    _submission(classroom, subs, "forger", {}, [FORGE_LOG])
    _submission(classroom, subs, "printer", {"double": "return x + 2"}, [FAKE_PASS])
    _submission(classroom, subs, "looper", {"double": "while True:\n        pass"}, ["while True:\n    pass"])
    _submission(classroom, subs, "shouter", {"double": 'print("x" * 100_000_000)\n    return 2 * x'})
    _submission(classroom, subs, "killer", {"double": "return 2 * x", "head": "import os\n    os._exit(3)"})
    _submission(classroom, subs, "writer", {"double": 'open("/proc/1/fd/1", "w")\n    return 2 * x'})
    _submission(classroom, subs, "editor", {"double": "return x + 2"})
    nb = nbformat.read(subs / "editor" / NB_NAME, as_version=4)
    for cell in nb.cells:  # the editor rewrites one check to accept the wrong answer and deletes the other
        cell.source = cell.source.replace("[((1,), 2), ((3,), 6)]", "[((1,), 3)]")
    nb.cells = [c for c in nb.cells if "ex-head" not in c.source]
    nbformat.write(nb, subs / "editor" / NB_NAME)
    t0 = time.monotonic()
    rows = grade.grade_folder(subs, timeout=90, solutions=classroom["solutions"], echo=False)
    assert time.monotonic() - t0 < 400
    return {(r.student, r.exercise): r for r in rows}


@pytest.mark.slow
@pytest.mark.parametrize("student", ["patcher", "forger", "printer", "editor"])
def test_tampering_cells_earn_nothing(tampered, student):
    assert tampered[student, "ex-double"].passed is False
    assert tampered[student, "ex-head"].passed is False
    assert tampered[student, "TOTAL"].passed == "0/2"


@pytest.mark.slow
def test_tampering_is_reported_with_a_reason(tampered):
    assert "not attempted" in tampered["patcher", "ex-double"].message
    assert "double(1)" in tampered["printer", "ex-double"].message
    editor = tampered["editor", "ex-double"]
    assert "check cell was edited" in editor.message and "double(1)" in editor.message
    assert "deleted this check cell" in tampered["editor", "ex-head"].message
    assert "did not return within" in tampered["looper", "ex-double"].message
    assert "File too large" in tampered["shouter", "ex-double"].message  # the sandbox's file-size cap
    assert "sandbox died" in tampered["killer", "ex-head"].message


@pytest.mark.slow
def test_a_dying_sandbox_does_not_cost_the_other_exercises(tampered):
    assert tampered["killer", "ex-double"].passed is True  # graded before the kill, in a fresh sandbox after
    assert tampered["killer", "TOTAL"].passed == "1/2"


@pytest.mark.slow
@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="the sandbox drops to nobody only as root"
)
def test_sandbox_runs_as_nobody_when_grading_as_root(tampered):
    writer = tampered["writer", "ex-double"]
    assert writer.passed is False and "PermissionError" in writer.message


def test_submission_code_never_runs_in_the_checker():
    """Only imports, functions and classes are taken from a submission, and only from parseable cells."""
    solution = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("## Exercises"),
            nbformat.v4.new_code_cell(SETUP),
            nbformat.v4.new_code_cell(EX_DOUBLE),
            nbformat.v4.new_code_cell(CHECK_DOUBLE),
        ]
    )
    submission = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import os\nos.system('echo hi')\n@staticmethod\ndef double(x):\n    return 2 * x"
            ),
            nbformat.v4.new_code_cell("%%time\nwhile True: pass"),
            nbformat.v4.new_code_cell("def broken(:"),
        ]
    )
    job = grade.grading_job(solution, submission)
    assert job["definitions"] == ["import os", "@staticmethod\ndef double(x):\n    return 2 * x"]
    assert [s["kind"] for s in job["steps"]] == ["setup", "answer", "check"]
    assert job["steps"][1]["names"] == ["double"] and job["unparsable_cells"] == 1


def test_sandbox_returns_plain_data_only():
    from course_tools.sandbox import Sandbox, decode, encode

    value = (1, 2.5, "s", None, [np.arange(3)], {"k": np.float32(1.5)})
    back = decode(json.loads(json.dumps(encode(value))))
    assert (
        back[:4] == (1, 2.5, "s", None) and np.array_equal(back[4][0], np.arange(3)) and back[5] == {"k": 1.5}
    )
    with pytest.raises(TypeError):
        encode(object())
    box = Sandbox("import numpy as np", ["def f(n):\n    return np.ones(n)", "def g():\n    return object()"])
    try:
        assert np.array_equal(box.call("f", (3,), {}), np.ones(3))
        with pytest.raises(Exception, match="returned a object"):
            box.call("g", (), {})
    finally:
        box.close()


def test_check_names_reads_literal_names():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "checks.check_function(\"a\", f, [])\nchecks.check_predicate(\n    'b', g, p)"
            ),
            nbformat.v4.new_markdown_cell('checks.check_function("not-code", f, [])'),
        ]
    )
    assert list(grade.check_names(nb)) == ["a", "b"]


COURSE_WITH_EXERCISES = [
    p
    for p in sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if "BEGIN SOLUTION" in p.read_text(encoding="utf-8")
]


@pytest.mark.parametrize("path", COURSE_WITH_EXERCISES, ids=lambda p: p.name[:2])
def test_grader_knows_every_check_of_the_course(path):
    """Every check call in a course notebook names its exercise with a literal, unique string."""
    nb = nbformat.read(path, as_version=4)
    calls = sum(
        len(re.findall(r"(?<!def )\bcheck_(?:function|predicate)\(", c.source))
        for c in nb.cells
        if c.cell_type == "code"
    )
    names = grade.check_names(nb)
    assert len(names) == calls > 0, f"{path.name}: {calls} check calls but names {list(names)}"


@pytest.mark.slow
@pytest.mark.parametrize("path", COURSE_WITH_EXERCISES, ids=lambda p: p.name[:2])
def test_solution_notebook_passes_its_own_grading(path):
    """The grader's proxies handle every real exercise: the solution, graded as a submission, passes all."""
    run = grade.run_checks(path, path, timeout=600)
    assert not run.aborted, run.aborted
    failed = {c["name"]: c["message"] for c in run.checks if not c["passed"]}
    assert not failed, failed
    assert {c["name"] for c in run.checks} == set(grade.check_names(nbformat.read(path, as_version=4)))


def test_rank_exercise_runs_in_the_sandbox():
    """A check that runs the student's worker on 2 processes (checks.run_on_ranks) grades it in the sandbox."""
    from course_tools.sandbox import Remote, Sandbox
    from course_utils import checks

    worker = (
        "def rank_sum(rank, world_size):\n"
        "    import torch, torch.distributed as dist\n"
        "    t = torch.tensor([rank + 1.0])\n"
        "    dist.all_reduce(t)\n"
        "    return t.item()"
    )
    box = Sandbox("", [worker])
    try:
        assert checks.run_on_ranks(Remote(box, "rank_sum"), 2) == [3.0, 3.0]
    finally:
        box.close()
