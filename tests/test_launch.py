"""course_utils.launch.run: results in rank order, failures reported fast, nothing left behind."""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest
import torch

from course_utils import launch
from tests.fixtures import launch_demos


def _alive_children() -> list:
    return [p for p in mp.active_children() if p.name.startswith("course-rank-")]


def test_results_in_rank_order_and_all_reduce():
    out = launch.run(launch_demos.hello, 2, backend="gloo")
    assert [o["rank"] for o in out] == [0, 1]
    assert all(o["sum"] == 3.0 and o["backend"] == "gloo" for o in out)


def test_tensors_come_back_by_value():
    out = launch.run(launch_demos.tensor_back, 2, args=(1000,))
    assert torch.equal(out[1], torch.ones(1000)) and torch.equal(out[0], torch.zeros(1000))


def test_single_rank():
    assert launch.run(launch_demos.hello, 1)[0]["sum"] == 1.0


def test_raising_rank_is_reported_fast_with_traceback():
    t0 = time.monotonic()
    with pytest.raises(
        launch.RankFailedError, match=r"rank 1 of 2 failed(.|\n)*deliberate failure on rank 1"
    ) as e:
        launch.run(launch_demos.fail_on_rank, 2, args=(1,), timeout=120)
    assert e.value.rank == 1
    assert time.monotonic() - t0 < 30
    assert not _alive_children()


def test_crashing_rank_is_reported():
    with pytest.raises(launch.RankFailedError, match="exited with code 3"):
        launch.run(launch_demos.crash_on_rank, 2, args=(0,), timeout=60)
    assert not _alive_children()


def test_hung_collective_times_out():
    t0 = time.monotonic()
    with pytest.raises((TimeoutError, launch.RankFailedError)) as e:
        launch.run(launch_demos.hang_on_rank, 2, args=(1,), timeout=8)
    elapsed = time.monotonic() - t0
    assert 8 <= elapsed < 30, elapsed
    # gloo's own collective timeout may fire first on rank 0; either way the message says what happened
    assert "8 s" in str(e.value) or "imeout" in str(e.value) or "imed out" in str(e.value)
    assert not _alive_children()


def test_function_defined_here_runs_by_value():
    """A function with no importable module (as in a notebook cell) travels by value, closure included."""
    offset = 10

    def local(rank, world_size):
        import torch.distributed as dist

        return (rank + offset, dist.get_world_size())

    assert launch.run(local, 2) == [(10, 2), (11, 2)]


def test_function_defined_in_a_jupyter_kernel_runs(tmp_path):
    """The real case: a worker written in a notebook cell, run under nbclient's kernel."""
    import nbformat
    from nbclient import NotebookClient

    cell = (
        "from course_utils.launch import run\n"
        "from course_utils.devices import rank_device\n"
        "import torch, torch.distributed as dist\n"
        "def worker(rank, world_size):\n"
        "    t = torch.tensor([rank + 1.0], device=rank_device())\n"
        "    dist.all_reduce(t)\n"
        "    return t.item()\n"
        "print(run(worker, 2))"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    assert nb.cells[0].outputs[-1]["text"].strip().splitlines()[-1] == "[3.0, 3.0]"


def test_cpu_demo_asks_for_the_cpu():
    out = launch.run(launch_demos.hello, 2, device="cpu")
    assert all(o["backend"] == "gloo" for o in out)


def test_bad_world_size():
    with pytest.raises(ValueError):
        launch.run(launch_demos.hello, 0)


def test_free_port_is_bindable():
    import socket

    port = launch.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_worker_can_start_its_own_group():
    def worker(rank, world_size):
        import torch
        import torch.distributed as dist

        from course_utils.devices import rank_device, this_rank

        assert not dist.is_initialized()
        dist.init_process_group(this_rank().backend)  # env:// from the launcher, as under torchrun
        t = torch.ones(1, device=rank_device())
        dist.all_reduce(t)
        dist.destroy_process_group()
        return t.item()

    assert launch.run(worker, 2, init_group=False) == [2.0, 2.0]


def test_worker_may_use_module_like_objects():
    """torch.backends.cudnn is not a module but stands in sys.modules for one: it travels by name."""

    def worker(rank, world_size):
        import sys

        cudnn = torch.backends.cudnn
        return type(cudnn).__name__, cudnn is sys.modules["torch.backends.cudnn"], cudnn.allow_tf32

    cudnn = torch.backends.cudnn
    before = cudnn.allow_tf32
    cudnn.allow_tf32 = False  # a copy sent by value would carry this; the worker's own module has the default
    try:
        assert launch.run(worker, 1) == [(type(cudnn).__name__, True, True)]
    finally:
        cudnn.allow_tf32 = before


@pytest.mark.slow
def test_run_torchrun_runs_a_notebook_function():
    scale = 3.0

    def worker(rank, world_size, base):
        import torch
        import torch.distributed as dist

        t = torch.tensor([base + rank * scale])
        dist.all_reduce(t)
        return (rank, world_size, t.item())

    assert launch.run_torchrun(worker, 2, args=(1.0,), timeout=180) == [(0, 2, 5.0), (1, 2, 5.0)]


def test_run_torchrun_reports_a_failing_rank():
    def worker(rank, world_size):
        raise ValueError("deliberate")

    with pytest.raises(launch.RankFailedError, match="deliberate"):
        launch.run_torchrun(worker, 1, timeout=120)
