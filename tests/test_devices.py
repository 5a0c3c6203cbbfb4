"""course_utils.devices: inventory, device choice, seeding, TF logical CPUs (in a subprocess: TF state is global)."""

from __future__ import annotations

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
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
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
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300,
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
