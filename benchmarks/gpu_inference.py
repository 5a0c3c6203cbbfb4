"""GPU inference tuning knobs for the article's ``Net``: a sweep a GPU user runs (notebook 12, section 7).

    python benchmarks/gpu_inference.py [--batch-sizes 4096 16384 65536] [--repeats 20] [--json results.json]

measures images/s of ``Net`` inference on synthetic data for a grid of settings on a CUDA GPU and prints a
table (``--json PATH`` also writes it); notebook 12 runs it when PyTorch sees a GPU. Not a test: it prints
numbers for the machine it runs on. ``--device cpu`` tries the CPU-capable knobs without a GPU.

The knobs (each a :class:`Config` field):

* ``batch`` - bigger batches amortise kernel launches; this model is tiny, so it may need huge ones;
* ``channels_last`` - NHWC memory layout, which many fast convolution kernels prefer;
* ``cudnn_benchmark`` - let cuDNN time its algorithms for the shapes seen and keep the fastest;
* ``tf32`` - TensorFloat-32 matmuls/convolutions on tensor cores (fp32 storage, 10-bit mantissa products),
  set through ``fp32_precision`` (``"tf32"``/``"ieee"``; the legacy ``allow_tf32`` flags only where PyTorch
  lacks that API) and restored after each measurement;
* ``dtype="bf16"`` - bfloat16 autocast;
* ``compile`` - ``torch.compile`` mode (e.g. ``"max-autotune-no-cudagraphs"``) fusing the small ops;
* ``cuda_graph`` - capture one forward pass as a CUDA graph and replay it (no per-kernel launch cost);
* ``uint8_input`` - keep the images as uint8 (4x fewer bytes than float32) and normalise on the device,
  inside the timed forward.

Whether a knob helps is what the table says on your GPU; nothing here assumes it. Every timing synchronises
the device before it reads the clock (``course_utils.bench.time_it`` with ``devices.synchronize``), and the
table names the device it ran on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils.bench import machine_label, time_it  # noqa: E402
from course_utils.devices import synchronize  # noqa: E402
from course_utils.models import Net  # noqa: E402
from course_utils.pipeline import MNIST_MEAN, MNIST_STD  # noqa: E402


@dataclass(frozen=True)
class Config:
    """One point of the sweep."""

    name: str
    batch: int = 65536
    dtype: str = "fp32"  # "fp32" | "bf16"
    channels_last: bool = False
    cudnn_benchmark: bool = False
    tf32: bool = False
    compile: str | None = None  # a torch.compile mode, or None for eager
    cuda_graph: bool = False
    uint8_input: bool = False


class _Normalised(nn.Module):
    """uint8 images in, normalised float on the device, then ``Net`` (the normalisation is fused/timed)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() * (1.0 / 255.0) - MNIST_MEAN) / MNIST_STD
        if x.dim() == 4 and x.stride(1) == 1 and x.size(1) == 1:  # keep channels_last when requested
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)


def net_flops_per_image() -> float:
    """Floating-point operations of one ``Net`` forward per image (multiply-add = 2), counted by PyTorch."""
    from torch.utils.flop_counter import FlopCounterMode

    net = Net().eval()
    x = torch.zeros(1, 1, 28, 28)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        net(x)
    return float(counter.get_total_flops())


def _inputs(cfg: Config, device: torch.device) -> torch.Tensor:
    g = torch.Generator(device="cpu").manual_seed(0)
    if cfg.uint8_input:
        x = torch.randint(0, 256, (cfg.batch, 1, 28, 28), dtype=torch.uint8, generator=g)
    else:
        x = torch.randn(cfg.batch, 1, 28, 28, generator=g)
    x = x.to(device)
    if cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def switches(cfg: Config) -> list[tuple[object, str, object]]:
    """The global settings ``cfg`` decides, as ``(object, attribute, value)``, in the order to set and restore
    them: ``cudnn.benchmark``, then TF32. TF32 through the ``fp32_precision`` API (``"tf32"`` or ``"ieee"``)
    where PyTorch has it: matmuls, cuDNN as a whole (which ``torch.compile``'s convolution templates read; setting
    it also sets its children) and then its convolutions and RNNs. The legacy ``allow_tf32`` flags only where that
    API is absent (never both: reading the legacy flags after the new API was used can raise)."""
    b = torch.backends
    if hasattr(getattr(b.cudnn, "conv", None), "fp32_precision"):
        v = "tf32" if cfg.tf32 else "ieee"
        tf32 = [(obj, "fp32_precision", v) for obj in (b.cuda.matmul, b.cudnn, b.cudnn.conv, b.cudnn.rnn)]
    else:
        tf32 = [(b.cuda.matmul, "allow_tf32", cfg.tf32), (b.cudnn, "allow_tf32", cfg.tf32)]
    return [(b.cudnn, "benchmark", cfg.cudnn_benchmark), *tf32]


