"""benchmarks/gpu_inference.py (notebook 12's GPU sweep): the knobs' plumbing on the CPU, failure rows, the FLOP
count, TF32 through the fp32_precision API, synchronised timings (no GPU needed; the speeds are never tested)."""

from __future__ import annotations

import runpy
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from course_utils import bench
from course_utils.models import Net
from course_utils.paths import ROOT
from course_utils.pipeline import normalize_images

G = SimpleNamespace(**runpy.run_path(str(ROOT / "benchmarks" / "gpu_inference.py")))
NEW_API = hasattr(getattr(torch.backends.cudnn, "conv", None), "fp32_precision")


def _state(cfg) -> list:
    return [getattr(obj, name) for obj, name, _ in G.switches(cfg)]


def test_net_flops_per_image_matches_hand_count():
    conv1 = 24 * 24 * 10 * (1 * 5 * 5)
    conv2 = 8 * 8 * 20 * (10 * 5 * 5)
    fc = 320 * 50 + 50 * 10
    assert G.net_flops_per_image() == 2 * (conv1 + conv2 + fc) == 961_000


def test_uint8_normalised_on_device_equals_normalising_first():
    torch.manual_seed(0)
    net = Net().eval()
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    ref = net(torch.from_numpy(normalize_images(images, "NCHW")))
    out = G._Normalised(net)(torch.from_numpy(images)[:, None])
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "cfg",
    [c for c in G.default_configs(batch=64) if not (c.cuda_graph or c.cudnn_benchmark or c.compile)],
    ids=lambda c: c.name,
)
def test_cpu_capable_configs_measure(cfg):
    before = _state(cfg)
    row = G.measure(cfg, "cpu", repeats=2, warmup=1)
    assert row["median_s"] > 0 and row["images_per_s"] == pytest.approx(64 / row["median_s"])
    assert _state(cfg) == before  # measure() restores the switches it set


def test_tf32_rung_uses_the_new_api_and_restores_it():
    """The TF32 rung sets fp32_precision "tf32" (every other rung "ieee"), never the legacy allow_tf32 flags
    where the new API exists; on exit the previous values are back."""
    base, tf32 = G.Config("base", batch=8), G.Config("tf32", batch=8, tf32=True)
    names = {name for _, name, _ in G.switches(tf32)}
    assert names == ({"benchmark", "fp32_precision"} if NEW_API else {"benchmark", "allow_tf32"})
    start = _state(base)
    if NEW_API:  # restoring must bring back a state that is not the default, too (RNNs in full fp32)
        torch.backends.cudnn.rnn.fp32_precision = "ieee"
    try:
        before = _state(base)
        for cfg, on in ((tf32, "tf32" if NEW_API else True), (base, "ieee" if NEW_API else False)):
            with G.configured(cfg):
                assert set(_state(cfg)[1:]) == {on}
            assert _state(cfg) == before
    finally:
        for (obj, name, _), value in zip(G.switches(base), start, strict=True):
            setattr(obj, name, value)
    assert _state(base) == start


def test_measure_synchronises_before_each_clock_read(monkeypatch):
    events = []
    monkeypatch.setitem(G.measure.__globals__, "synchronize", lambda device: events.append(str(device)))
    monkeypatch.setattr(bench.time, "perf_counter", lambda: events.append("clock") or float(len(events)))
    row = G.measure(G.Config("base", batch=8), "cpu", repeats=3, warmup=2)
    assert events == ["cpu"] * 2 + ["clock", "cpu", "clock"] * 3
    assert row["device"] == G._device_name(torch.device("cpu"))


def test_cuda_only_knobs_fail_as_a_row_not_an_exception():
    rows = G.sweep(
        batch_sizes=(32,), configs=[G.Config("graph", batch=32, cuda_graph=True)], device="cpu", repeats=1
    )
    assert "images_per_s" in rows[0] and "error" in rows[1]
    table = G.format_table(rows)
    assert "failed" in table and table.splitlines()[0] == f"device: {rows[0]['device']}"
    with pytest.raises(ValueError):
        G.measure(G.Config("bench", batch=8, cudnn_benchmark=True), "cpu")
