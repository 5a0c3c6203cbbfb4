"""``make gpu-check``: the course's GPU paths on one machine, in one run, printed as a table of what passed.

Meant for a GPU workstation or cluster node. It uses the interpreter it is started with and installs
nothing: ``make gpu-check PYTHON=python3`` runs it with the machine's own PyTorch (2.11 or newer; clusters ship
their own CUDA builds). It needs only numpy beside torch; TensorFlow and cloudpickle are optional (TF checks
are skipped with the reason when TF is missing or sees no GPU). Checks that need more GPUs than the machine
has are listed as "not run". On a CPU-only machine every GPU check is "not run" and the CPU paths still run,
which is how the unit tests exercise this file.

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

from course_utils import launch
from course_utils.devices import device_plan, rank_device, this_rank
from course_utils.models import Net


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


def _exact_math() -> None:
    """TF32 rounds fp32 matmuls/convolutions to a 10-bit mantissa on NVIDIA GPUs: off for equivalence proofs,
    and deterministic kernels so that two runs of the same arithmetic agree."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def _batches(steps: int, global_batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(steps, global_batch, 1, 28, 28, generator=g), torch.randint(
        0, 10, (steps, global_batch), generator=g
    )


def ddp_worker(rank: int, world_size: int, steps: int, global_batch: int) -> np.ndarray:
    """DDP on this rank's slice of each global batch; the final parameters as float64."""
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP

    _exact_math()
    device = rank_device()
    torch.manual_seed(0)
    model = Net(dropout=False).to(device)
    ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    xs, ys = _batches(steps, global_batch)
    per_rank = global_batch // world_size
    for x, y in zip(xs, ys, strict=True):
        rows = slice(rank * per_rank, (rank + 1) * per_rank)
        opt.zero_grad()
        F.nll_loss(ddp(x[rows].to(device)), y[rows].to(device)).backward()
        opt.step()
    return torch.cat([p.detach().double().cpu().reshape(-1) for p in model.parameters()]).numpy()


def reference_params(device: torch.device, steps: int, global_batch: int) -> np.ndarray:
    """One process, the whole global batch, on ``device``."""
    import torch.nn.functional as F

    _exact_math()
    torch.manual_seed(0)
    model = Net(dropout=False).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    xs, ys = _batches(steps, global_batch)
    for x, y in zip(xs, ys, strict=True):
        opt.zero_grad()
        F.nll_loss(model(x.to(device)), y.to(device)).backward()
        opt.step()
    return torch.cat([p.detach().double().cpu().reshape(-1) for p in model.parameters()]).numpy()


def _throughput(fn: Callable[[], None], images: int, device: torch.device, repeats: int = 5) -> float:
    """Images/s of ``fn`` (median of ``repeats`` after one warm-up), synchronising the GPU around it."""
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return images / float(np.median(times))


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
        for ws in sorted({1, 2, max(gpus, 1)}):
            entry = device_plan(ws, gpus)[0]
            assert entry.backend == ("nccl" if 0 < ws <= gpus else "gloo"), entry
        return "; ".join(
            f"{ws} rank(s): {device_plan(ws, gpus)[0].backend} ({device_plan(ws, gpus)[0].reason})"
            for ws in (1, 2)
        )

    def ranks(world_size: int, device: str | None, backend: str) -> Callable[[], str]:
        def go() -> str:
            out = launch.run(all_reduce_worker, world_size, device=device, timeout=180)
            expected = world_size * (world_size + 1) / 2
            assert all(o["sum"] == expected and o["backend"] == backend for o in out), out
            return f"{world_size} rank(s), {backend}, devices {[o['device'] for o in out]}"

        return go

    def ddp_equivalence() -> str:
        steps, global_batch = (2, 32) if quick else (4, 64)
        device = "cuda" if gpus else "cpu"
        out = launch.run(ddp_worker, 2, args=(steps, global_batch), device=device, timeout=300)
        ref = reference_params(torch.device("cuda:0" if gpus else "cpu"), steps, global_batch)
        worst = max(float(np.max(np.abs(p - ref))) for p in out)
        np.testing.assert_allclose(out[0], out[1], rtol=0, atol=0)
        np.testing.assert_allclose(out[0], ref, rtol=1e-5, atol=1e-6)
        return f"2 ranks ({launch.plan_for(2, device)[0].backend} on {device}) == 1 process, max |diff| {worst:.1e}, TF32 off"

    def tensorflow() -> str:
        try:
            import tensorflow as tf
        except ImportError as e:
            raise _Skip(f"TensorFlow not installed ({e})") from None
        gpus_tf = tf.config.list_physical_devices("GPU")
        if not gpus_tf:
            raise _Skip(f"TensorFlow {tf.__version__} sees no GPU (CPU build?)")
        tf.config.experimental.enable_tensor_float_32_execution(False)
        strategy = tf.distribute.MirroredStrategy()
        total = strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1.0)), axis=None)
        assert int(total) == strategy.num_replicas_in_sync == len(gpus_tf)
        return f"MirroredStrategy over {len(gpus_tf)} GPU(s), TF {tf.__version__}"

    def speeds() -> str:
        device = torch.device("cuda" if gpus else "cpu")
        batches = (512, 4096) if not quick else (64,)
        steps = 20 if gpus else 2
        parts = [f"train b={b}: {train_throughput(device, b, steps):,.0f} img/s" for b in batches]
        for b in (1024, 65536) if gpus else (256,):
            parts.append(f"infer b={b}: {infer_throughput(device, b):,.0f} img/s")
        name = torch.cuda.get_device_name(0) if gpus else "CPU"
        return f"{name}, torch {torch.__version__}: " + "; ".join(parts)

    def sweep() -> str:
        """benchmarks/gpu_inference.py's ladder of inference knobs (compile in its default mode, to stay in time)."""
        import importlib.util
        from dataclasses import replace

        from course_utils.paths import BUILD, ROOT

        spec = importlib.util.spec_from_file_location(
            "gpu_inference", ROOT / "benchmarks" / "gpu_inference.py"
        )
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
        configs = [
            replace(c, compile="default") if c.compile else c for c in bench.default_configs(65536)[1:]
        ]
        rows_ = bench.sweep((16384, 65536), configs=configs, repeats=10)
        print(bench.format_table(rows_), flush=True)
        BUILD.mkdir(exist_ok=True)
        (BUILD / "gpu_inference.json").write_text(json.dumps(rows_, indent=1))
        best = max((r for r in rows_ if "images_per_s" in r), key=lambda r: r["images_per_s"])
        failed = sum("error" in r for r in rows_)
        return f"best {best['images_per_s'] / 1e6:.2f} M img/s: {best['name']} ({len(rows_)} rows, {failed} failed)"

    check("device plan for this machine", 0, plan)
    check("NCCL, 1 rank", 1, ranks(1, None, "nccl"))
    check("NCCL, one rank per GPU", 2, ranks(min(gpus, 4), None, "nccl"))
    check("2 gloo ranks sharing GPU 0 (COURSE_DEVICE=cuda)", 1, ranks(2, "cuda", "gloo"))
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
    print(
        f"torch {torch.__version__}, CUDA GPUs: {_gpus()}, this process's plan: {this_rank().reason}",
        flush=True,
    )
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
