"""Write student versions of the course notebooks: solutions blanked, outputs cleared.

The solution notebooks in ``notebooks/`` mark each exercise's answer with nbgrader's delimiters::

    def my_exercise(x):
        ### BEGIN SOLUTION
        return 2 * x
        ### END SOLUTION

This module runs nbconvert with nbgrader's ``ClearSolutions`` preprocessor (the region becomes
``raise NotImplementedError()``; a markdown answer becomes ``YOUR ANSWER HERE``) and nbconvert's
``ClearOutputPreprocessor``, writing ``build/student/<name>.ipynb``. ``make student`` runs it.

Usage::

    python -m course_tools.student [--out build/student] [notebook.ipynb ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_utils.paths import ROOT

SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION")


def make_student_version(src: Path, out_dir: Path) -> Path:
    """Write the student version of notebook ``src`` into ``out_dir``; return its path."""
    from nbconvert.exporters import NotebookExporter
    from nbconvert.preprocessors import ClearOutputPreprocessor
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config import Config

    cfg = Config()
    cfg.ClearSolutions.enforce_metadata = False  # we use nbgrader's markers, not its database
    exporter = NotebookExporter(config=cfg)
    exporter.register_preprocessor(ClearSolutions(config=cfg), enabled=True)
    exporter.register_preprocessor(ClearOutputPreprocessor(config=cfg), enabled=True)
    body, _ = exporter.from_filename(str(src))
    leftover = [m for m in SOLUTION_MARKERS if m in body]
    if leftover:  # would mean an unbalanced or misspelled marker
        raise RuntimeError(f"{src}: solution markers {leftover} survived blanking")
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / src.name
    dest.write_text(body, encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m course_tools.student", description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/NN_*.ipynb")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "student")
    args = ap.parse_args(argv)
    sources = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for src in sources:
        dest = make_student_version(src, args.out)
        print(f"{src.name} -> {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
