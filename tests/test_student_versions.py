"""Student versions: no solution text survives, outputs are cleared, the exercise section keeps its cells (its
checks on the blank stubs are run by tests/test_wrong_answers.py)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_tools.student import make_student_version

ROOT = Path(__file__).resolve().parent.parent
WITH_EXERCISES = [
    p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) if "BEGIN SOLUTION" in p.read_text()
]
REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", re.S)


def _solution_regions(nb) -> list[str]:
    return [m.group(1).strip() for c in nb.cells for m in REGION.finditer(c.source)]


def _exercise_cells(nb) -> list:
    """Cells from the '## Exercises' heading to the next level-2 heading (the exercises run on their own)."""
    start = next(
        (
            i
            for i, c in enumerate(nb.cells)
            if c.cell_type == "markdown" and c.source.lstrip().startswith("## Exercises")
        ),
        None,
    )
    assert start is not None, "a notebook with exercises needs a '## Exercises' section"
    cells = []
    for c in nb.cells[start + 1 :]:
        if c.cell_type == "markdown" and re.match(r"\s*## ", c.source):
            break
        cells.append(c)
    return cells


def test_there_are_notebooks_with_exercises():
    assert WITH_EXERCISES, "no notebook marks an exercise with ### BEGIN SOLUTION"


@pytest.mark.parametrize("src", WITH_EXERCISES, ids=lambda p: p.name)
def test_student_version_blanks_solutions_and_checks_fail(src, tmp_path):
    solution_nb = nbformat.read(src, as_version=4)
    regions = _solution_regions(solution_nb)
    assert regions, f"{src.name}: no solution region"
    student_path = make_student_version(src, tmp_path)
    student_nb = nbformat.read(student_path, as_version=4)
    text = "\n".join(c.source for c in student_nb.cells)
    for region in regions:
        assert region not in text, f"solution text left in the student version: {region[:60]!r}"
    assert "raise NotImplementedError()" in text
    assert all(not c.get("outputs") for c in student_nb.cells if c.cell_type == "code")

    # Running the stubs is tests/test_wrong_answers.py's job: its runner runs this student version's answer cells
    # with the solution notebook's exercise section and requires "not attempted" from every check. The lesson's
    # cells are the solution notebook's, which nbval runs top to bottom.
    exercise_cells = _exercise_cells(student_nb)
    assert len(exercise_cells) == len(_exercise_cells(solution_nb))
    assert any("raise NotImplementedError()" in c.source for c in exercise_cells)
