"""Where the course's files are: the one place that names the repository's folders.

``COURSE_ROOT`` overrides the repository root (e.g. for an installed copy); ``COURSE_DATA_DIR`` the MNIST
folder (``make`` sets it from ``FULL``). Generated files go under :data:`BUILD`, which git ignores.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ROOT", "NOTEBOOKS", "BUILD", "DATA", "data_dir"]

ROOT = Path(os.environ.get("COURSE_ROOT") or Path(__file__).resolve().parent.parent)
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
DATA = ROOT / "data"


def data_dir() -> Path:
    """The MNIST folder: ``$COURSE_DATA_DIR`` if set, else ``<repo>/data/mnist``."""
    env = os.environ.get("COURSE_DATA_DIR")
    return Path(env).expanduser() if env else DATA / "mnist"
