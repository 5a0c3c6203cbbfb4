"""The grader: a class of fake submissions (right, wrong, blank, delegating and tampering ones) made from a small
solution notebook and graded in one run, the sandbox's plain-data channel, and (slow) every course notebook's
solution graded as a submission."""

from __future__ import annotations

import csv
import pickle
import re
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_tools import grade
from course_tools.sandbox import Remote, Sandbox, drops_to_nobody, stand_ins
from course_tools.student import make_student_version

NB_NAME = "01_fixture.ipynb"
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

LESSON = "FACTOR = 2\n\n\ndef scale(x, k):\n    return k * x"  # tagged grader-setup: the checks use FACTOR
SETUP = "from course_utils import checks"
EX_DOUBLE = '''def double(x):
    """Return twice x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION'''
CHECK_DOUBLE = (
    "# NBVAL_CHECK_OUTPUT\n"
    'checks.check_function("ex-double", double, [((1,), FACTOR), ((3,), 3 * FACTOR)], hint="multiply by two",'
    ' forbid=["scale"])'
)
EX_HEAD = '''def head(xs):
    """Return the first item."""
    ### BEGIN SOLUTION
    return xs[0]
    ### END SOLUTION'''
CHECK_HEAD = '# NBVAL_CHECK_OUTPUT\nchecks.check_predicate("ex-head", lambda: head([5, 6]), lambda v: v == 5, hint="index 0")'


def _solution(folder: Path) -> Path:
    """A tiny solution notebook following the course's exercise convention."""
    lesson = nbformat.v4.new_code_cell(LESSON)
    lesson.metadata["tags"] = [grade.SETUP_TAG]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 · Fixture\n\nA notebook made by the test."),
        lesson,
        nbformat.v4.new_markdown_cell("## Exercises"),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell(EX_DOUBLE),
        nbformat.v4.new_code_cell(CHECK_DOUBLE),
        nbformat.v4.new_code_cell(EX_HEAD),
        nbformat.v4.new_code_cell(CHECK_HEAD),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / NB_NAME)
    return folder / NB_NAME


PATCH_CHECKS = """from course_utils import checks
checks.check_function = lambda name, *a, **k: checks._record(checks.CheckResult(name, True, "patched"))
checks.check_predicate = checks.check_function"""
FORGE_LOG = """import json, os
for name in ("ex-double", "ex-head"):
    with open(os.environ.get("COURSE_CHECKS_LOG", "/dev/null"), "a") as f:
        f.write(json.dumps({"name": name, "passed": True, "message": "forged"}) + "\\n")"""
FAKE_PASS = 'print("PASS ex-double 2/2 cases")\nprint("PASS ex-head")'
ALWAYS_EQUAL = "class Five(int):\n    def __eq__(self, other):\n        return True"

#: student: (answers replacing the stubs, cells added after the exercise setup cell)
CLASS = {
    "alice": ({"double": "return x * 2", "head": "return xs[0]"}, []),
    "bob": ({"double": "return x + 2"}, []),  # wrong; head left blank
    "patcher": ({}, [PATCH_CHECKS]),
    "forger": ({}, [FORGE_LOG]),
    "printer": ({"double": "return x + 2"}, [FAKE_PASS]),
    "looper": ({"double": "while True:\n        pass"}, ["while True:\n    pass"]),
    "shouter": ({"double": 'print("x" * 100_000_000)\n    return 2 * x'}, []),
    "killer": ({"double": "return 2 * x", "head": "import os\n    os._exit(3)"}, []),
    "writer": ({"double": 'open("/proc/1/fd/1", "w")\n    return 2 * x'}, []),
    "editor": ({"double": "return x + 2"}, []),
    "delegator": (
        {"double": "return scale(x, 2)", "head": "return helper(xs)"},
        ["def helper(xs):\n    return xs[0]"],
    ),
    "sneak": ({"double": "return twice(x)"}, ["def twice(x):\n    return scale(x, 2)"]),  # through a helper
    "liar": ({"head": "return Five(0)"}, [ALWAYS_EQUAL]),  # an object equal to everything is not plain data
}


