"""course_utils.infer (saved from notebook 11): exact, ordered distributed prediction for any size (incl. empty ranks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import infer
from course_utils.launch import run
from course_utils.models import Net

N = 3  # world size used below


@pytest.fixture(autouse=True)
def _on_the_cpu(monkeypatch):
    """The references here are computed on the CPU in this process, so the ranks run there too (on a machine
    with 3+ GPUs the plan would otherwise put them on GPUs, and TF32 would make 1e-6 the wrong tolerance)."""
    monkeypatch.setenv("COURSE_DEVICE", "cpu")


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 10, 1001])
@pytest.mark.parametrize("world", [1, 2, 3, 7])
def test_split_rows_covers_every_row_once_in_order(n, world):
    ranges = infer.split_rows(n, world)
    assert len(ranges) == world
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))  # contiguous, in order
    sizes = [e - s for s, e in ranges]
    assert sum(sizes) == n and max(sizes) - min(sizes) <= 1
    if n < world:
        assert sizes.count(0) == world - n  # ranks with no rows


def test_split_rows_rejects_bad_arguments():
    with pytest.raises(ValueError):
        infer.split_rows(-1, 2)
    with pytest.raises(ValueError):
        infer.split_rows(5, 0)


def _net() -> Net:
    torch.manual_seed(0)
    return Net().eval()


def test_predict_local_batches_and_empty_input():
    net, x = _net(), torch.randn(10, 1, 28, 28)
    full = infer.predict_local(net, x, batch_size=1024)
    torch.testing.assert_close(infer.predict_local(net, x, batch_size=3), full, rtol=1e-6, atol=1e-6)
    empty = infer.predict_local(net, x[:0])
    assert empty.shape == (0, 10)


def test_predict_local_switches_dropout_off():
    """Net has dropout: a model handed over in training mode must still predict deterministically."""
    net, x = _net().train(), torch.randn(10, 1, 28, 28)
    first = infer.predict_local(net, x)
    assert not net.training
    assert torch.equal(infer.predict_local(net, x), first)
    torch.testing.assert_close(first, _net()(x).detach(), rtol=1e-6, atol=1e-6)  # == the eval-mode model


def test_identity_model_proves_order_and_exactness_bitwise():
    """nn.Flatten returns each row unchanged, so the output must equal the input bit for bit."""
    x = torch.arange(1001, dtype=torch.float32).reshape(1001, 1)
    out = infer.distributed_predict(nn.Flatten(), x, world_size=N, batch_size=100)
    assert torch.equal(out, x)


@pytest.mark.parametrize("n", [1, 1001])
def test_distributed_predict_equals_single_process(n):
    net = _net()
    x = torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(n))
    ref = infer.predict_local(net, x)
    out, timings = infer.distributed_predict(net, x, world_size=N, batch_size=256, return_timings=True)
    assert out.shape == ref.shape == (n, 10)
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    assert torch.equal(out.argmax(1), ref.argmax(1))
    assert len(timings) == N and all({"load", "compute", "gather"} <= set(t) for t in timings)


def sizes_worker(rank: int, world_size: int, net: nn.Module, sizes: list[int]) -> list:
    """Several sizes in one process group (each predict_worker call is one distributed prediction)."""
    x = torch.randn(max(sizes), 1, 28, 28, generator=torch.Generator().manual_seed(0))
    return [infer.predict_worker(rank, world_size, net, x[:n], 7)[0] for n in sizes]


def test_uneven_sizes_and_ranks_without_rows_in_one_group():
    net, sizes = _net(), [0, 1, N - 1, N, N + 1, 2 * N + 1]
    per_rank = run(sizes_worker, N, args=(net, sizes))
    x = torch.randn(max(sizes), 1, 28, 28, generator=torch.Generator().manual_seed(0))
    for i, n in enumerate(sizes):
        out = per_rank[0][i]
        assert all(r[i] is None for r in per_rank[1:])  # only rank 0 holds the gathered result
        assert out.shape == (n, 10), n
        torch.testing.assert_close(out, infer.predict_local(net, x[:n]), rtol=1e-6, atol=1e-6)


def test_model_class_defined_in_a_notebook_travels_by_value():
    """launch.run sends the model with cloudpickle, so a class that no worker could import still works."""

    class Doubler(nn.Module):
        def forward(self, x):
            return 2 * x

    Doubler.__module__ = "__main__"  # as if defined in a notebook cell
    x = torch.arange(7, dtype=torch.float32).reshape(7, 1)
    assert torch.equal(infer.distributed_predict(Doubler(), x, 2, batch_size=2), 2 * x)


@pytest.mark.slow  # torch.export traces the model (tens of seconds on a busy 2-core machine)
@pytest.mark.filterwarnings("ignore:`torch.jit.*is deprecated:DeprecationWarning")
def test_exported_files_reload_equal_and_workers_use_the_file(tmp_path):
    net = _net()
    x = torch.randn(N + 1, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    ref = infer.predict_local(net, x)
    torch.jit.save(torch.jit.script(net), str(tmp_path / "net.pt"))
    program = torch.export.export(net, (x[:2],), dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    torch.export.save(program, str(tmp_path / "net.pt2"))
    for path in (tmp_path / "net.pt", tmp_path / "net.pt2"):
        torch.testing.assert_close(infer.predict_local(infer.load_model(path), x), ref, rtol=1e-6, atol=1e-6)
    out = infer.distributed_predict(tmp_path / "net.pt2", x, world_size=N)  # N + 1 rows from the .pt2 file
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out.argmax(1).numpy(), ref.argmax(1).numpy())


def test_gather_rows_refuses_a_block_of_the_wrong_size():
    def worker(rank, world_size):
        with pytest.raises(ValueError, match="rows but ranges say"):
            infer.gather_rows(torch.zeros(5, 1), infer.split_rows(4, world_size))
        return True

    assert run(worker, 2) == [True, True]
