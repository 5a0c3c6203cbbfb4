"""course_tools.portable: each configuration really changes what the notebook's kernel runs on."""

from __future__ import annotations

import nbformat
import pytest

from course_tools import portable


def test_configurations_change_kernels_and_threads():
    assert portable.capability(portable.CONFIGS["isa-default"]).startswith("DEFAULT")
    assert portable.capability(portable.CONFIGS["threads-3"]).endswith("3 thread(s)")


@pytest.mark.slow
def test_a_notebook_runs_under_the_configuration_and_a_failing_assert_fails(tmp_path):
    code = (
        "import torch\nassert torch.get_num_threads() == 3, 'threads'\n"
        "assert torch.backends.cpu.get_cpu_capability() == 'DEFAULT', 'native kernels'"
    )
    good = tmp_path / "good.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), good)
    env = portable.CONFIGS["isa-default"] | portable.CONFIGS["threads-3"]
    assert portable.run_one(good, "test-isa", env, 120)["status"] == "ok"
    row = portable.run_one(good, "test-native", {**env, "ATEN_CPU_CAPABILITY": "avx2"}, 120)
    assert row["status"] == "FAILED" and "native kernels" in row["error"]


@pytest.mark.slow
def test_a_checked_output_that_changes_fails(tmp_path):
    cell = nbformat.v4.new_code_cell(
        "# NBVAL_CHECK_OUTPUT\nimport os\nprint(os.environ.get('COURSE_TEST_VALUE'))"
    )
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\n")]
    cell.execution_count = 1
    path = tmp_path / "checked.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    assert portable.run_one(path, "test-same", {"COURSE_TEST_VALUE": "a"}, 120)["status"] == "ok"
    assert portable.run_one(path, "test-other", {"COURSE_TEST_VALUE": "b"}, 120)["status"] == "FAILED"
