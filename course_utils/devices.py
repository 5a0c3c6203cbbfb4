"""Which hardware is there, and which device(s) to use. The one place that decides devices.

Taught in notebook 00; used by every training notebook. Notebooks never hard-code ``"cuda"``:
they call :func:`pick_torch_device`, and for TensorFlow multi-device work on a CPU-only machine
:func:`configure_tf_logical_cpus` *before* anything touches TensorFlow's devices.
"""

from __future__ import annotations

import os
import platform
import random
import sys
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Inventory",
    "inventory",
    "pick_torch_device",
    "configure_tf_logical_cpus",
    "seed_everything",
    "TFAlreadyInitializedError",
]


class TFAlreadyInitializedError(RuntimeError):
    """TensorFlow's devices were already initialised, so logical devices can no longer be changed."""


@dataclass
class Inventory:
    """What this machine offers to the course (see :func:`inventory`)."""

    python: str
    platform: str
    cpu_cores: int
    torch_version: str | None = None
    cuda_gpus: list[str] = field(default_factory=list)
    mps: bool = False
    tf_version: str | None = None
    tf_physical_gpus: list[str] = field(default_factory=list)
    tf_logical_devices: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: cores, GPUs and library versions."""
        gpus = f"{len(self.cuda_gpus)} CUDA GPU(s): {', '.join(self.cuda_gpus)}" if self.cuda_gpus else "no CUDA GPU"
        parts = [f"{self.cpu_cores} CPU cores", gpus]
        if self.mps:
            parts.append("Apple MPS")
        if self.torch_version:
            parts.append(f"torch {self.torch_version}")
        if self.tf_version:
            parts.append(f"TF {self.tf_version} logical devices {self.tf_logical_devices}")
        return " | ".join(parts)


def _cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # respects cgroup/taskset limits, unlike os.cpu_count()
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def inventory(include_tf: bool = False) -> Inventory:
    """Describe CPUs, CUDA GPUs (via PyTorch) and, if asked, TensorFlow's devices.

    ``include_tf=True`` imports TensorFlow and *initialises* its devices: after that,
    :func:`configure_tf_logical_cpus` can no longer split the CPU. Configure first, then inventory.
    """
    inv = Inventory(python=sys.version.split()[0], platform=platform.platform(), cpu_cores=_cpu_cores())
    try:
        import torch

        inv.torch_version = torch.__version__
        if torch.cuda.is_available():
            inv.cuda_gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        inv.mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    except ImportError:
        pass
    if include_tf:
        import tensorflow as tf

        inv.tf_version = tf.__version__
        inv.tf_physical_gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
        inv.tf_logical_devices = [d.name for d in tf.config.list_logical_devices()]
    return inv


def pick_torch_device(prefer: str | None = None):
    """Return the ``torch.device`` to use: ``prefer`` if given, else CUDA, then Apple MPS, then CPU.

    ``prefer`` may also come from the environment variable ``COURSE_DEVICE`` (e.g. ``cpu`` to force
    the CPU on a GPU machine). Asking for a device that is not there raises a clear error.
    """
    import torch

    prefer = prefer or os.environ.get("COURSE_DEVICE") or None
    if prefer is not None:
        dev = torch.device(prefer)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {prefer!r} requested but PyTorch sees no CUDA GPU on this machine")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(f"device {prefer!r} requested but only {torch.cuda.device_count()} GPU(s) exist")
        if dev.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(f"device {prefer!r} requested but MPS is not available")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def configure_tf_logical_cpus(n: int) -> list[str]:
    """Split the physical CPU into ``n`` logical TensorFlow devices; return their names.

    Must run before TensorFlow initialises its devices (before any tensor, model or
    ``list_logical_devices``). Calling it again with the same ``n`` is harmless; with a different ``n``
    after initialisation it raises :class:`TFAlreadyInitializedError` telling you to restart the kernel.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError as e:
        current = tf.config.get_logical_device_configuration(cpu)
        if current is not None and len(current) == n:
            return [d.name for d in tf.config.list_logical_devices("CPU")]
        have = len(tf.config.list_logical_devices("CPU"))
        raise TFAlreadyInitializedError(
            f"TensorFlow is already initialised with {have} logical CPU device(s), so it cannot be split "
            f"into {n} now ({e}). Restart the kernel and call configure_tf_logical_cpus({n}) before any "
            "other TensorFlow call."
        ) from None
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def seed_everything(seed: int = 0, deterministic: bool = False) -> None:
    """Seed Python, NumPy, PyTorch and (if already imported) TensorFlow.

    ``deterministic=True`` also asks PyTorch for deterministic kernels (slower on GPUs).
    TensorFlow is seeded only when it was imported already, so this never initialises TF devices.
    """
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch

        torch.manual_seed(seed)
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
    except ImportError:
        pass
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)
