"""Where the course's files are: the one place that names the course's folders.

In a checkout of the repository (the package sits beside ``notebooks/`` and ``pyproject.toml``), the root is
the repository. In an installed copy (``pip install .``, or a hosted notebook that installed the course), the
root is the working folder of the process that first imports this module (the folder the notebook runs in):
data in ``./data/mnist``, generated files in ``./build``. ``COURSE_ROOT`` overrides the root in both cases and
``COURSE_DATA_DIR`` the MNIST folder (``make`` sets it from ``FULL``). Generated files go under :data:`BUILD`,
which git ignores.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ROOT", "NOTEBOOKS", "BUILD", "DATA", "CHECKOUT", "data_dir"]

_PACKAGE_PARENT = Path(__file__).resolve().parent.parent
#: True when this package runs from a checkout of the repository (not from an installed copy)
CHECKOUT = (_PACKAGE_PARENT / "notebooks").is_dir() and (_PACKAGE_PARENT / "pyproject.toml").is_file()
ROOT = Path(os.environ.get("COURSE_ROOT") or (_PACKAGE_PARENT if CHECKOUT else Path.cwd())).resolve()
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
DATA = ROOT / "data"


def data_dir() -> Path:
    """The MNIST folder: ``$COURSE_DATA_DIR`` if set, else ``<root>/data/mnist``."""
    env = os.environ.get("COURSE_DATA_DIR")
    return Path(env).expanduser() if env else DATA / "mnist"
