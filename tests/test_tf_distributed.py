"""Notebook 07's multi-worker program, taken from the notebook cell that writes it (the only copy).

The notebook's own asserts (run by nbval) prove the custom loop: 2 replicas == 1 replica, identical
weights on both workers, only the chief's model kept. This file checks the claim the notebook only
states: on TF 2.21 / Keras 3, Keras ``fit`` under ``MultiWorkerMirroredStrategy`` fails (the program's
``--fit``). When a TensorFlow upgrade fixes that, this test fails: update notebook 07's prose.
"""

from __future__ import annotations

import json
import sys

import nbformat
import pytest

from course_utils.launch import free_port, run_programs
from course_utils.paths import NOTEBOOKS, ROOT

NOTEBOOK = NOTEBOOKS / "07_mirrored_strategy.ipynb"
MAGIC = "%%writefile {SCRIPTS}/mwms_worker.py"


def program_text() -> str:
    """The worker program: the body of the notebook cell that starts with ``MAGIC``."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and c.source.startswith(MAGIC)]
    assert len(cells) == 1, (
        f"expected one cell starting with {MAGIC!r} in {NOTEBOOK.name}, found {len(cells)}"
    )
    return cells[0].split("\n", 1)[1]


def test_the_notebook_writes_one_whole_program():
    source = program_text()
    compile(source, "mwms_worker.py", "exec")
    assert "TF_CONFIG" in source and "--fit" in source


@pytest.mark.slow
def test_keras_fit_fails_under_multiworker_strategy(tmp_path):
    script = tmp_path / "mwms_worker.py"
    script.write_text(program_text())
    ports = [free_port(), free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    envs = [
        {
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
            "CUDA_VISIBLE_DEVICES": "",
            "PYTHONPATH": str(ROOT),
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        for i in range(2)
    ]
    cmd = [sys.executable, script, tmp_path, "--steps", "2", "--n-train", "256", "--fit"]
    runs = run_programs([cmd, cmd], envs, timeout=300)
    tails = "\n".join(r.log[-3000:] for r in runs)
    assert all(r.returncode != 0 for r in runs), tails
    assert any("Attempt to convert a value (PerReplica" in r.log for r in runs), tails
