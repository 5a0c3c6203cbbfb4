"""``make gpu-check``: the course's GPU paths on one machine, in one run, printed as a table of what passed.

Meant for a GPU workstation or cluster node. It uses the interpreter it is started with and installs
nothing: ``make gpu-check PYTHON=python3`` runs it with the machine's own PyTorch (2.11 or newer; clusters ship
their own CUDA builds). It needs only numpy beside torch; TensorFlow and cloudpickle are optional (TF checks
are skipped with the reason when TF is missing or sees no GPU). Checks that need more GPUs than the machine
has are listed as "not run". On a CPU-only machine every GPU check is "not run" and the CPU paths still run,
which is how the unit tests exercise this file. The DDP equivalence check runs in float64 with exact-math
settings (no TF32, deterministic kernels) only in its own worker processes, so the speed rows measure
PyTorch's defaults; every GPU timing synchronises before it reads the clock; each row names its device(s).

    python -m course_tools.gpu_check [--json build/gpu_check.json] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

# course_utils.devices (imported by launch) sets TF_FORCE_GPU_ALLOW_GROWTH before TensorFlow is ever imported here
from course_utils import launch
from course_utils.bench import time_it
from course_utils.devices import (
    configure_tensorflow,
    device_plan,
    full_precision,
    rank_device,
    synchronize,
    this_rank,
)
from course_utils.models import Net

#: the equivalence proof's learning rate and dtype (float64: immune to TF32, rounding far below any real bug)
LR, DTYPE = 0.1, torch.float64


@dataclass
class Row:
    check: str
    status: str  # PASS | FAIL | NOT RUN | SKIP
    detail: str


def _gpus() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def all_reduce_worker(rank: int, world_size: int) -> dict:
    """Each rank adds ``rank + 1`` on its planned device; report backend, device and the sum."""
    import torch.distributed as dist

    t = torch.tensor([float(rank + 1)], device=rank_device())
    dist.all_reduce(t)
    return {"backend": dist.get_backend(), "device": str(t.device), "sum": t.item()}


def sharing_plan(gpus: int) -> list:
    """The plan of the row "gloo ranks sharing GPU 0": ``gpus + 1`` ranks with ``COURSE_DEVICE=cuda``, one more
    than the GPUs, so the plan shares them round-robin over gloo and ranks 0 and ``gpus`` both land on ``cuda:0``
    (on one GPU: 2 ranks on ``cuda:0``). Two ranks on a machine with 2+ GPUs would get NCCL, one GPU each."""
    return device_plan(gpus + 1, gpus, 1, "cuda")


def plan_summary(gpus: int) -> str:
    """Check :func:`device_plan`'s rules for a machine with ``gpus`` GPUs and describe them (the first row)."""
    for ws in sorted({1, 2, max(gpus, 1)}):
        entry = device_plan(ws, gpus)[0]
        assert entry.backend == ("nccl" if 0 < ws <= gpus else "gloo"), entry
    if gpus:
        shared = sharing_plan(gpus)
        assert {r.backend for r in shared} == {"gloo"}, shared
        assert [r.rank for r in shared if r.device == "cuda:0"] == [0, gpus], shared
    return "; ".join(
        f"{ws} rank(s): {device_plan(ws, gpus)[0].backend} ({device_plan(ws, gpus)[0].reason})"
        for ws in (1, 2)
    )


