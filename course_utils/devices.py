"""Which hardware is there, and which device(s) to use. The one place that decides devices.

Taught in notebook 00; used by every training notebook. Notebooks never hard-code ``"cuda"``:

* one process: :func:`pick_torch_device`;
* several processes: :func:`device_plan` (pure: GPU count, world size, nodes, ``COURSE_DEVICE`` in, each
  rank's backend, device and ``CUDA_VISIBLE_DEVICES`` out); a worker asks :func:`rank_device` for its entry;
* a process started by another launcher (``torchrun``, Slurm's ``srun``): :func:`launcher_rank` (pure);
* TensorFlow: :func:`configure_tensorflow` (GPU memory growth, logical CPUs) *before* anything touches TF's
  devices, and :func:`tf_replica_devices` for the devices a ``MirroredStrategy`` mirrors over;
* equivalence proofs on GPUs: :func:`full_precision` (no TF32, optionally deterministic kernels), and timings
  of GPU work: :func:`synchronize`.

``COURSE_DEVICE``: unset or ``auto`` (GPUs when there are enough, else the CPU), ``cpu`` (force the CPU),
``cuda`` (force GPUs; several ranks may share one over gloo).

Importing this module sets ``TF_FORCE_GPU_ALLOW_GROWTH=true`` unless it is set: TensorFlow on a GPU would
otherwise reserve nearly all of the GPU's memory at start-up, and PyTorch in the same process (or kernel)
would find none left.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")  # read when TF initialises a GPU (see above)

__all__ = [
    "RankDevice",
    "device_plan",
    "launcher_rank",
    "this_rank",
    "rank_device",
    "Inventory",
    "inventory",
    "pick_torch_device",
    "configure_tf_logical_cpus",
    "configure_tensorflow",
    "tf_replica_devices",
    "full_precision",
    "synchronize",
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
        why = "the CPU was asked for" if mode == "cpu" else "no CUDA GPU"
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


def launcher_rank(
    local_rank: int,
    local_world_size: int,
    visible_gpus: int,
    under_torchrun: bool,
    course_device: str | None = None,
) -> RankDevice:
    """This process's entry when another launcher started it (``torchrun``, ``srun``, ``mpirun``). Pure.

    * ``COURSE_DEVICE=cpu`` or no visible GPU: gloo on the CPU.
    * at least one visible GPU per process of this node: NCCL on ``cuda:local_rank``.
    * exactly one visible GPU, not under torchrun: the launcher bound one GPU to each process
      (``srun --gpus-per-task=1``, or ``CUDA_VISIBLE_DEVICES`` set per process): NCCL on ``cuda:0``.
      torchrun never does that (all its processes see the node's GPUs), so there the same case means
      more processes than GPUs.
    * more processes than GPUs: ``COURSE_DEVICE=cuda`` shares them round-robin over gloo; otherwise a
      clear error (never a silent fall-back to the CPU on a GPU machine).
    """
    if local_world_size < 1 or not 0 <= local_rank < local_world_size or visible_gpus < 0:
        raise ValueError(
            f"need 0 <= local_rank < local_world_size and visible_gpus >= 0; got {local_rank}, "
            f"{local_world_size}, {visible_gpus}"
        )
    mode = (course_device or "auto").lower()
    if mode not in ("auto", "cpu", "cuda"):
        raise ValueError(f"COURSE_DEVICE must be auto, cpu or cuda, not {course_device!r}")
    if mode == "cuda" and visible_gpus == 0:
        raise RuntimeError("COURSE_DEVICE=cuda but this process sees no CUDA GPU")
    if mode == "cpu" or visible_gpus == 0:
        why = "the CPU was asked for" if mode == "cpu" else "no CUDA GPU"
        return RankDevice(local_rank, "gloo", "cpu", None, why)
    if visible_gpus >= local_world_size:
        return RankDevice(local_rank, "nccl", f"cuda:{local_rank}", None, "one GPU per process")
    if visible_gpus == 1 and not under_torchrun:
        return RankDevice(local_rank, "nccl", "cuda:0", None, "the launcher bound one GPU to this process")
    if mode == "cuda":
        why = f"{local_world_size} processes share {visible_gpus} GPU(s) over gloo (COURSE_DEVICE=cuda)"
        return RankDevice(local_rank, "gloo", f"cuda:{local_rank % visible_gpus}", None, why)
    raise RuntimeError(
        f"{local_world_size} processes on this node but {visible_gpus} visible GPU(s): NCCL needs one GPU per "
        f"process. Start at most {visible_gpus} process(es) per node, bind one GPU to each process, set "
        "COURSE_DEVICE=cpu to train on the CPU (gloo), or COURSE_DEVICE=cuda to share the GPUs over gloo."
    )


def this_rank(rank: int | None = None, world_size: int | None = None) -> RankDevice:
    """This process's entry of the plan.

    Inside :func:`course_utils.launch.run` the launcher passes it in ``COURSE_RANK_BACKEND`` and
    ``COURSE_RANK_DEVICE``; under ``torchrun``, ``srun`` or any launcher that sets ``LOCAL_RANK`` and
    ``LOCAL_WORLD_SIZE`` (Slurm's ``SLURM_LOCALID`` and ``SLURM_NTASKS_PER_NODE`` also count) it is
    :func:`launcher_rank` of the GPUs this process sees.
    """
    backend, name = os.environ.get("COURSE_RANK_BACKEND"), os.environ.get("COURSE_RANK_DEVICE")
    env = os.environ
    local = int(env.get("LOCAL_RANK", env.get("SLURM_LOCALID", rank or 0)))
    if backend and name:
        return RankDevice(local, backend, name, env.get("CUDA_VISIBLE_DEVICES"), "from the launcher")
    import torch

    slurm_world = env.get("SLURM_NTASKS_PER_NODE", "").split("(")[0]  # "4" or "4(x2)"
    local_world = int(env.get("LOCAL_WORLD_SIZE") or slurm_world or world_size or 1)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return launcher_rank(local, local_world, gpus, "TORCHELASTIC_RUN_ID" in env, env.get("COURSE_DEVICE"))


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


def configure_tensorflow(logical_cpus: int = 0, list_devices: bool = True) -> dict[str, list[str]]:
    """Prepare TensorFlow's devices; call it before anything else touches them. Returns the device names.

    Every GPU takes memory as it needs it (memory growth), so PyTorch in the same process still finds some.
    ``logical_cpus=n`` splits the CPU into ``n`` logical devices when fewer than ``n`` GPUs are visible, so a
    ``MirroredStrategy`` of ``n`` replicas runs on any machine (see :func:`tf_replica_devices`). Listing the
    logical devices initialises TensorFlow; ``list_devices=False`` leaves it uninitialised (returns ``{}``), as
    a ``MultiWorkerMirroredStrategy`` worker needs: its strategy must be created before initialisation.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised: TF_FORCE_GPU_ALLOW_GROWTH (set on import) applied then
            pass
    if logical_cpus and len(gpus) < logical_cpus:
        configure_tf_logical_cpus(logical_cpus)
    if not list_devices:
        return {}
    return {kind: [d.name for d in tf.config.list_logical_devices(kind)] for kind in ("GPU", "CPU")}


def tf_replica_devices(n: int) -> list[str]:
    """The ``n`` devices a TensorFlow ``MirroredStrategy`` of ``n`` replicas should use: ``n`` GPUs when that
    many are visible, else ``n`` logical CPUs (which :func:`configure_tensorflow` must have made)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if len(gpus) >= n:
        return gpus[:n]
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(cpus) < n:
        raise RuntimeError(
            f"{n} replicas need {n} GPUs or {n} logical CPUs; TensorFlow sees {len(gpus)} GPU(s) and {len(cpus)} "
            f"logical CPU(s). Restart the kernel and call configure_tensorflow(logical_cpus={n}) first."
        )
    return cpus[:n]


def _tf32_leaves():
    """(object, attribute) pairs that decide TF32 in PyTorch: the fp32_precision API (PyTorch >= 2.9), else
    the legacy allow_tf32 flags. Only one API is touched: reading the legacy flags after the new API was used
    raises in recent PyTorch."""
    import torch

    b = torch.backends
    if hasattr(getattr(b.cudnn, "conv", None), "fp32_precision"):
        return [
            (b.cuda.matmul, "fp32_precision"),
            (b.cudnn.conv, "fp32_precision"),
            (b.cudnn.rnn, "fp32_precision"),
        ]
    return [(b.cuda.matmul, "allow_tf32"), (b.cudnn, "allow_tf32")]


@contextlib.contextmanager
def full_precision(deterministic: bool = False) -> Iterator[None]:
    """Inside the block, float32 work on NVIDIA GPUs runs in full float32 (no TF32, which keeps 10 mantissa
    bits) with ``cudnn.benchmark`` off; ``deterministic=True`` also asks for deterministic kernels (and sets
    ``CUBLAS_WORKSPACE_CONFIG``, which cuBLAS needs for them). Everything is restored on exit. On a CPU it
    changes nothing that matters, so proofs call it unconditionally. Inside the block, reading the legacy
    ``torch.backends.cudnn.allow_tf32`` raises in PyTorch 2.13 (so may ``torch.compile``'s max-autotune
    convolution templates, which read it): run compiled code outside it."""
    import torch

    leaves = _tf32_leaves()
    saved = [getattr(obj, name) for obj, name in leaves]
    saved_bench, saved_det = torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic
    saved_algos = torch.are_deterministic_algorithms_enabled()
    saved_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    saved_ws = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    try:
        for obj, name in leaves:
            setattr(obj, name, "ieee" if name == "fp32_precision" else False)
        torch.backends.cudnn.benchmark = False
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.deterministic = True
            torch.use_deterministic_algorithms(True, warn_only=True)
        yield
    finally:
        for (obj, name), value in zip(leaves, saved, strict=True):
            setattr(obj, name, value)
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved_bench, saved_det
        torch.use_deterministic_algorithms(saved_algos, warn_only=saved_warn)
        if saved_ws is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)


def synchronize(device=None) -> None:
    """Wait until ``device``'s queued work is done (CUDA and MPS run asynchronously); a no-op on the CPU.

    Time GPU work only between two calls of this: otherwise the clock stops when the work is *queued*.
    """
    import torch

    kind = torch.device(device).type if device is not None else None
    if kind in (None, "cuda") and torch.cuda.is_available():
        torch.cuda.synchronize(device)
    elif kind == "mps":
        torch.mps.synchronize()


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
