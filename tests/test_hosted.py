"""Hosted runtimes: every notebook's first cell installs the course where it is missing, and a notebook copied
alone into an empty folder of a fresh environment runs top to bottom (a Colab/Kaggle runtime, simulated here:
a wheel of the course stands in for the repository URL, and nothing is fetched from the internet)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import nbformat
import pytest

from course_tools import hosted_cell
from course_utils import hosted, paths

ROOT = Path(__file__).resolve().parents[1]


def test_cell_installs_from_the_repository_url_set_once(tmp_path):
    assert '"COURSE_INSTALL_FROM", "")' in hosted_cell.cell_source(
        tmp_path
    )  # no pyproject: nothing to install
    (tmp_path / "pyproject.toml").write_text(
        '[project.urls]\nRepository = "https://github.com/acme/dl-course"\n'
    )
    assert '"COURSE_INSTALL_FROM", "git+https://github.com/acme/dl-course")' in hosted_cell.cell_source(
        tmp_path
    )


def test_stamp_inserts_then_updates_the_first_code_cell(tmp_path):
    path = tmp_path / "nb.ipynb"
    cells = [nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    assert hosted_cell.stale([path], "a") == ["nb.ipynb"]
    assert hosted_cell.stamp(path, "a") and hosted_cell.stale([path], "a") == []
    assert not hosted_cell.stamp(path, "a")  # already there: unchanged
    assert hosted_cell.stamp(path, "b")
    nb = nbformat.read(path, as_version=4)
    assert [c.source for c in nb.cells] == ["# T", "b", "x = 1"]


def test_prepare_changes_nothing_in_a_checkout(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    assert paths.CHECKOUT and hosted.prepare() is None
    assert "COURSE_DATA_DIR" not in os.environ


# --- the simulation ------------------------------------------------------------------------------------------

RUNNER = textwrap.dedent(
    """
    import sys, nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(sys.argv[1], as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
    nbformat.write(nb, sys.argv[1])
    """
)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """A wheel of the working tree, and a fresh virtual environment that sees the course's dependencies (through
    a .pth file naming this environment's site-packages, pip included) but not the course itself."""
    base = tmp_path_factory.mktemp("hosted")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    src = base / "src"
    for name in files:
        if (ROOT / name).is_file() and not name.startswith(("notebooks/", "tests/", "docs/")):
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(base / "wheel"), str(src)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    (wheel,) = (base / "wheel").glob("*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(purelib, "course-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    missing = subprocess.run([python, "-c", "import course_utils"], cwd=base, capture_output=True)
    assert missing.returncode != 0, "the fresh environment must not see the course before the first cell runs"
    return {"python": python, "wheel": wheel, "base": base, "purelib": Path(purelib)}


@pytest.mark.slow
@pytest.mark.parametrize(
    "prefix",
    ["00", pytest.param("05", marks=pytest.mark.rerun), pytest.param("08", marks=pytest.mark.rerun)],
)  # 05 and 08 rerun whole notebooks that nbval already runs: make test-all, not make test (the 18-minute budget)
def test_a_notebook_alone_in_a_fresh_runtime_runs_top_to_bottom(runtime, prefix):
    (source,) = sorted((ROOT / "notebooks").glob(f"{prefix}_*.ipynb"))
    folder = runtime["base"] / f"run{prefix}"
    folder.mkdir()
    notebook = folder / source.name
    shutil.copy2(source, notebook)
    hosted_cell.stamp(notebook, hosted_cell.cell_source())  # as committed (a no-op when it is already there)
    (folder / "runner.py").write_text(RUNNER)
    drop = ("COURSE_DATA_DIR", "COURSE_ROOT", "PYTHONPATH", "VIRTUAL_ENV", "COURSE_CHECKS_LOG")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(COURSE_INSTALL_FROM=str(runtime["wheel"]), COURSE_HOSTED_DATA="subset", MPLBACKEND="Agg")
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    result = subprocess.run(
        [runtime["python"], "runner.py", notebook.name, str(folder)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    assert (runtime["purelib"] / "course_utils" / "hosted.py").is_file()  # installed by the first cell
    assert (folder / "data" / "mnist" / "SOURCE").is_file()  # MNIST written beside the notebook
    ran = nbformat.read(notebook, as_version=4)
    assert all(c.get("execution_count") for c in ran.cells if c.cell_type == "code")
