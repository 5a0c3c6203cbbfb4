"""Every notebook's first code cell: set up a hosted runtime (Colab, Kaggle) when the course is not installed.

The cell is generated here from the repository URL set once in ``pyproject.toml`` (``[project.urls]
Repository``, read by ``course_tools.site.repository_url``) and written into every course notebook as its first
code cell (cell id ``hosted-setup``). In a checkout (``make``, ``make lab``) or wherever ``course_utils`` is
installed it changes nothing; elsewhere it runs ``pip install`` of the course (``git+URL``, or
``$COURSE_INSTALL_FROM``: a path or URL pip understands, which the tests use for a local copy) and then
``course_utils.hosted.prepare()`` (MNIST into the working folder). While no URL is set and no
``COURSE_INSTALL_FROM`` is given, a runtime without the course gets a clear error saying what to install.

    python -m course_tools.hosted_cell [--check]      # write the cell into every notebook, or check it is there
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from course_tools.site import repository_url
from course_utils.paths import NOTEBOOKS, ROOT

CELL_ID = "hosted-setup"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"

TEMPLATE = """\
# Hosted runtime (Colab, Kaggle): install the course and fetch MNIST if they are missing (a checkout skips this).
# COURSE_INSTALL_FROM installs a local copy instead of the repository.
import importlib.util, os, subprocess, sys  # noqa: E401, I001

if not importlib.util.find_spec("course_utils"):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", os.environ.get("COURSE_INSTALL_FROM", "SOURCE")], check=True)  # noqa: E501  # fmt: skip
__import__("course_utils.hosted").hosted.prepare()"""


def cell_source(root: Path = ROOT) -> str:
    """The first cell's source for the repository URL in ``root``'s pyproject.toml (empty source without one)."""
    url = repository_url(root)
    return TEMPLATE.replace('"SOURCE"', f'"git+{url}"' if url else '""')


def _first_code_index(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")


def stamp(path: Path, source: str) -> bool:
    """Make the hosted cell ``path``'s first code cell; True if the file changed (outputs of the cell kept empty)."""
    nb = nbformat.read(path, as_version=4)
    i = _first_code_index(nb)
    cell = nb.cells[i]
    if cell.get("id") == CELL_ID:
        if cell.source == source:
            return False
        cell.source = source
    else:
        new = nbformat.v4.new_code_cell(source)
        new["id"] = CELL_ID
        new.metadata["tags"] = ["hosted-setup"]
        nb.cells.insert(i, new)
    nbformat.write(nb, path)
    return True


def stale(paths: list[Path], source: str) -> list[str]:
    """Notebooks whose first code cell is not the hosted cell with ``source``."""
    bad = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cell = nb.cells[_first_code_index(nb)]
        if cell.get("id") != CELL_ID or cell.source != source:
            bad.append(path.name)
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m course_tools.hosted_cell", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument(
        "--check", action="store_true", help="only check; exit 1 if a notebook lacks the current cell"
    )
    args = ap.parse_args(argv)
    paths = sorted(NOTEBOOKS.glob(NOTEBOOK_GLOB))
    source = cell_source()
    if args.check:
        bad = stale(paths, source)
        for name in bad:
            print(
                f"{name}: first code cell is not the current hosted cell (run python -m course_tools.hosted_cell)"
            )
        return 1 if bad else 0
    changed = [p.name for p in paths if stamp(p, source)]
    print(
        f"hosted cell written into {len(changed)} of {len(paths)} notebooks"
        + (f": {changed}" if changed else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