def _batches(steps: int, global_batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(steps, global_batch, 1, 28, 28, generator=g), torch.randint(
        0, 10, (steps, global_batch), generator=g
    )


def ddp_worker(rank: int, world_size: int, steps: int, global_batch: int) -> dict:
    """DDP (float64) on this rank's slice of each global batch; its device and final parameters. Rank 0 then
    runs :func:`reference_params` in the same process: same device, threads and settings as its DDP run."""
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP

    device = rank_device()
    with full_precision(deterministic=True):  # no TF32, deterministic kernels; only around the proof's work
        torch.manual_seed(0)
        model = Net(dropout=False).to(device, DTYPE)
        ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
        opt = torch.optim.SGD(ddp.parameters(), lr=LR)
        xs, ys = _batches(steps, global_batch)
        per_rank = global_batch // world_size
        for x, y in zip(xs, ys, strict=True):
            rows = slice(rank * per_rank, (rank + 1) * per_rank)
            opt.zero_grad()
            F.nll_loss(ddp(x[rows].to(device, DTYPE)), y[rows].to(device)).backward()
            opt.step()
        params = torch.cat([p.detach().cpu().reshape(-1) for p in model.parameters()]).numpy()
    out = {"device": str(device), "params": params}
    if rank == 0:
        out["reference"], out["max_grad"] = reference_params(device, steps, global_batch)
    return out


def reference_params(device: torch.device, steps: int, global_batch: int) -> tuple[np.ndarray, float]:
    """One process, the whole global batch, float64 on ``device``: the final parameters and the largest
    gradient entry seen (for :func:`rounding_bound`). Exact-math settings only inside, restored after."""
    import torch.nn.functional as F

    with full_precision(deterministic=True):
        torch.manual_seed(0)
        model = Net(dropout=False).to(device, DTYPE)
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        xs, ys = _batches(steps, global_batch)
        max_grad = 0.0
        for x, y in zip(xs, ys, strict=True):
            opt.zero_grad()
            F.nll_loss(model(x.to(device, DTYPE)), y.to(device)).backward()
            max_grad = max(max_grad, *(p.grad.abs().max().item() for p in model.parameters()))
            opt.step()
        params = torch.cat([p.detach().cpu().reshape(-1) for p in model.parameters()]).numpy()
    return params, max_grad


def rounding_bound(steps: int, global_batch: int, max_grad: float, max_param: float) -> float:
    """How far rounding alone can move DDP's float64 parameters from one process's (worst-case order).

    The two compute each gradient entry as sums in different orders (half batches, then the all-reduce); the
    longest sum is conv1's weight gradient, ``global_batch * 24 * 24`` products (+ 2 for the all-reduce), and a
    sum of n terms is off by at most about ``n * eps`` times its scale (taken as ``max_grad``). Each SGD step
    scales that by ``LR`` and rounds the update once more (``eps * max_param``); ``steps`` steps add up. The
    measured difference is typically ~1e3 times smaller; a wrong mechanism (a lost or an extra step, summed
    instead of averaged gradients) moves parameters by ~``LR * max_grad``, ~1e10 times more.
    """
    eps = float(np.finfo(np.float64).eps)
    terms = global_batch * 24 * 24 + 2
    return steps * (LR * max_grad * terms * eps + max_param * eps)


def _throughput(fn: Callable[[], None], images: int, device: torch.device, repeats: int = 5) -> float:
    """Images/s of ``fn`` (median of ``repeats`` after one warm-up). ``time_it`` synchronises ``device``
    after every call, inside the timed region, so queued GPU work is counted."""
    return time_it(fn, repeats=repeats, warmup=1, items=images, sync=lambda: synchronize(device)).throughput


def train_throughput(device: torch.device, batch: int, steps: int) -> float:
    """Images/s of ``Net`` training steps (SGD, fp32) on data already on ``device``."""
    import torch.nn.functional as F

    model = Net().to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(batch, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def run() -> None:
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            F.nll_loss(model(x), y).backward()
            opt.step()

    return _throughput(run, batch * steps, device)


def infer_throughput(device: torch.device, batch: int) -> float:
    """Images/s of eager fp32 ``Net`` inference on data already on ``device``."""
    model = Net().to(device).eval()
    x = torch.randn(batch, 1, 28, 28, device=device)

    def run() -> None:
        with torch.inference_mode():
            model(x)

    return _throughput(run, batch, device)


def load_inference_benchmark():
    """``benchmarks/gpu_inference.py`` (not a package) as a module. It is registered in ``sys.modules`` before it
    runs: its dataclasses (string annotations) look their module up there."""
    import importlib.util

    from course_utils.paths import ROOT

    spec = importlib.util.spec_from_file_location("gpu_inference", ROOT / "benchmarks" / "gpu_inference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_checks(quick: bool = False) -> list[Row]:
    """Every check, in order; a check that raises is a FAIL with its last line."""
    gpus = _gpus()
    rows: list[Row] = []

    def check(name: str, needs_gpus: int, fn: Callable[[], str]) -> None:
        if gpus < needs_gpus:
            rows.append(Row(name, "NOT RUN", f"needs {needs_gpus} GPU(s), this machine has {gpus}"))
            return
        try:
            rows.append(Row(name, "PASS", fn()))
        except Exception as e:  # noqa: BLE001 - a failed check is a row, the others still run
            last = traceback.format_exception_only(type(e), e)[-1].strip()
            rows.append(Row(name, "SKIP" if isinstance(e, _Skip) else "FAIL", last))

    def plan() -> str:
        return plan_summary(gpus)

    def ranks(world_size: int, device: str | None, backend: str, shared: bool = False) -> Callable[[], str]:
        def go() -> str:
            out = launch.run(all_reduce_worker, world_size, device=device, timeout=180)
            expected = world_size * (world_size + 1) / 2
            devices = [o["device"] for o in out]
            assert all(o["sum"] == expected and o["backend"] == backend for o in out), out
            if shared:  # the point of the row: two gloo ranks on one GPU
                assert devices.count("cuda:0") == 2, devices
            return f"{world_size} rank(s), {backend}, devices {devices}"

        return go

    def ddp_equivalence() -> str:
        steps, global_batch = (2, 32) if quick else (4, 64)
        device = "cuda" if gpus else "cpu"
        out = launch.run(ddp_worker, 2, args=(steps, global_batch), device=device, timeout=300)
        ref = out[0]["reference"]
        worst = max(float(np.max(np.abs(o["params"] - ref))) for o in out)
        bound = rounding_bound(steps, global_batch, out[0]["max_grad"], float(np.max(np.abs(ref))))
        # bit for bit: both ranks apply the same all-reduced gradient with the same (deterministic) kernels
        np.testing.assert_array_equal(out[0]["params"], out[1]["params"])
        np.testing.assert_allclose(out[0]["params"], ref, rtol=0, atol=bound)
        return (
            f"2 ranks ({launch.plan_for(2, device)[0].backend} on {[o['device'] for o in out]}) == 1 process "
            f"on {out[0]['device']}, float64, no TF32, deterministic kernels: max |diff| {worst:.1e} "
            f"<= rounding bound {bound:.1e}; ranks bit-identical"
        )

    def tensorflow() -> str:
        try:
            import tensorflow as tf
        except ImportError as e:
            raise _Skip(f"TensorFlow not installed ({e})") from None
        if not tf.config.list_physical_devices("GPU"):  # (listing physical devices initialises nothing)
            raise _Skip(f"TensorFlow {tf.__version__} sees no GPU (CPU build?)")
        # memory growth on every GPU before TF initialises them: PyTorch's rows after this one need memory too
        gpus_tf = configure_tensorflow()["GPU"]
        strategy = tf.distribute.MirroredStrategy(gpus_tf)
        total = strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1.0)), axis=None)
        assert int(total) == strategy.num_replicas_in_sync == len(gpus_tf)
        return f"MirroredStrategy over {gpus_tf}, TF {tf.__version__}, memory growth on"

    def speeds() -> str:
        device = torch.device("cuda:0" if gpus else "cpu")
        batches = (512, 4096) if not quick else (64,)
        steps = 20 if gpus else 2
        parts = [f"train b={b}: {train_throughput(device, b, steps):,.0f} img/s" for b in batches]
        for b in (1024, 65536) if gpus else (256,):
            parts.append(f"infer b={b}: {infer_throughput(device, b):,.0f} img/s")
        name = torch.cuda.get_device_name(device) if gpus else "CPU"
        return f"{name} ({device}), torch {torch.__version__}, default settings: " + "; ".join(parts)

    def sweep() -> str:
        """benchmarks/gpu_inference.py's ladder of inference knobs (compile in its default mode, to stay in time)."""
        from dataclasses import replace

        from course_utils.paths import BUILD

        bench = load_inference_benchmark()
        configs = [
            replace(c, compile="default") if c.compile else c for c in bench.default_configs(65536)[1:]
        ]
        rows_ = bench.sweep((16384, 65536), configs=configs, repeats=10)
        print(bench.format_table(rows_), flush=True)
        measured = [r for r in rows_ if "images_per_s" in r]
        if not measured:
            raise RuntimeError(f"every config failed, e.g. {rows_[0]['error']}")
        BUILD.mkdir(exist_ok=True)
        (BUILD / "gpu_inference.json").write_text(json.dumps(rows_, indent=1))
        best = max(measured, key=lambda r: r["images_per_s"])
        return (
            f"{best['device']}: best {best['images_per_s'] / 1e6:.2f} M img/s: {best['name']} "
            f"({len(rows_)} rows, {len(rows_) - len(measured)} failed)"
        )

    check("device plan for this machine", 0, plan)
    check("NCCL, 1 rank", 1, ranks(1, None, "nccl"))
    check("NCCL, one rank per GPU", 2, ranks(min(gpus, 4), None, "nccl"))
    check("2 gloo ranks sharing GPU 0 (COURSE_DEVICE=cuda)", 1, ranks(gpus + 1, "cuda", "gloo", shared=True))
    check("2 gloo ranks on the CPU (COURSE_DEVICE=cpu)", 0, ranks(2, "cpu", "gloo"))
    check("DDP 2 ranks == 1 process, same device", 0, ddp_equivalence)
    check("TensorFlow on the GPU", 1, tensorflow)
    check("Net training and inference throughput (data on the device)", 0, speeds)
    check("Net inference knobs (benchmarks/gpu_inference.py)", 1, sweep)
    return rows


