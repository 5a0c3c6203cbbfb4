"""course_utils.devices: inventory, device choice, seeding, TF logical CPUs (in a subprocess: TF state is global)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from course_utils import devices


def test_inventory_sees_cpus_and_torch():
    inv = devices.inventory()
    assert inv.cpu_cores >= 1
    assert inv.torch_version == torch.__version__
    assert len(inv.cuda_gpus) == torch.cuda.device_count()
    assert f"{inv.cpu_cores} CPU cores" in inv.summary()


def test_pick_torch_device_default_and_override(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = (
        "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    )
    assert devices.pick_torch_device().type == expected
    assert devices.pick_torch_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert devices.pick_torch_device().type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_missing_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        devices.pick_torch_device("cuda")


def test_seed_everything_repeats():
    devices.seed_everything(123)
    a = (np.random.rand(3), torch.rand(3))
    devices.seed_everything(123)
    b = (np.random.rand(3), torch.rand(3))
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1])


def _run_tf(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


@pytest.mark.slow
def test_tf_logical_cpus_then_clear_error_after_init():
    r = _run_tf(
        """
        from course_utils.devices import configure_tf_logical_cpus, TFAlreadyInitializedError
        names = configure_tf_logical_cpus(2)
        print(len(names))
        assert configure_tf_logical_cpus(2) == names          # same n again: harmless
        try:
            configure_tf_logical_cpus(3)
        except TFAlreadyInitializedError as e:
            print("restart the kernel" in str(e).lower() and "(3)" in str(e))
        """
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["2", "True"]


def test_bad_logical_cpu_count():
    with pytest.raises(ValueError):
        devices.configure_tf_logical_cpus(0)


# The one device rule as a table: (gpus, world_size, nodes, COURSE_DEVICE) -> backend and devices per rank.
PLAN_TABLE = [
    # no GPU: gloo on the CPU, whatever is asked (except cuda, which is an error)
    *[(0, ws, 1, mode, "gloo", ["cpu"] * ws) for ws in (1, 2, 3, 4) for mode in (None, "auto", "cpu")],
    # COURSE_DEVICE=cpu always wins
    *[(g, ws, 1, "cpu", "gloo", ["cpu"] * ws) for g in (1, 2, 4) for ws in (1, 2, 3, 4)],
    # one GPU per rank: NCCL
    (1, 1, 1, None, "nccl", ["cuda:0"]),
    (2, 2, 1, None, "nccl", ["cuda:0", "cuda:1"]),
    (4, 3, 1, "auto", "nccl", ["cuda:0", "cuda:1", "cuda:2"]),
    (4, 4, 1, None, "nccl", ["cuda:0", "cuda:1", "cuda:2", "cuda:3"]),
    (2, 1, 1, None, "nccl", ["cuda:0"]),
    # too few GPUs: CPU by default, shared GPUs over gloo when COURSE_DEVICE=cuda
    (1, 2, 1, None, "gloo", ["cpu", "cpu"]),
    (2, 3, 1, None, "gloo", ["cpu"] * 3),
    (2, 4, 1, "auto", "gloo", ["cpu"] * 4),
    (1, 2, 1, "cuda", "gloo", ["cuda:0", "cuda:0"]),
    (2, 3, 1, "cuda", "gloo", ["cuda:0", "cuda:1", "cuda:0"]),
    (2, 4, 1, "cuda", "gloo", ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]),
    (1, 1, 1, "cuda", "nccl", ["cuda:0"]),
    # simulated nodes: each node's ranks count from cuda:0 inside their own CUDA_VISIBLE_DEVICES
    (4, 4, 2, None, "nccl", ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]),
    (2, 2, 2, None, "nccl", ["cuda:0", "cuda:0"]),
    (1, 2, 2, None, "gloo", ["cpu", "cpu"]),
]


@pytest.mark.parametrize("gpus,world_size,nodes,mode,backend,devs", PLAN_TABLE)
def test_device_plan_table(gpus, world_size, nodes, mode, backend, devs):
    plan = devices.device_plan(world_size, gpus, nodes, mode)
    assert [p.rank for p in plan] == list(range(world_size))
    assert {p.backend for p in plan} == {backend}
    assert [p.device for p in plan] == devs
    assert all(p.reason for p in plan)


def test_device_plan_gives_simulated_nodes_their_own_gpus():
    plan = devices.device_plan(4, 4, nodes=2)
    assert [p.cuda_visible_devices for p in plan] == ["0,1", "0,1", "2,3", "2,3"]
    assert all(p.cuda_visible_devices is None for p in devices.device_plan(2, 2, nodes=1))


@pytest.mark.parametrize(
    "args,error",
    [
        ((0, 1), ValueError),
        ((2, 1, 0), ValueError),
        ((3, 4, 2), ValueError),
        ((2, 1, 1, "tpu"), ValueError),
        ((2, 0, 1, "cuda"), RuntimeError),
    ],
)
def test_device_plan_refuses_bad_input(args, error):
    with pytest.raises(error):
        devices.device_plan(*args)


def test_this_rank_reads_the_launcher_or_computes(monkeypatch):
    # an entry no computation here gives (rank 3 of a 1-rank plan, a GPU): only reading the launcher's passes
    monkeypatch.setenv("COURSE_RANK_BACKEND", "nccl")
    monkeypatch.setenv("COURSE_RANK_DEVICE", "cuda:3")
    monkeypatch.setenv("LOCAL_RANK", "3")
    entry = devices.this_rank()
    assert (entry.rank, entry.backend, entry.device) == (3, "nccl", "cuda:3")
    assert entry.reason == "from the launcher"
    monkeypatch.delenv("COURSE_RANK_BACKEND")
    monkeypatch.delenv("COURSE_RANK_DEVICE")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert devices.this_rank() == devices.device_plan(2, 0, 1, "cpu")[1]
    assert devices.rank_device().type == "cpu"


@pytest.mark.parametrize(
    "local_rank, local_world, gpus, torchrun, course_device, backend, device",
    [
        (1, 4, 0, True, None, "gloo", "cpu"),  # CPU-only node
        (3, 4, 8, True, None, "nccl", "cuda:3"),  # torchrun on an 8-GPU node
        (7, 8, 8, True, None, "nccl", "cuda:7"),
        (2, 4, 1, False, None, "nccl", "cuda:0"),  # srun --gpus-per-task=1: each process sees its own GPU
        (1, 2, 2, True, "cpu", "gloo", "cpu"),  # COURSE_DEVICE=cpu wins
        (3, 4, 2, True, "cuda", "gloo", "cuda:1"),  # asked to share: round-robin over gloo
        (1, 2, 1, True, "cuda", "gloo", "cuda:0"),
        (0, 1, 1, True, None, "nccl", "cuda:0"),
    ],
)
def test_launcher_rank_table(local_rank, local_world, gpus, torchrun, course_device, backend, device):
    entry = devices.launcher_rank(local_rank, local_world, gpus, torchrun, course_device)
    assert (entry.backend, entry.device) == (backend, device)


@pytest.mark.parametrize("gpus, torchrun", [(1, True), (2, True), (2, False)])
def test_launcher_rank_refuses_more_processes_than_gpus(gpus, torchrun):
    with pytest.raises(RuntimeError, match="COURSE_DEVICE=cpu"):
        devices.launcher_rank(0, 4, gpus, torchrun)


def test_this_rank_under_torchrun_env(monkeypatch):
    for name in ("COURSE_RANK_BACKEND", "COURSE_RANK_DEVICE", "COURSE_DEVICE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    if torch.cuda.device_count() in (1,):  # 2 processes on 1 GPU: refused unless asked
        with pytest.raises(RuntimeError):
            devices.this_rank()
        monkeypatch.setenv("COURSE_DEVICE", "cpu")
    entry = devices.this_rank()
    assert entry.rank == 1
    assert entry.device == ("cuda:1" if torch.cuda.device_count() >= 2 else "cpu")


def test_device_plan_with_many_gpus_and_sharing():
    eight = devices.device_plan(8, 8, 1, "cuda")
    assert [p.device for p in eight] == [f"cuda:{r}" for r in range(8)] and {p.backend for p in eight} == {
        "nccl"
    }
    shared = devices.device_plan(4, 1, 1, "cuda")  # 4 ranks share GPU 0 over gloo
    assert [p.device for p in shared] == ["cuda:0"] * 4 and {p.backend for p in shared} == {"gloo"}
    nodes = devices.device_plan(4, 2, 2, "cuda")  # 2 simulated nodes of 2 ranks, 2 GPUs: too few for NCCL
    assert {p.backend for p in nodes} == {"gloo"}


def test_full_precision_sets_and_restores():
    leaves = devices._tf32_leaves()
    before = [getattr(obj, name) for obj, name in leaves]
    bench = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        with devices.full_precision(deterministic=True):
            assert all(getattr(o, n) in ("ieee", False) for o, n in leaves)
            assert torch.backends.cudnn.benchmark is False
            assert torch.are_deterministic_algorithms_enabled()
            assert os.environ["CUBLAS_WORKSPACE_CONFIG"]
        assert [getattr(obj, name) for obj, name in leaves] == before
        assert torch.backends.cudnn.benchmark is True
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.backends.cudnn.benchmark = bench


def test_importing_devices_lets_tensorflow_grow_gpu_memory():
    assert os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH") in ("true", "false")  # set unless the user set it


def test_synchronize_on_cpu_is_a_no_op():
    devices.synchronize("cpu")
    devices.synchronize(torch.device("cpu"))
