"""course_tools.gpu_check on a CPU machine: the GPU rows say why they did not run, the CPU paths pass; the rules
the GPU rows rely on (the sharing plan, exact math confined to the proof, synchronised timings) as unit tests."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import torch

from course_tools import gpu_check
from course_utils import bench, paths
from course_utils.devices import device_plan


def _parent_state() -> tuple:
    """The global settings the equivalence proof changes; the speed rows must find them as they were."""
    b = torch.backends
    tf32 = (
        (b.cuda.matmul.fp32_precision, b.cudnn.conv.fp32_precision)
        if hasattr(getattr(b.cudnn, "conv", None), "fp32_precision")
        else (b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32)
    )
    return (
        *tf32,
        b.cudnn.benchmark,
        b.cudnn.deterministic,
        torch.are_deterministic_algorithms_enabled(),
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )


@pytest.mark.slow
def test_gpu_check_runs_and_reports_every_row(tmp_path, capsys):
    out = tmp_path / "rows.json"
    before = _parent_state()
    assert gpu_check.main(["--quick", "--json", str(out)]) == 0
    assert _parent_state() == before  # exact-math settings stayed in the proof's processes
    rows = {r["check"]: r for r in json.loads(out.read_text())}
    ddp = rows["DDP 2 ranks == 1 process, same device"]
    assert ddp["status"] == "PASS" and "float64" in ddp["detail"] and "bit-identical" in ddp["detail"]
    assert rows["2 gloo ranks on the CPU (COURSE_DEVICE=cpu)"]["status"] == "PASS"
    if not torch.cuda.is_available():
        assert rows["NCCL, 1 rank"] == {
            "check": "NCCL, 1 rank",
            "status": "NOT RUN",
            "detail": "needs 1 GPU(s), this machine has 0",
        }
        assert rows["Net training and inference throughput (data on the device)"]["detail"].startswith(
            "CPU (cpu)"
        )
    assert "NOT RUN" in capsys.readouterr().out or torch.cuda.device_count() >= 2


@pytest.mark.parametrize("gpus", [1, 2, 3, 8])
def test_sharing_row_puts_two_gloo_ranks_on_gpu0(gpus):
    """On 2+ GPUs two ranks with COURSE_DEVICE=cuda get NCCL, one GPU each (the row's old bug); gpus + 1 ranks
    are shared round-robin over gloo, and exactly ranks 0 and ``gpus`` sit on cuda:0."""
    plan = gpu_check.sharing_plan(gpus)
    assert len(plan) == gpus + 1 and {r.backend for r in plan} == {"gloo"}
    assert [r.rank for r in plan if r.device == "cuda:0"] == [0, gpus]
    if gpus >= 2:
        assert {r.backend for r in device_plan(2, gpus, 1, "cuda")} == {"nccl"}


@pytest.mark.parametrize("gpus", [0, 1, 2, 8])
def test_plan_row_checks_the_rules_for_any_gpu_count(gpus):
    summary = gpu_check.plan_summary(gpus)
    assert ("1 rank(s): nccl" in summary) == (gpus >= 1)
    assert ("2 rank(s): nccl" in summary) == (gpus >= 2)


def test_rows_ask_the_launcher_for_the_right_plans_on_a_two_gpu_machine(monkeypatch, tmp_path):
    """With 2 GPUs the sharing row asks for 3 ranks with COURSE_DEVICE=cuda. The launcher is replaced by a
    recorder that fails, so no row can pass here; only the requests are checked."""
    calls = []

    def record(fn, world_size, args=(), device=None, **kw):
        calls.append((fn.__name__, world_size, device))
        raise RuntimeError("no GPU here: request recorded")

    monkeypatch.setattr(paths, "BUILD", tmp_path)  # the sweep row must not write into build/ here
    monkeypatch.setattr(gpu_check, "_gpus", lambda: 2)
    monkeypatch.setattr(gpu_check.launch, "run", record)
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # TF row: skipped, not imported
    rows = {r.check: r for r in gpu_check.run_checks(quick=True)}
    assert ("all_reduce_worker", 3, "cuda") in calls
    assert ("all_reduce_worker", 2, None) in calls and ("all_reduce_worker", 1, None) in calls
    assert ("ddp_worker", 2, "cuda") in calls
    assert rows["2 gloo ranks sharing GPU 0 (COURSE_DEVICE=cuda)"].status == "FAIL"
    assert rows["TensorFlow on the GPU"].status == "SKIP"
    sweep = rows["Net inference knobs (benchmarks/gpu_inference.py)"]
    assert sweep.status == "FAIL" and "every config failed" in sweep.detail
    assert not (tmp_path / "gpu_inference.json").exists()


def test_inference_benchmark_loads_as_a_module():
    """The sweep row's loader: the file's dataclasses need their module registered (it failed on every GPU)."""
    bench_module = gpu_check.load_inference_benchmark()
    assert bench_module.default_configs(64)[0].batch == 64


def test_ddp_reference_differs_from_a_wrong_run_far_beyond_the_rounding_bound():
    """The equivalence check can fail: one more step of the reference moves the parameters ~1e8 times more
    than the float64 rounding bound the check allows; the same run repeated is bit-identical."""
    before = _parent_state()
    ref, max_grad = gpu_check.reference_params(torch.device("cpu"), 2, 16)
    assert _parent_state() == before  # full_precision restored everything
    other, _ = gpu_check.reference_params(torch.device("cpu"), 3, 16)
    again, _ = gpu_check.reference_params(torch.device("cpu"), 2, 16)
    bound = gpu_check.rounding_bound(2, 16, max_grad, float(np.abs(ref).max()))
    assert ref.dtype == np.float64 and 0 < bound < 1e-11
    assert np.abs(ref - other).max() > 1e6 * bound
    np.testing.assert_array_equal(ref, again)


def test_throughput_synchronises_before_each_clock_read(monkeypatch):
    """Every timed call of GPU work ends with the device's synchronize, then the clock is read."""
    events, clock = [], iter(range(1000))
    monkeypatch.setattr(gpu_check, "synchronize", lambda device: events.append(("sync", str(device))))
    monkeypatch.setattr(bench.time, "perf_counter", lambda: events.append("clock") or next(clock))
    gpu_check._throughput(lambda: events.append("fn"), 10, torch.device("cuda:1"), repeats=3)
    sync = ("sync", "cuda:1")
    assert events == ["fn", sync] + ["clock", "fn", sync, "clock"] * 3
