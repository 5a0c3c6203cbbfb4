"""Which hardware is there, and which device(s) to use. The one place that decides devices.

Taught in notebook 00; used by every training notebook. Notebooks never hard-code ``"cuda"``:

* one process: :func:`pick_torch_device`;
* several processes: :func:`device_plan` (pure: GPU count, world size, nodes, ``COURSE_DEVICE`` in, each
  rank's backend, device and ``CUDA_VISIBLE_DEVICES`` out); a worker asks :func:`rank_device` for its entry;
* TensorFlow on a CPU-only machine: :func:`configure_tf_logical_cpus` *before* anything touches TF's devices.

``COURSE_DEVICE``: unset or ``auto`` (GPUs when there are enough, else the CPU), ``cpu`` (force the CPU),
``cuda`` (force GPUs; several ranks may share one over gloo).
"""

from __future__ import annotations

import os
import platform
import random
import sys
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "RankDevice",
    "device_plan",
    "this_rank",
    "rank_device",
    "Inventory",
    "inventory",
    "pick_torch_device",
    "configure_tf_logical_cpus",
    "seed_everything",
    "TFAlreadyInitializedError",
]


@dataclass(frozen=True)
class RankDevice:
    """One rank's place: ``backend`` for its process group, ``device`` for its tensors, and the
    ``CUDA_VISIBLE_DEVICES`` its process must start with (``None``: leave the environment alone)."""

    rank: int
    backend: str
    device: str
    cuda_visible_devices: str | None
    reason: str


def device_plan(
    world_size: int, gpus: int, nodes: int = 1, course_device: str | None = None
) -> list[RankDevice]:
    """Backend and device of every rank, for ``world_size`` ranks on ``nodes`` simulated nodes of one
    machine that has ``gpus`` CUDA GPUs. Pure: same inputs, same plan (the unit tests are a table).

    * ``course_device="cpu"`` or no GPU: gloo on the CPU.
    * a GPU for every rank: NCCL, one GPU per rank. Simulated nodes each get their own GPUs through
      ``CUDA_VISIBLE_DEVICES`` (node ``n`` sees GPUs ``n*L .. n*L+L-1``), so ``LOCAL_RANK`` picks ``cuda:i``.
    * fewer GPUs than ranks: NCCL refuses two ranks on one GPU, so gloo on the CPU with the reason;
      ``course_device="cuda"`` instead shares the GPUs round-robin over gloo.
      Gloo moves CUDA tensors in ``all_reduce`` and ``broadcast`` (enough for DDP), not in
      ``send``/``recv``/``all_gather``/``gather``/``scatter``: hand-written collectives need one of the other plans.

    Ranks are numbered node by node: rank ``r`` is local rank ``r % L`` on node ``r // L``.
    """
    if world_size < 1 or nodes < 1 or gpus < 0:
        raise ValueError(f"need world_size >= 1, nodes >= 1, gpus >= 0; got {world_size}, {nodes}, {gpus}")
    if world_size % nodes:
        raise ValueError(f"world_size {world_size} does not split into {nodes} nodes of equal size")
    mode = (course_device or "auto").lower()
    if mode not in ("auto", "cpu", "cuda"):
        raise ValueError(f"COURSE_DEVICE must be auto, cpu or cuda, not {course_device!r}")
    if mode == "cuda" and gpus == 0:
        raise RuntimeError("COURSE_DEVICE=cuda but this machine has no CUDA GPU")
    per_node = world_size // nodes
    if mode == "cpu" or gpus == 0:
        why = "COURSE_DEVICE=cpu" if mode == "cpu" else "no CUDA GPU"
        return [RankDevice(r, "gloo", "cpu", None, why) for r in range(world_size)]
    if gpus >= world_size:
        plan = []
        for r in range(world_size):
            node, local = divmod(r, per_node)
            visible = ",".join(str(node * per_node + i) for i in range(per_node)) if nodes > 1 else None
            plan.append(
                RankDevice(r, "nccl", f"cuda:{local if nodes > 1 else r}", visible, "one GPU per rank")
            )
        return plan
    if mode == "cuda":
        why = f"{world_size} ranks share {gpus} GPU(s) over gloo (NCCL needs one GPU per rank)"
        return [RankDevice(r, "gloo", f"cuda:{r % gpus}", None, why) for r in range(world_size)]
    why = f"{world_size} ranks but {gpus} GPU(s): NCCL needs one GPU per rank, so gloo on the CPU"
    return [RankDevice(r, "gloo", "cpu", None, why) for r in range(world_size)]


def this_rank(rank: int | None = None, world_size: int | None = None) -> RankDevice:
    """This process's entry of the plan.

    Inside :func:`course_utils.launch.run` the launcher passes it in ``COURSE_RANK_BACKEND`` and
    ``COURSE_RANK_DEVICE``; under ``torchrun`` (or any launcher that sets ``LOCAL_RANK`` and
    ``LOCAL_WORLD_SIZE``) it is computed for this node from the GPUs this process sees.
    """
    backend, name = os.environ.get("COURSE_RANK_BACKEND"), os.environ.get("COURSE_RANK_DEVICE")
    local = int(os.environ.get("LOCAL_RANK", rank or 0))
    if backend and name:
        return RankDevice(local, backend, name, os.environ.get("CUDA_VISIBLE_DEVICES"), "from the launcher")
    import torch

    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world_size or 1))
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return device_plan(local_world, gpus, 1, os.environ.get("COURSE_DEVICE"))[local]


def rank_device(rank: int | None = None, world_size: int | None = None):
    """This process's ``torch.device`` under the plan (see :func:`this_rank`); selects it when it is a GPU."""
    import torch

    device = torch.device(this_rank(rank, world_size).device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


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
        gpus = (
            f"{len(self.cuda_gpus)} CUDA GPU(s): {', '.join(self.cuda_gpus)}"
            if self.cuda_gpus
            else "no CUDA GPU"
        )
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
    if prefer == "auto":
        prefer = None
    if prefer is not None:
        dev = torch.device(prefer)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {prefer!r} requested but PyTorch sees no CUDA GPU on this machine")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device {prefer!r} requested but only {torch.cuda.device_count()} GPU(s) exist"
            )
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
