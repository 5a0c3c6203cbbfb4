"""course_tools.gpu_check on a CPU machine: the GPU rows say why they did not run, the CPU paths pass."""

from __future__ import annotations

import json

import pytest
import torch

from course_tools import gpu_check


@pytest.mark.slow
def test_gpu_check_runs_and_reports_every_row(tmp_path, capsys):
    out = tmp_path / "rows.json"
    assert gpu_check.main(["--quick", "--json", str(out)]) == 0
    rows = {r["check"]: r for r in json.loads(out.read_text())}
    assert rows["DDP 2 ranks == 1 process, same device"]["status"] == "PASS"
    assert rows["2 gloo ranks on the CPU (COURSE_DEVICE=cpu)"]["status"] == "PASS"
    if not torch.cuda.is_available():
        assert rows["NCCL, 1 rank"] == {
            "check": "NCCL, 1 rank",
            "status": "NOT RUN",
            "detail": "needs 1 GPU(s), this machine has 0",
        }
    assert "NOT RUN" in capsys.readouterr().out or torch.cuda.device_count() >= 2


def test_ddp_reference_differs_from_a_wrong_run():
    """The equivalence check can fail: one more step of the reference moves the parameters."""
    ref = gpu_check.reference_params(torch.device("cpu"), 2, 16)
    other = gpu_check.reference_params(torch.device("cpu"), 3, 16)
    assert abs(ref - other).max() > 1e-4