class _Skip(Exception):
    """A check that cannot run here for a reason other than the GPU count."""


def table(rows: list[Row]) -> str:
    width = max(len(r.check) for r in rows)
    lines = [f"{'check':<{width}}  status   detail", "-" * (width + 60)]
    lines += [f"{r.check:<{width}}  {r.status:<7}  {r.detail}" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m course_tools.gpu_check", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (for the unit test on a CPU)")
    args = ap.parse_args(argv)
    try:
        plan = this_rank().reason
    except RuntimeError as e:  # e.g. started inside a Slurm job step with more tasks than GPUs
        plan = f"none ({e})"
    names = [torch.cuda.get_device_name(i) for i in range(_gpus())]
    print(f"torch {torch.__version__}, CUDA GPUs: {_gpus()} {names}, this process's plan: {plan}", flush=True)
    t0 = time.perf_counter()
    rows = run_checks(quick=args.quick)
    print(table(rows))
    counts = {status: sum(r.status == status for r in rows) for status in ("PASS", "FAIL", "NOT RUN", "SKIP")}
    print(" | ".join(f"{k} {v}" for k, v in counts.items()) + f" | {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 1 if any(r.status == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    # Run the importable module's main, so that workers travel to the ranks by reference, not by value.
    from course_tools.gpu_check import main as module_main

    sys.exit(module_main())
