"""What the committed notebooks carry: no execution timestamps in cell metadata, no banners a learner must learn to
ignore in the stored outputs, and the hosted-runtime first cell."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: start-up chatter of TensorFlow/absl/oneDNN and of the Jupyter kernel
BANNERS = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|cpu_feature_guard|This TensorFlow binary is optimized"
    r"|Kernel is running over TCP|Unable to register cu(DNN|FFT|BLAS) factory|computation_placer"
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_no_timestamps_and_no_banners(path):
    nb = nbformat.read(path, as_version=4)
    stamped = [i for i, c in enumerate(nb.cells) if "execution" in c.metadata]
    assert not stamped, f"cells {stamped} store execution timestamps (execute with record_timing=False)"
    banners = [
        f"cell {i}: {m.group(0)}"
        for i, c in enumerate(nb.cells)
        for o in c.get("outputs", [])
        if (m := BANNERS.search(str(o.get("text", ""))))
    ]
    assert not banners, f"stored outputs carry start-up banners: {banners}"


def test_every_notebook_starts_with_the_hosted_cell():
    from course_tools import hosted_cell

    stale = hosted_cell.stale(NOTEBOOKS, hosted_cell.cell_source(ROOT))
    assert not stale, (
        f"{stale}: first code cell is not the current hosted cell (python -m course_tools.hosted_cell)"
    )


#: the lesson's budget (CONTRIBUTING): everything before the "Exercises" heading, without the hosted-setup cell
MAX_CELLS, MAX_CODE_LINES, MAX_WORDS, MAX_CELL_LINES = 60, 450, 3500, 40


def lesson_budget(nb) -> dict[str, int]:
    """Cells, code lines (not blank, not comment), prose words and the longest cell's lines before the exercises."""
    cells = code = words = longest = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown" and re.match(r"#+\s*Exercises", cell.source.strip()):
            break
        if cell.get("id") == "hosted-setup":
            continue  # generated plumbing (course_tools.hosted_cell), the same 4 code lines in every notebook
        cells += 1
        if cell.cell_type == "code":
            lines = cell.source.splitlines()
            code += sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))
            if not cell.source.startswith("%%writefile"):
                longest = max(longest, len(lines))
        else:
            words += len(cell.source.split())
    return {"cells": cells, "code_lines": code, "words": words, "longest_cell": longest}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_lesson_within_budget(path):
    budget = lesson_budget(nbformat.read(path, as_version=4))
    limits = {
        "cells": MAX_CELLS,
        "code_lines": MAX_CODE_LINES,
        "words": MAX_WORDS,
        "longest_cell": MAX_CELL_LINES,
    }
    over = {k: f"{budget[k]} > {limit}" for k, limit in limits.items() if budget[k] > limit}
    assert not over, f"{path.name} is over its lesson budget: {over}"