@contextlib.contextmanager
def configured(cfg: Config) -> Iterator[None]:
    """Inside the block the :func:`switches` of ``cfg`` are set; on exit they are restored."""
    settings = switches(cfg)
    saved = [getattr(obj, name) for obj, name, _ in settings]
    try:
        for obj, name, value in settings:
            setattr(obj, name, value)
        yield
    finally:
        for (obj, name, _), value in zip(settings, saved, strict=True):
            setattr(obj, name, value)


def measure(cfg: Config, device: str | torch.device = "cuda", repeats: int = 20, warmup: int = 5) -> dict:
    """Images/s of ``Net`` inference under ``cfg`` (median of ``repeats`` timed forwards after ``warmup``;
    the device is synchronised after every forward, inside the timed region)."""
    device = torch.device(device)
    cuda = device.type == "cuda"
    if (cfg.cuda_graph or cfg.cudnn_benchmark) and not cuda:
        raise ValueError(f"{cfg.name}: CUDA graphs and cudnn.benchmark need a CUDA device")
    with configured(cfg):
        torch.manual_seed(0)
        model: nn.Module = Net().eval().to(device)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if cfg.uint8_input:
            model = _Normalised(model)
        if cfg.compile:
            model = torch.compile(model, mode=cfg.compile)
        x = _inputs(cfg, device)
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.dtype == "bf16")

        def forward():
            with torch.inference_mode(), autocast:
                return model(x)

        fn = forward
        if cfg.cuda_graph:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(3):
                    forward()
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = forward()  # noqa: F841 - kept alive by the graph's memory pool
            fn = graph.replay
        timing = time_it(
            fn, repeats=repeats, warmup=warmup, items=cfg.batch, sync=lambda: synchronize(device)
        )
        return {
            **asdict(cfg),
            "device": _device_name(device),
            "median_s": timing.median,
            "images_per_s": timing.throughput,
        }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return machine_label()


def default_configs(batch: int = 65536) -> list[Config]:
    """The tuning ladder: eager baseline, one knob at a time, then all of them together."""
    base = Config("eager fp32", batch=batch)
    tuned = replace(
        base,
        name="all: uint8 in + channels_last + TF32 + cudnn.benchmark + compile + CUDA graph",
        uint8_input=True,
        channels_last=True,
        tf32=True,
        cudnn_benchmark=True,
        compile="max-autotune-no-cudagraphs",
        cuda_graph=True,
    )
    return [
        base,
        replace(base, name="+ cudnn.benchmark", cudnn_benchmark=True),
        replace(base, name="+ channels_last", channels_last=True),
        replace(base, name="+ TF32", tf32=True),
        replace(base, name="bf16 autocast", dtype="bf16"),
        replace(base, name="uint8 input, normalised on device", uint8_input=True),
        replace(
            base, name='torch.compile("max-autotune-no-cudagraphs")', compile="max-autotune-no-cudagraphs"
        ),
        replace(base, name="CUDA graph (eager)", cuda_graph=True),
        tuned,
    ]


def sweep(
    batch_sizes: Sequence[int] = (4096, 16384, 65536),
    configs: Sequence[Config] | None = None,
    device: str = "cuda",
    repeats: int = 20,
) -> list[dict]:
    """Batch-size sweep of the eager baseline, then every config of :func:`default_configs` at the largest
    batch. A config that fails (e.g. ``torch.compile`` without a compiler) is reported, not raised."""
    rows = []
    largest = max(batch_sizes)
    for b in batch_sizes:
        rows.append(_safe(Config(f"eager fp32, batch {b}", batch=b), device, repeats))
    for cfg in configs if configs is not None else default_configs(largest)[1:]:
        rows.append(_safe(cfg, device, repeats))
    return rows


def _safe(cfg: Config, device: str, repeats: int) -> dict:
    try:
        return measure(cfg, device, repeats=repeats)
    except Exception as e:  # report and go on: one missing feature must not lose the whole table
        return {
            **asdict(cfg),
            "device": device,
            "error": f"{type(e).__name__}: {str(e).splitlines()[0][:120]}",
        }
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def format_table(rows: Sequence[dict]) -> str:
    """The sweep as a fixed-width text table, under a line naming the device(s) it ran on."""
    measured = [r["device"] for r in rows if "images_per_s" in r] or [r["device"] for r in rows]
    lines = [f"device: {', '.join(dict.fromkeys(measured))}", f"{'config':<84} {'batch':>7} {'images/s':>12}"]
    for r in rows:
        value = f"{r['images_per_s'] / 1e6:>10.2f} M" if "images_per_s" in r else f"  failed: {r['error']}"
        lines.append(f"{r['name']:<84} {r['batch']:>7} {value}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run the sweep on the GPU and print (and optionally save) the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[4096, 16384, 65536])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--device", default="cuda")
    p.add_argument("--json", help="also write the rows to this JSON file")
    a = p.parse_args(argv)
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(
            "no CUDA GPU visible: this sweep is meant for a GPU machine (use --device cpu to try it)"
        )
    rows = sweep(a.batch_sizes, device=a.device, repeats=a.repeats)
    print(f"torch {torch.__version__} | {net_flops_per_image() / 1e6:.3f} MFLOP/image")
    print(format_table(rows))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