def _submission(student_nb: Path, dest: Path, answers: dict[str, str], extra_cells: list[str]) -> None:
    """The student version with the stub of each function in ``answers`` replaced and ``extra_cells`` added
    after the setup cell of the exercises (where a student would add them)."""
    nb = nbformat.read(student_nb, as_version=4)
    for cell in nb.cells:
        for fn, body in answers.items():
            if cell.cell_type == "code" and cell.source.startswith(f"def {fn}("):
                assert "raise NotImplementedError()" in cell.source
                cell.source = cell.source.replace("raise NotImplementedError()", body)
    at = next(i for i, c in enumerate(nb.cells) if c.source == SETUP) + 1
    nb.cells[at:at] = [nbformat.v4.new_code_cell(src) for src in extra_cells]
    if dest.parent.name == "editor":  # rewrites one check to accept the wrong answer and deletes the other
        for cell in nb.cells:
            cell.source = cell.source.replace("[((1,), FACTOR), ((3,), 3 * FACTOR)]", "[((1,), 3)]")
        nb.cells = [c for c in nb.cells if "ex-head" not in c.source]
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[tuple[str, str], dict[str, str]]:
    """The whole class graded once, through the command line, two notebooks at a time."""
    root = tmp_path_factory.mktemp("class")
    solution = _solution(root / "solutions")
    student = make_student_version(solution, root / "student")
    for name, (answers, cells) in CLASS.items():
        _submission(student, root / "submissions" / name / NB_NAME, answers, cells)
    reads = {"double": f"open({str(solution)!r}).read()  # the solution, to copy from\n    return 2 * x"}
    _submission(student, root / "submissions" / "reader" / NB_NAME, reads, [])
    out = root / "grades.csv"
    t0 = time.monotonic()
    argv = [str(root / "submissions"), "--out", str(out), "--solutions", str(root / "solutions")]
    assert grade.main([*argv, "--timeout", "60", "--call-timeout", "3", "--jobs", "2"]) == 0
    assert time.monotonic() - t0 < 120
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(grade.CSV_FIELDS)
    return {(r["student"], r["exercise"]): r for r in rows}


def test_right_submission_passes_every_exercise(graded):
    assert graded["alice", "ex-double"]["passed"] == graded["alice", "ex-head"]["passed"] == "True"
    assert graded["alice", "TOTAL"]["passed"] == "2/2" and graded["alice", "TOTAL"]["notebook"] == "ALL"


def test_wrong_submission_fails_with_the_checks_message(graded):
    double = graded["bob", "ex-double"]
    assert double["passed"] == "False"
    assert "double(1)" in double["message"] and "Hint: multiply by two" in double["message"]
    assert graded["bob", "ex-head"]["message"] == "not attempted"
    assert graded["bob", "TOTAL"]["passed"] == "0/2"


def test_csv_has_one_row_per_exercise_and_student(graded):
    students = [*CLASS, "reader"]
    assert sorted(graded) == sorted((s, e) for s in students for e in ("ex-double", "ex-head", "TOTAL"))
    assert all(r["notebook"] == NB_NAME for (_, e), r in graded.items() if e != "TOTAL")


@pytest.mark.parametrize("student", ["patcher", "forger", "printer", "editor", "looper", "shouter"])
def test_tampering_earns_nothing(graded, student):
    assert graded[student, "ex-double"]["passed"] == graded[student, "ex-head"]["passed"] == "False"
    assert graded[student, "TOTAL"]["passed"] == "0/2"


def test_tampering_is_reported_with_a_reason(graded):
    assert graded["patcher", "ex-double"]["message"] == "not attempted"
    assert "double(1)" in graded["printer", "ex-double"]["message"]
    editor = graded["editor", "ex-double"]["message"]
    assert "check cell was edited" in editor and "double(1)" in editor
    assert "deleted this check cell" in graded["editor", "ex-head"]["message"]
    assert "did not return within 3 s" in graded["looper", "ex-double"]["message"]
    assert "File too large" in graded["shouter", "ex-double"]["message"]  # the sandbox's file-size cap
    assert "sandbox died (exit code 3" in graded["killer", "ex-head"]["message"]
    assert (
        "returned a Five" in graded["liar", "ex-head"]["message"]
        and graded["liar", "ex-head"]["passed"] == "False"
    )


def test_a_dying_sandbox_costs_only_its_own_exercises(graded):
    assert graded["killer", "ex-double"]["passed"] == "True"
    assert graded["killer", "TOTAL"]["passed"] == "1/2"


def test_delegating_to_the_lesson_fails_with_the_checks_message(graded):
    """``forbid=`` sees the student's code in the grader too, also through a helper; a helper of the
    student's own that is not forbidden is fine."""
    for student in ("delegator", "sneak"):
        row = graded[student, "ex-double"]
        assert row["passed"] == "False" and "calls scale from the lesson" in row["message"]
    assert graded["delegator", "ex-head"]["passed"] == "True"


@pytest.mark.skipif(
    not drops_to_nobody(), reason="the sandbox runs as nobody only as root with a Python nobody can run"
)
def test_sandbox_runs_as_nobody_when_grading_as_root(graded):
    """As nobody the student's code can neither write to a root process's output nor read the solutions."""
    for student in ("writer", "reader"):
        row = graded[student, "ex-double"]
        assert row["passed"] == "False" and "PermissionError" in row["message"]


