"""course_utils.paths: the repository in a checkout, the working folder in an installed copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from course_utils import paths

CODE = "from course_utils import paths; print(paths.CHECKOUT, paths.ROOT, paths.data_dir(), paths.BUILD)"


def test_checkout_root_is_the_repository():
    assert (
        paths.CHECKOUT and (paths.ROOT / "notebooks").is_dir() and paths.NOTEBOOKS == paths.ROOT / "notebooks"
    )


def _run(site: Path, cwd: Path, **env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("COURSE_ROOT", "COURSE_DATA_DIR")}
    out = subprocess.run(
        [sys.executable, "-c", CODE], cwd=cwd, env={**clean, "PYTHONPATH": str(site), **env},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return out.stdout.split()


def test_installed_copy_uses_the_working_folder_and_overrides(tmp_path):
    site, work = tmp_path / "site", tmp_path / "work"
    shutil.copytree(
        Path(paths.__file__).parent, site / "course_utils", ignore=shutil.ignore_patterns("__pycache__")
    )
    work.mkdir()
    checkout, root, data, build = _run(site, work)
    assert checkout == "False" and Path(root) == work.resolve()
    assert Path(data) == work.resolve() / "data" / "mnist" and Path(build) == work.resolve() / "build"
    _, root, data, _ = _run(site, work, COURSE_ROOT=str(tmp_path), COURSE_DATA_DIR=str(tmp_path / "m"))
    assert Path(root) == tmp_path.resolve() and Path(data) == tmp_path / "m"
