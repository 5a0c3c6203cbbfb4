"""`ruff check` and `ruff format --check` over the code and the notebooks: CI fails on a finding."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["course_utils", "course_tools", "data_scripts", "tests", "benchmarks", "notebooks", "conftest.py"]


def _ruff() -> list[str]:
    venv_ruff = Path(sys.executable).with_name("ruff")
    found = str(venv_ruff) if venv_ruff.exists() else shutil.which("ruff")
    if found is None:
        pytest.fail("ruff is not installed (it is pinned in requirements.txt)")
    return [found]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_is_clean(command):
    result = subprocess.run(_ruff() + command + PATHS, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        f"ruff {' '.join(command)} found:\n{result.stdout[-3000:]}{result.stderr[-1000:]}"
    )