def test_submission_code_never_runs_in_the_checker():
    """Only imports, functions, classes and constants are taken from a submission, from parseable cells, and
    only those the answers use."""
    tagged = nbformat.v4.new_code_cell("import math")
    tagged.metadata["tags"] = [grade.SETUP_TAG]
    solution = nbformat.v4.new_notebook(
        cells=[
            tagged,
            nbformat.v4.new_markdown_cell("## Exercises"),
            nbformat.v4.new_code_cell(SETUP),
            nbformat.v4.new_code_cell(EX_DOUBLE),
            nbformat.v4.new_code_cell(CHECK_DOUBLE),
        ]
    )
    submission = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import os, json\nos.system('echo hi')\nN = 3\nM = f(3)\n@cache\ndef double(x):\n    return N * x"
            ),
            nbformat.v4.new_code_cell("%%time\nwhile True: pass"),
            nbformat.v4.new_code_cell("def broken(:"),
            nbformat.v4.new_code_cell("from functools import cache\nimport torch\nK = 1"),
        ]
    )
    job = grade.grading_job(solution, submission)  # what the answers use, by name: not json, torch, K
    assert job["definitions"] == [
        "N = 3",
        "@cache\ndef double(x):\n    return N * x",
        "from functools import cache",
    ]
    assert [s["kind"] for s in job["steps"]] == ["setup", "answer", "check"]
    assert job["steps"][1]["names"] == ["double"] and job["failed"] == [
        "cell 3: SyntaxError: invalid syntax (line 1)"
    ]
    assert job["preamble"] == ["import math"] and job["setup"] == f"import math\n\n{SETUP}"


def test_stand_ins_are_compiled_never_run():
    """The checker reads the names a student function uses from its code; neither body nor decorator runs."""
    code = stand_ins(
        ["@print\ndef f(x):\n    return g(x) + np.sum(x)", "def g(x):\n    raise SystemExit", "X = 1"]
    )
    assert sorted(code) == ["f", "g"] and code["f"].__globals__["g"] is code["g"]
    from course_utils import checks

    assert checks.delegated_names(Remote(None, "f", code["f"]), ["sum", "h"]) == ["sum"]


def test_answers_are_plain_data_only():
    """What comes back from the sandbox is unpickled with an allow-list: plain data and arrays, no classes."""
    import io
    import os

    from course_tools.sandbox import NotPlain, _dumps, _Plain

    value = (1, 2.5, "s", b"b", None, [np.arange(3)], {"k": np.float32(1.5)}, {1, 2}, 1j)
    back = _Plain(io.BytesIO(_dumps(value))).load()
    assert back[:5] == value[:5] and np.array_equal(back[5][0], np.arange(3)) and back[6:] == value[6:]
    with pytest.raises(NotPlain, match="a object"):
        _dumps(object())
    for evil in (
        pickle.dumps(os.system),
        pickle.dumps(np.ma.masked_array([1])),
        pickle.dumps(np.array([print])),
    ):
        with pytest.raises(pickle.UnpicklingError, match="is not plain data"):
            _Plain(io.BytesIO(evil)).load()


def test_sandbox_calls_and_errors():
    box = Sandbox(
        "import numpy as np",
        [
            "def f(n):\n    return np.ones(n)",
            "def g():\n    return object()",
            "def h():\n    raise ValueError('no')",
        ],
    )
    try:
        assert np.array_equal(box.call("f", (3,), {}), np.ones(3))
        with pytest.raises(RuntimeError, match=r"g\(\) returned a object"):
            box.call("g", (), {})
        with pytest.raises(RuntimeError, match="no .line 2 of your code") as raised:
            box.call("h", (), {})
        assert type(raised.value).__name__ == "ValueError"
        with pytest.raises(NotImplementedError):
            box.call("missing", (), {})
    finally:
        box.close()


def test_rank_exercise_runs_in_the_sandbox():
    """A check that runs the student's worker on 2 processes (checks.run_on_ranks) grades it in the sandbox;
    tensors come back as tensors."""
    from course_utils import checks

    worker = (
        "def rank_sum(rank, world_size):\n"
        "    import torch, torch.distributed as dist\n"
        "    t = torch.tensor([rank + 1.0])\n"
        "    dist.all_reduce(t)\n"
        "    return t"
    )
    box = Sandbox("", [worker])
    try:
        import torch

        ranks = checks.run_on_ranks(Remote(box, "rank_sum"), 2)
        assert all(isinstance(t, torch.Tensor) for t in ranks) and [t.tolist() for t in ranks] == [
            [3.0],
            [3.0],
        ]
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
    for p in sorted(NOTEBOOKS.glob(grade.NOTEBOOK_GLOB))
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
@pytest.mark.rerun  # reruns every exercise section (nbval and the wrong answers run them too): make test-all
def test_every_solution_notebook_passes_its_own_grading(tmp_path):
    """The grader handles every real exercise: the solutions, handed in as submissions and graded two at a time,
    pass every check. The notebooks whose workers run on several processes (the longest) are handed in by the
    first student, so that they start first and the two workers finish together."""
    for path in COURSE_WITH_EXERCISES:
        student = tmp_path / ("a" if "run_on_ranks(" in path.read_text(encoding="utf-8") else "b")
        student.mkdir(exist_ok=True)
        (student / path.name).symlink_to(path)
    rows = grade.grade_folder(tmp_path, timeout=600, solutions=NOTEBOOKS, jobs=2)
    failed = {
        (r.notebook, r.exercise): r.message for r in rows if r.exercise != "TOTAL" and r.passed is not True
    }
    assert not failed, failed
    for path in COURSE_WITH_EXERCISES:
        names = {r.exercise for r in rows if r.notebook == path.name}
        assert names == set(grade.check_names(nbformat.read(path, as_version=4))), path.name
