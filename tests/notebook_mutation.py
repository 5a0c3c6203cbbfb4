"""Run a notebook's code up to one proof cell with the mechanism broken, and report where it failed.

A "break the mechanism" test takes a notebook's central proof (N ranks == 1 process, distributed
predictions == single-process ones, ...), changes one line of the mechanism the proof is about
(for example, drop the division by the world size), executes the notebook's code cells in a real
Jupyter kernel up to the proof cell, and asserts that the proof cell is the one that fails. If a
proof still passes with its mechanism broken, it proves nothing.

    assert_proof_fails("08_ddp_mechanics.ipynb", through="assert_ddp_equal", replace=[(old, new)])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@dataclass
class Failure:
    """Where the mutated notebook prefix stopped: `cell` is None when every cell ran cleanly."""

    cell: int | None
    through: int
    ename: str
    evalue: str


def _code_cells(name: str) -> list[str]:
    """The code cells without the hosted-setup cell (it changes nothing in a checkout): index 0 is the imports."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code" and cell.get("id") != "hosted-setup"]


def run_mutated(
    name: str,
    through: str,
    replace: list[tuple[str, str]],
    drop: list[str] = (),
    only: list[str] | None = None,
    timeout: int = 600,
) -> Failure:
    """Execute code cells of `name` up to the first one containing `through`, with `replace` applied.

    Every `old` in `replace` must occur in the kept cells (so the test breaks loudly when the
    notebook changes). Cells containing any string in `drop` are skipped (slow demos the proof
    does not need); with `only`, just the first code cell (the imports) and the cells containing a
    string in `only` are kept. The `through` cell itself is always kept. Returns the index (among the kept
    cells) of the cell that raised, with the exception's name and value.
    """
    sources = _code_cells(name)
    stop = next((i for i, src in enumerate(sources) if through in src), None)
    if stop is None:
        raise LookupError(f"no code cell of {name} contains {through!r}")

    def wanted(i: int, src: str) -> bool:
        if i == stop:
            return True
        if only is not None and i > 0 and not any(o in src for o in only):
            return False
        return not any(d in src for d in drop)

    kept = [src for i, src in enumerate(sources[: stop + 1]) if wanted(i, src)]
    for old, new in replace:
        if not any(old in src for src in kept):
            raise LookupError(f"{old!r} is not in the cells of {name} up to {through!r}")
        kept = [src.replace(old, new) for src in kept]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in kept])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        failed = next(
            i
            for i, cell in enumerate(nb.cells)
            if any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        )
        return Failure(failed, len(kept) - 1, error.ename, error.evalue)
    return Failure(None, len(kept) - 1, "", "")


def assert_proof_fails(name: str, through: str, replace: list[tuple[str, str]], **kwargs) -> Failure:
    """Run :func:`run_mutated` and require the `through` cell itself to fail with an AssertionError."""
    failure = run_mutated(name, through, replace, **kwargs)
    assert failure.cell == failure.through and failure.ename == "AssertionError", failure
    return failure
